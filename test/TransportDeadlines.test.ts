/**
 * The Transport's deadlines on real connections, with both Node clients: `node.layerHttpClient`
 * keeps them itself (a timer per request), undici's is watched from outside. `headersTimeout`
 * bounds connecting and the wait for an answer without a body, never the sending: an upload that
 * keeps moving for longer than both timeouts succeeds, one the server stops taking fails with a
 * `body` timeout, and a server that takes the whole body but never answers with a `headers`
 * timeout of the longer of the two (the body's last bytes may still be in the buffers).
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { ReleasingConsumer } from "../src/internal/bodyRing.js"
import * as node from "../src/node.js"
import * as Transport from "../src/Transport.js"

/** `/take` reads the body and answers 202; `/never` reads it and never answers; `/refuse` never reads it. */
const server = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly received: Array<number> }>((resume) => {
    const received: Array<number> = []
    const server = Http.createServer((request, response) => {
      if (request.url === "/refuse") return
      let size = 0
      request.on("data", (chunk: Buffer) => (size += chunk.byteLength))
      request.on("end", () => {
        received.push(size)
        if (request.url === "/take") response.writeHead(202, { "content-length": "0" }).end()
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, received })))
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

// a body's pieces come every 50 ms, an eighth of the timeouts at least (a loaded machine delays
// timers), and take 1 s in all, over both
const headersMillis = 400
const stallMillis = 800

/** 20 pieces of 1 KiB, one every 50 ms: 1 s in all, longer than either timeout, never idle that long. */
const trickle = Stream.range(1, 20).pipe(
  Stream.rechunk(1),
  Stream.mapEffect(() => Effect.as(Effect.sleep("50 millis"), new Uint8Array(1024)))
)

/** The same as a body the client pulls piece by piece (an `AsyncIterable`). */
const trickleIterable: AsyncIterable<Uint8Array> = {
  async *[Symbol.asyncIterator]() {
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      yield new Uint8Array(1024)
    }
  }
}

/** 32 MiB in pieces of 64 KiB, more than the loopback's buffers hold: a server that reads nothing stalls it. */
const flood = Stream.range(1, 512).pipe(Stream.rechunk(1), Stream.map(() => new Uint8Array(64 * 1024)))

const bodies = {
  stream: (stream: Stream.Stream<Uint8Array>, length: number) => HttpBody.stream(stream, "application/octet-stream", length),
  iterable: (_: Stream.Stream<Uint8Array>, length: number) =>
    HttpBody.raw(trickleIterable, { contentType: "application/octet-stream", contentLength: length })
}

const clients = [
  ["layerHttpClient (keeps the deadlines)", node.layerHttpClient],
  ["layerHttpClientUndici (watched)", node.layerHttpClientUndici]
] as const

describe.each(clients)("Transport deadlines on node.%s", (_, layerHttpClient) => {
  const transport = Transport.layer({
    insecure: ["127.0.0.1"],
    retry: Schedule.recurs(0),
    headersTimeout: `${headersMillis} millis`,
    bodyStallTimeout: `${stallMillis} millis`
  }).pipe(Layer.provide(layerHttpClient()))

  const patch = (path: string, body: HttpBody.HttpBody) =>
    Effect.gen(function*() {
      const { server: s, received } = yield* server
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}${path}`
      const t = yield* Transport.Transport
      const result = yield* Effect.either(t.execute(HttpClientRequest.patch(url).pipe(HttpClientRequest.setBody(body))))
      return { result, received }
    }).pipe(Effect.provide(transport))

  it.scopedLive.each(["stream", "iterable"] as const)("a %s upload slower than both timeouts but never idle that long succeeds", (kind) =>
    Effect.gen(function*() {
      const { received, result } = yield* patch("/take", bodies[kind](trickle, 20 * 1024))
      expect(result._tag === "Right" ? result.right.status : `${result.left._tag}: ${result.left.message}`).toBe(202)
      expect(received).toEqual([20 * 1024])
    }))

  it.scopedLive("a body the server stops taking fails with a body timeout", () =>
    Effect.gen(function*() {
      const { result } = yield* patch("/refuse", bodies.stream(flood, 512 * 64 * 1024))
      expect(result._tag === "Left" ? result.left : { status: result.right.status }).toMatchObject({ _tag: "RequestTimeout", phase: "body", millis: stallMillis })
    }))

  it.scopedLive("a server that takes the whole body and never answers fails with a headers timeout (the longer of the two, after a body)", () =>
    Effect.gen(function*() {
      const { received, result } = yield* patch("/never", bodies.stream(trickle, 20 * 1024))
      expect(result._tag === "Left" ? result.left : { status: result.right.status }).toMatchObject({ _tag: "RequestTimeout", phase: "headers", millis: stallMillis })
      // the body went out whole first: the wait that failed was for the answer
      expect(received).toEqual([20 * 1024])
    }))

  it.scopedLive("a request without a body that is never answered fails with a headers timeout", () =>
    Effect.gen(function*() {
      const { result } = yield* patch("/never", HttpBody.empty)
      expect(result._tag === "Left" ? result.left : { status: result.right.status }).toMatchObject({ _tag: "RequestTimeout", phase: "headers", millis: headersMillis })
    }))

  it.scopedLive("a download's GET on a connection of its own (a releasing consumer) that is never answered fails with a headers timeout", () =>
    Effect.gen(function*() {
      const { server: s } = yield* server
      const t = yield* Transport.Transport
      const request = HttpClientRequest.get(`http://127.0.0.1:${(s.address() as AddressInfo).port}/never`)
      const result = yield* Effect.either(Effect.provideService(t.execute(request), ReleasingConsumer, true))
      expect(result._tag === "Left" ? result.left : { status: result.right.status }).toMatchObject({ _tag: "RequestTimeout", phase: "headers", millis: headersMillis })
    }).pipe(Effect.provide(transport)))
})

describe("the deadlines' FiberRef", () => {
  it("is one per process, shared by two copies of the module (a Transport and a client from two copies agree)", async () => {
    const one = await import("../src/internal/requestTimeouts.js")
    // a query makes the module loader evaluate the file again, as a second copy of the package would
    const copy: string = "../src/internal/requestTimeouts.js?copy=2"
    const other = (await import(/* @vite-ignore */ copy)) as typeof one
    expect(other).not.toBe(one)
    expect(other.currentDeadlines).toBe(one.currentDeadlines)
  })
})
