/**
 * The blob upload protocol, one request per function: open a session (`POST`, optionally as a
 * cross-repository mount), ask where it stands (`GET` → `Range`), send a chunk (`PATCH`), finish
 * (`PUT ?digest=`), cancel (`DELETE`) — the session state they pass along, a Schema so a caller
 * can store it and resume after a restart, and the chunk engine that sends a body into a session
 * from the registry's true offset, resuming from its `Range` when a chunk fails.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../../Transport.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { pushScope } from "../../Auth.js"
import * as Digest from "../../Digest.js"
import {
  BlobUploadUnknown,
  DigestMismatch,
  errorBodyLimit,
  InvalidResponse,
  safeUrl,
  SizeMismatch
} from "../../RegistryError.js"
import { concat, readBoundedText } from "../body.js"
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
  /** `Docker-Upload-UUID`, when the registry sent one. */
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

/** Reads what is left of a response we need nothing more from (frees the connection). */
export const discard = (response: TransportResponse) =>
  readBoundedText(response, errorBodyLimit, "response").pipe(Effect.ignore)

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

const resolveLocation = (response: TransportResponse, base: string) =>
  Effect.suspend(() => {
    const location = response.headers["location"]
    if (location === undefined || location === "") return Effect.succeed(undefined)
    try {
      return Effect.succeed(new URL(location, base).toString())
    } catch {
      return Effect.fail(new InvalidResponse({ reason: "upload Location is not a URL", url: safeUrl(base) }))
    }
  })

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
      ...(response.headers["docker-upload-uuid"] ? { uuid: response.headers["docker-upload-uuid"] } : {}),
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
    const expected = start + bytes.byteLength
    return yield* advance(response, session, parseRange(response.headers["range"], expected) ?? expected)
  })

/**
 * `PATCH <session>` with a streamed body of unknown length (no `Content-Range`, no
 * `Content-Length`). The stream is run again if the request is resent.
 *
 * @internal
 */
export const patchStream = (
  ctx: Context,
  target: Target,
  session: UploadSession,
  body: Stream.Stream<Uint8Array, unknown>,
  expected: () => number
) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.patch(session.url).pipe(
      HttpClientRequest.bodyStream(body, { contentType: "application/octet-stream" })
    )
    const response = yield* send(ctx, target.registry, request, [pushScope(target.repository)])
    if (!isSuccess(response.status)) return yield* refusal(response, uploadUnknown)
    yield* discard(response)
    const sent = session.offset + expected()
    return yield* advance(response, session, parseRange(response.headers["range"], sent) ?? sent)
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

// ---------------------------------------------------------------------------------------------
// sending chunks, resuming from the registry's offset
// ---------------------------------------------------------------------------------------------

/** The latest session of an upload in progress (the cancel finalizer reads it) and its chunk size. @internal */
export interface Progress {
  session: UploadSession
  chunkSize: number
}

/** Failures after which the registry is asked where the upload stands, and the upload goes on. @internal */
export const isResumable = (error: { readonly _tag: string }): boolean => {
  switch (error._tag) {
    case "TransportError":
    case "RequestTimeout":
    case "Unavailable":
    case "TooManyRequests":
      return true
  }
  const status = (error as { readonly status?: unknown }).status
  return typeof status === "number" && (status === 416 || status >= 500)
}

const statusOf = (error: { readonly _tag: string }): unknown => (error as { readonly status?: unknown }).status

/** What the chunk engine sends. @internal */
export interface ChunkRun<E, R> {
  readonly body: Stream.Stream<Uint8Array, E, R>
  /** Where the body starts in the blob; above 0 the body cannot be hashed and `digest` is needed. */
  readonly bodyOffset: number
  readonly digest: Digest.Digest | undefined
  readonly size: number | undefined
  readonly onProgress: ((session: UploadSession) => Effect.Effect<void>) | undefined
}

/** What sending chunks can fail with, besides the body's own error. @internal */
export type ChunkFailure =
  | CannotResume
  | SizeMismatch
  | InvalidResponse
  | Effect.Effect.Error<ReturnType<typeof patch>>
  | Effect.Effect.Error<ReturnType<typeof status>>

type Pass = { readonly _tag: "Done"; readonly digest: Digest.Digest | undefined; readonly size: number } | {
  readonly _tag: "Rewind"
  readonly offset: number
}

/**
 * Sends the body from the session's offset in chunks, and returns the digest computed (when the
 * body is whole) and the size. A chunk that fails is followed by a `GET` of the session, and the
 * upload goes on from the offset the registry reports — inside the chunk in hand, or by running
 * the body again when the registry lost bytes acknowledged before.
 *
 * @internal
 */
export const sendChunks = <E, R>(ctx: UploadContext, target: Target, progress: Progress, run: ChunkRun<E, R>) =>
  Effect.gen(function*() {
    const driver = yield* Schedule.driver(ctx.upload.resume)
    const algorithm = run.digest === undefined ? "sha256" : Digest.algorithm(run.digest)

    /** Sends one chunk; returns the offset the registry then holds. */
    const sendChunk = (bytes: Uint8Array, start: number) =>
      Effect.gen(function*() {
        const sent = yield* Effect.either(patch(ctx, target, progress.session, bytes, start))
        if (Either.isRight(sent)) {
          progress.session = sent.right
          if (sent.right.offset !== start + bytes.byteLength) {
            // the registry kept other than what it was sent: spend a resume on it, so it cannot loop
            const odd = new InvalidResponse({
              reason: `the registry holds ${sent.right.offset} bytes after a chunk ending at ${
                start + bytes.byteLength
              }`,
              url: safeUrl(progress.session.url)
            })
            yield* Effect.mapError(driver.next(odd), () => odd)
          }
          return sent.right.offset
        }
        const error = sent.left
        if (!isResumable(error)) return yield* Effect.fail(error)
        yield* Effect.mapError(driver.next(error), () => error)
        const now = yield* status(ctx, target, progress.session)
        yield* Effect.logDebug("resuming blob upload").pipe(
          Effect.annotateLogs({ failure: error._tag, chunkStart: start, registryOffset: now.offset })
        )
        progress.session = now
        // a 416 with nothing taken is how some registries (GHCR: 4 MiB) refuse a chunk's size
        const minimum = now.chunkMinLength ?? 1
        if (statusOf(error) === 416 && now.offset === start && progress.chunkSize > minimum) {
          progress.chunkSize = Math.max(minimum, Math.floor(progress.chunkSize / 2))
        }
        return now.offset
      })

    /** One run of the body, sending from `start`; bytes before it are only hashed. */
    const pass = (start: number): Effect.Effect<Pass, E | ChunkFailure, R> =>
      Effect.scoped(Effect.gen(function*() {
        if (start < run.bodyOffset) {
          return yield* new CannotResume({
            offset: start,
            reason: `the registry holds fewer bytes than the body given, which starts at ${run.bodyOffset}`
          })
        }
        const pull = yield* Stream.toPull(run.body)
        const hasher = run.bodyOffset === 0 ? Digest.hasher(algorithm) : undefined
        let position = run.bodyOffset
        let ended = false
        const buffer: Array<Uint8Array> = []
        let buffered = 0
        let bufferStart = start

        const fill = (want: number) =>
          Effect.gen(function*() {
            while (!ended && buffered < want) {
              const next = yield* Effect.catchAll(pull, Option.match({
                onNone: () => Effect.succeed(undefined),
                onSome: (error: E) => Effect.fail(error)
              }))
              if (next === undefined) {
                ended = true
                break
              }
              for (const piece of next) {
                hasher?.update(piece)
                const pieceStart = position
                position += piece.byteLength
                if (run.size !== undefined && position > run.size) {
                  return yield* new SizeMismatch({ expected: run.size, actual: position })
                }
                if (position <= start || piece.byteLength === 0) continue
                const kept = pieceStart < start ? piece.subarray(start - pieceStart) : piece
                buffer.push(kept)
                buffered += kept.byteLength
              }
            }
          })

        const take = (length: number): Uint8Array => {
          const parts: Array<Uint8Array> = []
          let left = length
          for (const part of buffer) {
            if (left === 0) break
            const piece = part.byteLength <= left ? part : part.subarray(0, left)
            parts.push(piece)
            left -= piece.byteLength
          }
          return concat(parts, length)
        }

        const drop = (length: number) => {
          let left = length
          while (left > 0) {
            const first = buffer[0]!
            if (first.byteLength <= left) {
              buffer.shift()
              left -= first.byteLength
            } else {
              buffer[0] = first.subarray(left)
              left = 0
            }
          }
          buffered -= length
          bufferStart += length
        }

        while (true) {
          const chunkSize = Math.max(progress.chunkSize, progress.session.chunkMinLength ?? 1)
          yield* fill(chunkSize)
          if (buffered === 0) break
          const length = Math.min(chunkSize, buffered)
          const reached = yield* sendChunk(take(length), bufferStart)
          if (reached > bufferStart + length) {
            return yield* new CannotResume({
              offset: reached,
              reason: "the registry reports more bytes than were sent"
            })
          }
          if (reached < bufferStart) return { _tag: "Rewind", offset: reached } as Pass
          drop(reached - bufferStart)
          if (run.onProgress !== undefined) yield* run.onProgress(progress.session)
        }
        if (position < start) {
          return yield* new CannotResume({ offset: start, reason: `the body ends at ${position}, before that offset` })
        }
        if (run.size !== undefined && position !== run.size) {
          return yield* new SizeMismatch({ expected: run.size, actual: position })
        }
        return { _tag: "Done", digest: hasher?.digest(), size: position } as Pass
      }))

    let start = progress.session.offset
    while (true) {
      const result = yield* pass(start)
      if (result._tag === "Done") return result
      yield* Effect.logDebug("the registry lost acknowledged bytes: sending the body again").pipe(
        Effect.annotateLogs({ registryOffset: result.offset })
      )
      start = result.offset
    }
  })
