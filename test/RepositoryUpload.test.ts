import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as Repository from "../src/Repository.js"
import * as FakeHttp from "./support/FakeHttp.js"
import { base, randomBytes, ref, repository, setup, type SetupOptions, withRepo } from "./support/RepositoryFixture.js"
import { concat } from "../src/internal/body.js"

// ---------------------------------------------------------------------------------------------
// a simulated upload server
// ---------------------------------------------------------------------------------------------

interface Upload {
  readonly parts: Array<Uint8Array>
  size: number
  state: number
}

/** What a fault does to one request: take some of its body first, then answer. */
interface Fault {
  readonly accept?: number
  readonly answer: FakeHttp.Answer | Effect.Effect<FakeHttp.Answer>
}

interface ServerOptions {
  /** Sent as `OCI-Chunk-Min-Length` when a session opens. */
  readonly minChunk?: number
  /** Distribution 2.8: `Content-Range` is ignored and bytes are appended (default: 416 on a wrong start). */
  readonly ignoreContentRange?: boolean
  /**
   * Whether PATCH and PUT must carry the latest `_state` of the session (default true; distribution
   * 2.8 answers a stale one with 404 BLOB_UPLOAD_INVALID). A GET always answers with the latest.
   */
  readonly checkState?: boolean
  /** Blobs the repository already has. */
  readonly existing?: ReadonlyArray<Uint8Array>
  /** Refuse PATCH bodies larger than this with 416 (GHCR's 4 MiB cap, scaled down). */
  readonly maxChunk?: number
  /** The `Docker-Content-Digest` the commit answers with (default: the digest of the bytes). */
  readonly commitDigest?: string
  /** Per request: a fault, or undefined to behave. */
  readonly fault?: (request: FakeHttp.Recorded, index: number) => Fault | undefined
}

const concatAll = (parts: ReadonlyArray<Uint8Array>) => concat(parts)

const rangeOf = (size: number) => `0-${size > 0 ? size - 1 : 0}`

const uploadServer = (options: ServerOptions = {}) => {
  const blobs = new Map<string, Uint8Array>((options.existing ?? []).map((b) => [Digest.compute(b), b]))
  const uploads = new Map<string, Upload>()
  const cancelled: Array<string> = []
  let ids = 0
  const sessionPath = `/v2/${repository}/blobs/uploads/`
  const location = (id: string, upload: Upload) => `${base}${sessionPath}${id}?_state=${upload.state}`
  const sessionHeaders = (id: string, upload: Upload) => ({
    location: location(id, upload),
    range: rangeOf(upload.size),
    "docker-upload-uuid": id
  })
  const append = (upload: Upload, bytes: Uint8Array) => {
    upload.parts.push(bytes)
    upload.size += bytes.byteLength
    upload.state++
  }

  const handler: FakeHttp.Handler = (request, index) => {
    const path = request.url.pathname
    const id = path.startsWith(sessionPath) ? path.slice(sessionPath.length) : undefined
    const upload = id === undefined || id === "" ? undefined : uploads.get(id)
    const fault = options.fault?.(request, index)
    if (fault !== undefined) {
      if (fault.accept !== undefined && upload !== undefined && request.body !== undefined) {
        append(upload, request.body.slice(0, fault.accept))
      }
      return fault.answer
    }
    if (path === "/v2/") return new Response(null, { status: 200 })
    if (path.startsWith(`/v2/${repository}/blobs/sha256:`)) {
      const blob = blobs.get(path.slice(`/v2/${repository}/blobs/`.length))
      if (request.method === "HEAD") {
        return blob === undefined
          ? new Response(null, { status: 404 })
          : new Response(null, { status: 200, headers: { "content-length": String(blob.byteLength) } })
      }
    }
    if (request.method === "POST" && id === "") {
      const upload: Upload = { parts: [], size: 0, state: 0 }
      const newId = `u${++ids}`
      uploads.set(newId, upload)
      return new Response(null, {
        status: 202,
        headers: {
          ...sessionHeaders(newId, upload),
          ...(options.minChunk === undefined ? {} : { "oci-chunk-min-length": String(options.minChunk) })
        }
      })
    }
    if (id !== undefined && request.method === "DELETE") {
      cancelled.push(id)
      return uploads.delete(id)
        ? new Response(null, { status: 204 })
        : FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
    }
    if (upload === undefined) return FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
    const stale = request.url.searchParams.get("_state") !== String(upload.state)
    if (stale && options.checkState !== false && request.method !== "GET") {
      return FakeHttp.errorBody(404, "BLOB_UPLOAD_INVALID", "stale upload state")
    }
    const body = request.body ?? new Uint8Array()
    switch (request.method) {
      case "GET":
        return new Response(null, { status: 204, headers: sessionHeaders(id!, upload) })
      case "PATCH": {
        const range = /^(\d+)-(\d+)$/.exec(request.headers["content-range"] ?? "")
        if (!options.ignoreContentRange && range !== null && Number(range[1]) !== upload.size) {
          return FakeHttp.errorBody(416, "BLOB_UPLOAD_INVALID", "wrong offset", sessionHeaders(id!, upload))
        }
        if (options.maxChunk !== undefined && body.byteLength > options.maxChunk) {
          return FakeHttp.errorBody(416, "BLOB_UPLOAD_INVALID", "chunk too large", sessionHeaders(id!, upload))
        }
        append(upload, body)
        return new Response(null, { status: 202, headers: sessionHeaders(id!, upload) })
      }
      case "PUT": {
        append(upload, body)
        const bytes = concatAll(upload.parts)
        const digest = request.url.searchParams.get("digest")
        if (digest !== Digest.compute(bytes)) return FakeHttp.errorBody(400, "DIGEST_INVALID", "digest did not match")
        uploads.delete(id!)
        blobs.set(digest, bytes)
        return new Response(null, {
          status: 201,
          headers: {
            location: `${base}/v2/${repository}/blobs/${digest}`,
            "docker-content-digest": options.commitDigest ?? digest
          }
        })
      }
    }
    return FakeHttp.errorBody(405, "UNSUPPORTED", "")
  }
  return { handler, blobs, uploads, cancelled }
}

/** The fake stack around an upload server. */
const world = (server: ServerOptions = {}, stack: SetupOptions = {}) => {
  const s = uploadServer(server)
  const t = setup(s.handler, stack)
  /** The requests sent, without Auth's `/v2/` ping. */
  const sent = () => t.requests.filter((r) => r.url.pathname !== "/v2/")
  const summary = () =>
    sent().map((r) => `${r.method} ${r.url.pathname.replace(`/v2/${repository}/`, "")}`)
  const patches = () => sent().filter((r) => r.method === "PATCH")
  return { ...s, ...t, sent, summary, patches }
}

const target = ref("")
const sessionUrl = (id: string) => `${base}/v2/${repository}/blobs/uploads/${id}`

/** A re-runnable stream of `bytes` in pieces of the given sizes (repeating the last). */
const pieces = (bytes: Uint8Array, sizes: ReadonlyArray<number>) =>
  Stream.suspend(() => {
    const out: Array<Uint8Array> = []
    let offset = 0
    for (let i = 0; offset < bytes.byteLength; i++) {
      const size = sizes[Math.min(i, sizes.length - 1)]!
      out.push(bytes.subarray(offset, offset + size))
      offset += size
    }
    return Stream.fromIterable(out)
  })

/** `bytes` as a Reopenable body (in pieces of the given sizes), recording the offsets it is opened at. */
const reopenablePieces = (bytes: Uint8Array, sizes: ReadonlyArray<number>) => {
  const opens: Array<number> = []
  const body = Repository.reopenable((offset) => {
    opens.push(offset)
    return pieces(bytes.subarray(offset), sizes)
  }, { size: bytes.byteLength })
  return { body, opens }
}

const put = (
  body: Repository.UploadBody,
  options?: Repository.PutBlobOptions
) => withRepo((repo) => repo.putBlob(target, body, options))

// ---------------------------------------------------------------------------------------------
// monolithic
// ---------------------------------------------------------------------------------------------

describe("monolithic", () => {
  it.effect("HEAD, POST, then one PUT ?digest= with the blob, to the session's Location", () => {
    const w = world()
    const blob = randomBytes(100)
    const digest = Digest.compute(blob)
    return Effect.gen(function*() {
      const descriptor = yield* put(blob, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" })
      expect(descriptor).toEqual({ digest, size: 100, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" })
      expect(w.summary()).toEqual([`HEAD blobs/${digest}`, "POST blobs/uploads/", "PUT blobs/uploads/u1"])
      const commit = w.sent()[2]!
      expect(commit.url.searchParams.get("_state")).toBe("0")
      expect(commit.url.searchParams.get("digest")).toBe(digest)
      expect(commit.headers["content-length"]).toBe("100")
      expect(commit.headers["content-type"]).toBe("application/octet-stream")
      expect(commit.body).toEqual(blob)
      expect(w.blobs.get(digest)).toEqual(blob)
      // the BlobCache now knows it: a second push sends nothing
      yield* put(blob)
      expect(w.sent()).toHaveLength(3)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a blob the registry has is not sent again", () => {
    const blob = randomBytes(10)
    const w = world({ existing: [blob] })
    return Effect.gen(function*() {
      const descriptor = yield* put(blob)
      expect(descriptor.size).toBe(10)
      expect(w.summary()).toEqual([`HEAD blobs/${Digest.compute(blob)}`])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("skipExisting: false uploads without asking", () => {
    const blob = randomBytes(10)
    const w = world({ existing: [blob] })
    return Effect.gen(function*() {
      yield* put(blob, { skipExisting: false })
      expect(w.summary()).toEqual(["POST blobs/uploads/", "PUT blobs/uploads/u1"])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a stream with digest and size is streamed in the PUT with Content-Length", () => {
    const w = world()
    const blob = randomBytes(64)
    const digest = Digest.compute(blob)
    return Effect.gen(function*() {
      yield* put(pieces(blob, [10]), { digest, size: 64, strategy: "monolithic" })
      const commit = w.sent().at(-1)!
      expect(commit.method).toBe("PUT")
      expect(commit.headers["content-length"]).toBe("64")
      expect(commit.body).toEqual(blob)
      expect(w.blobs.has(digest)).toBe(true)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a reopenable body of unknown digest is read once to learn it, then opened again to send", () => {
    const w = world()
    const blob = randomBytes(50)
    const { body, opens } = reopenablePieces(blob, [7])
    return Effect.gen(function*() {
      const descriptor = yield* put(body, { strategy: "monolithic" })
      expect(opens).toEqual([0, 0])
      expect(descriptor.digest).toBe(Digest.compute(blob))
      expect(w.summary()).toEqual([`HEAD blobs/${descriptor.digest}`, "POST blobs/uploads/", "PUT blobs/uploads/u1"])
      expect(w.sent().at(-1)!.body).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a reopenable body of known digest is read once, checked on the way: a wrong one never completes the PUT", () => {
    const w = world()
    const blob = randomBytes(50)
    const { body, opens } = reopenablePieces(blob, [7])
    return Effect.gen(function*() {
      const error = yield* Effect.flip(
        put(body, { strategy: "monolithic", digest: Digest.compute("not these bytes"), size: 50, skipExisting: false })
      )
      // ours, typed: not the registry's DIGEST_INVALID to a complete PUT
      expect(error).toMatchObject({ _tag: "DigestMismatch", actual: Digest.compute(blob) })
      expect(opens).toEqual([0])
      expect(w.blobs.size).toBe(0)
      expect(w.cancelled).toEqual(["u1"])
      // the right digest: one reading, one PUT
      const good = reopenablePieces(blob, [7])
      const descriptor = yield* put(good.body, { strategy: "monolithic", digest: Digest.compute(blob), size: 50 })
      expect(descriptor.digest).toBe(Digest.compute(blob))
      expect(good.opens).toEqual([0])
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a one-shot stream of unknown digest is read once, into memory, and sent from there", () => {
    const w = world()
    const blob = randomBytes(50)
    let runs = 0
    const body = Stream.suspend(() => {
      runs++
      return pieces(blob, [7])
    })
    return Effect.gen(function*() {
      const descriptor = yield* put(body, { strategy: "monolithic" })
      expect(runs).toBe(1)
      expect(descriptor.digest).toBe(Digest.compute(blob))
      expect(w.sent().at(-1)!.body).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("auto: a small stream of known size is read into memory and sent in one PUT", () => {
    const w = world()
    const blob = randomBytes(30)
    return Effect.gen(function*() {
      yield* put(pieces(blob, [4]), { size: 30 })
      expect(w.summary()).toEqual([
        `HEAD blobs/${Digest.compute(blob)}`,
        "POST blobs/uploads/",
        "PUT blobs/uploads/u1"
      ])
      expect(w.sent()[2]!.body).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a wrong size or digest is refused before anything is sent", () => {
    const w = world()
    const blob = randomBytes(30)
    return Effect.gen(function*() {
      const size = yield* Effect.flip(put(pieces(blob, [4]), { size: 29 }))
      expect(size).toMatchObject({ _tag: "SizeMismatch", expected: 29 })
      const digest = yield* Effect.flip(put(blob, { digest: Digest.compute("other") }))
      expect(digest).toMatchObject({ _tag: "DigestMismatch", actual: Digest.compute(blob) })
      expect(w.sent()).toEqual([])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("Docker-Content-Digest differing from ours is a DigestMismatch", () => {
    const other = Digest.compute("something else")
    const w = world({ commitDigest: other })
    const blob = randomBytes(20)
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(blob))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: Digest.compute(blob), actual: other })
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("the registry refusing the commit fails typed and cancels the session", () => {
    const w = world({
      fault: (r) => r.method === "PUT" ? { answer: FakeHttp.errorBody(400, "DIGEST_INVALID", "no") } : undefined
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(randomBytes(20)))
      expect(error._tag).toBe("DigestInvalid")
      expect(w.summary().slice(-1)).toEqual(["DELETE blobs/uploads/u1"])
      expect(w.cancelled).toEqual(["u1"])
    }).pipe(Effect.provide(w.layer))
  })
})

// ---------------------------------------------------------------------------------------------
// chunked
// ---------------------------------------------------------------------------------------------

const ranges = (requests: ReadonlyArray<FakeHttp.Recorded>) => requests.map((r) => r.headers["content-range"])

describe("chunked", () => {
  it.effect("PATCHes with Content-Range from the true offset, each to the latest Location, then PUT", () => {
    const w = world()
    const blob = randomBytes(10)
    const digest = Digest.compute(blob)
    return Effect.gen(function*() {
      yield* put(blob, { strategy: "chunked", chunkSize: 4 })
      expect(w.summary()).toEqual([
        `HEAD blobs/${digest}`,
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "PUT blobs/uploads/u1"
      ])
      const patches = w.patches()
      expect(ranges(patches)).toEqual(["0-3", "4-7", "8-9"])
      expect(patches.map((p) => p.headers["content-length"])).toEqual(["4", "4", "2"])
      expect(patches.map((p) => p.headers["content-type"])).toEqual(Array(3).fill("application/octet-stream"))
      expect(patches.map((p) => p.url.searchParams.get("_state"))).toEqual(["0", "1", "2"])
      expect(concatAll(patches.map((p) => p.body!))).toEqual(blob)
      const commit = w.sent().at(-1)!
      expect(commit.url.searchParams.get("_state")).toBe("3")
      expect(commit.url.searchParams.get("digest")).toBe(digest)
      expect(commit.body).toBeUndefined()
      expect(w.blobs.get(digest)).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("chunks are cut from the stream whatever its piece sizes", () => {
    const w = world()
    const blob = randomBytes(23)
    return Effect.gen(function*() {
      const descriptor = yield* put(pieces(blob, [3, 1, 7, 2]), { chunkSize: 5 })
      expect(ranges(w.patches())).toEqual(["0-4", "5-9", "10-14", "15-19", "20-22"])
      expect(descriptor).toMatchObject({ digest: Digest.compute(blob), size: 23 })
      // size and digest unknown: no HEAD first
      expect(w.summary()[0]).toBe("POST blobs/uploads/")
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("OCI-Chunk-Min-Length raises the chunk size (the last chunk may be shorter)", () => {
    const w = world({ minChunk: 6 })
    return Effect.gen(function*() {
      yield* put(randomBytes(15), { strategy: "chunked", chunkSize: 4 })
      expect(ranges(w.patches())).toEqual(["0-5", "6-11", "12-14"])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("auto: a one-shot stream of known size at or above the threshold goes in chunks of 4 MiB", () => {
    const w = world()
    const blob = randomBytes(8 * 1024 * 1024 + 1)
    return Effect.gen(function*() {
      yield* put(pieces(blob, [1024 * 1024]), { size: blob.byteLength })
      expect(ranges(w.patches())).toEqual(["0-4194303", "4194304-8388607", "8388608-8388608"])
      expect(w.blobs.get(Digest.compute(blob))?.byteLength).toBe(blob.byteLength)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("auto: a body that can be read again, at or above the threshold, goes in one streamed PATCH", () => {
    const w = world()
    const blob = randomBytes(8 * 1024 * 1024 + 1)
    const { body } = reopenablePieces(blob, [1024 * 1024])
    return Effect.gen(function*() {
      yield* put(body, { size: blob.byteLength })
      yield* put(blob, { skipExisting: false })
      expect(w.summary()).toEqual([
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u1",
        "PUT blobs/uploads/u1",
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u2",
        "PUT blobs/uploads/u2"
      ])
      expect(ranges(w.patches())).toEqual([undefined, undefined])
      expect(w.blobs.get(Digest.compute(blob))?.byteLength).toBe(blob.byteLength)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("an empty blob is one PUT after the POST", () => {
    const w = world()
    return Effect.gen(function*() {
      const descriptor = yield* put(Stream.empty)
      expect(descriptor).toMatchObject({ digest: Digest.compute(new Uint8Array()), size: 0 })
      expect(w.summary()).toEqual(["POST blobs/uploads/", "PUT blobs/uploads/u1"])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a stream longer than its declared size fails as soon as it is, and the session is cancelled", () => {
    const w = world()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(pieces(randomBytes(40), [8]), { size: 20, strategy: "chunked", chunkSize: 8 }))
      expect(error).toMatchObject({ _tag: "SizeMismatch", expected: 20 })
      expect(w.cancelled).toEqual(["u1"])
      expect(w.patches().length).toBeLessThanOrEqual(3)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("the body's own failure comes out typed, and the session is cancelled", () => {
    const w = world()
    const body = Stream.concat(Stream.make(randomBytes(8)), Stream.fail({ _tag: "DiskError" as const }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.putBlob(target, body, { chunkSize: 4 })))
      expect(error).toEqual({ _tag: "DiskError" })
      expect(w.cancelled).toEqual(["u1"])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a digest given but not matching the bytes fails before the commit, and cancels", () => {
    const w = world()
    const blob = randomBytes(12)
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(pieces(blob, [5]), { digest: Digest.compute("x"), chunkSize: 6 }))
      expect(error).toMatchObject({ _tag: "DigestMismatch", actual: Digest.compute(blob) })
      expect(w.summary().filter((l) => l.startsWith("PUT"))).toEqual([])
      expect(w.cancelled).toEqual(["u1"])
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("onProgress sees the session after every chunk", () => {
    const w = world()
    const seen: Array<number> = []
    return Effect.gen(function*() {
      yield* put(randomBytes(10), {
        strategy: "chunked",
        chunkSize: 4,
        onProgress: (session) => Effect.sync(() => seen.push(session.offset))
      })
      expect(seen).toEqual([4, 8, 10])
    }).pipe(Effect.provide(w.layer))
  })
})

// ---------------------------------------------------------------------------------------------
// resume and cancel
// ---------------------------------------------------------------------------------------------

describe("resume", () => {
  it.effect("a chunk that broke off part-way: GET the session, continue from its Range", () => {
    let failed = false
    const w = world({
      fault: (r) => {
        if (r.method === "PATCH" && r.headers["content-range"] === "4-7" && !failed) {
          failed = true
          return { accept: 2, answer: "network-error" }
        }
        return undefined
      }
    })
    const blob = randomBytes(12)
    return Effect.gen(function*() {
      yield* put(blob, { strategy: "chunked", chunkSize: 4 })
      expect(w.summary().slice(1)).toEqual([
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "GET blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "PUT blobs/uploads/u1"
      ])
      // from the registry's 6, not from 4 and not from 0; the next chunk is full size again
      expect(ranges(w.patches())).toEqual(["0-3", "4-7", "6-9", "10-11"])
      // … and to the Location the GET answered with
      expect(w.patches()[2]!.url.searchParams.get("_state")).toBe("2")
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a chunk refused outright (500) is sent again from the same offset", () => {
    let failures = 0
    const w = world({
      fault: (r) =>
        r.method === "PATCH" && r.headers["content-range"] === "4-7" && failures++ < 2
          ? { answer: FakeHttp.errorBody(500, "UNKNOWN", "boom") }
          : undefined
    })
    return Effect.gen(function*() {
      yield* put(randomBytes(8), { strategy: "chunked", chunkSize: 4 })
      expect(ranges(w.patches())).toEqual(["0-3", "4-7", "4-7", "4-7"])
      expect(w.summary().filter((l) => l.startsWith("GET"))).toHaveLength(2)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("the registry lost acknowledged bytes: the body is run again and sent from its offset", () => {
    let lost = false
    let runs = 0
    const blob = randomBytes(12)
    const server = uploadServer({
      fault: (r) => {
        if (r.method === "PATCH" && r.headers["content-range"] === "8-11" && !lost) {
          lost = true
          // the registry rolls back to 2 bytes and refuses the chunk
          const upload = server.uploads.get("u1")!
          const kept = concatAll(upload.parts).slice(0, 2)
          upload.parts.splice(0, upload.parts.length, kept)
          upload.size = 2
          upload.state++
          return { answer: FakeHttp.errorBody(500, "UNKNOWN", "storage hiccup") }
        }
        return undefined
      }
    })
    const t = setup(server.handler)
    const body = Repository.reopenable((offset) => {
      runs++
      return pieces(blob.subarray(offset), [5])
    })
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putBlob(target, body, { strategy: "chunked", chunkSize: 4 }))
      expect(runs).toBe(2)
      const patches = t.requests.filter((r) => r.method === "PATCH")
      expect(ranges(patches)).toEqual(["0-3", "4-7", "8-11", "2-5", "6-9", "10-11"])
      expect(server.blobs.get(Digest.compute(blob))).toEqual(blob)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a one-shot stream that must be read again fails with BodyNotReplayable, and the session is cancelled", () => {
    let runs = 0
    const blob = randomBytes(12)
    const server = uploadServer({
      fault: (r) => {
        if (r.method === "PATCH" && r.headers["content-range"] === "8-11") {
          // the registry rolls back to 2 bytes: bytes already read would be needed again
          const upload = server.uploads.get("u1")!
          upload.parts.splice(0, upload.parts.length, concatAll(upload.parts).slice(0, 2))
          upload.size = 2
          upload.state++
          return { answer: FakeHttp.errorBody(500, "UNKNOWN", "storage hiccup") }
        }
        return undefined
      }
    })
    const t = setup(server.handler)
    const body = Stream.suspend(() => {
      runs++
      return pieces(blob, [5])
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.putBlob(target, body, { chunkSize: 4 })))
      expect(error._tag).toBe("BodyNotReplayable")
      expect(error.message).toContain("Repository.reopenable")
      expect(runs).toBe(1)
      expect(server.cancelled).toEqual(["u1"])
      expect(server.uploads.size).toBe(0)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 416 with nothing taken halves the chunk (a registry's size cap)", () => {
    const w = world({ maxChunk: 4 })
    const blob = randomBytes(16)
    return Effect.gen(function*() {
      yield* put(blob, { strategy: "chunked", chunkSize: 16 })
      expect(ranges(w.patches())).toEqual(["0-15", "0-7", "0-3", "4-7", "8-11", "12-15"])
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("when resumes run out the original error is returned and the session cancelled", () => {
    const w = world(
      { fault: (r) => (r.method === "PATCH" ? { answer: FakeHttp.errorBody(503, "UNAVAILABLE", "down") } : undefined) },
      { resume: Schedule.recurs(2) }
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(randomBytes(8), { strategy: "chunked", chunkSize: 4 }))
      expect(error._tag).toBe("Unavailable")
      expect(w.patches()).toHaveLength(3)
      expect(w.summary().at(-1)).toBe("DELETE blobs/uploads/u1")
    }).pipe(Effect.provide(w.layer))
  })

  it.effect.each<[string, boolean]>([
    ["a registry that checks Content-Range", false],
    ["distribution 2.8, which ignores Content-Range", true]
  ])("a chunk cut half-way is not resent by the transport; the upload continues from the registry's offset (%s)", ([, ignoreContentRange]) => {
    let cut = false
    const w = world(
      {
        ignoreContentRange,
        fault: (r) => {
          if (r.method === "PATCH" && r.headers["content-range"] === "4-7" && !cut) {
            cut = true
            return { accept: 2, answer: "network-error" }
          }
          return undefined
        }
      },
      // even with transport retries allowed, a PATCH is never sent twice by the transport
      { retry: Schedule.recurs(3) }
    )
    const blob = randomBytes(12)
    return Effect.gen(function*() {
      yield* put(blob, { strategy: "chunked", chunkSize: 4 })
      // the registry kept 2 bytes of the cut chunk: the next PATCH starts at 6
      expect(ranges(w.patches())).toEqual(["0-3", "4-7", "6-9", "10-11"])
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
      expect(w.cancelled).toEqual([])
    }).pipe(Effect.provide(w.layer))
  })


  it.effect("a session the registry forgot (404) is replaced: a new session from byte 0, the old one cancelled", () => {
    let forgot = false
    const w = world({
      fault: (r) => {
        if (r.method === "PATCH" && r.headers["content-range"] === "4-7" && !forgot) {
          forgot = true
          return { answer: FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "gone") }
        }
        return undefined
      }
    })
    const blob = randomBytes(8)
    const { body, opens } = reopenablePieces(blob, [3])
    return Effect.gen(function*() {
      yield* put(body, { strategy: "chunked", chunkSize: 4 })
      expect(w.summary()).toEqual([
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "DELETE blobs/uploads/u1",
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u2",
        "PATCH blobs/uploads/u2",
        "PUT blobs/uploads/u2"
      ])
      expect(ranges(w.patches())).toEqual(["0-3", "4-7", "0-3", "4-7"])
      expect(opens).toEqual([0, 0])
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
      expect(w.uploads.size).toBe(0)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a commit whose answer was lost: a HEAD finds the blob, nothing is sent again", () => {
    let lost = false
    const server = uploadServer({})
    const t = setup((request, index) => {
      const answer = server.handler(request, index)
      if (request.method === "PUT" && !lost) {
        lost = true
        return "network-error"
      }
      return answer
    })
    const blob = randomBytes(8)
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) => repo.putBlob(target, blob, { strategy: "chunked", chunkSize: 4 }))
      expect(descriptor.digest).toBe(Digest.compute(blob))
      const lines = t.requests.filter((r) => r.url.pathname !== "/v2/").map((r) => r.method)
      expect(lines).toEqual(["HEAD", "POST", "PATCH", "PATCH", "PUT", "HEAD"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the upload budget starts over whenever the registry confirmed new bytes", () => {
    // every other PATCH is refused: with one recovery allowed in a row, the upload still ends
    let patches = 0
    const w = world(
      {
        fault: (r) =>
          r.method === "PATCH" && patches++ % 2 === 0 ? { answer: FakeHttp.errorBody(503, "UNAVAILABLE", "busy") } : undefined
      },
      { uploadResume: Schedule.recurs(1) }
    )
    const blob = randomBytes(40)
    return Effect.gen(function*() {
      yield* put(blob, { strategy: "chunked", chunkSize: 4 })
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
      expect(w.patches().length).toBeGreaterThan(12)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("…but not when nothing was gained: two refusals in a row spend a budget of one", () => {
    let n = 0
    const w = world(
      {
        fault: (r) =>
          r.method === "PATCH" && r.headers["content-range"] === "4-7" && n++ < 2
            ? { answer: FakeHttp.errorBody(503, "UNAVAILABLE", "busy") }
            : undefined
      },
      { uploadResume: Schedule.recurs(1) }
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(randomBytes(12), { strategy: "chunked", chunkSize: 4 }))
      expect(error._tag).toBe("Unavailable")
      expect(w.cancelled).toEqual(["u1"])
    }).pipe(Effect.provide(w.layer))
  })
})

describe("cancel", () => {
  it.effect("interrupting an upload in flight sends the DELETE", () =>
    Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const w = world({
        fault: (r) =>
          r.method === "PATCH" && r.headers["content-range"] === "4-7"
            ? { answer: Effect.zipRight(Deferred.succeed(arrived, undefined), Effect.never) }
            : undefined
      })
      const fiber = yield* put(randomBytes(12), { strategy: "chunked", chunkSize: 4 }).pipe(
        Effect.provide(w.layer),
        Effect.fork
      )
      yield* Deferred.await(arrived)
      yield* Fiber.interrupt(fiber)
      const del = w.sent().at(-1)!
      expect(del.method).toBe("DELETE")
      // the latest Location: the one the first chunk's answer gave
      expect(`${del.url.origin}${del.url.pathname}`).toBe(sessionUrl("u1"))
      expect(del.url.searchParams.get("_state")).toBe("1")
      expect(w.cancelled).toEqual(["u1"])
    }))

  it.effect("a DELETE that fails does not hide the upload's own error", () => {
    const w = world({
      fault: (r) =>
        r.method === "DELETE"
          ? { answer: FakeHttp.errorBody(403, "DENIED", "no") }
          : r.method === "PUT"
          ? { answer: FakeHttp.errorBody(400, "DIGEST_INVALID", "no") }
          : undefined
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(put(randomBytes(8)))
      expect(error._tag).toBe("DigestInvalid")
      expect(w.summary().at(-1)).toBe("DELETE blobs/uploads/u1")
    }).pipe(Effect.provide(w.layer))
  })
})

// ---------------------------------------------------------------------------------------------
// streamed
// ---------------------------------------------------------------------------------------------

describe("streamed", () => {
  it.effect("one PATCH without Content-Range or Content-Length, digest computed on the way", () => {
    const w = world()
    const blob = randomBytes(33)
    const digest = Digest.compute(blob)
    return Effect.gen(function*() {
      const descriptor = yield* put(pieces(blob, [10]), { strategy: "streamed" })
      expect(descriptor).toMatchObject({ digest, size: 33 })
      expect(w.summary()).toEqual(["POST blobs/uploads/", "PATCH blobs/uploads/u1", "PUT blobs/uploads/u1"])
      const [patch] = w.patches()
      expect(patch!.headers["content-range"]).toBeUndefined()
      expect(patch!.headers["content-length"]).toBeUndefined()
      expect(patch!.headers["content-type"]).toBe("application/octet-stream")
      expect(patch!.body).toEqual(blob)
      expect(w.sent().at(-1)!.url.searchParams.get("digest")).toBe(digest)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("without the digest, going on after a broken streamed PATCH re-reads from the last MiB checkpoint, not from 0", () => {
    const MiB = 1024 * 1024
    let cut = false
    const w = world({
      fault: (r) => {
        if (r.method === "PATCH" && !cut) {
          cut = true
          return { accept: 2.5 * MiB, answer: "network-error" }
        }
        return undefined
      }
    })
    const blob = randomBytes(3 * MiB + 1000)
    const { body, opens } = reopenablePieces(blob, [100_000])
    return Effect.gen(function*() {
      const descriptor = yield* put(body, { strategy: "streamed" })
      expect(descriptor.digest).toBe(Digest.compute(blob))
      // opened at 0 for the PATCH, then at the checkpoint before the registry's 2.5 MiB
      expect(opens).toEqual([0, 2 * MiB])
      expect(ranges(w.patches())).toEqual([undefined, `${2.5 * MiB}-${blob.byteLength - 1}`])
      // (digests, not a deep comparison of megabytes)
      expect(Digest.compute(w.blobs.get(Digest.compute(blob))!)).toBe(Digest.compute(blob))
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a streamed PATCH that failed part-way goes on in chunks from the registry's offset", () => {
    let cut = false
    const w = world({
      fault: (r) => {
        if (r.method === "PATCH" && !cut) {
          cut = true
          return { accept: 20, answer: "network-error" }
        }
        return undefined
      }
    })
    const blob = randomBytes(30)
    const { body } = reopenablePieces(blob, [10])
    return Effect.gen(function*() {
      yield* put(body, { strategy: "streamed", chunkSize: 8 })
      expect(w.summary()).toEqual([
        "POST blobs/uploads/",
        "PATCH blobs/uploads/u1",
        "GET blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "PATCH blobs/uploads/u1",
        "PUT blobs/uploads/u1"
      ])
      expect(ranges(w.patches())).toEqual([undefined, "20-27", "28-29"])
      expect(w.blobs.get(Digest.compute(blob))).toEqual(blob)
    }).pipe(Effect.provide(w.layer))
  })
})
