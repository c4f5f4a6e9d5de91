/**
 * A GET on its own connection (`http1.ts`) as an `HttpClientResponse`: what the client uses for a
 * consumer that releases what it read (`bodyRing.ts`), whose large bodies come in a ring.
 *
 * @internal
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { concat } from "./body.js"
import { release, ringFrom, stallWatched, type StallWatchedBody } from "./bodyRing.js"
import { ClientResponse } from "./clientResponse.js"
import { Exchange, type Head } from "./http1.js"
import type { Pool, TlsOptions } from "./http1Pool.js"
import { type Deadline, deadline, type Deadlines } from "./requestTimeouts.js"

const decoder = new TextDecoder()
const badValue = /[^\t\x20-\x7e\x80-\xff]/
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Headers this exchange writes itself. */
const own = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"])

/** A large blob's body, unencoded and declared: worth a ring. */
const wantsRing = (head: Head): boolean => {
  if (head.status !== 200 && head.status !== 206) return false
  if (head.headers["content-encoding"] !== undefined) return false
  const length = Number(head.headers["content-length"])
  return Number.isSafeInteger(length) && length >= ringFrom
}

/** Connections of unread responses are closed when the response is collected. */
const unread = new FinalizationRegistry<Exchange>((exchange) => exchange.destroy())

/**
 * Sends a GET on a connection of `pool` (kept alive between requests). An interrupted request
 * closes its connection.
 *
 * @internal
 */
export const sendOwn = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  tls: TlsOptions | undefined,
  pool: Pool,
  deadlines?: Deadlines | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> =>
  Effect.async((resume) => {
    let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`
    for (const [name, value] of Object.entries(request.headers)) {
      if (own.has(name)) continue
      if (!token.test(name) || badValue.test(value)) {
        return resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Encode", description: `invalid header ${JSON.stringify(name)}` })))
      }
      head += `${name}: ${value}\r\n`
    }
    head += "\r\n"
    // the Transport's headers deadline, when it gives one (see requestTimeouts.ts): a GET has no body
    let timer: Deadline | undefined
    const exchange: Exchange = new Exchange(
      pool,
      url,
      tls,
      head,
      wantsRing,
      (received) => {
        timer?.stop()
        resume(Effect.succeed(new OwnResponse(request, received, exchange)))
      },
      (cause) => {
        timer?.stop()
        resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
      }
    )
    if (deadlines !== undefined) timer = deadline(deadlines, (timedOut) => exchange.destroy(timedOut))
    return Effect.sync(() => exchange.destroy())
  })

class OwnResponse extends ClientResponse implements StallWatchedBody {
  constructor(request: HttpClientRequest.HttpClientRequest, private readonly head: Head, private readonly exchange: Exchange) {
    super(request, head.headers)
    unread.register(this, exchange, this)
  }

  get status(): number {
    return this.head.status
  }
  get remoteAddress(): Option.Option<string> {
    return Option.fromNullable(this.exchange.socket.remoteAddress)
  }

  /** The body: with `stallMillis`, failed with a `BodyStalled` cause when no byte comes that long while there is room. */
  private body(stallMillis: number | undefined): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    const exchange = this.exchange
    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpClientError.ResponseError>> = Effect.suspend(() => {
      const next = exchange.take()
      if (next === undefined) {
        return Effect.zipRight(
          Effect.async<void>((resume) => {
            const cancel = exchange.wait(() => resume(Effect.void), stallMillis)
            return Effect.sync(cancel)
          }),
          pull
        )
      }
      if (next === true) return Effect.fail(Option.none())
      if (next instanceof Error) return Effect.fail(Option.some(this.onError(next)))
      return Effect.succeed(Chunk.unsafeFromArray(next))
    })
    return Stream.suspend(() => {
      unread.unregister(this)
      return Stream.ensuring(Stream.repeatEffectChunkOption(pull), Effect.sync(() => exchange.destroy()))
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return this.body(undefined)
  }
  [stallWatched](millis: number): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return this.body(millis)
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.flatMap(IncomingMessage.MaxBodySize, (max) =>
      Effect.suspend(() => {
        const limit = Option.isSome(max) ? Number(max.value) : Infinity
        const parts: Array<Uint8Array> = []
        let size = 0
        return Stream.runForEach(this.stream, (part) =>
          Effect.suspend(() => {
            size += part.byteLength
            if (size > limit) return Effect.fail(this.onError(new Error(`the body is larger than ${limit} bytes`)))
            // kept as a copy, the ring's memory given back: a body read whole holds every piece
            parts.push(part.slice())
            release(part)
            return Effect.void
          })).pipe(Effect.map(() => {
            const bytes = concat(parts, size)
            return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
          }))
      }))
  }
  protected readText(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.arrayBuffer, (bytes) => decoder.decode(bytes))
  }
}
