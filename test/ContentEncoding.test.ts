/**
 * Responses with a `Content-Encoding`: decoded before verification (digests are of the content),
 * an encoding we cannot decode is a typed error naming it, and ranges are asked for unencoded.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as MediaType from "../src/MediaType.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Stack from "../src/Stack.js"
import * as Transport from "../src/Transport.js"
import * as FakeHttp from "./support/FakeHttp.js"
import { body, collectBytes, jsonBytes, ref, setup, withRepo } from "./support/RepositoryFixture.js"

const manifest = jsonBytes({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: Digest.compute("config"), size: 6 },
  layers: []
}, 2)
// Pseudo-random, so it does not compress to nothing: an encoded body is as long as a real one.
const blob = (() => {
  let x = 2463534242
  return new Uint8Array(200_000).map(() => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x & 0xff
  })
})()

const encode = (bytes: Uint8Array, encoding: string): Uint8Array =>
  encoding === "gzip" ? Zlib.gzipSync(bytes) : encoding === "deflate" ? Zlib.deflateSync(bytes)
    // gzip applied first, then deflate: the header lists them in that order
    : encoding === "gzip, deflate" ? Zlib.deflateSync(Zlib.gzipSync(bytes))
    : bytes

/** An encoded answer; its Content-Length is the encoded length, as a server sends it. */
const encoded = (bytes: Uint8Array, encoding: string, contentType: string, extra: Record<string, string> = {}) => {
  const wire = encode(bytes, encoding)
  return new Response(wire, {
    headers: {
      "content-type": contentType,
      "content-encoding": encoding,
      "content-length": String(wire.byteLength),
      "docker-content-digest": Digest.compute(bytes),
      ...extra
    }
  })
}

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

describe("Content-Encoding", () => {
  for (const encoding of ["gzip", "deflate", "gzip, deflate", "GZIP , identity"]) {
    it.effect(`"${encoding}": manifests and blobs are decoded, then verified`, () => {
      const wire = encoding === "GZIP , identity" ? "gzip" : encoding
      const t = setup((request) =>
        request.url.pathname.includes("/manifests/")
          ? encoded(manifest, wire, MediaType.OciManifest, { "content-encoding": encoding })
          : encoded(blob, wire, "application/octet-stream", { "content-encoding": encoding })
      )
      return Effect.gen(function*() {
        const fetched = yield* withRepo((r) => r.getManifest(ref(":v1")))
        expect(fetched.digest).toBe(Digest.compute(manifest))
        expect(fetched.bytes).toEqual(manifest)
        const bytes = yield* collectBytes(Stream.unwrap(withRepo((r) => Effect.succeed(r.getBlob(ref(), Digest.compute(blob))))))
        expect(bytes.byteLength).toBe(blob.byteLength)
        expect(Digest.compute(bytes)).toBe(Digest.compute(blob))
      }).pipe(Effect.provide(t.layer))
    })
  }

  it.effect("an encoding it cannot decode is an InvalidResponse naming it, not retried", () => {
    const t = setup(() => encoded(manifest, "br", MediaType.OciManifest), { retry: Schedule.recurs(3) })
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: expect.stringContaining("Content-Encoding \"br\"") })
      expect(t.requests).toHaveLength(1)
      // A list with one unknown coding is refused as a whole.
      const u = setup(() => encoded(manifest, "gzip, compress", MediaType.OciManifest))
      const listed = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1")))).pipe(Effect.provide(u.layer))
      expect(listed).toMatchObject({ reason: expect.stringContaining("Content-Encoding \"compress\"") })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a body that is not what its encoding says fails naming the encoding", () => {
    const t = setup(() =>
      new Response(manifest, {
        headers: { "content-type": MediaType.OciManifest, "content-encoding": "gzip" }
      })
    )
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(error).toMatchObject({ _tag: "TransportError", reason: expect.stringContaining("not valid gzip") })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an encoded body cut short fails as cut (and is resumed unencoded), not as badly encoded", () => {
    const wire = Zlib.gzipSync(blob)
    const t = setup((request) =>
      request.headers["range"] === undefined
        ? new Response(body(wire, { cutAt: 30_000, chunkSize: 10_000 }), {
          headers: { "content-encoding": "gzip", "content-length": String(wire.byteLength) }
        })
        : new Response(blob.subarray(Number(/bytes=(\d+)-/.exec(request.headers["range"])![1])), {
          status: 206,
          headers: { "content-range": `${request.headers["range"].replace("=", " ")}${blob.byteLength - 1}/${blob.byteLength}` }
        })
    )
    return Effect.gen(function*() {
      const cut = yield* Effect.flatMap(Transport.Transport, (transport) =>
        transport.execute(HttpClientRequest.get("https://registry.example/v2/team/app/blobs/x"))).pipe(
          Effect.flatMap((response) => Effect.flip(collectBytes(Transport.bodyStream(response)))),
          Effect.provide(Transport.layer({ retry: Schedule.recurs(0) }).pipe(Layer.provide(t.fake.layer)))
        )
      expect(cut).toMatchObject({
        _tag: "TransportError",
        reason: `the connection closed after 30000 of ${wire.byteLength} bytes of the body: connection reset by peer`
      })

      const bytes = yield* collectBytes(Stream.unwrap(withRepo((r) => Effect.succeed(r.getBlob(ref(), Digest.compute(blob))))))
      expect(Digest.compute(bytes)).toBe(Digest.compute(blob))
      expect(t.requests.slice(1).map((r) => r.headers["range"] === undefined ? "whole" : "range")).toEqual(["whole", "range"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("ranges are asked for unencoded; an encoded 206 is refused", () => {
    const t = setup((request) =>
      request.headers["range"] === undefined
        ? new Response(blob.subarray(0, 1000), { headers: { "content-length": String(blob.byteLength) } })
        : new Response(Zlib.gzipSync(blob.subarray(100)), {
          status: 206,
          headers: { "content-encoding": "gzip", "content-range": `bytes 100-${blob.byteLength - 1}/${blob.byteLength}` }
        })
    )
    return Effect.gen(function*() {
      const error = yield* failureOf(collectBytes(Stream.unwrap(withRepo((r) =>
        Effect.succeed(r.getBlobRange(ref(), Digest.compute(blob), { offset: 100 }))
      ))))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: expect.stringContaining("partial response (206)") })
      expect(t.requests[0]!.headers["accept-encoding"]).toBe("identity")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("HEAD answers and requests without Range are left alone", () => {
    const t = setup((request) =>
      request.method === "HEAD"
        ? new Response(null, {
          headers: {
            "content-encoding": "br",
            "content-type": MediaType.OciManifest,
            "content-length": String(manifest.byteLength),
            "docker-content-digest": Digest.compute(manifest)
          }
        })
        : encoded(manifest, "gzip", MediaType.OciManifest)
    )
    return Effect.gen(function*() {
      expect(yield* withRepo((r) => r.manifestExists(ref(":v1")))).toBe(true)
      yield* withRepo((r) => r.getManifest(ref(":v1")))
      expect(t.requests.map((r) => r.headers["accept-encoding"])).toEqual([undefined, undefined])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("decodeContentEncoding: false leaves bodies to a client that decodes them itself", () => {
    const fake = FakeHttp.make(() => new Response(manifest, { headers: { "content-encoding": "gzip" } }))
    const transport = Transport.layer({ decodeContentEncoding: false, retry: Schedule.recurs(0) }).pipe(
      Layer.provide(fake.layer)
    )
    return Effect.gen(function*() {
      const t = yield* Transport.Transport
      const response = yield* t.execute(HttpClientRequest.get("https://registry.example/v2/"))
      const bytes = yield* collectBytes(Transport.bodyStream(response))
      expect(bytes).toEqual(manifest)
      expect(response.headers["content-encoding"]).toBe("gzip")
    }).pipe(Effect.provide(Layer.merge(transport, Credentials.layerAnonymous)))
  })

  it.live("through fetch (Stack.layerFetch), what fetch decoded is not decoded again", () =>
    Effect.gen(function*() {
      // Serves /v2/x/manifests/<tag>: gzip for "gz", zstd (which fetch leaves alone) for "zstd".
      const server = yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const s = Http.createServer((request, response) => {
            const zstd = request.url?.endsWith("/zstd") === true
            response.writeHead(200, {
              "content-type": MediaType.OciManifest,
              "content-encoding": zstd ? "zstd" : "gzip",
              "docker-content-digest": Digest.compute(manifest)
            })
            response.end(zstd ? manifest : Zlib.gzipSync(manifest))
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
      )
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
      const get = (tag: string) =>
        Effect.flatMap(Reference.parse(`${host}/x:${tag}`), (r) =>
          Effect.flatMap(Repository.Repository, (repo) => repo.getManifest(r)))
      const stack = Stack.layerFetch({ transport: { retry: Schedule.recurs(0) } })
      const fetched = yield* get("gz").pipe(Effect.provide(stack))
      expect(fetched.digest).toBe(Digest.compute(manifest))
      const error = yield* Effect.flip(get("zstd").pipe(Effect.provide(stack)))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: expect.stringContaining("\"zstd\"") })
    }).pipe(Effect.scoped))
})
