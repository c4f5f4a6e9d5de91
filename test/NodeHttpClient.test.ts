/**
 * Both Node HTTP clients (`layerHttpClient` on node:http, the default, and `layerHttpClientUndici`)
 * keep their connections: existence checks (HEAD) and the requests after them reuse their
 * connections instead of opening a new one each (undici closes after a HEAD by default), and an
 * answer without a body that nobody reads does not hold its connection. One pool serves every
 * request until the Layer closes. Bodies the client pulls (an `AsyncIterable` over one reused
 * buffer) and streamed bodies arrive whole and in order; an interrupted upload closes its body.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as node from "../src/node.js"

/** A loopback server answering every request with a small JSON body (none for HEAD); counts connections. */
const countingServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly connections: { n: number } }>((resume) => {
    const connections = { n: 0 }
    const server = Http.createServer((request, response) => {
      const body = JSON.stringify({ path: request.url })
      response.writeHead(request.url?.includes("missing") === true ? 404 : 200, {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "docker-content-digest": "sha256:" + "0".repeat(64)
      })
      response.end(request.method === "HEAD" ? undefined : body)
    })
    server.on("connection", () => connections.n++)
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, connections })))
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const text = (client: HttpClient.HttpClient, url: string) =>
  Effect.flatMap(client.get(url), (response) => response.text)

const counted = Effect.map(countingServer, ({ connections, server }) => ({
  url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ok`,
  connections: () => connections.n
}))
const ok = JSON.stringify({ path: "/ok" })

/**
 * A loopback server for bodies: `/slow` reads the body slowly (so a client's writes queue up) and
 * records its size and sha256, `/stall` never reads it, `/empty` answers 201 with no body,
 * `/nocontent` 204, `/pause` 200 after 0.7 s; anything else 200 with no body. Counts connections.
 */
const receivingServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly received: { connections: number; bodies: Array<{ size: number; sha256: string }> } }>((resume) => {
    const received = { connections: 0, bodies: [] as Array<{ size: number; sha256: string }> }
    const server = Http.createServer((request, response) => {
      if (request.url === "/stall") return
      if (request.url === "/slow") {
        const hash = Crypto.createHash("sha256")
        let size = 0
        // nothing read at first: the socket's kernel buffers fill, and the client's writes queue up
        request.pause()
        setTimeout(() => request.resume(), 150)
        request.on("data", (chunk: Buffer) => {
          hash.update(chunk)
          size += chunk.byteLength
          request.pause()
          setTimeout(() => request.resume(), 1)
        })
        request.on("end", () => {
          received.bodies.push({ size, sha256: hash.digest("hex") })
          response.writeHead(201, { "content-length": "0" }).end()
        })
        return
      }
      if (request.url === "/pause") {
        // an answer slower than the client's idle timeout
        request.resume()
        setTimeout(() => response.writeHead(200, { "content-length": "0" }).end(), 700)
        return
      }
      request.resume()
      const status = request.url === "/empty" ? 201 : request.url === "/nocontent" ? 204 : 200
      response.writeHead(status, status === 204 ? {} : { "content-length": "0" }).end()
    })
    server.on("connection", () => received.connections++)
    // no `Keep-Alive: timeout` hint (and no closing of idle connections): the client's own idle timeout decides
    server.keepAliveTimeout = 0
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, received })))
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const clients = [
  ["layerHttpClient", node.layerHttpClient],
  ["layerHttpClientUndici", node.layerHttpClientUndici]
] as const

describe.each(clients)("node.%s", (_, layerHttpClient) => {
  it.scopedLive("one pool serves every request, concurrent first ones included: connections are kept alive", () =>
    Effect.gen(function*() {
      const { url, connections } = yield* counted
      const client = Context.get(yield* Layer.build(layerHttpClient({ connections: 1 })), HttpClient.HttpClient)
      // two first requests at once (undici: both wait for the module) share the one pool (one connection)
      expect(yield* Effect.all([text(client, url), text(client, url)], { concurrency: 2 })).toEqual([ok, ok])
      for (let i = 0; i < 3; i++) expect(yield* text(client, url)).toBe(ok)
      expect(connections()).toBe(1)
    }))

  it.scopedLive("after its Layer closed, a request fails with a RequestError (and opens no new pool)", () =>
    Effect.gen(function*() {
      const { url, connections } = yield* counted
      const closedAfter = (use: (client: HttpClient.HttpClient) => Effect.Effect<void, unknown>) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const client = Context.get(yield* Layer.buildWithScope(layerHttpClient(), scope), HttpClient.HttpClient)
          yield* use(client)
          yield* Scope.close(scope, Exit.void)
          return client
        })
      const used = yield* closedAfter((client) => Effect.map(text(client, url), (body) => expect(body).toBe(ok)))
      expect((yield* Effect.flip(text(used, url)))._tag).toBe("RequestError")
      const unused = yield* closedAfter(() => Effect.void)
      expect((yield* Effect.flip(text(unused, url)))._tag).toBe("RequestError")
      expect(connections()).toBe(1)
    }))

  it.scoped("HEAD requests (found or not) and the GET after them reuse the connections", () =>
    Effect.gen(function*() {
      const { connections, server } = yield* countingServer
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const client = yield* HttpClient.HttpClient
      const statuses: Array<number> = []
      const paths = ["/blob/a", "/blob/missing", "/blob/b", "/blob/missing-too"]
      for (const path of [...paths, ...paths]) {
        const head = yield* client.execute(HttpClientRequest.head(`${base}${path}`))
        statuses.push(head.status)
        expect(head.headers["docker-content-digest"]).toBe("sha256:" + "0".repeat(64))
      }
      const get = yield* client.execute(HttpClientRequest.get(`${base}/after`))
      expect(yield* get.json).toEqual({ path: "/after" })
      expect(statuses).toEqual([200, 404, 200, 404, 200, 404, 200, 404])
      // a response is handed over as its headers arrive, a moment before the client frees its
      // connection: the next request may take a second one, never a new one per request
      expect(connections.n).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(layerHttpClient())))

  it.scopedLive("answers without a body that nobody reads (HEAD, 201 empty, 204) free their connection", () =>
    Effect.gen(function*() {
      const { server, received } = yield* receivingServer
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const client = yield* HttpClient.HttpClient
      const statuses: Array<number> = []
      // one connection: a request that held it would leave the next one waiting for ever
      for (let i = 0; i < 3; i++) {
        for (const request of [HttpClientRequest.head(`${base}/x`), HttpClientRequest.post(`${base}/empty`), HttpClientRequest.del(`${base}/nocontent`)]) {
          statuses.push((yield* client.execute(request).pipe(Effect.timeout("5 seconds"))).status)
        }
      }
      expect(statuses).toEqual([200, 201, 204, 200, 201, 204, 200, 201, 204])
      expect(received.connections).toBe(1)
    }).pipe(Effect.provide(layerHttpClient({ connections: 1 }))))

  it.scopedLive("an AsyncIterable body over two buffers reused in turn arrives whole: piece n+1 is asked for once n−1 was sent", () =>
    Effect.gen(function*() {
      const { server, received } = yield* receivingServer
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`
      const client = yield* HttpClient.HttpClient
      const pieces = 64
      const expected = Crypto.createHash("sha256")
      const buffers = [new Uint8Array(256 * 1024), new Uint8Array(256 * 1024)]
      const buffer = buffers[0]!
      const body: AsyncIterable<Uint8Array> = {
        async *[Symbol.asyncIterator]() {
          for (let n = 0; n < pieces; n++) {
            // two buffers refilled in turn: a client still holding piece n−2 would send these bytes instead
            const piece = buffers[n % 2]!.fill(n)
            expected.update(piece)
            yield piece
          }
        }
      }
      const response = yield* client.execute(
        HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw(body, { contentLength: pieces * buffer.byteLength })))
      )
      expect(response.status).toBe(201)
      expect(received.bodies).toEqual([{ size: pieces * buffer.byteLength, sha256: expected.digest("hex") }])
    }).pipe(Effect.provide(layerHttpClient())))

  it.scopedLive("a streamed body (batches of many arrays) arrives whole and in order", () =>
    Effect.gen(function*() {
      const { server, received } = yield* receivingServer
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`
      const client = yield* HttpClient.HttpClient
      const parts = Array.from({ length: 200 }, (_, n) => new Uint8Array(16 * 1024).fill(n % 256))
      const expected = Crypto.createHash("sha256")
      for (const part of parts) expected.update(part)
      const stream = Stream.fromIterable(parts).pipe(Stream.rechunk(37))
      const response = yield* client.execute(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyStream(stream)))
      expect(response.status).toBe(201)
      expect(received.bodies).toEqual([{ size: 200 * 16 * 1024, sha256: expected.digest("hex") }])
    }).pipe(Effect.provide(layerHttpClient())))

  it.scopedLive("an interrupted upload closes its AsyncIterable body", () =>
    Effect.gen(function*() {
      const { server } = yield* receivingServer
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stall`
      const client = yield* HttpClient.HttpClient
      let closed = false
      let sent = 0
      const body: AsyncIterable<Uint8Array> = {
        async *[Symbol.asyncIterator]() {
          try {
            for (;;) {
              sent++
              yield new Uint8Array(64 * 1024)
            }
          } finally {
            closed = true
          }
        }
      }
      const fiber = yield* Effect.fork(client.execute(HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw(body)))))
      // the server reads nothing: the body stops once the socket's buffers are full
      yield* Effect.sleep("300 millis")
      expect(sent).toBeGreaterThan(0)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("50 millis")
      expect(closed).toBe(true)
    }).pipe(Effect.provide(layerHttpClient())))

  it.scopedLive("a connection idle longer than idleTimeout is closed, not reused; a request slower than it is not cut", () =>
    Effect.gen(function*() {
      const { server, received } = yield* receivingServer
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const client = yield* HttpClient.HttpClient
      expect((yield* client.get(`${base}/pause`)).status).toBe(200)
      // a moment for the connection to go back to the pool (well within the idle timeout)
      yield* Effect.sleep("100 millis")
      expect((yield* client.get(`${base}/x`)).status).toBe(200)
      expect(received.connections).toBe(1)
      yield* Effect.sleep("900 millis")
      expect((yield* client.get(`${base}/x`)).status).toBe(200)
      expect(received.connections).toBe(2)
    }).pipe(Effect.provide(layerHttpClient({ idleTimeout: "300 millis" }))))
})
