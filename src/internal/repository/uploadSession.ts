/**
 * The blob upload protocol, one request per function: open a session (`POST`, optionally as a
 * cross-repository mount), ask where it stands (`GET` → `Range`), send a chunk (`PATCH`), finish
 * (`PUT ?digest=`), cancel (`DELETE`) — the session state they pass along, a Schema so a caller
 * can store it and resume after a restart, and the chunk engine that sends a body into a session
 * from the registry's true offset, resuming from its `Range` when a chunk fails.
 *
 * @internal
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../../Transport.js"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { pushScope } from "../../Auth.js"
import * as Digest from "../../Digest.js"
import {
  BlobUploadUnknown,
  DigestMismatch,
  InvalidResponse,
  safeUrl
} from "../../RegistryError.js"
import { discard } from "../body.js"
import { type Context, isSuccess, refusal, repoUrl, send, type Target } from "./http.js"

/** Upload settings, on top of what every operation shares. @internal */
export interface UploadContext extends Context {
  readonly upload: {
    /** Below this size (bytes, known up front) `auto` uploads in one PUT; at or above it, in chunks. */
    readonly monolithicThreshold: number
    /** The largest chunk sent in one PATCH (raised to the registry's `OCI-Chunk-Min-Length`). */
    readonly chunkSize: number
    /** How often, and after which delays, a failed chunk is resumed from the registry's offset. */
    readonly resume: Schedule.Schedule<unknown, unknown>
  }
}

/**
 * An upload session: where to send the next request and how many bytes the registry holds. A
 * Schema class, so it can be encoded (to JSON), stored, and decoded by a later process to resume.
 * The URL may carry the registry's signed state (`_state=…`): store it as carefully as a token.
 *
 * @internal
 */
export class UploadSession extends Schema.Class<UploadSession>("effect-oci/UploadSession")({
  /** The absolute URL of the session (the latest `Location` the registry gave). */
  url: Schema.String,
  /** How many bytes the registry holds: the next chunk starts here. */
  offset: Schema.NonNegativeInt,
  /** `Docker-Upload-UUID`, else the last segment of the session URL's path. */
  uuid: Schema.optionalWith(Schema.String, { exact: true }),
  /** `OCI-Chunk-Min-Length`: every chunk but the last must be at least this long. */
  chunkMinLength: Schema.optionalWith(Schema.NonNegativeInt, { exact: true })
}) {}

/**
 * An upload cannot go on from where the registry stands: it holds fewer bytes than the body given
 * starts at (`bodyOffset`), or it reports more bytes than were sent.
 *
 * @internal
 */
export class CannotResume extends Schema.TaggedError<CannotResume>()("CannotResume", {
  /** The registry's offset. */
  offset: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot resume the upload at offset ${this.offset}: ${this.reason}`
  }
}

const uploadUnknown = () =>
  new BlobUploadUnknown({ status: 404, message: "blob upload unknown to registry", errors: [] })


/**
 * The number of bytes a registry holds, from its `Range: 0-<last>` (a `bytes=` prefix is
 * tolerated). Distribution writes `0-0` both for an empty session and for one byte, so `expected`
 * (what we believe) decides that case. `undefined` when the header is absent or malformed.
 *
 * @internal
 */
export const parseRange = (value: string | undefined, expected: number): number | undefined => {
  const match = /^\s*(?:bytes=)?(\d+)-(-1|\d+)\s*$/i.exec(value ?? "")
  if (match === null || match[1] !== "0") return undefined
  const end = Number(match[2])
  if (end <= 0) return expected === 1 && end === 0 ? 1 : 0
  return Number.isSafeInteger(end) ? end + 1 : undefined
}

/** The session's id: the last segment of its URL's path (empty when the URL names no session). */
const lastSegment = (url: string): string => {
  const path = new URL(url).pathname
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1))
}

/**
 * The absolute URL of a response's `Location`, refused when it is no URL, or names the uploads
 * endpoint itself rather than a session (`…/blobs/uploads/`): sending chunks there would start
 * new uploads instead of continuing this one.
 */
const resolveLocation = (response: TransportResponse, base: string) =>
  Effect.suspend(() => {
    const location = response.headers["location"]
    if (location === undefined || location === "") return Effect.succeed(undefined)
    let url: string
    try {
      url = new URL(location, base).toString()
    } catch {
      return Effect.fail(new InvalidResponse({ reason: "upload Location is not a URL", url: safeUrl(base) }))
    }
    return /\/blobs\/uploads\/?$/.test(new URL(url).pathname)
      ? Effect.fail(
        new InvalidResponse({ reason: "upload Location names no session (it ends in /blobs/uploads/)", url: safeUrl(url) })
      )
      : Effect.succeed(url)
  })

/** The offset a 202 to a PATCH reports; a missing, empty or malformed `Range` is refused. */
const acknowledged = (response: TransportResponse, url: string, expected: number) => {
  const header = response.headers["range"]
  const offset = parseRange(header, expected)
  return offset === undefined
    ? Effect.fail(
      new InvalidResponse({
        reason: header === undefined
          ? "the registry accepted a chunk without a Range header"
          : `the registry accepted a chunk with an unusable Range ${JSON.stringify(header)}`,
        url: safeUrl(url)
      })
    )
    : Effect.succeed(offset)
}

/** The session after a response: its new `Location` (when given), offset and UUID. */
const advance = (
  response: TransportResponse,
  session: UploadSession,
  offset: number
) =>
  Effect.map(resolveLocation(response, session.url), (location) =>
    new UploadSession({
      ...session,
      url: location ?? session.url,
      offset,
      ...(response.headers["docker-upload-uuid"] ? { uuid: response.headers["docker-upload-uuid"] } : {})
    })
  )

/** What a `POST` to the uploads endpoint gave: a session, or (for a mount) the blob itself. @internal */
export type Opened =
  | { readonly _tag: "Mounted" }
  | { readonly _tag: "Session"; readonly session: UploadSession }

/**
 * `POST /v2/<name>/blobs/uploads/` (with `?mount=&from=` to mount). 201 to a mount means done; 202
 * opens a session at its `Location`, with `OCI-Chunk-Min-Length` when the registry has one.
 *
 * @internal
 */
export const open = (
  ctx: Context,
  target: Target,
  mount?: { readonly digest: Digest.Digest; readonly from: string }
) =>
  Effect.gen(function*() {
    const base = repoUrl(ctx, target, "blobs/uploads/")
    const url = mount === undefined
      ? base
      : `${base}?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}`
    const response = yield* send(ctx, target.registry, HttpClientRequest.post(url), [pushScope(target.repository)])
    if (response.status === 201 && mount !== undefined) {
      yield* discard(response)
      return { _tag: "Mounted" } as Opened
    }
    if (response.status !== 202) {
      if (!isSuccess(response.status)) return yield* refusal(response)
      return yield* new InvalidResponse({
        reason: `expected 202 to open an upload, got ${response.status}`,
        url: safeUrl(url)
      })
    }
    yield* discard(response)
    const location = yield* resolveLocation(response, url)
    if (location === undefined) {
      return yield* new InvalidResponse({ reason: "upload opened without a Location", url: safeUrl(url) })
    }
    const minimum = Number(response.headers["oci-chunk-min-length"])
    const session = new UploadSession({
      url: location,
      offset: 0,
      uuid: response.headers["docker-upload-uuid"] || lastSegment(location),
      ...(Number.isSafeInteger(minimum) && minimum > 0 ? { chunkMinLength: minimum } : {})
    })
    return { _tag: "Session", session } as Opened
  })

/**
 * `GET <session>`: where the registry stands (`Range`), and its latest `Location`.
 *
 * @internal
 */
export const status = (ctx: Context, target: Target, session: UploadSession) =>
  Effect.gen(function*() {
    const response = yield* send(ctx, target.registry, HttpClientRequest.get(session.url), [
      pushScope(target.repository)
    ])
    if (!isSuccess(response.status)) return yield* refusal(response, uploadUnknown)
    yield* discard(response)
    const offset = parseRange(response.headers["range"], session.offset)
    if (offset === undefined) {
      return yield* new InvalidResponse({
        reason: `upload status without a usable Range (${JSON.stringify(response.headers["range"] ?? null)})`,
        url: safeUrl(session.url)
      })
    }
    return yield* advance(response, session, offset)
  })

/**
 * `PATCH <session>` with `bytes` as the chunk starting at `start`: `Content-Range: start-end`
 * (inclusive, no unit, as the distribution spec writes it) and `Content-Length`. Returns the
 * session with the offset the registry reports (what we sent when it reports nothing).
 *
 * @internal
 */
export const patch = (ctx: Context, target: Target, session: UploadSession, bytes: Uint8Array, start: number) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.patch(session.url).pipe(
      HttpClientRequest.setHeader("content-range", `${start}-${start + bytes.byteLength - 1}`),
      HttpClientRequest.bodyUint8Array(bytes, "application/octet-stream")
    )
    const response = yield* send(ctx, target.registry, request, [pushScope(target.repository)])
    if (!isSuccess(response.status)) return yield* refusal(response, uploadUnknown)
    yield* discard(response)
    const offset = yield* acknowledged(response, session.url, start + bytes.byteLength)
    return yield* advance(response, session, offset)
  })

/**
 * `PATCH <session>` with a body of unknown length (no `Content-Range`, no `Content-Length`): a
 * stream, or a raw body the client pulls. It is read again if the request is resent.
 *
 * @internal
 */
export const patchStream = (
  ctx: Context,
  target: Target,
  session: UploadSession,
  body: HttpBody.HttpBody,
  expected: () => number
) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.patch(session.url).pipe(HttpClientRequest.setBody(body))
    const response = yield* send(ctx, target.registry, request, [pushScope(target.repository)])
    if (!isSuccess(response.status)) return yield* refusal(response, uploadUnknown)
    yield* discard(response)
    const offset = yield* acknowledged(response, session.url, session.offset + expected())
    return yield* advance(response, session, offset)
  })

/**
 * The session URL with `digest=` added, keeping its own query (signed state) byte for byte.
 *
 * @internal
 */
export const withDigest = (url: string, digest: Digest.Digest): string => {
  const parsed = new URL(url)
  if (parsed.searchParams.has("digest")) {
    parsed.searchParams.set("digest", digest)
    return parsed.toString()
  }
  const hash = url.indexOf("#")
  const bare = hash === -1 ? url : url.slice(0, hash)
  return `${bare}${bare.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`
}

/**
 * Checks the registry's `Docker-Content-Digest` (when it sent a valid one in our algorithm)
 * against the digest we computed.
 *
 * @internal
 */
export const checkDigestHeader = (response: TransportResponse, ours: Digest.Digest) => {
  const header = Digest.parseEither(response.headers["docker-content-digest"] ?? "")
  if (header._tag === "Left" || Digest.algorithm(header.right) !== Digest.algorithm(ours)) return Effect.void
  return header.right === ours ? Effect.void : Effect.fail(new DigestMismatch({ expected: ours, actual: header.right }))
}

/**
 * `PUT <session>?digest=` — the closing request, with `body` as the last bytes when given (a
 * monolithic upload sends the whole blob here). Verifies `Docker-Content-Digest`.
 *
 * @internal
 */
export const commit = (
  ctx: Context,
  target: Target,
  session: UploadSession,
  digest: Digest.Digest,
  body?: HttpClientRequest.HttpClientRequest["body"]
) =>
  Effect.gen(function*() {
    const bare = HttpClientRequest.put(withDigest(session.url, digest))
    const request = body === undefined ? bare : HttpClientRequest.setBody(bare, body)
    const response = yield* send(ctx, target.registry, request, [pushScope(target.repository)])
    if (!isSuccess(response.status)) return yield* refusal(response, uploadUnknown)
    yield* discard(response)
    yield* checkDigestHeader(response, digest)
  })

/**
 * `DELETE <session>`. A session the registry no longer knows (404) counts as cancelled.
 *
 * @internal
 */
export const cancel = (ctx: Context, target: Target, session: UploadSession) =>
  Effect.gen(function*() {
    const response = yield* send(ctx, target.registry, HttpClientRequest.del(session.url), [
      pushScope(target.repository)
    ])
    if (response.status === 404) return yield* discard(response)
    if (!isSuccess(response.status)) return yield* refusal(response, uploadUnknown)
    yield* discard(response)
  })
