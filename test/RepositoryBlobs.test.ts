import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as BlobCache from "../src/BlobCache.js"
import * as Digest from "../src/Digest.js"
import * as FakeHttp from "./support/FakeHttp.js"
import {
  blobServer,
  body,
  collectBytes,
  failureOf,
  headResponse,
  randomBytes,
  ref,
  registry,
  repository,
  setup,
  withRepo
} from "./support/RepositoryFixture.js"

const blob = randomBytes(10_000, 7)
const digest = Digest.compute(blob)
const blobPath = (d: string = digest, repo = repository) => `/v2/${repo}/blobs/${d}`

const read = (options?: { readonly size?: number }) => withRepo((r) => collectBytes(r.getBlob(ref(""), digest, options)))

describe("statBlob", () => {
  it.effect("HEAD → descriptor (size from Content-Length, media type from Content-Type)", () => {
    const t = setup(() =>
      headResponse(200, {
        "content-length": "1234",
        "content-type": "application/vnd.oci.image.layer.v1.tar+gzip",
        "docker-content-digest": digest
      })
    )
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((r) => r.statBlob(ref(""), digest))
      expect(descriptor).toEqual({ digest, size: 1234, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" })
      expect(t.lines()).toEqual([`HEAD ${blobPath()}`])
      expect(t.requests[0]!.url.host).toBe(registry)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 404 is BlobUnknown (HEAD has no error body)", () => {
    const t = setup(() => headResponse(404))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.statBlob(ref(""), digest)))
      expect(error._tag).toBe("BlobUnknown")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a HEAD without a usable Content-Length is InvalidResponse", () => {
    const t = setup((_, i) => headResponse(200, i === 0 ? {} : { "content-length": "-1" }))
    return Effect.gen(function*() {
      expect((yield* failureOf(withRepo((r) => r.statBlob(ref(""), digest))))._tag).toBe("InvalidResponse")
      expect((yield* failureOf(withRepo((r) => r.statBlob(ref(""), digest))))._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a HEAD without Content-Type gives application/octet-stream", () => {
    const t = setup(() => headResponse(200, { "content-length": "5" }))
    return Effect.gen(function*() {
      expect((yield* withRepo((r) => r.statBlob(ref(""), digest))).mediaType).toBe("application/octet-stream")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the second stat is answered by the BlobCache (no second HEAD), counted as a hit", () => {
    const t = setup(() => headResponse(200, { "content-length": "99", "content-type": "application/x-test" }))
    return Effect.gen(function*() {
      const hitsBefore = (yield* Metric.value(BlobCache.hits)).count
      const missesBefore = (yield* Metric.value(BlobCache.misses)).count
      const first = yield* withRepo((r) => r.statBlob(ref(""), digest))
      const second = yield* withRepo((r) => r.statBlob(ref(":tag-does-not-matter"), digest))
      expect(second).toEqual(first)
      expect(t.requests).toHaveLength(1)
      expect((yield* Metric.value(BlobCache.hits)).count - hitsBefore).toBe(1)
      expect((yield* Metric.value(BlobCache.misses)).count - missesBefore).toBe(1)
      // the cache is per repository: another repository HEADs its own blob
      yield* withRepo((r) => r.statBlob(ref("", "team/other"), digest))
      expect(t.lines()).toEqual([`HEAD ${blobPath()}`, `HEAD ${blobPath(digest, "team/other")}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a failed stat is not cached", () => {
    const t = setup((_, i) => (i === 0 ? headResponse(404) : headResponse(200, { "content-length": "3" })))
    return Effect.gen(function*() {
      yield* failureOf(withRepo((r) => r.statBlob(ref(""), digest)))
      expect((yield* withRepo((r) => r.statBlob(ref(""), digest))).size).toBe(3)
      expect(t.requests).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("uses the cache layer it is given: an entry set beforehand skips the HEAD", () => {
    const cache = BlobCache.makeMemory()
    const t = setup(() => headResponse(500), { cache: Layer.succeed(BlobCache.BlobCache, cache) })
    return Effect.gen(function*() {
      yield* cache.set({ digest, size: 42, mediaType: "application/x-known" }, `${registry}/${repository}`)
      expect(yield* withRepo((r) => r.statBlob(ref(""), digest))).toEqual({
        digest,
        size: 42,
        mediaType: "application/x-known"
      })
      expect(t.requests).toHaveLength(0)
    }).pipe(Effect.provide(t.layer))
  })
})

describe("getBlob", () => {
  it.effect("streams the exact bytes, verified, from a plain GET without Range", () => {
    const server = blobServer(blob, () => ({}), { chunkSize: 1000 })
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* read({ size: blob.byteLength })
      expect(bytes).toEqual(blob)
      expect(t.lines()).toEqual([`GET ${blobPath()}`])
      expect(t.requests[0]!.headers["range"]).toBeUndefined()
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the stream is lazy: no request until it is run (as the Go client's Open)", () => {
    const t = setup(blobServer(blob).handler)
    return Effect.gen(function*() {
      const stream = yield* withRepo((r) => Effect.succeed(r.getBlob(ref(""), digest)))
      expect(t.requests).toHaveLength(0)
      expect(yield* collectBytes(stream)).toEqual(blob)
      // and it can be run again: every run is a fresh read
      expect(yield* collectBytes(stream)).toEqual(blob)
      expect(t.requests).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an empty blob", () => {
    const empty = new Uint8Array(0)
    const server = blobServer(empty)
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlob(ref(""), server.digest, { size: 0 })))
      expect(bytes.byteLength).toBe(0)
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("bytes that do not hash to the digest fail the stream with DigestMismatch", () => {
    const tampered = blob.slice()
    tampered[5000] = tampered[5000]! ^ 1
    const t = setup(() => new Response(body(tampered), { status: 200 }))
    return Effect.gen(function*() {
      const error = yield* failureOf(read())
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: digest, actual: Digest.compute(tampered) })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a size that differs fails with SizeMismatch (longer: as soon as it passes; shorter: at the end)", () => {
    const server = blobServer(blob, () => ({}), { chunkSize: 1000 })
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const longer = yield* failureOf(read({ size: 4000 }))
      expect(longer).toMatchObject({ _tag: "SizeMismatch", expected: 4000, actual: 4000 + 1000 })
      const shorter = yield* failureOf(read({ size: blob.byteLength + 1 }))
      expect(shorter).toMatchObject({ _tag: "SizeMismatch", expected: blob.byteLength + 1, actual: blob.byteLength })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 404 is BlobUnknown; a BLOB_UNKNOWN body too; NAME_UNKNOWN stays NameUnknown", () => {
    const t = setup((_, i) =>
      i === 0
        ? new Response(null, { status: 404 })
        : i === 1
        ? FakeHttp.errorBody(404, "BLOB_UNKNOWN", "blob unknown to registry")
        : FakeHttp.errorBody(404, "NAME_UNKNOWN", "repository name not known to registry")
    )
    return Effect.gen(function*() {
      expect((yield* failureOf(read()))._tag).toBe("BlobUnknown")
      expect((yield* failureOf(read()))._tag).toBe("BlobUnknown")
      expect((yield* failureOf(read()))._tag).toBe("NameUnknown")
      expect(t.requests).toHaveLength(3)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("follows a redirect to storage without sending the registry's Authorization there", () => {
    const challenge = `Bearer realm="https://auth.example/token",service="${registry}"`
    const t = setup((request) => {
      if (request.url.host === "auth.example") return FakeHttp.json(200, { token: "tok" })
      if (request.url.host === "storage.example") return new Response(body(blob), { status: 200 })
      if (request.headers["authorization"] !== "Bearer tok") {
        return FakeHttp.errorBody(401, "UNAUTHORIZED", "", { "www-authenticate": challenge })
      }
      return new Response(null, { status: 307, headers: { location: "https://storage.example/blob?sig=s3cr3t" } })
    })
    return Effect.gen(function*() {
      expect(yield* read()).toEqual(blob)
      const storage = t.requests.filter((r) => r.url.host === "storage.example")
      expect(storage).toHaveLength(1)
      expect(storage[0]!.headers["authorization"]).toBeUndefined()
      expect(storage[0]!.url.searchParams.get("sig")).toBe("s3cr3t")
    }).pipe(Effect.provide(t.layer))
  })
})

describe("getBlobRange", () => {
  it.effect.each([
    [{ offset: 10, length: 20 }, "bytes=10-29"],
    [{ offset: 0, length: 1 }, "bytes=0-0"],
    [{ offset: 9990 }, "bytes=9990-"],
    [{ offset: 9000, length: 1000 }, "bytes=9000-9999"]
  ] as const)("%o sends Range: %s and yields exactly those bytes", ([range, header]) => {
    const server = blobServer(blob)
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, range)))
      const end = "length" in range ? range.offset + range.length : blob.byteLength
      expect(bytes).toEqual(blob.slice(range.offset, end))
      expect(t.lines()).toEqual([`GET ${blobPath()}`])
      expect(t.requests[0]!.headers["range"]).toBe(header)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a range reaching past the blob's end yields the bytes up to the end", () => {
    const server = blobServer(blob)
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 9000, length: 5000 })))
      expect(bytes).toEqual(blob.slice(9000))
      expect(t.requests.map((r) => r.headers["range"])).toEqual(["bytes=9000-13999"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a range starting beyond the blob is refused (416)", () => {
    const server = blobServer(blob)
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const error = yield* failureOf(
        withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 20_000, length: 10 })))
      )
      expect(error).toMatchObject({ _tag: "UnexpectedStatus", status: 416 })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an empty range makes no request", () => {
    const t = setup(blobServer(blob).handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 10, length: 0 })))
      expect(bytes.byteLength).toBe(0)
      expect(t.requests).toHaveLength(0)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a registry that ignores Range (200, whole blob): the wanted bytes are cut out", () => {
    const server = blobServer(blob, () => ({ ignoreRange: true }), { chunkSize: 333 })
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 1234, length: 4321 })))
      expect(bytes).toEqual(blob.slice(1234, 1234 + 4321))
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a small range (read whole) whose body breaks goes on from the first byte not received, every time", () => {
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 4000 } : i === 1 ? { cutAt: 3000 } : {}), {
      chunkSize: 1000
    })
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 0, length: 10_000 })))
      expect(bytes).toEqual(blob)
      expect(t.requests.map((r) => r.headers["range"])).toEqual(["bytes=0-9999", "bytes=4000-9999", "bytes=7000-9999"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a small range from the start, from a registry that ignores Range: only the bytes asked for", () => {
    const server = blobServer(blob, () => ({ ignoreRange: true }), { chunkSize: 333 })
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 0, length: 5000 })))
      expect(bytes).toEqual(blob.slice(0, 5000))
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a Content-Range that starts later than asked is InvalidResponse", () => {
    const server = blobServer(blob, () => ({ startAt: 20 }))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const error = yield* failureOf(
        withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 10, length: 5 })))
      )
      expect(error._tag).toBe("InvalidResponse")
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 206 whose Content-Range is missing or malformed is InvalidResponse", () => {
    const t = setup((_, i) =>
      new Response(blob.slice(10, 15), {
        status: 206,
        headers: i === 0 ? {} : { "content-range": "10-14/10000" }
      })
    )
    return Effect.gen(function*() {
      const get = withRepo((r) => collectBytes(r.getBlobRange(ref(""), digest, { offset: 10, length: 5 })))
      expect((yield* failureOf(get))._tag).toBe("InvalidResponse")
      expect((yield* failureOf(get))._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(t.layer))
  })
})
