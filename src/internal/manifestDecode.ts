/**
 * Decoding manifests from the exact bytes received, and encoding the ones we build.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Digest from "../Digest.js"
import * as MediaType from "../MediaType.js"
import { BodyTooLarge, DigestMismatch } from "../RegistryError.js"
import { type BodyResponse, readBounded } from "./body.js"
import * as S from "./manifestSchema.js"

/** @internal */
export const maxManifestBytes = 4 * 1024 * 1024

/** @internal */
export interface DecodeOptions {
  readonly contentType?: string | undefined
  readonly expectedDigest?: Digest.Digest | undefined
}

/** @internal */
export type DecodeError = S.InvalidManifest | S.UnsupportedMediaType | DigestMismatch | BodyTooLarge

// Content-Types that say nothing about which manifest it is: the body decides.
const generic = new Set(["", "application/json", "application/octet-stream", "text/plain"])

// Unknown fields are dropped from the decoded value (they live on in `bytes`), so that a value's
// shape is exactly its type and `"manifests" in m` tells an index from a manifest.
const parseOptions = { errors: "all" } as const

const schemas: Record<string, Schema.Schema.AnyNoContext> = {
  [MediaType.OciManifest]: S.ImageManifest,
  [MediaType.OciIndex]: S.ImageIndex,
  [MediaType.DockerManifest]: S.DockerManifest,
  [MediaType.DockerManifestList]: S.DockerManifestList,
  [MediaType.DockerSchema1Signed]: S.DockerSchema1Signed,
  [MediaType.DockerSchema1]: S.DockerSchema1
}

const schemaFor = (mediaType: string): Schema.Schema.AnyNoContext | undefined =>
  Object.hasOwn(schemas, mediaType) ? schemas[mediaType] : undefined

const clip = (s: string, max = 200): string => (s.length > max ? s.slice(0, max) + "…" : s)

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "(root)"
    : path.map((key, i) =>
      typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`
    ).join("")

/** Turns a parse error into a short reason naming each bad field: `layers[0].digest: is missing`. */
const describe = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const shown = issues.slice(0, 5).map((issue) => `${formatPath(issue.path)}: ${clip(issue.message)}`)
  return shown.join("; ") + (issues.length > 5 ? `; and ${issues.length - 5} more` : "")
}

/** Tells an OCI manifest from an index (and schema 1 signed from unsigned) when nothing names the type. */
const infer = (json: Record<string, unknown>): Either.Either<string, S.InvalidManifest> => {
  if (json.schemaVersion === 1) {
    return Either.right(Array.isArray(json.signatures) ? MediaType.DockerSchema1Signed : MediaType.DockerSchema1)
  }
  const hasConfig = "config" in json
  const hasManifests = "manifests" in json
  if (hasConfig && hasManifests) {
    return Either.left(
      new S.InvalidManifest({ reason: "no mediaType, and both config and manifests: neither manifest nor index" })
    )
  }
  if (hasConfig) return Either.right(MediaType.OciManifest)
  if (hasManifests) return Either.right(MediaType.OciIndex)
  return Either.left(
    new S.InvalidManifest({ reason: "no mediaType, config or manifests: cannot tell what kind of manifest this is" })
  )
}

/** Picks the media type to decode with: the Content-Type when it names one, else the body's. */
const select = (
  json: Record<string, unknown>,
  contentType: string | undefined
): Either.Either<string, S.InvalidManifest | S.UnsupportedMediaType> => {
  const declared = contentType === undefined ? "" : MediaType.essence(contentType)
  const field = json.mediaType
  if (field !== undefined && typeof field !== "string") {
    return Either.left(new S.InvalidManifest({ reason: `mediaType: expected a string, got ${typeof field}` }))
  }
  if (!generic.has(declared)) {
    if (schemaFor(declared) === undefined) {
      return Either.left(new S.UnsupportedMediaType({ mediaType: clip(declared) }))
    }
    if (field !== undefined && field !== declared) {
      return Either.left(
        new S.InvalidManifest({
          reason: `the Content-Type is ${declared} but the body's mediaType is ${clip(field)}`,
          mediaType: declared
        })
      )
    }
    return Either.right(declared)
  }
  if (field === undefined) return infer(json)
  return schemaFor(field) === undefined
    ? Either.left(new S.UnsupportedMediaType({ mediaType: clip(field) }))
    : Either.right(field)
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

const parseJson = (bytes: Uint8Array): Either.Either<Record<string, unknown>, S.InvalidManifest> => {
  let json: unknown
  try {
    json = JSON.parse(utf8.decode(bytes))
  } catch (error) {
    const why = error instanceof SyntaxError ? error.message : "the body is not valid UTF-8"
    return Either.left(new S.InvalidManifest({ reason: `not JSON: ${clip(why)}` }))
  }
  return typeof json === "object" && json !== null && !Array.isArray(json)
    ? Either.right(json as Record<string, unknown>)
    : Either.left(new S.InvalidManifest({ reason: "the body is not a JSON object" }))
}

/**
 * The bytes a schema 1 signed manifest's digest is computed over: the JSON without its
 * `signatures`, which the JWS keeps as `bytes[0:formatLength] + base64url-decode(formatTail)` in
 * each signature's protected header (the first one is used). Registries report this digest, and a
 * registry that re-signs on every GET (distribution does) serves different bytes with the same one.
 *
 * @internal
 */
export const schema1Canonical = (
  bytes: Uint8Array,
  json: Record<string, unknown>
): Either.Either<Uint8Array, S.InvalidManifest> => {
  const invalid = (reason: string) =>
    Either.left(new S.InvalidManifest({ reason: `signatures[0].protected: ${reason}`, mediaType: MediaType.DockerSchema1Signed }))
  const signatures = json.signatures
  const first: unknown = Array.isArray(signatures) ? signatures[0] : undefined
  const encoded = typeof first === "object" && first !== null && "protected" in first ? first.protected : undefined
  if (typeof encoded !== "string") return invalid("is missing")
  const header = Either.flatMap(
    Either.mapLeft(Encoding.decodeBase64UrlString(encoded), () => "is not base64url"),
    (text) =>
      Either.try({ try: (): unknown => JSON.parse(text), catch: () => "is not base64url-encoded JSON" })
  )
  if (Either.isLeft(header)) return invalid(header.left)
  const { formatLength, formatTail } = typeof header.right === "object" && header.right !== null
    ? header.right as { formatLength?: unknown; formatTail?: unknown }
    : {}
  if (typeof formatLength !== "number" || !Number.isSafeInteger(formatLength) || formatLength < 0) {
    return invalid("has no formatLength")
  }
  if (formatLength > bytes.byteLength) {
    return invalid(`formatLength ${formatLength} is past the end of the ${bytes.byteLength} bytes`)
  }
  if (typeof formatTail !== "string") return invalid("has no formatTail")
  const tail = Encoding.decodeBase64Url(formatTail)
  if (Either.isLeft(tail)) return invalid("formatTail is not base64url")
  const canonical = new Uint8Array(formatLength + tail.right.byteLength)
  canonical.set(bytes.subarray(0, formatLength))
  canonical.set(tail.right, formatLength)
  return Either.right(canonical)
}

const contentDigest = (
  bytes: Uint8Array,
  json: Record<string, unknown>,
  mediaType: string,
  algorithm: Digest.Algorithm
): Either.Either<Digest.Digest, S.InvalidManifest> =>
  mediaType === MediaType.DockerSchema1Signed
    ? Either.map(schema1Canonical(bytes, json), (canonical) => Digest.compute(canonical, algorithm))
    : Either.right(Digest.compute(bytes, algorithm))

/**
 * The digest a registry knows a manifest by: of its bytes, except for a signed schema 1
 * manifest, whose digest is of its canonical form (see {@link schema1Canonical}).
 *
 * @internal
 */
export const digestOf = (
  bytes: Uint8Array,
  mediaType: string,
  algorithm: Digest.Algorithm = "sha256"
): Either.Either<Digest.Digest, S.InvalidManifest> =>
  MediaType.essence(mediaType) === MediaType.DockerSchema1Signed
    ? Either.flatMap(parseJson(bytes), (json) => contentDigest(bytes, json, MediaType.DockerSchema1Signed, algorithm))
    : Either.right(Digest.compute(bytes, algorithm))

/**
 * Decodes without copying `bytes` (the caller hands them over). The checks run cheapest and most
 * telling first: size, then digest (a mismatch means we got the wrong content, whatever it says),
 * then JSON, media type and schema. A signed schema 1 manifest is only known by its canonical
 * digest once its JSON is read, so a mismatch of the plain bytes is only final for other kinds.
 *
 * @internal
 */
export const decodeOwned = (bytes: Uint8Array, options?: DecodeOptions): Either.Either<S.Decoded, DecodeError> => {
  if (bytes.byteLength > maxManifestBytes) {
    return Either.left(new BodyTooLarge({ what: "manifest", limit: maxManifestBytes, size: bytes.byteLength }))
  }
  const expected = options?.expectedDigest
  const algorithm = expected === undefined ? "sha256" : Digest.algorithm(expected)
  const mismatch = (actual: Digest.Digest) =>
    expected !== undefined && actual !== expected ? new DigestMismatch({ expected, actual }) : undefined
  const typed = Either.flatMap(parseJson(bytes), (json) =>
    Either.map(select(json, options?.contentType), (mediaType) => ({ json, mediaType })))
  // Wrong content is reported as such, whatever else is wrong with it.
  if (Either.isLeft(typed)) {
    const wrong = mismatch(Digest.compute(bytes, algorithm))
    if (wrong !== undefined) return Either.left(wrong)
  }
  return Either.flatMap(typed, ({ json, mediaType }) =>
    Either.flatMap(contentDigest(bytes, json, mediaType, algorithm), (digest): Either.Either<S.Decoded, DecodeError> => {
      const wrong = mismatch(digest)
      if (wrong !== undefined) return Either.left(wrong)
      return Schema.decodeUnknownEither(schemaFor(mediaType)!, parseOptions)(json).pipe(
        Either.mapLeft((error) => new S.InvalidManifest({ reason: describe(error), mediaType })),
        Either.map((manifest): S.Decoded => ({ mediaType, digest, size: bytes.byteLength, bytes, manifest }))
      )
    }))
}

/** @internal */
export const decode = Effect.fn("Manifest.decode")(function*(bytes: Uint8Array, options?: DecodeOptions) {
  // A private copy, so the digest stays true to `bytes` whatever the caller does with its array.
  return yield* decodeOwned(new Uint8Array(bytes), options)
})

/** @internal */
export const fromResponse = Effect.fn("Manifest.fromResponse")(function*(
  response: BodyResponse,
  options?: { readonly expectedDigest?: Digest.Digest | undefined }
) {
  const bytes: Uint8Array = yield* readBounded(response, maxManifestBytes, "manifest")
  return yield* decodeOwned(bytes, {
    contentType: response.headers["content-type"],
    expectedDigest: options?.expectedDigest
  })
})

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

// Known fields come in the order the specs print them; anything else follows, sorted.
const fieldOrder = [
  "schemaVersion",
  "mediaType",
  "artifactType",
  "config",
  "layers",
  "manifests",
  "digest",
  "size",
  "urls",
  "data",
  "platform",
  "architecture",
  "os",
  "os.version",
  "os.features",
  "variant",
  "features",
  "subject",
  "annotations"
]
const rank = new Map(fieldOrder.map((key, i) => [key, i]))

const bySpecOrder = (a: string, b: string): number => {
  const ra = rank.get(a) ?? fieldOrder.length
  const rb = rank.get(b) ?? fieldOrder.length
  return ra !== rb ? ra - rb : a < b ? -1 : a > b ? 1 : 0
}

/**
 * Compact JSON with a fixed key order (spec order for known fields, sorted keys for maps such as
 * `annotations`), so the same manifest always gives the same bytes and digest, however its object
 * was built.
 */
const canonicalJson = (value: unknown, isMap = false): string => {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>
    const keys = Object.keys(record).filter((key) => record[key] !== undefined)
    keys.sort(isMap ? undefined : bySpecOrder)
    const fields = keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key], key === "annotations")}`)
    return `{${fields.join(",")}}`
  }
  return JSON.stringify(value)
}

const mediaTypeOf = (manifest: S.Pushable): string =>
  manifest.mediaType ?? ("manifests" in manifest ? MediaType.OciIndex : MediaType.OciManifest)

const encoder = new TextEncoder()

/** @internal */
export const encode = (manifest: S.Pushable): S.Decoded => {
  const mediaType = mediaTypeOf(manifest)
  // The body names its own type: registries compare it with the Content-Type of the PUT.
  const typed = (manifest.mediaType === undefined ? { ...manifest, mediaType } : manifest) as S.Pushable
  const encoded = Schema.encodeUnknownSync(schemaFor(mediaType)!, parseOptions)(typed)
  const bytes = encoder.encode(canonicalJson(encoded))
  return { mediaType, digest: Digest.compute(bytes), size: bytes.byteLength, bytes, manifest: typed }
}

// ---------------------------------------------------------------------------------------------
// accessors
// ---------------------------------------------------------------------------------------------

/** @internal */
export const isSchema1 = (manifest: S.Manifest): manifest is S.DockerSchema1 | S.DockerSchema1Signed =>
  manifest.schemaVersion === 1

/** @internal */
export const isIndex = (manifest: S.Manifest): manifest is S.ImageIndex | S.DockerManifestList =>
  "manifests" in manifest

/** @internal */
export const isImageIndex = (manifest: S.Manifest): manifest is S.ImageIndex =>
  "manifests" in manifest && manifest.mediaType !== MediaType.DockerManifestList

/** @internal */
export const isDockerManifestList = (manifest: S.Manifest): manifest is S.DockerManifestList =>
  "manifests" in manifest && manifest.mediaType === MediaType.DockerManifestList

/** @internal */
export const isImageManifest = (manifest: S.Manifest): manifest is S.ImageManifest =>
  "config" in manifest && manifest.mediaType !== MediaType.DockerManifest

/** @internal */
export const isDockerManifest = (manifest: S.Manifest): manifest is S.DockerManifest =>
  "config" in manifest && manifest.mediaType === MediaType.DockerManifest

/** @internal */
export const references = (manifest: S.Manifest): ReadonlyArray<S.Descriptor> =>
  isIndex(manifest) ? manifest.manifests : "config" in manifest ? [manifest.config, ...manifest.layers] : []

/** @internal */
export const subject = (manifest: S.Manifest): S.Descriptor | undefined =>
  isImageManifest(manifest) || isImageIndex(manifest) ? manifest.subject : undefined

/** @internal */
export const descriptorOf = (decoded: S.Decoded): S.Descriptor => {
  const manifest = decoded.manifest
  const artifactType = isImageManifest(manifest) || isImageIndex(manifest) ? manifest.artifactType : undefined
  return {
    mediaType: decoded.mediaType,
    digest: decoded.digest,
    size: decoded.size,
    ...(artifactType === undefined ? {} : { artifactType })
  }
}
