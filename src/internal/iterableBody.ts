/**
 * A file as a request body the HTTP client pulls piece by piece (an `AsyncIterable`), for clients
 * that take one and ask for piece n+1 only once piece n−1 was written out: `node.layerHttpClient`
 * (node:http) reads the next piece while the socket takes the last one, and undici's HTTP/1.1
 * client (`node.layerHttpClientUndici`) waits for the socket to drain after every piece larger
 * than its 16 KiB write buffer. The file is then read into three reused buffers.
 *
 * Why: a fresh buffer per piece, handed through Effect's stream-to-Node adapter, lives long enough
 * to reach V8's old generation, so every 64 MiB of upload forces a full garbage collection of the
 * whole (large, in an Effect program) heap — measured on a 256 MiB push, ~0.35 s of CPU, a third
 * of the client's work. Reused buffers allocate nothing while the body is sent.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { HttpClient as HttpClientTag } from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"

/**
 * Whether the `HttpClient` takes an `AsyncIterable` as a raw request body and asks for piece n+1
 * only once piece n−1 (at least 16 KiB) was written out. False unless the client's
 * Layer says so (`node.layerHttpClient` does): `fetch` needs `duplex: "half"` for such a body,
 * which Effect's fetch client sets only for `Stream` bodies.
 *
 * @internal
 */
export class IterableBodies extends Context.Reference<IterableBodies>()("effect-oci/IterableBodies", {
  defaultValue: (): boolean => false
}) {}

/**
 * Whether the `HttpClient` keeps the Transport's deadlines of a request itself (see
 * `requestTimeouts.ts`), failing a late request with a `RequestError` caused by `TimedOut`. False
 * unless the client's Layer says so (`node.layerHttpClient` does).
 *
 * @internal
 */
export class KeepsDeadlines extends Context.Reference<KeepsDeadlines>()("effect-oci/KeepsDeadlines", {
  defaultValue: (): boolean => false
}) {}

/** Whether a raw body is one the client pulls piece by piece. @internal */
export const isAsyncIterable = (body: unknown): body is AsyncIterable<Uint8Array> =>
  typeof body === "object" && body !== null && Symbol.asyncIterator in body

/**
 * The body of a request when it is all in memory (sent in one write): `null` for none, `undefined`
 * for a body still to be read (a stream, a file pulled piece by piece).
 *
 * @internal
 */
export const bodyInHand = (body: HttpClientRequest.HttpClientRequest["body"]): Uint8Array | string | null | undefined => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array ? body.body : undefined
    default:
      return undefined
  }
}

/**
 * A Layer that wraps the `HttpClient` in context (a rate limit, a log) and says of the result what
 * the wrapped client's Layer said ({@link IterableBodies}, {@link KeepsDeadlines}): the wrapper
 * hands bodies through as they are, so the Transport may keep giving file bodies the client pulls,
 * and runs the wrapped client in the request's fiber, where the Transport's deadlines are.
 *
 * @internal
 */
export const layerAroundClient = <E, R>(
  wrap: (client: HttpClient.HttpClient) => Effect.Effect<HttpClient.HttpClient, E, R>
): Layer.Layer<HttpClient.HttpClient, E, HttpClient.HttpClient | R> =>
  Layer.effectContext(Effect.gen(function*() {
    const iterable = yield* IterableBodies
    const keeps = yield* KeepsDeadlines
    const wrapped = yield* Effect.flatMap(HttpClientTag, wrap)
    return Context.make(HttpClientTag, wrapped).pipe(Context.add(IterableBodies, iterable), Context.add(KeepsDeadlines, keeps))
  }))

/**
 * Reads a file from an offset into buffers the caller owns: `open(offset)` gives a `read` that
 * fills as much of a buffer as it can and returns how much (0 at the end); the file closes with
 * the scope.
 *
 * @internal
 */
export interface FileReader<E> {
  readonly open: (offset: number) => Effect.Effect<(into: Uint8Array) => Effect.Effect<number, E>, E, Scope.Scope>
}

/** The size of a piece: large enough that per-piece work is negligible, and above the client's write buffer. */
const pieceSize = 1024 * 1024

/**
 * Reused buffers: the client may still be writing one piece while the next is read, so two would
 * do; the third is a margin.
 */
const buffers = 3

/** What a body's reading reports, so that its bytes are hashed on the way and its own failure is told apart. */
export interface Hooks<E> {
  /** Called when a reading starts (again, when the request is resent). */
  readonly start: () => void
  /** Called with each piece before it is handed to the client. */
  readonly piece: (bytes: Uint8Array) => void
  /** Called with the reading's own failure before it is thrown into the client. */
  readonly failed: (error: E) => void
}

/**
 * The file from `offset` on as an `AsyncIterable`: every iteration opens it afresh, so a resent
 * request reads it again. Closing the iteration early (the request failed or was aborted)
 * closes the file.
 *
 * @internal
 */
export const fromFile = <E>(
  reader: FileReader<E>,
  offset: number,
  runtime: Runtime.Runtime<never>,
  hooks: Hooks<E>
): AsyncIterable<Uint8Array> => {
  const run = Runtime.runPromiseExit(runtime)
  /** Runs an effect, reporting and throwing its failure. */
  const perform = async <A>(effect: Effect.Effect<A, E>): Promise<A> => {
    const exit = await run(effect)
    if (Exit.isSuccess(exit)) return exit.value
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (failure !== undefined) hooks.failed(failure)
    throw failure ?? new Error("reading the upload's file failed")
  }
  return {
    async *[Symbol.asyncIterator]() {
      hooks.start()
      const scope = Effect.runSync(Scope.make())
      try {
        const read = await perform(Scope.extend(reader.open(offset), scope))
        const ring = Array.from({ length: buffers }, () => new Uint8Array(pieceSize))
        for (let n = 0;; n++) {
          const buffer = ring[n % buffers]!
          // whole pieces (a short read is read on): a piece this large is what the clients wait on
          let length = 0
          while (length < buffer.byteLength) {
            const got = await perform(read(buffer.subarray(length)))
            if (got === 0) break
            length += got
          }
          if (length === 0) return
          const piece = length === buffer.byteLength ? buffer : buffer.subarray(0, length)
          hooks.piece(piece)
          yield piece
        }
      } finally {
        await Effect.runPromise(Scope.close(scope, Exit.void))
      }
    }
  }
}
