/**
 * TLS on loopback, and failures that no retry can mend: a loopback port that answers plain http as
 * a TLS server is used over https; a host marked insecure that does so is a typed error saying so;
 * response headers over the client's limit and untrusted certificates fail at once, saying what
 * happened.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as node from "../src/node.js"
import * as Transport from "../src/Transport.js"
import * as FakeHttp from "./support/FakeHttp.js"

/** Go's answer to plain http on a TLS port: a bare 400, no Content-Type. */
const goTlsAnswer = () =>
  new Response(new TextEncoder().encode("Client sent an HTTP request to an HTTPS server.\n"), { status: 400 })

const overFake = (handler: FakeHttp.Handler, options: Transport.Options = {}) => {
  const fake = FakeHttp.make(handler)
  return { fake, layer: Transport.layer({ retry: Schedule.recurs(3), ...options }).pipe(Layer.provide(fake.layer)) }
}

const get = (url: string) => Effect.flatMap(Transport.Transport, (t) => t.execute(HttpClientRequest.get(url)))

/** A server on a free loopback port, closed with the scope. */
const serve = <S extends Http.Server>(server: S) =>
  Effect.acquireRelease(
    Effect.async<S>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))),
    (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
  ).pipe(Effect.map((s) => (s.address() as AddressInfo).port))

describe("TLS on loopback", () => {
  it.effect("a loopback port answering plain http as a TLS server is spoken to over https from then on", () => {
    const t = overFake((request) => request.url.protocol === "http:" ? goTlsAnswer() : new Response("{}", { status: 200 }))
    return Effect.gen(function*() {
      const transport = yield* Transport.Transport
      expect(transport.baseUrl("127.0.0.1:5443")).toBe("http://127.0.0.1:5443")
      const response = yield* get("http://127.0.0.1:5443/v2/")
      expect(response.status).toBe(200)
      expect(transport.baseUrl("127.0.0.1:5443")).toBe("https://127.0.0.1:5443")
      // Other loopback ports keep plain http.
      expect(transport.baseUrl("127.0.0.1:5000")).toBe("http://127.0.0.1:5000")
      expect(t.fake.requests.map((r) => r.url.toString())).toEqual([
        "http://127.0.0.1:5443/v2/",
        "https://127.0.0.1:5443/v2/"
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a host marked insecure that speaks TLS is an InvalidResponse saying so, not retried", () => {
    const t = overFake(() => goTlsAnswer(), { insecure: ["registry.lan:5000", "127.0.0.1:5001"] })
    return Effect.gen(function*() {
      for (const host of ["registry.lan:5000", "127.0.0.1:5001"]) {
        const error = yield* Effect.flip(get(`http://${host}/v2/`))
        expect(error).toMatchObject({ _tag: "InvalidResponse", reason: expect.stringContaining(`${host} speaks TLS`) })
      }
      expect(t.fake.requests).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("any other 400 without a Content-Type keeps its body", () => {
    const t = overFake(() => new Response(new TextEncoder().encode("bad request, plainly"), { status: 400 }))
    return Effect.gen(function*() {
      const response = yield* get("http://127.0.0.1:5443/v2/")
      expect(response.status).toBe(400)
      expect(yield* response.text).toBe("bad request, plainly")
      expect(t.fake.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })
})

describe("failures no retry can mend", () => {
  it.scopedLive("a response header over the client's limit fails at once, saying so", () =>
    Effect.gen(function*() {
      let hits = 0
      const port = yield* serve(Http.createServer((_, response) => {
        hits++
        response.writeHead(200, { "x-huge": "a".repeat(100 * 1024) })
        response.end("{}")
      }))
      const error = yield* Effect.flip(get(`http://127.0.0.1:${port}/v2/`).pipe(
        Effect.provide(Transport.layer({ retry: Schedule.recurs(5) }).pipe(Layer.provide(node.layerHttpClient())))
      ))
      expect(error).toMatchObject({ _tag: "TransportError", permanent: true })
      expect(error.message).toContain("headers are larger than the client accepts")
      expect(hits).toBe(1)
    }))

  it.scopedLive("an untrusted certificate fails at once, naming the TLS error", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-tls-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      ChildProcess.execFileSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", Path.join(dir, "key.pem"), "-out", Path.join(dir, "cert.pem")
      ], { stdio: "ignore" })
      let handshakes = 0
      const server = Https.createServer({
        key: Fs.readFileSync(Path.join(dir, "key.pem")),
        cert: Fs.readFileSync(Path.join(dir, "cert.pem"))
      }, (_, response) => response.end("{}"))
      server.on("connection", () => handshakes++)
      const port = yield* serve(server)
      const transport = (ca?: string) =>
        Transport.layer({ retry: Schedule.recurs(5), secure: [`127.0.0.1:${port}`] }).pipe(
          Layer.provide(node.layerHttpClient(ca === undefined ? {} : { ca }))
        )
      const error = yield* Effect.flip(get(`https://127.0.0.1:${port}/v2/`).pipe(Effect.provide(transport())))
      expect(error).toMatchObject({ _tag: "TransportError", permanent: true })
      expect(error.message).toContain("TLS: DEPTH_ZERO_SELF_SIGNED_CERT")
      expect(handshakes).toBe(1)
      // With its certificate trusted (node.layer's `http.ca`), the same server answers.
      const ok = yield* get(`https://127.0.0.1:${port}/v2/`).pipe(
        Effect.provide(transport(Fs.readFileSync(Path.join(dir, "cert.pem"), "utf8")))
      )
      expect(ok.status).toBe(200)
    }))
})
