/**
 * Manifest reads: exists, get (verified), conditional get, resolve to a descriptor, and platform
 * selection.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../../Transport.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { pullScope } from "../../Auth.js"
import * as Digest from "../../Digest.js"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import * as Reference from "../../Reference.js"
import { DigestMismatch } from "../../RegistryError.js"
import { UnsupportedMediaType } from "../manifestSchema.js"
import { type Context, isSuccess, manifestUnknown, refusal, repoUrl, send } from "./http.js"

/** Options of a manifest read. @internal */
export interface ReadOptions {
  /** The media types to accept (one per entry), in order of preference. */
  readonly accept?: ReadonlyArray<string> | undefined
}

/** A fetched manifest with the registry's ETag. @internal */
export interface Fetched extends Manifest.Decoded {
  readonly etag: string | undefined
}

/** The path segment that names the manifest: the digest when there is one, else the tag. @internal */
export const identifier = (ref: Reference.Reference): string => ref.digest ?? ref.tag ?? "latest"

const manifestRequest = (ctx: Context, ref: Reference.Reference, method: "GET" | "HEAD", options: ReadOptions) =>
  HttpClientRequest.make(method)(repoUrl(ctx, ref, `manifests/${identifier(ref)}`)).pipe(
    HttpClientRequest.setHeader("accept", (options.accept ?? MediaType.defaultAccept).join(", "))
  )


/**
 * Checks the received manifest against `Docker-Content-Digest` (in the header's algorithm) when
 * the registry sent a valid one.
 */
const checkHeaderDigest = (response: TransportResponse, decoded: Manifest.Decoded) => {
  const header = Digest.parseEither(response.headers["docker-content-digest"] ?? "")
  if (header._tag === "Left") return Effect.void
  const actual = Digest.algorithm(header.right) === Digest.algorithm(decoded.digest)
    ? Either.right(decoded.digest)
    : Manifest.digestOf(decoded.bytes, decoded.mediaType, Digest.algorithm(header.right))
  return Effect.flatMap(actual, (actual) =>
    actual === header.right
      ? Effect.void
      : Effect.fail(new DigestMismatch({ expected: header.right, actual })))
}

const decodeResponse = (response: TransportResponse, ref: Reference.Reference) =>
  Manifest.fromResponse(response, { expectedDigest: ref.digest }).pipe(
    Effect.tap((decoded) => checkHeaderDigest(response, decoded)),
    Effect.map((decoded): Fetched => ({ ...decoded, etag: response.headers["etag"] }))
  )

/** HEAD: whether the manifest exists. @internal */
export const exists = (ctx: Context, ref: Reference.Reference, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const response = yield* send(ctx, ref.registry, manifestRequest(ctx, ref, "HEAD", options), [
      pullScope(ref.repository)
    ])
    if (isSuccess(response.status)) return true
    if (response.status === 404) return false
    return yield* refusal(response)
  })

/** GET: the manifest, verified against the digest asked for and `Docker-Content-Digest`. @internal */
export const get = (ctx: Context, ref: Reference.Reference, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const response = yield* send(ctx, ref.registry, manifestRequest(ctx, ref, "GET", options), [
      pullScope(ref.repository)
    ])
    if (!isSuccess(response.status)) return yield* refusal(response, manifestUnknown)
    return yield* decodeResponse(response, ref)
  })

/** The result of a conditional GET. @internal */
export type Conditional =
  | { readonly _tag: "Modified"; readonly manifest: Fetched }
  | { readonly _tag: "NotModified"; readonly etag: string }

/** GET with `If-None-Match`: `NotModified` when the registry answers 304. @internal */
export const getIfChanged = (ctx: Context, ref: Reference.Reference, etag: string, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const request = manifestRequest(ctx, ref, "GET", options).pipe(
      HttpClientRequest.setHeader("if-none-match", etag.startsWith("\"") || etag.startsWith("W/") ? etag : `"${etag}"`)
    )
    const response = yield* send(ctx, ref.registry, request, [pullScope(ref.repository)])
    if (response.status === 304) return { _tag: "NotModified", etag } as Conditional
    if (!isSuccess(response.status)) return yield* refusal(response, manifestUnknown)
    return { _tag: "Modified", manifest: yield* decodeResponse(response, ref) } as Conditional
  })

/**
 * The descriptor a reference points to: HEAD, and a GET when the HEAD gives no digest (some
 * registries omit `Docker-Content-Digest` on HEAD).
 *
 * @internal
 */
export const resolve = (ctx: Context, ref: Reference.Reference, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const response = yield* send(ctx, ref.registry, manifestRequest(ctx, ref, "HEAD", options), [
      pullScope(ref.repository)
    ])
    if (isSuccess(response.status)) {
      const digest = Digest.parseEither(response.headers["docker-content-digest"] ?? "")
      const size = Number(response.headers["content-length"])
      const mediaType = MediaType.essence(response.headers["content-type"] ?? "")
      if (digest._tag === "Right" && Number.isSafeInteger(size) && mediaType !== "") {
        if (ref.digest !== undefined && ref.digest !== digest.right) {
          return yield* new DigestMismatch({ expected: ref.digest, actual: digest.right })
        }
        return { mediaType, digest: digest.right, size } as Manifest.Descriptor
      }
    } else if (response.status !== 404 && response.status !== 405) {
      return yield* refusal(response, manifestUnknown)
    }
    // No usable HEAD: the GET gives the bytes, and so the digest, and its own error body.
    return Manifest.descriptorOf(yield* get(ctx, ref, options))
  })

/** An index offers no manifest for the wanted platform. @internal */
export class PlatformNotFound extends Schema.TaggedError<PlatformNotFound>()("PlatformNotFound", {
  platform: Schema.String,
  index: Schema.String,
  available: Schema.Array(Schema.String)
}) {}

/** A fetched single-platform image manifest (OCI or Docker v2 schema 2). @internal */
export interface FetchedImage extends Fetched {
  readonly manifest: Manifest.Image
}

const asImage = (fetched: Fetched): Effect.Effect<FetchedImage, UnsupportedMediaType> =>
  Manifest.isImage(fetched.manifest)
    ? Effect.succeed({ ...fetched, manifest: fetched.manifest })
    : Effect.fail(new UnsupportedMediaType({ mediaType: fetched.mediaType }))

/**
 * The image manifest for a platform: an index is resolved to the matching entry (fetched by digest);
 * an image manifest is returned as it is. Anything else — a schema 1 manifest, an index nested in
 * the index — is `UnsupportedMediaType` here (`get` still reads it).
 *
 * @internal
 */
export const getForPlatform = (ctx: Context, ref: Reference.Reference, platform: Manifest.Platform, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const top = yield* get(ctx, ref, options)
    if (!Manifest.isIndex(top.manifest)) return yield* asImage(top)
    const entry = Manifest.matchPlatform(top.manifest, platform)
    if (Option.isNone(entry)) {
      return yield* new PlatformNotFound({
        platform: Manifest.formatPlatform(platform),
        index: top.digest,
        available: Manifest.references(top.manifest).flatMap((d) =>
          d.platform === undefined ? [] : [Manifest.formatPlatform(d.platform)]
        )
      })
    }
    return yield* asImage(yield* get(ctx, Reference.withDigest(ref, entry.value.digest), options))
  })
