import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Digest from "../../src/Digest.js"
import * as TestRegistry from "../../src/testing/index.js"
import { bytes, code, live, pushBlob, send } from "./helpers.js"

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % 251)

layer(live({ chunkMinLength: 1024 }), { excludeTestServices: true })("blobs and uploads", (it) => {
  it.effect("GET /v2/ answers 200 with the API version header", () =>
    Effect.gen(function*() {
      const reply = yield* send("GET", "/v2/")
      expect(reply.status).toBe(200)
      expect(reply.headers["docker-distribution-api-version"]).toBe("registry/2.0")
    }))

  it.effect("single-request monolithic upload, then HEAD and GET", () =>
    Effect.gen(function*() {
      const content = pattern(100_000)
      const { digest, reply } = yield* pushBlob("mono/repo", content)
      expect(reply.status).toBe(201)
      expect(reply.headers["docker-content-digest"]).toBe(digest)
      expect(reply.headers["location"]).toMatch(new RegExp(`/v2/mono/repo/blobs/${digest}$`))

      const head = yield* send("HEAD", `/v2/mono/repo/blobs/${digest}`)
      expect(head.status).toBe(200)
      expect(head.headers["content-length"]).toBe("100000")
      expect(head.headers["docker-content-digest"]).toBe(digest)
      expect(head.body.byteLength).toBe(0)

      const get = yield* send("GET", `/v2/mono/repo/blobs/${digest}`)
      expect(get.status).toBe(200)
      expect(Digest.compute(get.body)).toBe(digest)
      expect(get.headers["content-type"]).toBe("application/octet-stream")
    }))

  it.effect("a monolithic upload with the wrong digest is DIGEST_INVALID and stores nothing", () =>
    Effect.gen(function*() {
      const wrong = Digest.compute("something else")
      const reply = yield* send("POST", `/v2/mono/bad/blobs/uploads/?digest=${wrong}`, { body: "content" })
      expect(reply.status).toBe(400)
      expect(code(reply)).toBe("DIGEST_INVALID")
      const registry = yield* TestRegistry.TestRegistry
      expect(yield* registry.hasBlob("mono/bad", wrong)).toBe(false)
    }))

  it.effect("POST opens a session (202, Location, Range 0-0, UUID, OCI-Chunk-Min-Length); PUT finishes it", () =>
    Effect.gen(function*() {
      const start = yield* send("POST", "/v2/two/step/blobs/uploads/")
      expect(start.status).toBe(202)
      expect(start.headers["range"]).toBe("0-0")
      expect(start.headers["oci-chunk-min-length"]).toBe("1024")
      const uuid = start.headers["docker-upload-uuid"]!
      expect(start.headers["location"]).toContain(`/v2/two/step/blobs/uploads/${uuid}`)
      const content = bytes("two-step content")
      const digest = Digest.compute(content)
      const put = yield* send("PUT", `${start.headers["location"]}?digest=${digest}`, { body: content })
      expect(put.status).toBe(201)
      expect(put.headers["docker-content-digest"]).toBe(digest)
      const get = yield* send("GET", `/v2/two/step/blobs/${digest}`)
      expect(get.text).toBe("two-step content")
      // the session is gone once finished
      const again = yield* send("GET", start.headers["location"]!)
      expect(again.status).toBe(404)
      expect(code(again)).toBe("BLOB_UPLOAD_UNKNOWN")
    }))

  it.effect("chunked upload with Content-Range, status GET, a wrong offset → 416, final chunk on PUT", () =>
    Effect.gen(function*() {
      const content = pattern(5000)
      const digest = Digest.compute(content)
      const start = yield* send("POST", "/v2/chunked/repo/blobs/uploads/")
      const location = start.headers["location"]!
      const first = yield* send("PATCH", location, {
        body: content.subarray(0, 2000),
        headers: { "content-range": "0-1999" }
      })
      expect(first.status).toBe(202)
      expect(first.headers["range"]).toBe("0-1999")

      const wrong = yield* send("PATCH", location, {
        body: content.subarray(1000, 2000),
        headers: { "content-range": "1000-1999" }
      })
      expect(wrong.status).toBe(416)
      expect(wrong.headers["range"]).toBe("0-1999")

      const status = yield* send("GET", location)
      expect(status.status).toBe(204)
      expect(status.headers["range"]).toBe("0-1999")

      const second = yield* send("PATCH", location, {
        body: content.subarray(2000, 4000),
        headers: { "content-range": "2000-3999" }
      })
      expect(second.headers["range"]).toBe("0-3999")
      const put = yield* send("PUT", `${location}?digest=${digest}`, {
        body: content.subarray(4000),
        headers: { "content-range": "4000-4999" }
      })
      expect(put.status).toBe(201)
      const get = yield* send("GET", `/v2/chunked/repo/blobs/${digest}`)
      expect(Digest.compute(get.body)).toBe(digest)
    }))

  it.effect("a Content-Range whose length disagrees with the body is 416", () =>
    Effect.gen(function*() {
      const start = yield* send("POST", "/v2/chunked/len/blobs/uploads/")
      const reply = yield* send("PATCH", start.headers["location"]!, {
        body: "12345",
        headers: { "content-range": "0-9" }
      })
      expect(reply.status).toBe(416)
      expect(reply.headers["range"]).toBe("0-0")
    }))

  it.effect("streamed PATCH without Content-Range or Content-Length, then an empty PUT", () =>
    Effect.gen(function*() {
      const content = pattern(300_000)
      const digest = Digest.compute(content)
      const start = yield* send("POST", "/v2/streamed/repo/blobs/uploads/")
      const location = start.headers["location"]!
      const body = Stream.fromIterable([content.subarray(0, 100_000), content.subarray(100_000)])
      const patch = yield* send("PATCH", location, { stream: body })
      expect(patch.status).toBe(202)
      expect(patch.headers["range"]).toBe("0-299999")
      const put = yield* send("PUT", `${location}?digest=${digest}`)
      expect(put.status).toBe(201)
      const head = yield* send("HEAD", `/v2/streamed/repo/blobs/${digest}`)
      expect(head.headers["content-length"]).toBe("300000")
    }))

  it.effect("a finishing PUT with the wrong digest is DIGEST_INVALID", () =>
    Effect.gen(function*() {
      const start = yield* send("POST", "/v2/chunked/wrong/blobs/uploads/")
      const reply = yield* send("PUT", `${start.headers["location"]}?digest=${Digest.compute("other")}`, {
        body: "actual"
      })
      expect(reply.status).toBe(400)
      expect(code(reply)).toBe("DIGEST_INVALID")
      const missing = yield* send("PUT", `${start.headers["location"]}`, { body: "actual" })
      expect(missing.status).toBe(404)
    }))

  it.effect("DELETE cancels a session", () =>
    Effect.gen(function*() {
      const start = yield* send("POST", "/v2/cancel/repo/blobs/uploads/")
      const del = yield* send("DELETE", start.headers["location"]!)
      expect(del.status).toBe(204)
      const status = yield* send("GET", start.headers["location"]!)
      expect(code(status)).toBe("BLOB_UPLOAD_UNKNOWN")
    }))

  it.effect("range GET: 206 with Content-Range, suffix ranges, 416 outside the blob", () =>
    Effect.gen(function*() {
      const content = pattern(1000)
      const { digest } = yield* pushBlob("range/repo", content)
      const mid = yield* send("GET", `/v2/range/repo/blobs/${digest}`, { headers: { range: "bytes=100-199" } })
      expect(mid.status).toBe(206)
      expect(mid.headers["content-range"]).toBe("bytes 100-199/1000")
      expect(mid.body).toEqual(content.subarray(100, 200))
      const open = yield* send("GET", `/v2/range/repo/blobs/${digest}`, { headers: { range: "bytes=990-" } })
      expect(open.headers["content-range"]).toBe("bytes 990-999/1000")
      expect(open.body).toEqual(content.subarray(990))
      const suffix = yield* send("GET", `/v2/range/repo/blobs/${digest}`, { headers: { range: "bytes=-5" } })
      expect(suffix.body).toEqual(content.subarray(995))
      const outside = yield* send("GET", `/v2/range/repo/blobs/${digest}`, { headers: { range: "bytes=1000-" } })
      expect(outside.status).toBe(416)
      expect(outside.headers["content-range"]).toBe("bytes */1000")
    }))

  it.effect("cross-repository mount: 201 when the source has the blob, else a new session", () =>
    Effect.gen(function*() {
      const { digest } = yield* pushBlob("mount/source", "shared layer")
      const mounted = yield* send("POST", `/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`)
      expect(mounted.status).toBe(201)
      expect(mounted.headers["location"]).toMatch(new RegExp(`/v2/mount/target/blobs/${digest}$`))
      expect(mounted.headers["docker-content-digest"]).toBe(digest)
      const get = yield* send("GET", `/v2/mount/target/blobs/${digest}`)
      expect(get.text).toBe("shared layer")

      const missing = yield* send("POST", `/v2/mount/other/blobs/uploads/?mount=${digest}&from=mount/nowhere`)
      expect(missing.status).toBe(202)
      expect(missing.headers["docker-upload-uuid"]).toBeDefined()
      const noFrom = yield* send("POST", `/v2/mount/other/blobs/uploads/?mount=${digest}`)
      expect(noFrom.status).toBe(202)
    }))

  it.effect("blobs are per repository; DELETE unlinks (202, then 404 BLOB_UNKNOWN)", () =>
    Effect.gen(function*() {
      const { digest } = yield* pushBlob("del/repo", "to delete")
      const elsewhere = yield* send("GET", `/v2/del/other/blobs/${digest}`)
      expect(elsewhere.status).toBe(404)
      expect(code(elsewhere)).toBe("BLOB_UNKNOWN")
      expect((yield* send("DELETE", `/v2/del/repo/blobs/${digest}`)).status).toBe(202)
      const again = yield* send("DELETE", `/v2/del/repo/blobs/${digest}`)
      expect(again.status).toBe(404)
      expect(code(again)).toBe("BLOB_UNKNOWN")
      expect((yield* send("GET", `/v2/del/repo/blobs/${digest}`)).status).toBe(404)
    }))

  it.effect("invalid names, digests and methods get OCI errors", () =>
    Effect.gen(function*() {
      const badName = yield* send("GET", `/v2/Upper/Case/blobs/${Digest.compute("x")}`)
      expect(badName.status).toBe(400)
      expect(code(badName)).toBe("NAME_INVALID")
      const badDigest = yield* send("GET", "/v2/ok/repo/blobs/sha256:1234")
      expect(badDigest.status).toBe(400)
      expect(code(badDigest)).toBe("DIGEST_INVALID")
      const method = yield* send("PATCH", `/v2/ok/repo/blobs/${Digest.compute("x")}`)
      expect(method.status).toBe(405)
      expect(code(method)).toBe("UNSUPPORTED")
      const unknown = yield* send("GET", "/nothing/here")
      expect(unknown.status).toBe(404)
    }))

  it.effect("the seeding helpers store content the API serves", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const { digest, size } = yield* registry.putBlob("seed/repo", "seeded")
      expect(size).toBe(6)
      expect(yield* registry.hasBlob("seed/repo", digest)).toBe(true)
      expect((yield* send("GET", `/v2/seed/repo/blobs/${digest}`)).text).toBe("seeded")
      expect(registry.url).toBe(`http://${registry.host}`)
      expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/)
    }))
})

describe("lifecycle", () => {
  it.live("both servers stop when the scope closes", () =>
    Effect.gen(function*() {
      const urls = yield* Effect.scoped(
        Effect.map(TestRegistry.make(), (registry) => [registry.url, registry.redirectUrl] as const)
      )
      for (const url of urls) {
        const outcome = yield* Effect.either(Effect.tryPromise(() => fetch(`${url}/v2/`)))
        expect(outcome._tag).toBe("Left")
      }
    }))
})

describe("directory storage", () => {
  it.live("keeps blobs and manifests across restarts", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-oci-registry-"))
      try {
        const content = pattern(70_000)
        const digest = Digest.compute(content)
        yield* Effect.scoped(
          Effect.gen(function*() {
            const { reply } = yield* pushBlob("disk/repo", content)
            expect(reply.status).toBe(201)
            const registry = yield* TestRegistry.TestRegistry
            yield* registry.putManifest("disk/repo", {
              schemaVersion: 2,
              mediaType: "application/vnd.oci.image.manifest.v1+json",
              config: { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: content.byteLength },
              layers: []
            }, { tag: "v1" })
          }).pipe(Effect.provide(live({ storageDirectory: dir })))
        )
        expect(fs.existsSync(path.join(dir, "blobs", "sha256", Digest.hex(digest)))).toBe(true)
        yield* Effect.scoped(
          Effect.gen(function*() {
            const range = yield* send("GET", `/v2/disk/repo/blobs/${digest}`, { headers: { range: "bytes=65530-65545" } })
            expect(range.status).toBe(206)
            expect(range.body).toEqual(content.subarray(65530, 65546))
            const whole = yield* send("GET", `/v2/disk/repo/blobs/${digest}`)
            expect(Digest.compute(whole.body)).toBe(digest)
            const tags = yield* send("GET", "/v2/disk/repo/tags/list")
            expect(tags.json).toEqual({ name: "disk/repo", tags: ["v1"] })
            expect((yield* send("DELETE", `/v2/disk/repo/blobs/${digest}`)).status).toBe(202)
          }).pipe(Effect.provide(live({ storageDirectory: dir })))
        )
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})
