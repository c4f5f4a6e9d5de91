/**
 * Blob reads: stat (through the BlobCache), and verified streams that resume by themselves when a
 * body breaks off.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { pullScope } from "../../Auth.js"
import * as BlobCache from "../../BlobCache.js"
import * as Digest from "../../Digest.js"
import * as Metrics from "../../Metrics.js"
import * as Transport from "../../Transport.js"
import { BlobUnknown, InvalidResponse, safeUrl } from "../../RegistryError.js"
import { type Context, invalid, isSuccess, refusal, repoUrl, send, type Target } from "./http.js"

const blobUnknown = () => new BlobUnknown({ status: 404, message: "blob unknown to registry", errors: [] })

const blobUrl = (ctx: Context, target: Target, digest: Digest.Digest) => repoUrl(ctx, target, `blobs/${digest}`)

/** HEAD a blob, without the cache. @internal */
export const head = (ctx: Context, target: Target, digest: Digest.Digest) =>
  Effect.gen(function*() {
    const url = blobUrl(ctx, target, digest)
    const response = yield* send(ctx, target.registry, HttpClientRequest.head(url), [pullScope(target.repository)])
    if (!isSuccess(response.status)) return yield* refusal(response, blobUnknown)
    const size = Number(response.headers["content-length"])
    if (response.headers["content-length"] === undefined || !Number.isSafeInteger(size) || size < 0) {
      return yield* invalid("blob HEAD without a valid Content-Length", url)
    }
    const mediaType = response.headers["content-type"] ?? "application/octet-stream"
    return { digest, size, mediaType } satisfies BlobCache.BlobDescriptor
  })

/** The blob's descriptor: from the cache when it knows it, else a HEAD (which fills the cache). @internal */
export const stat = (ctx: Context, target: Target, digest: Digest.Digest) =>
  BlobCache.cached(ctx.cache, digest, `${target.registry}/${target.repository}`, head(ctx, target, digest))

/** `bytes a-b/total` or `bytes a-b/*`. @internal */
export const parseContentRange = (
  value: string | undefined
): { readonly start: number; readonly end: number; readonly total: number | undefined } | undefined => {
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value ?? "")
  if (match === null) return undefined
  const start = Number(match[1])
  const end = Number(match[2])
  const total = match[3] === "*" ? undefined : Number(match[3])
  if (end < start || (total !== undefined && end >= total)) return undefined
  return { start, end, total }
}

/** Drops the first `count` bytes of a byte stream. */
const dropBytes = (count: number) => <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  count <= 0 ? self : Stream.suspend(() => {
    let left = count
    return Stream.filterMap(self, (chunk) => {
      if (left === 0) return Option.some(chunk)
      if (chunk.byteLength <= left) {
        left -= chunk.byteLength
        return Option.none()
      }
      const rest = chunk.subarray(left)
      left = 0
      return Option.some(rest)
    })
  })

/** Keeps only the first `count` bytes of a byte stream. */
const takeBytes = (count: number | undefined) => <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  count === undefined ? self : Stream.suspend(() => {
    let left = count
    return self.pipe(
      Stream.takeWhile(() => left > 0),
      Stream.map((chunk) => {
        const part = chunk.byteLength <= left ? chunk : chunk.subarray(0, left)
        left -= part.byteLength
        return part
      })
    )
  })

/** Which bytes of a blob to read: from `offset`, `length` bytes (to the end when absent). @internal */
export interface ByteRange {
  readonly offset: number
  readonly length?: number | undefined
}

/**
 * Opens the blob at `position` (absolute) and returns its bytes from there, honouring `end`
 * (exclusive). A registry that ignores `Range` answers 200 with the whole blob: its first bytes are
 * skipped. A `Content-Range` that does not start where asked (or does not parse) is refused.
 */
const openAt = (ctx: Context, target: Target, digest: Digest.Digest, position: number, end: number | undefined) =>
  Effect.gen(function*() {
    const url = blobUrl(ctx, target, digest)
    const ranged = position > 0 || end !== undefined
    const request = ranged
      ? HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeader("range", `bytes=${position}-${end === undefined ? "" : end - 1}`)
      )
      : HttpClientRequest.get(url)
    const response = yield* send(ctx, target.registry, request, [pullScope(target.repository)])
    const bytesFrom = (bodyStart: number) =>
      Transport.bodyStream(response).pipe(dropBytes(position - bodyStart), takeBytes(end === undefined ? undefined : end - position))
    if (response.status === 206 && ranged) {
      const range = parseContentRange(response.headers["content-range"])
      if (range === undefined || range.start > position) {
        return yield* badRange(url, response)
      }
      return bytesFrom(range.start)
    }
    if (response.status === 200) return bytesFrom(0)
    if (!isSuccess(response.status)) return yield* refusal(response, blobUnknown)
    return yield* invalid(`unexpected status ${response.status} for a blob GET`, url)
  })

const badRange = (url: string, response: HttpClientResponse.HttpClientResponse) =>
  Effect.fail(
    new InvalidResponse({
      reason: `unusable Content-Range ${JSON.stringify(response.headers["content-range"] ?? null)}`,
      url: safeUrl(url)
    })
  )

/** Failures after which a read continues from the last byte received. */
const isResumable = (error: { readonly _tag: string }) =>
  error._tag === "TransportError" || error._tag === "RequestTimeout"

/**
 * The bytes of a blob range as one continuous stream: when the body fails part-way, the read goes on
 * from the last byte received (`Range: bytes=N-`), as often as the resume schedule allows.
 *
 * @internal
 */
export const read = (ctx: Context, target: Target, digest: Digest.Digest, range: ByteRange = { offset: 0 }) =>
  Stream.unwrap(Effect.gen(function*() {
    const driver = yield* Schedule.driver(ctx.resume)
    const end = range.length === undefined ? undefined : range.offset + range.length
    let position = range.offset
    const from = (): Stream.Stream<Uint8Array, Effect.Effect.Error<ReturnType<typeof openAt>>> =>
      Stream.unwrap(openAt(ctx, target, digest, position, end)).pipe(
        Stream.tap((chunk) => Effect.sync(() => (position += chunk.byteLength))),
        Stream.catchAll((error) =>
          isResumable(error) && (end === undefined || position < end)
            ? Stream.unwrap(
              driver.next(error).pipe(
                Effect.mapError(() => error),
                Effect.tap(() =>
                  Effect.logDebug("resuming blob read").pipe(
                    Effect.annotateLogs({ digest, position }),
                    Effect.zipRight(Metric.increment(Metrics.resumedDownloads))
                  )
                ),
                Effect.as(from())
              )
            )
            : Stream.fail(error)
        )
      )
    return from()
  }))

/** The whole blob, verified against its digest (and `size` when given). @internal */
export const get = (ctx: Context, target: Target, digest: Digest.Digest, options: { readonly size?: number | undefined } = {}) =>
  read(ctx, target, digest).pipe(Digest.verify({ digest, size: options.size }))

