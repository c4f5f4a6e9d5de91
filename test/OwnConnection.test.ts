/**
 * GETs for a consumer that releases what it read (`bodyRing.ts`) go over connections of the
 * client's own (`http1.ts`, `http1Pool.ts`): against raw loopback servers that write heads and
 * bodies in awkward pieces, the client parses Content-Length, chunked (extensions, trailers) and close-delimited bodies, skips
 * 1xx answers, refuses malformed ones, and fails a body cut short. A large body comes in views
 * into at most four reused slabs, never overwritten before they are released, intact however
 * slow the consumer. Connections are kept alive between answers that end cleanly, and only then.
 * Interruption closes the socket, a stalled body times out, and everything else stays on the
 * pooled node:http client.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as node from "../src/node.js"
import * as Transport from "../src/Transport.js"
import { release, ReleasingConsumer } from "../src/internal/bodyRing.js"
import { dropBytes } from "../src/internal/repository/blobs.js"
import * as Certs from "./integration/support/certs.js"
import { tempDir } from "./integration/support/processes.js"

const MiB = 1024 * 1024

interface Server {
  readonly url: string
  /** The request heads received, in order. */
  readonly heads: Array<string>
  /** Resolves when the n-th connection (from 0) closed. */
  readonly closed: (n: number) => Promise<void>
  readonly connections: () => number
}

/**
 * A loopback server that reads each request's head, then hands the socket to `respond` with the
 * request's number (from 0, over all connections); a kept-alive connection's next request too.
 */
const rawServer = (respond: (socket: Net.Socket, n: number) => void, tls?: { readonly key: string; readonly cert: string }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly info: Server }>((resume) => {
      const heads: Array<string> = []
      const closings: Array<Promise<void>> = []
      const sockets = new Set<Net.Socket>()
      const onConnection = (socket: Net.Socket) => {
        sockets.add(socket)
        closings.push(new Promise((resolve) => socket.on("close", () => resolve())))
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => undefined)
        let received = ""
        socket.on("data", (data: Buffer) => {
          received += data.toString("latin1")
          for (let end = received.indexOf("\r\n\r\n"); end !== -1; end = received.indexOf("\r\n\r\n")) {
            heads.push(received.slice(0, end + 4))
            received = received.slice(end + 4)
            respond(socket, heads.length - 1)
          }
        })
      }
      const server = tls === undefined ? Net.createServer(onConnection) : Tls.createServer(tls, onConnection)
      server.on("close", () => sockets.forEach((s) => s.destroy()))
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({
          server,
          info: {
            url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}/v2/blob`,
            heads,
            closed: (i) => closings[i] ?? Promise.reject(new Error("no such connection")),
            connections: () => closings.length
          }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ info }) => info))

/** Writes `bytes` in pieces of `size`, each after the one before was flushed. */
const writePaced = async (socket: Net.Socket, bytes: Uint8Array, size: number) => {
  for (let i = 0; i < bytes.byteLength && !socket.destroyed; i += size) {
    await new Promise<void>((resolve) => socket.write(bytes.subarray(i, i + size), () => setImmediate(resolve)))
  }
}

const latin1 = (text: string) => Buffer.from(text, "latin1")
const sha256 = (bytes: Uint8Array) => Crypto.createHash("sha256").update(bytes).digest("hex")
const random = (size: number) => new Uint8Array(Crypto.randomBytes(size))

const client = node.layerHttpClient()

/** GETs `url` as a releasing consumer (or not), returning the response. */
const get = (url: string, releasing = true) =>
  Effect.flatMap(HttpClient.HttpClient, (http) => http.execute(HttpClientRequest.get(url))).pipe(
    Effect.provideService(ReleasingConsumer, releasing)
  )

/**
 * Reads a body as a releasing consumer does: each chunk hashed, kept a while (`holdMillis`, the
 * socket reading on meanwhile), checked unchanged, then released. Returns the digest, the pieces'
 * distinct buffers, how many pieces were found changed before their release, and the most pieces
 * in one chunk.
 */
const releasingRead = <E>(body: Stream.Stream<Uint8Array, E>, holdMillis = 0) =>
  Effect.suspend(() => {
    const hash = Crypto.createHash("sha256")
    const buffers = new Set<ArrayBufferLike>()
    let size = 0
    let changed = 0
    let mostPieces = 0
    return Stream.runForEachChunk(body, (chunk) =>
      Effect.gen(function*() {
        const copies = Chunk.toReadonlyArray(chunk).map((piece) => Buffer.from(piece))
        mostPieces = Math.max(mostPieces, chunk.length)
        for (const piece of chunk) {
          hash.update(piece)
          buffers.add(piece.buffer)
          size += piece.byteLength
        }
        if (holdMillis > 0) yield* Effect.sleep(holdMillis)
        Chunk.toReadonlyArray(chunk).forEach((piece, i) => {
          if (!copies[i]!.equals(piece)) changed++
        })
        for (const piece of chunk) release(piece)
      })).pipe(Effect.map(() => ({ sha256: hash.digest("hex"), buffers, size, changed, mostPieces })))
  })

const collect = <E>(body: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(body), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

describe("GETs of a releasing consumer: framing", () => {
  it.scopedLive("Content-Length: head and body arriving a byte at a time", () =>
    Effect.gen(function*() {
      const body = random(300)
      const server = yield* rawServer((socket) =>
        void writePaced(socket, Buffer.concat([latin1("HTTP/1.1 200 OK\r\nContent-Length: 300\r\nX-Two: a\r\nx-two: b\r\n\r\n"), body]), 1)
      )
      const response = yield* get(server.url)
      expect(response.status).toBe(200)
      expect(response.headers["x-two"]).toBe("a, b")
      expect((yield* collect(response.stream)).equals(body)).toBe(true)
      // the request went out on a connection of our own (Node's client says `connection: keep-alive`)
      expect(server.heads[0]).toMatch(/^GET \/v2\/blob HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/)
      expect(server.heads[0]).not.toMatch(/connection:/i)
    }).pipe(Effect.provide(client)))

  it.scopedLive("chunked, with chunk extensions and trailers, in pieces of 7 bytes", () =>
    Effect.gen(function*() {
      const a = random(5)
      const b = random(0x1a)
      const wire = Buffer.concat([
        latin1("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n"),
        a,
        latin1("\r\n1A ; name=\"quoted\" ; other\r\n"),
        b,
        latin1("\r\n0\r\nX-Checksum: abc\r\nX-More: d\r\n\r\n")
      ])
      const server = yield* rawServer((socket) => void writePaced(socket, wire, 7))
      const response = yield* get(server.url)
      expect((yield* collect(response.stream)).equals(Buffer.concat([a, b]))).toBe(true)
    }).pipe(Effect.provide(client)))

  it.scopedLive("a body without length ends with the connection", () =>
    Effect.gen(function*() {
      const body = random(100_000)
      const server = yield* rawServer((socket) =>
        void writePaced(socket, Buffer.concat([latin1("HTTP/1.1 200 OK\r\n\r\n"), body]), 9_999).then(() => socket.end())
      )
      const response = yield* get(server.url)
      expect((yield* collect(response.stream)).equals(body)).toBe(true)
    }).pipe(Effect.provide(client)))

  it.scopedLive("1xx answers before the response are skipped; any status is handed on with its body", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) =>
        void writePaced(
          socket,
          latin1(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" +
              "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nnot found"
          ),
          5
        )
      )
      const response = yield* get(server.url)
      expect(response.status).toBe(404)
      expect(response.headers["link"]).toBeUndefined()
      expect(yield* response.text).toBe("not found")
      expect(response.cookies.cookies["b"]?.value).toBe("2")
    }).pipe(Effect.provide(client)))

  it.scopedLive("a body shorter than its Content-Length, or cut inside a chunk, fails", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket, n) =>
        socket.end(
          n === 0
            ? latin1("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            : latin1("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123")
        )
      )
      for (let i = 0; i < 2; i++) {
        const response = yield* get(server.url)
        const exit = yield* Effect.exit(collect(response.stream))
        expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/ResponseError/)
      }
    }).pipe(Effect.provide(client)))

  it.scopedLive("malformed answers fail: a bad chunk size, conflicting lengths, a head over the size limit", () =>
    Effect.gen(function*() {
      const answers = [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        `HTTP/1.1 200 OK\r\nX-Big: ${"x".repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`,
        "HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 0\r\n\r\n"
      ]
      const server = yield* rawServer((socket, n) => void writePaced(socket, latin1(answers[n]!), 4096))
      const body = yield* Effect.flatMap(get(server.url), (r) => Effect.exit(collect(r.stream)))
      expect(Exit.isFailure(body) && String(body.cause)).toMatch(/ResponseError/)
      for (const code of ["HPE_UNEXPECTED_CONTENT_LENGTH", "HPE_HEADER_OVERFLOW", "HPE_INVALID_HEADER_TOKEN"]) {
        const error = yield* Effect.flip(get(server.url))
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport", cause: { code } })
      }
    }).pipe(Effect.provide(client)))
})

describe("GETs of a releasing consumer: a large body in a ring", () => {
  it.scopedLive("a slow consumer gets every byte in views of at most 4 reused slabs, none changed before its release", () =>
    Effect.gen(function*() {
      const body = random(24 * MiB + 12_345)
      const server = yield* rawServer((socket) =>
        void writePaced(socket, Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]), 256 * 1024)
      )
      const response = yield* get(server.url)
      const read = yield* releasingRead(response.stream, 2)
      expect(read.size).toBe(body.byteLength)
      expect(read.sha256).toBe(sha256(body))
      expect(read.changed).toBe(0)
      // the ring wrapped many times over the same memory
      expect(read.buffers.size).toBeLessThanOrEqual(4)
      expect([...read.buffers].every((buffer) => buffer.byteLength === MiB)).toBe(true)
      // the reads into one slab come as one piece: a batch holds at most one per slab
      expect(read.mostPieces).toBeLessThanOrEqual(4)
    }).pipe(Effect.provide(client)))

  it.scopedLive("a body larger than the ring read whole (arrayBuffer, text) arrives whole: its pieces are copied and given back", () =>
    Effect.gen(function*() {
      const body = random(6 * MiB + 7)
      const server = yield* rawServer((socket) =>
        void writePaced(socket, Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]), 256 * 1024)
      )
      const bytes = yield* Effect.flatMap(get(server.url), (response) => response.arrayBuffer)
      expect(sha256(new Uint8Array(bytes))).toBe(sha256(body))
      const text = yield* Effect.flatMap(get(server.url), (response) => response.text)
      expect(text.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(client)), 30_000)

  it.scopedLive("over TLS too: a consumer slower than the socket gets every byte", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("effect-oci-own-tls")
      const ca = yield* Certs.selfSigned(dir, "ca", { subject: "/CN=effect-oci test CA", ca: true })
      const cert = yield* Certs.serverCert(dir, ca)
      const body = random(12 * MiB + 1)
      const server = yield* rawServer(
        (socket) => void writePaced(socket, Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]), MiB),
        { key: cert.keyPem, cert: cert.certPem }
      )
      // the client's Layer built into this test's scope: closing it closes its connections
      const trusting = yield* Layer.build(node.layerHttpClient({ ca: ca.certPem }))
      const response = yield* get(server.url).pipe(Effect.provide(trusting))
      // TLS hands over what it already decrypted even while the socket waits for room: those
      // bytes come as copies among the ring's views, and releasing them all lets the ring go on
      const read = yield* releasingRead(response.stream, 5)
      expect(read.sha256).toBe(sha256(body))
      expect(read.changed).toBe(0)
    }))

  it.scopedLive("a body below the ring's threshold is copied out, piece by piece", () =>
    Effect.gen(function*() {
      const body = random(MiB)
      const server = yield* rawServer((socket) =>
        void writePaced(socket, Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]), 64 * 1024)
      )
      const read = yield* Effect.flatMap(get(server.url), (r) => releasingRead(r.stream))
      expect(read.sha256).toBe(sha256(body))
      // copies: every piece has a buffer of its own
      expect([...read.buffers].every((buffer) => buffer.byteLength < MiB)).toBe(true)
    }).pipe(Effect.provide(client)))

  it.scopedLive("bytes skipped at the start (a resume answered 200) are released, so the ring goes on", () =>
    Effect.gen(function*() {
      const body = random(12 * MiB)
      const server = yield* rawServer((socket) =>
        void writePaced(socket, Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]), 256 * 1024)
      )
      const response = yield* get(server.url)
      const read = yield* releasingRead(response.stream.pipe(dropBytes(9 * MiB + 7)))
      expect(read.sha256).toBe(sha256(body.subarray(9 * MiB + 7)))
    }).pipe(Effect.provide(client)))

  it.scopedLive("interrupting the read closes the connection, and so does interrupting the request", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket, n) => {
        // the first answers part of a large body and waits; the second never answers
        if (n === 0) socket.write(Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${64 * MiB}\r\n\r\n`), random(MiB)]))
      })
      const response = yield* get(server.url)
      const reading = yield* Effect.fork(releasingRead(response.stream))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(reading)
      yield* Effect.promise(() => server.closed(0))
      const asking = yield* Effect.fork(get(server.url))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(asking)
      yield* Effect.promise(() => server.closed(1))
    }).pipe(Effect.provide(client)))

  it.scopedLive("through the Transport: a stalled body fails with RequestTimeout; a slow consumer is no stall", () =>
    Effect.gen(function*() {
      const size = 8 * MiB
      const body = random(size)
      const server = yield* rawServer((socket, n) => {
        const wire = Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`), body])
        // the first stops after 5 MiB and stays open; the second sends it all
        void writePaced(socket, n === 0 ? wire.subarray(0, 5 * MiB) : wire, 256 * 1024)
      })
      const transport = yield* Transport.Transport
      const read = (holdMillis: number) =>
        transport.execute(HttpClientRequest.get(server.url)).pipe(
          Effect.flatMap((response) => releasingRead(Transport.bodyStream(response), holdMillis)),
          Effect.provideService(ReleasingConsumer, true)
        )
      const stalled = yield* Effect.flip(read(0))
      expect(stalled).toMatchObject({ _tag: "RequestTimeout", phase: "body" })
      const slow = yield* read(400)
      expect(slow.sha256).toBe(sha256(body))
    }).pipe(
      Effect.provide(Transport.layer({ bodyStallTimeout: "300 millis", retry: Schedule.stop }).pipe(Layer.provide(client)))
    ))
})

describe("GETs of a releasing consumer: connections kept alive", () => {
  const answer = (body: Uint8Array, extra = "") =>
    Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n${extra}\r\n`), body])

  it.scopedLive("one connection serves answers in a row: large ones in rings, small, chunked, empty", () =>
    Effect.gen(function*() {
      const large = random(6 * MiB + 3)
      const small = random(1000)
      const wires = [
        answer(large),
        answer(small),
        Buffer.concat([latin1("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"), small, latin1("\r\n0\r\n\r\n")]),
        latin1("HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"),
        answer(large)
      ]
      const server = yield* rawServer((socket, n) => void writePaced(socket, wires[n]!, 100_000))
      for (const expected of [large, small, small, Buffer.alloc(0), large]) {
        const read = yield* Effect.flatMap(get(server.url), (r) => releasingRead(r.stream))
        expect(read.sha256).toBe(sha256(expected))
      }
      expect(server.connections()).toBe(1)
    }).pipe(Effect.provide(client)))

  it.scopedLive("not kept: after `Connection: close`, an HTTP/1.0 answer, a body read until the close, bytes after a body, a broken or unread body", () =>
    Effect.gen(function*() {
      const body = random(10_000)
      const wires = [
        answer(body, "Connection: close\r\n"),
        Buffer.concat([latin1(`HTTP/1.0 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]),
        Buffer.concat([latin1("HTTP/1.1 200 OK\r\n\r\n"), body]),
        Buffer.concat([answer(body), latin1("bytes nobody asked for")]),
        answer(body).subarray(0, 5_000),
        answer(random(8 * MiB)),
        answer(body)
      ]
      const server = yield* rawServer((socket, n) => {
        socket.write(wires[n]!)
        if (n === 2 || n === 4) socket.end()
      })
      for (let i = 0; i < 4; i++) {
        expect((yield* Effect.flatMap(get(server.url), (r) => releasingRead(r.stream))).sha256).toBe(sha256(body))
      }
      expect(Exit.isFailure(yield* Effect.exit(Effect.flatMap(get(server.url), (r) => releasingRead(r.stream))))).toBe(true)
      // a large body the consumer stops reading: its connection is closed, not handed on mid-body
      yield* Effect.flatMap(get(server.url), (r) => Stream.runDrain(Stream.take(r.stream, 1)))
      expect((yield* Effect.flatMap(get(server.url), (r) => releasingRead(r.stream))).sha256).toBe(sha256(body))
      expect(server.connections()).toBe(7)
    }).pipe(Effect.provide(client)))

  it.scopedLive("closing the client's Layer closes its connections, in use or idle, and no request goes out after", () =>
    Effect.gen(function*() {
      const small = random(1000)
      const server = yield* rawServer((socket, n) =>
        socket.write(n === 0 ? answer(random(8 * MiB)).subarray(0, 2 * MiB) : answer(small))
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(client, scope)
      // one connection mid-body, another idle in the pool after a whole answer
      const large = yield* get(server.url).pipe(Effect.provide(context))
      expect((yield* Effect.flatMap(get(server.url), (r) => releasingRead(r.stream)).pipe(Effect.provide(context))).sha256)
        .toBe(sha256(small))
      expect(server.connections()).toBe(2)
      yield* Scope.close(scope, Exit.void)
      yield* Effect.promise(() => Promise.all([server.closed(0), server.closed(1)]))
      expect(Exit.isFailure(yield* Effect.exit(collect(large.stream)))).toBe(true)
      expect(yield* Effect.flip(get(server.url).pipe(Effect.provide(context)))).toMatchObject({ _tag: "RequestError" })
      expect(server.connections()).toBe(2)
    }))

  it.scopedLive("an idle connection the server closed is not used again", () =>
    Effect.gen(function*() {
      const body = random(1000)
      const server = yield* rawServer((socket) => {
        socket.end(answer(body))
      })
      for (let i = 0; i < 2; i++) {
        expect((yield* Effect.flatMap(get(server.url), (r) => releasingRead(r.stream))).sha256).toBe(sha256(body))
        yield* Effect.sleep("50 millis")
      }
      expect(server.connections()).toBe(2)
    }).pipe(Effect.provide(client)))
})

describe("GETs of other consumers", () => {
  it.scopedLive("stay on the pooled node:http client (kept-alive connections, fresh buffers)", () =>
    Effect.gen(function*() {
      const body = random(6 * MiB)
      const server = yield* rawServer((socket) =>
        socket.write(Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`), body]))
      )
      for (let i = 0; i < 2; i++) {
        const pieces = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* get(server.url, false)).stream))
        expect(sha256(Buffer.concat(pieces))).toBe(sha256(body))
        expect(pieces.every((piece) => piece.buffer.byteLength !== MiB)).toBe(true)
      }
      expect(server.connections()).toBe(1)
      expect(server.heads[0]).toMatch(/connection: keep-alive/i)
    }).pipe(Effect.provide(client)))
})
