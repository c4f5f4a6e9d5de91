/**
 * Manifests: the schemas of every manifest kind a registry serves, a decoder that keeps the exact
 * bytes received, an encoder for the manifests we push, and platform selection in an index.
 *
 * Kinds: OCI image manifest and index (image spec 1.1, with `subject` and `artifactType`), Docker
 * image manifest v2 schema 2 and manifest list, and Docker schema 1 signed and unsigned (read, and
 * pushed again as the bytes they came in).
 *
 * How {@link decode} works:
 * - the schema comes from the `Content-Type` (parameters ignored); when that is missing or generic
 *   (`application/json`, `application/octet-stream`, `text/plain`) it comes from the body's
 *   `mediaType`, and an OCI body without one is a manifest if it has `config`, an index if it has
 *   `manifests`. A `Content-Type` that disagrees with the body's `mediaType` is an error;
 * - the digest is of the bytes received (in the algorithm of `expectedDigest` when given), never
 *   of re-serialised JSON, and the bytes are kept, so unknown fields survive a round trip of the
 *   bytes (the decoded value holds only the known ones);
 * - a signed schema 1 manifest is the exception registries make: its digest is of its payload
 *   without the signatures, as its JWS protected header delimits it ({@link digestOf}). That is the
 *   digest registries report, resolve and store it by.
 *
 * @since 0.1.0
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Stream from "effect/Stream"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Function from "effect/Function"
import type * as Option from "effect/Option"
import type { Algorithm, Digest } from "./Digest.js"
import * as decoder from "./internal/manifestDecode.js"
import * as platforms from "./internal/manifestPlatform.js"
import * as S from "./internal/manifestSchema.js"
import type { BodyTooLarge, DigestMismatch, TransportError } from "./RegistryError.js"

// ---------------------------------------------------------------------------------------------
// schemas
// ---------------------------------------------------------------------------------------------

/**
 * The platform an image runs on: `architecture`, `os`, and optionally `os.version`, `os.features`,
 * `variant` (`v8`, `v7`, …) and `features`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Platform = S.Platform
/** @since 0.1.0 @category models */
export interface Platform extends S.Platform {}

/**
 * A reference to content: `mediaType`, `digest`, `size` (a non-negative integer), and optionally
 * `urls`, `annotations`, `platform`, `artifactType` and `data` (the content inline, base64).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Descriptor = S.Descriptor
/** @since 0.1.0 @category models */
export interface Descriptor extends S.Descriptor {}

/**
 * OCI image manifest (image spec 1.1): `schemaVersion` 2, optional `mediaType`, `artifactType`,
 * `config`, `layers`, optional `subject` and `annotations`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImageManifest = S.ImageManifest
/** @since 0.1.0 @category models */
export interface ImageManifest extends S.ImageManifest {}

/**
 * OCI image index: `schemaVersion` 2, optional `mediaType` and `artifactType`, `manifests`, optional
 * `subject` and `annotations`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImageIndex = S.ImageIndex
/** @since 0.1.0 @category models */
export interface ImageIndex extends S.ImageIndex {}

/**
 * Docker image manifest v2, schema 2 (`mediaType` required).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DockerManifest = S.DockerManifest
/** @since 0.1.0 @category models */
export interface DockerManifest extends S.DockerManifest {}

/**
 * Docker manifest list (`mediaType` required).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DockerManifestList = S.DockerManifestList
/** @since 0.1.0 @category models */
export interface DockerManifestList extends S.DockerManifestList {}

/**
 * Docker schema 1, unsigned (`…manifest.v1+json`): `name`, `tag`, `architecture`, `fsLayers`,
 * `history`. Read-only: this client never builds one.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DockerSchema1 = S.DockerSchema1
/** @since 0.1.0 @category models */
export interface DockerSchema1 extends S.DockerSchema1 {}

/**
 * Docker schema 1, signed (`…manifest.v1+prettyjws`): schema 1 with at least one JWS signature.
 * Signatures are decoded, not verified.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DockerSchema1Signed = S.DockerSchema1Signed
/** @since 0.1.0 @category models */
export interface DockerSchema1Signed extends S.DockerSchema1Signed {}

/**
 * Any manifest this client reads. Tell them apart with {@link isIndex}, {@link isImageManifest}, … or
 * with the `mediaType` of the {@link Decoded} it came in.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Manifest = S.Manifest
/** @since 0.1.0 @category models */
export type Manifest = S.Manifest

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

export {
  /**
   * A body that is not a valid manifest of its media type; `reason` names the bad fields.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidManifest,
  /**
   * A platform string that does not parse; `reason` says why.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidPlatform,
  /**
   * A manifest media type this client does not decode.
   *
   * @since 0.1.0
   * @category errors
   */
  UnsupportedMediaType
} from "./internal/manifestSchema.js"

// ---------------------------------------------------------------------------------------------
// decoding and encoding
// ---------------------------------------------------------------------------------------------

/**
 * The largest manifest body accepted (4 MiB, the limit registries enforce on push).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxManifestBytes: number = decoder.maxManifestBytes

/**
 * A manifest with the exact bytes it was decoded from (or encoded to), their digest and size, and
 * its media type (from the `Content-Type`, the body, or inferred; always set). The digest is the
 * one registries know it by: of the bytes, or for a signed schema 1 manifest of its canonical form
 * (see {@link digestOf}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoded extends S.Decoded {}

/**
 * Decodes manifest bytes (see the module notes for how the schema is chosen). Fails with
 * `BodyTooLarge` over {@link maxManifestBytes}, `DigestMismatch` when `expectedDigest` is given and
 * the manifest's digest (see {@link digestOf}) differs, `UnsupportedMediaType`, or `InvalidManifest`
 * (for a signed schema 1 also when its protected header gives no canonical form). The bytes are copied.
 *
 * @example
 * Manifest.decode(bytes, { contentType: "application/vnd.oci.image.index.v1+json", expectedDigest })
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode: (
  bytes: Uint8Array,
  options?: { readonly contentType?: string | undefined; readonly expectedDigest?: Digest | undefined }
) => Effect.Effect<Decoded, S.InvalidManifest | S.UnsupportedMediaType | DigestMismatch | BodyTooLarge> =
  decoder.decode

/**
 * The digest a registry knows manifest bytes of `mediaType` by, in `algorithm` (default sha256):
 * the digest of the bytes, except for a signed schema 1 manifest
 * (`application/vnd.docker.distribution.manifest.v1+prettyjws`), whose digest is of its payload
 * without signatures — `bytes[0:formatLength]` plus the base64url-decoded `formatTail` of its first
 * signature's protected header. A registry may re-sign such a manifest on every GET: the bytes
 * change, this digest does not.
 *
 * @since 0.1.0
 * @category decoding
 */
export const digestOf: (
  bytes: Uint8Array,
  mediaType: string,
  algorithm?: Algorithm
) => Either.Either<Digest, S.InvalidManifest> = decoder.digestOf

/**
 * Reads and decodes the body of a manifest response (the Transport's, or any `HttpClientResponse`),
 * using its `Content-Type`. A `Content-Length`
 * over {@link maxManifestBytes} is refused before reading, and a body that grows past it is cut off.
 * The status is not checked here, and neither is `Docker-Content-Digest` (pass `expectedDigest`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromResponse: (
  response: Pick<HttpClientResponse.HttpClientResponse, "request" | "status" | "headers"> & {
    readonly stream: Stream.Stream<Uint8Array, { readonly message: string }>
  },
  options?: { readonly expectedDigest?: Digest | undefined }
) => Effect.Effect<
  Decoded,
  S.InvalidManifest | S.UnsupportedMediaType | DigestMismatch | BodyTooLarge | TransportError
> = decoder.fromResponse

/**
 * Serialises a manifest we built to compact JSON with a fixed key order (so equal manifests give
 * equal digests), adding `mediaType` to OCI manifests without one. Throws (a defect) if the value
 * does not satisfy its schema, e.g. a negative size.
 *
 * @example
 * const pushed = Manifest.encode({ schemaVersion: 2, config, layers: [layer] })
 * // pushed.mediaType === MediaType.OciManifest; PUT pushed.bytes; refer to it with descriptorOf(pushed)
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode: (manifest: ImageManifest | ImageIndex | DockerManifest | DockerManifestList) => Decoded =
  decoder.encode

/**
 * The descriptor of a decoded or encoded manifest: `mediaType`, `digest`, `size`, and its
 * `artifactType` when it has one (what an index entry or a `subject` needs).
 *
 * @since 0.1.0
 * @category accessors
 */
export const descriptorOf: (decoded: Decoded) => Descriptor = decoder.descriptorOf

/**
 * The content a manifest points to: `config` then `layers`, or the entries of an index. Schema 1
 * gives `[]`: its `fsLayers` carry no media type or size, so they are not descriptors.
 *
 * @since 0.1.0
 * @category accessors
 */
export const references: (manifest: Manifest) => ReadonlyArray<Descriptor> = decoder.references

/**
 * The `subject` of an OCI manifest or index (what it refers to, for the referrers API), if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const subject: (manifest: Manifest) => Descriptor | undefined = decoder.subject

/** An OCI image index or a Docker manifest list. @since 0.1.0 @category guards */
export const isIndex: (manifest: Manifest) => manifest is ImageIndex | DockerManifestList = decoder.isIndex
/** An OCI image index. @since 0.1.0 @category guards */
export const isImageIndex: (manifest: Manifest) => manifest is ImageIndex = decoder.isImageIndex
/** A Docker manifest list. @since 0.1.0 @category guards */
export const isDockerManifestList: (manifest: Manifest) => manifest is DockerManifestList =
  decoder.isDockerManifestList
/** An OCI image manifest. @since 0.1.0 @category guards */
export const isImageManifest: (manifest: Manifest) => manifest is ImageManifest = decoder.isImageManifest
/** A Docker image manifest v2 schema 2. @since 0.1.0 @category guards */
export const isDockerManifest: (manifest: Manifest) => manifest is DockerManifest = decoder.isDockerManifest
/**
 * A single-platform image manifest in a current format: OCI image manifest or Docker v2 schema 2 —
 * both have a `config` and `layers`. What `Repository.getManifestForPlatform` gives.
 *
 * @since 0.1.0
 * @category models
 */
export type Image = ImageManifest | DockerManifest
/** An OCI image manifest or a Docker v2 schema 2 manifest (see {@link Image}). @since 0.1.0 @category guards */
export const isImage = (manifest: Manifest): manifest is Image => isImageManifest(manifest) || isDockerManifest(manifest)
/** A Docker schema 1 manifest, signed or not. @since 0.1.0 @category guards */
export const isSchema1: (manifest: Manifest) => manifest is DockerSchema1 | DockerSchema1Signed = decoder.isSchema1

// ---------------------------------------------------------------------------------------------
// platforms
// ---------------------------------------------------------------------------------------------

/**
 * Parses `os/architecture[/variant]`, with an optional `(os.version)` after the os; names are
 * lowercased. Fails with {@link InvalidPlatform} saying what is wrong.
 *
 * @example
 * Manifest.parsePlatform("linux/arm64/v8") // { os: "linux", architecture: "arm64", variant: "v8" }
 * Manifest.parsePlatform("windows(10.0.20348.2113)/amd64")
 *
 * @since 0.1.0
 * @category platforms
 */
export const parsePlatform: (input: string) => Effect.Effect<Platform, S.InvalidPlatform> = platforms.parse

/**
 * Like {@link parsePlatform}, as an `Either` (for pure code).
 *
 * @since 0.1.0
 * @category platforms
 */
export const parsePlatformEither: (input: string) => Either.Either<Platform, S.InvalidPlatform> = platforms.parse

/**
 * Formats a platform as {@link parsePlatform} reads it (`linux/arm/v7`, `windows(10.0.17763)/amd64`).
 *
 * @since 0.1.0
 * @category platforms
 */
export const formatPlatform: (platform: Platform) => string = platforms.format

/**
 * Tells whether an index entry's platform satisfies a wanted one: same os and architecture, and the
 * same variant once defaults are filled in (`arm64` = `arm64/v8`, `amd64` = `amd64/v1`,
 * `arm` = `arm/v7`; `x86_64`/`aarch64`/`armhf`/`armel`/`i386` read as their OCI names); `os.version`
 * must be equal when the wanted platform has one.
 *
 * @since 0.1.0
 * @category platforms
 */
export const platformMatches: (candidate: Platform, wanted: Platform) => boolean = platforms.matches

/**
 * The first entry of an index whose platform {@link platformMatches} the wanted one.
 *
 * @example
 * Manifest.matchPlatform(index, { os: "linux", architecture: "arm64" }) // Some(the linux/arm64/v8 entry)
 * pipe(index, Manifest.matchPlatform(platform))
 *
 * @since 0.1.0
 * @category platforms
 */
export const matchPlatform: {
  (platform: Platform): (index: ImageIndex | DockerManifestList) => Option.Option<Descriptor>
  (index: ImageIndex | DockerManifestList, platform: Platform): Option.Option<Descriptor>
} = Function.dual(2, platforms.match)

/**
 * How a referrers index lists a manifest (OCI 1.1): its descriptor with its `artifactType` (an image
 * manifest without one is listed under its config's media type, as the referrers API does) and its
 * annotations.
 *
 * @since 0.1.0
 * @category descriptors
 */
export const referrerDescriptor = (decoded: Decoded): Descriptor => {
  const m = decoded.manifest
  const artifactType = descriptorOf(decoded).artifactType ?? (isImageManifest(m) ? m.config.mediaType : undefined)
  const annotations = isImageManifest(m) || isImageIndex(m) ? m.annotations : undefined
  return {
    mediaType: decoded.mediaType,
    digest: decoded.digest,
    size: decoded.size,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(annotations === undefined ? {} : { annotations })
  }
}
