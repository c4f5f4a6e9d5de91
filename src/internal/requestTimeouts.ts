/**
 * The Transport's timeouts of a request, kept by the HTTP client itself when it can.
 *
 * `headersTimeout` bounds connecting and, for a request without a body, the wait for the response
 * headers. While a body is sent, `bodyStallTimeout` bounds the time it may go without progress (so
 * a slow upload is never cut, a stalled one is); once it is all sent, the answer may take the
 * longer of the two: its last bytes may still be in the connection's buffers (megabytes, on a slow
 * link seconds), and a registry may take a while to commit a large blob. Only the client knows when
 * a body made progress or was all sent: `node.layerHttpClient` keeps these deadlines with one timer
 * per request. For other clients the Transport watches from outside (see {@link executeWatched}),
 * at the cost of a fiber per request (~50 µs of CPU; ~10 % of a small request's).
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Stream from "effect/Stream"
import { bodyInHand, isAsyncIterable } from "./iterableBody.js"

/** The deadlines of the request being sent, in milliseconds. @internal */
export interface Deadlines {
  readonly headersMillis: number
  readonly stallMillis: number
}

/**
 * The deadlines the Transport gives the client for the request it sends (`Effect.locally`),
 * `undefined` outside a Transport's request.
 *
 * @internal
 */
export const currentDeadlines: FiberRef.FiberRef<Deadlines | undefined> = globalValue(
  // one per process, as the client's `KeepsDeadlines` is found by its key: a Transport and a client
  // from two copies of this package still agree on where the deadlines are
  Symbol.for("effect-oci/currentDeadlines"),
  () => FiberRef.unsafeMake<Deadlines | undefined>(undefined)
)

/** The cause of a request a client ended at a deadline: no headers in time, or a body stalled. @internal */
export class TimedOut extends Error {
  constructor(readonly phase: "headers" | "body", readonly millis: number) {
    super(phase === "headers" ? `no response headers within ${millis} ms` : `the request body stalled for ${millis} ms`)
    this.name = "TimedOut"
  }
}

/** How long the answer to a request whose body was all sent may take. @internal */
export const answerMillis = (deadlines: Deadlines): number => Math.max(deadlines.headersMillis, deadlines.stallMillis)

/** A request's deadline timer, as a client keeps it (see {@link deadline}). @internal */
export type Deadline = ReturnType<typeof deadline>

/**
 * A request's deadline timer, kept by a client, started for connecting and the headers of a
 * request without a body: `progress()` restarts it for the body's next progress, `sent()` for the
 * answer to a body all sent; `stop()` once answered (for good). `onExpiry` ends the request.
 *
 * @internal
 */
export const deadline = (deadlines: Deadlines, onExpiry: (timedOut: TimedOut) => void) => {
  let timer: ReturnType<typeof setTimeout> | undefined
  let expired: TimedOut | undefined
  let stopped = false
  const arm = (phase: "headers" | "body", millis: number) => {
    // a write's callback may come after the answer: a stopped deadline stays stopped
    if (stopped || expired !== undefined) return
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = undefined
      expired = new TimedOut(phase, millis)
      onExpiry(expired)
    }, millis)
  }
  arm("headers", deadlines.headersMillis)
  return {
    progress: () => arm("body", deadlines.stallMillis),
    sent: () => arm("headers", answerMillis(deadlines)),
    stop: () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
    /** Why the request was ended, if it was. */
    expired: (): TimedOut | undefined => expired
  }
}

/**
 * Sends `request` on a client that does not keep deadlines, watching it from outside: a body in
 * hand gets `headersTimeout` for the whole exchange; a streamed body `stallMillis` between the
 * pieces the client takes, then {@link answerMillis} for the answer. A late request fails with a
 * `RequestError` caused by {@link TimedOut}, as from a client that keeps them.
 *
 * @internal
 */
export const executeWatched = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  deadlines: Deadlines
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const late = (phase: "headers" | "body", millis: number) =>
    new HttpClientError.RequestError({ request, reason: "Transport", cause: new TimedOut(phase, millis) })
  if (bodyInHand(request.body) !== undefined) {
    return Effect.timeoutFail(client.execute(request), {
      duration: Duration.millis(deadlines.headersMillis),
      onTimeout: () => late("headers", deadlines.headersMillis)
    })
  }
  return Effect.flatMap(Effect.clock, (clock) => {
    let last = clock.unsafeCurrentTimeMillis()
    let sent = false
    const touch = () => {
      last = clock.unsafeCurrentTimeMillis()
    }
    const watched = withProgress(request, touch, () => {
      sent = true
      touch()
    })
    const watchdog: Effect.Effect<never, HttpClientError.RequestError> = Effect.suspend(() => {
      const millis = sent ? answerMillis(deadlines) : deadlines.stallMillis
      const wait = last + millis - clock.unsafeCurrentTimeMillis()
      return wait <= 0 ? Effect.fail(late(sent ? "headers" : "body", millis)) : Effect.zipRight(Effect.sleep(Duration.millis(wait)), watchdog)
    })
    return Effect.raceFirst(client.execute(watched), watchdog)
  })
}

/** `request` with its streamed body reporting each piece taken (`touch`) and its end (`done`). */
const withProgress = (request: HttpClientRequest.HttpClientRequest, touch: () => void, done: () => void) => {
  const body = request.body
  if (body._tag === "Stream") {
    const stream = body.stream.pipe(
      Stream.mapChunks((chunk) => {
        touch()
        return chunk
      }),
      Stream.concat(Stream.execute(Effect.sync(done)))
    )
    return HttpClientRequest.setBody(request, HttpBody.stream(stream, body.contentType, body.contentLength))
  }
  if (body._tag === "Raw" && isAsyncIterable(body.body)) {
    const pieces = body.body
    const tracked: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => {
        const iterator = pieces[Symbol.asyncIterator]()
        return {
          next: async () => {
            const next = await iterator.next()
            if (next.done === true) done()
            else touch()
            return next
          },
          return: async (value?: unknown) => (await iterator.return?.(value)) ?? { done: true, value: undefined }
        }
      }
    }
    return HttpClientRequest.setBody(request, HttpBody.raw(tracked, { contentType: body.contentType, contentLength: body.contentLength }))
  }
  return request
}
