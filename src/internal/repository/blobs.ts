/**
 * Blob reads: stat (through the BlobCache), and verified streams that resume by themselves when a
 * body breaks off.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../../Transport.js"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { pullScope, type Scope } from "../../Auth.js"
import * as BlobCache from "../../BlobCache.js"
import * as Digest from "../../Digest.js"
import * as Metrics from "../../Metrics.js"
import * as Transport from "../../Transport.js"
import { InvalidResponse, type RequestTimeout, safeUrl, type TransportError } from "../../RegistryError.js"
import { blobUnknown, type Context, invalid, isSuccess, refusal, repoUrl, send, type Target } from "./http.js"
import { discard } from "../body.js"
import { readBodyInto } from "../transportBody.js"
import { release } from "../bodyRing.js"


const blobUrl = (ctx: Context, target: Target, digest: Digest.Digest) => repoUrl(ctx, target, `blobs/${digest}`)

/** HEAD a blob, without the cache. @internal */
export const head = (ctx: Context, target: Target, digest: Digest.Digest, scope: Scope = pullScope(target.repository)) =>
  Effect.gen(function*() {
    const url = blobUrl(ctx, target, digest)
    const response = yield* send(ctx, target.registry, HttpClientRequest.head(url), [scope])
    if (!isSuccess(response.status)) return yield* refusal(response, blobUnknown)
    const size = Number(response.headers["content-length"])
    if (response.headers["content-length"] === undefined || !Number.isSafeInteger(size) || size < 0) {
      return yield* invalid("blob HEAD without a valid Content-Length", url)
    }
    const mediaType = response.headers["content-type"] ?? "application/octet-stream"
    return { digest, size, mediaType } satisfies BlobCache.BlobDescriptor
  })

/**
 * The blob's descriptor: from the cache when it knows it, else a HEAD (which fills the cache). A push
 * passes its push scope so the HEAD reuses the token the upload needs anyway.
 *
 * @internal
 */
export const stat = (ctx: Context, target: Target, digest: Digest.Digest, scope?: Scope) =>
  BlobCache.cached(ctx.cache, digest, `${target.registry}/${target.repository}`, head(ctx, target, digest, scope))

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

/**
 * Drops the first `count` bytes of a byte stream. What it drops is released (see `bodyRing.ts`):
 * nobody else will, and a ring must not wait for it.
 *
 * @internal
 */
export const dropBytes = (count: number) => <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  count <= 0 ? self : Stream.suspend(() => {
    let left = count
    return Stream.filterMap(self, (chunk) => {
      if (left === 0) return Option.some(chunk)
      if (chunk.byteLength <= left) {
        left -= chunk.byteLength
        release(chunk)
        return Option.none()
      }
      const rest = chunk.subarray(left)
      left = 0
      return Option.some(rest)
    })
  })

/**
 * Keeps only the first `count` bytes of a byte stream, and stops pulling as soon as it has them: a
 * body that breaks right after the wanted bytes must not fail the read.
 */
const takeBytes = (count: number | undefined) => <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  count === undefined ? self : Stream.suspend(() => {
    let left = count
    let taken = 0
    return self.pipe(
      Stream.map((chunk) => {
        const part = chunk.byteLength <= left ? chunk : chunk.subarray(0, left)
        left -= part.byteLength
        return part
      }),
      // counted per element: a chunk holds many arrays (the Transport's batches), and the map has
      // run over all of them before the first is tested
      Stream.takeUntil((part) => (taken += part.byteLength) >= count)
    )
  })

/** Which bytes of a blob to read: from `offset`, `length` bytes (to the end when absent). @internal */
export interface ByteRange {
  readonly offset: number
  readonly length?: number | undefined
}

/** The blob's size from a 200's `Content-Length` (unless the body is encoded, which changes its length). */
const lengthOf = (response: TransportResponse): number | undefined => {
  const value = response.headers["content-length"]
  const size = Number(value)
  return value === undefined || response.headers["content-encoding"] !== undefined || !Number.isSafeInteger(size) ||
      size < 0
    ? undefined
    : size
}

/**
 * Opens the blob at `position` (absolute) and returns its bytes from there, honouring `end`
 * (exclusive), with the blob's total size when the response tells it. A registry that ignores
 * `Range` answers 200 with the whole blob: its first bytes are skipped. A `Content-Range` that does
 * not start where asked (or does not parse) is refused. A 416 whose `Content-Range` gives the blob's
 * size as exactly `position` is an empty body: it answers a resume after a body that broke right
 * after its last byte.
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
    const wanted = end === undefined ? undefined : end - position
    const bytesFrom = (bodyStart: number) =>
      // a small body that is exactly the bytes wanted is read whole: the read-ahead and the stream
      // stages a body read piece by piece goes through cost more than a small blob's bytes
      bodyStart === position && wanted !== undefined && wanted <= wholeReadUpTo &&
          response.headers["content-encoding"] === undefined && response.headers["content-length"] === String(wanted)
        ? readWholeBody(response)
        : Transport.bodyStream(response).pipe(dropBytes(position - bodyStart), takeBytes(wanted))
    if (response.status === 206 && ranged) {
      const range = parseContentRange(response.headers["content-range"])
      if (range === undefined || range.start > position) {
        return yield* badRange(url, response)
      }
      return { body: bytesFrom(range.start), total: range.total }
    }
    if (response.status === 200) return { body: bytesFrom(0), total: lengthOf(response) }
    if (response.status === 416 && position > 0 && unsatisfiedTotal(response) === position) {
      yield* discard(response)
      return { body: Stream.empty, total: position }
    }
    if (!isSuccess(response.status)) return yield* refusal(response, blobUnknown)
    return yield* invalid(`unexpected status ${response.status} for a blob GET`, url)
  })

/** The blob size a 416 states in its `Content-Range` (`bytes` then `*` then `/N`). */
const unsatisfiedTotal = (response: TransportResponse): number | undefined => {
  const match = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(response.headers["content-range"] ?? "")
  return match === null ? undefined : Number(match[1])
}

const badRange = (url: string, response: TransportResponse) =>
  Effect.fail(
    new InvalidResponse({
      reason: `unusable Content-Range ${JSON.stringify(response.headers["content-range"] ?? null)}`,
      url: safeUrl(url)
    })
  )

/** Bodies that ended cleanly before the bytes asked for: resumed like a broken connection. */
const endedEarly = new WeakSet<object>()

/** Failures after which a read continues from the last byte received. */
const isResumable = (error: { readonly _tag: string }) =>
  error._tag === "TransportError" || error._tag === "RequestTimeout" || endedEarly.has(error)

/** Up to this length, a body that is exactly the bytes a read wants is read whole (see {@link openAt}). */
const wholeReadUpTo = 2 * 1024 * 1024

/**
 * A body read whole (see `readBodyInto`), then handed on; after a failure, what came before it,
 * then the failure (so that a resume goes on from the first byte not received).
 */
const readWholeBody = (response: TransportResponse): Stream.Stream<Uint8Array, TransportError | RequestTimeout> =>
  Stream.unwrap(Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    return Effect.map(Effect.either(readBodyInto(response, parts)), (result) =>
      Either.isRight(result)
        ? Stream.fromIterable(parts)
        : Stream.concat(Stream.fromIterable(parts), Stream.fail(result.left)))
  }))

/**
 * The bytes of a blob range as one continuous stream: when the body fails part-way (or ends before
 * the bytes asked for), the read goes on from the last byte received (`Range: bytes=N-`). The
 * resume schedule counts attempts in a row that brought no new byte: an attempt that made progress
 * starts it over. With `resumeTimeLimit` set, no resume starts once that much time has passed since
 * the read began. Once every wanted byte has arrived (the range's end, or the blob's size as a
 * response told it) a failure no longer matters and no further request is made.
 *
 * @internal
 */
export const read = (ctx: Context, target: Target, digest: Digest.Digest, range: ByteRange = { offset: 0 }) =>
  Stream.unwrap(Effect.gen(function*() {
    const driver = yield* Schedule.driver(ctx.resume)
    const startedAt = yield* Clock.currentTimeMillis
    const end = range.length === undefined ? undefined : range.offset + range.length
    let position = range.offset
    // where the read stood when the schedule last started over
    let progressMark = position
    /** Whether the read may resume: within the time limit, and the schedule (reset by progress) allows. */
    const mayResume = <E>(error: E) =>
      Effect.gen(function*() {
        if (ctx.resumeTimeLimit !== undefined) {
          const elapsed = (yield* Clock.currentTimeMillis) - startedAt
          if (elapsed >= Duration.toMillis(ctx.resumeTimeLimit)) return yield* Effect.fail(error)
        }
        if (position > progressMark) {
          progressMark = position
          yield* driver.reset
        }
        yield* Effect.mapError(driver.next(error), () => error)
      })
    let total: number | undefined
    /** Where the read stops: the range's end, capped by the blob's size once known. */
    const limit = () => (end === undefined ? total : total === undefined ? end : Math.min(end, total))
    const complete = () => {
      const stop = limit()
      return stop !== undefined && position >= stop
    }
    /** A body that ended cleanly while bytes we know exist are still missing. */
    const checkComplete = Stream.suspend(() => {
      const stop = limit()
      if (stop === undefined || position >= stop) return Stream.empty
      const error = new InvalidResponse({
        reason: `the body ended after byte ${position} of ${stop}`,
        url: safeUrl(blobUrl(ctx, target, digest))
      })
      endedEarly.add(error)
      return Stream.fail(error)
    })
    // each attempt is one element of a flat stream of attempts, not nested in the one before: a
    // read resumed thousands of times must not pay for its past attempts on every chunk
    let finished = false
    const attempt = (): Stream.Stream<Uint8Array, Effect.Effect.Error<ReturnType<typeof openAt>>> =>
      Stream.unwrap(
        Effect.map(openAt(ctx, target, digest, position, end), (opened) => {
          total ??= opened.total
          return opened.body
        })
      ).pipe(
        Stream.mapChunks((chunk) => {
          for (const bytes of chunk) position += bytes.byteLength
          return chunk
        }),
        Stream.concat(checkComplete),
        Stream.concat(Stream.execute(Effect.sync(() => (finished = true)))),
        Stream.catchAll((error) =>
          complete()
            ? Stream.execute(Effect.sync(() => (finished = true)))
            : isResumable(error)
            ? Stream.execute(
              mayResume(error).pipe(
                Effect.zipRight(
                  Effect.logDebug("resuming blob read").pipe(
                    Effect.annotateLogs({ digest, position }),
                    Effect.zipRight(Metric.increment(Metrics.resumedDownloads))
                  )
                )
              )
            )
            : Stream.fail(error)
        )
      )
    return Stream.flatten(
      Stream.repeatEffectOption(
        Effect.suspend(() => (finished || complete() ? Effect.fail(Option.none()) : Effect.succeed(attempt())))
      )
    )
  }))

/** The whole blob, verified against its digest (and `size` when given). @internal */
export const get = (ctx: Context, target: Target, digest: Digest.Digest, options: { readonly size?: number | undefined } = {}) =>
  read(ctx, target, digest).pipe(Digest.verify({ digest, size: options.size }))

