/**
 * An `HttpClient` on Node's own `http` and `https` modules, with keep-alive agents.
 *
 * Why not `@effect/platform-node/NodeHttpClient`: that module also loads undici, which costs every
 * process ~90 ms and ~18 MiB before its first request, and undici itself reads a 256 MiB blob with
 * more CPU and memory than `node:http` does (measured: 0.9–1.2 s and 105–115 MiB against 0.9–1.0 s and
 * 90 MiB for the same plain read). What this adds over the platform's `node:http` client: bodies
 * given as an `AsyncIterable` (a file read into reused buffers, see `iterableBody.ts`) are written
 * piece by piece, each piece's buffer free again once the piece after it was read; a
 * streamed body is written a whole batch at a time; response headers are converted once; and a GET
 * made for a consumer that releases what it read (`bodyRing.ts`: a blob downloaded to a file) goes
 * over a connection of our own (`http1.ts`), a large body read into a ring of reused memory.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as Https from "node:https"
import { ReleasingConsumer } from "./bodyRing.js"
import { ClientResponse } from "./clientResponse.js"
import { Pool, type TlsOptions } from "./http1Pool.js"
import { sendOwn } from "./http1Response.js"
import { bodyInHand, isAsyncIterable } from "./iterableBody.js"
import { currentDeadlines, type Deadline, deadline, type Deadlines } from "./requestTimeouts.js"

/** Connection and TLS options of the client's agents. @internal */
export interface AgentOptions {
  readonly maxSockets: number
  /** How long an idle connection is kept (a server's `Keep-Alive: timeout` hint takes precedence). */
  readonly idleTimeoutMillis: number
  readonly ca?: ReadonlyArray<string> | undefined
  readonly rejectUnauthorized?: boolean | undefined
}

/**
 * An `HttpClient` with its own keep-alive agents (plain and TLS), which never follows redirects;
 * closing the scope closes its connections, and a request after that fails.
 *
 * @internal
 */
export const make = (options: AgentOptions): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        // `timeout` closes a connection idle that long in the pool; one in use is left alone (Node
        // only reports the inactivity to the request, which has its own timeouts in the Transport)
        const agent = { keepAlive: true, maxSockets: options.maxSockets, timeout: options.idleTimeoutMillis }
        const tls = {
          ...(options.ca === undefined ? {} : { ca: [...options.ca] }),
          ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized })
        } satisfies TlsOptions
        return {
          closed: false,
          http: new Http.Agent(agent),
          https: new Https.Agent({ ...agent, ...tls }),
          tls,
          /** The connections of GETs made on connections of our own (see `sendOwn`). */
          own: new Pool(options.maxSockets, options.idleTimeoutMillis)
        }
      }),
      (agents) =>
        Effect.sync(() => {
          agents.closed = true
          agents.http.destroy()
          agents.https.destroy()
          agents.own.close()
        })
    ),
    (agents) => {
      const closed = (request: HttpClientRequest.HttpClientRequest) =>
        Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "the HTTP client's Layer is closed" }))
      const pooled = HttpClient.make((request, url, signal, fiber) =>
        agents.closed
          ? closed(request)
          : send(url.protocol === "https:" ? agents.https : agents.http, request, url, signal, fiber.getFiberRef(currentDeadlines)))
      return HttpClient.makeWith(
        (effect: Effect.Effect<HttpClientRequest.HttpClientRequest, HttpClientError.HttpClientError>) =>
          Effect.flatMap(effect, (request) =>
            Effect.flatMap(ReleasingConsumer, (releasing) => {
              if (!releasing || request.method !== "GET" || request.body._tag !== "Empty") return pooled.execute(request)
              if (agents.closed) return closed(request)
              const url = HttpClientRequest.toUrl(request)
              return Option.isNone(url)
                ? Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", description: "invalid URL" }))
                : Effect.flatMap(FiberRef.get(currentDeadlines), (deadlines) =>
                  sendOwn(request, url.value, url.value.protocol === "https:" ? agents.tls : undefined, agents.own, deadlines))
            })),
        Effect.succeed
      )
    }
  )

/**
 * Sends a request and waits for its answer's headers, keeping the Transport's deadlines when it
 * gives them (see `requestTimeouts.ts`): one timer, restarted as the body makes progress, which
 * ends the request when it fires.
 */
const send = (
  agent: Http.Agent,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  signal: AbortSignal,
  deadlines: Deadlines | undefined
) =>
  Effect.suspend(() => {
    const options = { agent, method: request.method, headers: request.headers, signal }
    const nodeRequest = url.protocol === "https:" ? Https.request(url, options) : Http.request(url, options)
    const timer = deadlines === undefined ? undefined : deadline(deadlines, (timedOut) => nodeRequest.destroy(timedOut))
    const inHand = bodyInHand(request.body)
    // A body in hand is written at once, its errors arriving as the request's: one callback waits
    // for the answer. A forked fiber to write it beside the wait cost ~90 µs per request, a third
    // of what our client spends on a HEAD (measured: 1000 HEADs against distribution 2.8).
    const answer = inHand === undefined
      ? Effect.zipRight(sendBody(nodeRequest, request, timer), waitForResponse(nodeRequest, request), { concurrent: true })
      : waitForResponse(nodeRequest, request, inHand, timer)
    const response = Effect.map(answer, (incoming) => new NodeResponse(request, incoming))
    return timer === undefined ? response : response.pipe(
      // whatever broke once the timer ended the request (a write, the wait), the cause is the deadline
      Effect.mapError((error) => {
        const timedOut = timer.expired()
        return timedOut === undefined ? error : transportError(request, timedOut)
      }),
      Effect.ensuring(Effect.sync(timer.stop))
    )
  })


const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.RequestError({ request, reason: "Transport", cause })

/**
 * Writes pieces of a body one batch at a time, the next batch read while the last one is on its
 * way: `start` writes a batch (corked, so many small arrays go out together) and `settle` waits
 * until the batch before was handed to the socket. A caller that settles before each start keeps
 * at most one batch in flight: that is the body's backpressure, and what makes a buffer free for
 * reuse once the batch after it was started.
 */
const pipelined = (nodeRequest: Http.ClientRequest, request: HttpClientRequest.HttpClientRequest, timer: Deadline | undefined) => {
  let writing: Promise<Error | null | undefined> | undefined
  const settle = Effect.suspend(() =>
    writing === undefined
      ? Effect.void
      : Effect.flatMap(Effect.promise(() => writing!), (error) => (error ? Effect.fail(transportError(request, error)) : Effect.void))
  )
  const start = (parts: Iterable<Uint8Array>) => {
    nodeRequest.cork()
    let last: Uint8Array | undefined
    for (const part of parts) {
      if (last !== undefined) nodeRequest.write(last)
      last = part
    }
    const final = last
    writing = final === undefined ? undefined : new Promise((resolve) =>
      nodeRequest.write(final, (error) => {
        timer?.progress()
        resolve(error)
      })
    )
    nodeRequest.uncork()
  }
  return { settle, start }
}

/** Ends a streamed body; once it is all sent, the deadline is the answer's (see `requestTimeouts.ts`). */
const end = (nodeRequest: Http.ClientRequest, request: HttpClientRequest.HttpClientRequest, timer: Deadline | undefined) =>
  Effect.async<void, HttpClientError.RequestError>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(transportError(request, error)))
    nodeRequest.once("error", onError)
    const onFinish = () => {
      nodeRequest.off("error", onError)
      timer?.sent()
      resume(Effect.void)
    }
    nodeRequest.end(onFinish)
    return Effect.sync(() => nodeRequest.off("error", onError))
  })

/** Writes a body that is not in memory yet (see {@link bodyInHand} for those that are). */
const sendBody = (nodeRequest: Http.ClientRequest, request: HttpClientRequest.HttpClientRequest, timer: Deadline | undefined) =>
  Effect.suspend((): Effect.Effect<void, HttpClientError.RequestError> => {
    const body = request.body
    switch (body._tag) {
      case "Empty":
      case "Uint8Array":
        return Effect.void // in hand: ended with the request (see `send`)
      case "Raw":
        if (isAsyncIterable(body.body)) return sendIterable(nodeRequest, request, body.body, timer)
        return Effect.fail(new HttpClientError.RequestError({ request, reason: "Encode", description: "unsupported raw body" }))
      case "Stream": {
        const writer = pipelined(nodeRequest, request, timer)
        return body.stream.pipe(
          Stream.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause })),
          Stream.runForEachChunk((chunk) => Effect.zipRight(writer.settle, Effect.sync(() => writer.start(chunk)))),
          Effect.zipRight(writer.settle),
          Effect.zipRight(end(nodeRequest, request, timer))
        )
      }
      case "FormData":
        return Effect.fail(new HttpClientError.RequestError({ request, reason: "Encode", description: "form bodies are not supported" }))
    }
  })

/**
 * Pulls an `AsyncIterable` body piece by piece, reading the next piece while the last one is
 * written: piece n+1 is asked for once piece n−1 was handed to the socket, so the iterable may
 * read into two (or more) buffers it reuses in turn. Stopping early (a failed or interrupted
 * request) closes the iteration.
 */
const sendIterable = (
  nodeRequest: Http.ClientRequest,
  request: HttpClientRequest.HttpClientRequest,
  body: AsyncIterable<Uint8Array>,
  timer: Deadline | undefined
) =>
  Effect.acquireUseRelease(
    Effect.sync(() => body[Symbol.asyncIterator]()),
    (iterator) =>
      Effect.gen(function*() {
        const writer = pipelined(nodeRequest, request, timer)
        while (true) {
          const next = yield* Effect.tryPromise({
            try: () => iterator.next(),
            catch: (cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause })
          })
          yield* writer.settle
          if (next.done === true) return yield* end(nodeRequest, request, timer)
          writer.start([next.value])
        }
      }),
    (iterator, exit) => exit._tag === "Success" ? Effect.void : Effect.promise(async () => void (await iterator.return?.().catch(() => undefined)))
  )

/**
 * Waits for the response; with `body` (`null`: none), ends the request with it first, once the
 * listeners are on (so that neither an early answer nor an error can come before them). Once such
 * a body is all sent, the deadline is the answer's (see `requestTimeouts.ts`).
 */
const waitForResponse = (
  nodeRequest: Http.ClientRequest,
  request: HttpClientRequest.HttpClientRequest,
  body?: Uint8Array | string | null,
  timer?: Deadline | undefined
) =>
  Effect.async<Http.IncomingMessage, HttpClientError.RequestError>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(transportError(request, error)))
    const onResponse = (incoming: Http.IncomingMessage) => {
      nodeRequest.off("error", onError)
      resume(Effect.succeed(incoming))
    }
    nodeRequest.on("error", onError)
    nodeRequest.on("response", onResponse)
    // without a body, the deadline stays the one for connecting and the headers
    if (body === null) nodeRequest.end()
    else if (body !== undefined) nodeRequest.end(body, timer === undefined ? undefined : () => timer.sent())
    return Effect.sync(() => {
      nodeRequest.off("error", onError)
      nodeRequest.off("response", onResponse)
    })
  })

class NodeResponse extends ClientResponse {
  constructor(request: HttpClientRequest.HttpClientRequest, readonly source: Http.IncomingMessage) {
    super(request, source.headers)
    // Node gives a connection back to its pool only once the response's end was read: a response
    // without a body (HEAD, 204, 304, `Content-Length: 0`: most answers of an upload) is ended now,
    // so a caller that never reads it does not hold the connection (the Transport skips reading them)
    if (
      request.method === "HEAD" || source.statusCode === 204 || source.statusCode === 304 ||
      source.headers["content-length"] === "0"
    ) source.resume()
  }

  get status(): number {
    return this.source.statusCode ?? 0
  }
  get remoteAddress(): Option.Option<string> {
    return Option.fromNullable(this.source.socket?.remoteAddress)
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return NodeStream.fromReadable<HttpClientError.ResponseError, Uint8Array>(() => this.source, this.onError)
  }
  protected readText(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.flatMap(IncomingMessage.MaxBodySize, (max) =>
      NodeStream.toString(() => this.source, { onFailure: this.onError, maxBytes: Option.getOrUndefined(max) }))
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.flatMap(IncomingMessage.MaxBodySize, (max) =>
      Effect.map(
        NodeStream.toUint8Array(() => this.source, { onFailure: this.onError, maxBytes: Option.getOrUndefined(max) }),
        (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
      ))
  }
}
