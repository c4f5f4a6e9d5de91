import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as Repository from "../src/Repository.js"
import * as FakeHttp from "./support/FakeHttp.js"
import { base, randomBytes, ref, repository, setup, withRepo } from "./support/RepositoryFixture.js"

/** One expected request and its answer. */
interface Step {
  readonly method: string
  /** Path, or path and query (`?…`) when the query matters. */
  readonly path: string
  readonly answer: (request: FakeHttp.Recorded) => Response
}

/**
 * A registry that expects exactly `steps`, in order (Auth's `/v2/` ping aside), and answers
 * anything else with a 500 naming it.
 */
const script = (steps: ReadonlyArray<Step>) => {
  let next = 0
  const handler: FakeHttp.Handler = (request) => {
    if (request.url.pathname === "/v2/") return new Response(null, { status: 200 })
    const step = steps[next]
    const seen = `${request.method} ${request.url.pathname}`
    const wanted = step === undefined ? undefined : `${step.method} ${step.path}`
    const withQuery = `${seen}${request.url.search}`
    if (wanted === undefined || (wanted !== seen && wanted !== withQuery)) {
      return FakeHttp.errorBody(500, "UNKNOWN", `unexpected ${withQuery} (wanted ${wanted ?? "nothing"})`)
    }
    next++
    return step!.answer(request)
  }
  const t = setup(handler)
  const sent = () => t.requests.filter((r) => r.url.pathname !== "/v2/")
  return { ...t, sent, done: () => next === steps.length }
}

const empty = (status: number, headers: Record<string, string> = {}) => () => new Response(null, { status, headers })

const target = ref("")
const uploads = `/v2/${repository}/blobs/uploads/`

describe("sessions a caller keeps", () => {
  it.effect("startUpload: the session with an absolute URL, UUID and OCI-Chunk-Min-Length; it round-trips as JSON", () => {
    const s = script([{
      method: "POST",
      path: uploads,
      answer: empty(202, {
        location: `${uploads}abc?_state=s0`,
        "docker-upload-uuid": "abc",
        range: "0-0",
        "oci-chunk-min-length": "1024"
      })
    }])
    return Effect.gen(function*() {
      const session = yield* withRepo((repo) => repo.startUpload(target))
      expect(session).toMatchObject({
        url: `${base}${uploads}abc?_state=s0`,
        offset: 0,
        uuid: "abc",
        chunkMinLength: 1024
      })
      const stored = JSON.stringify(Schema.encodeSync(Repository.UploadSession)(session))
      const again = Schema.decodeUnknownSync(Repository.UploadSession)(JSON.parse(stored))
      expect(again).toEqual(session)
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("uploadStatus: GET → Range and the latest Location", () => {
    const s = script([{
      method: "GET",
      path: `${uploads}abc`,
      answer: empty(204, { range: "0-9", location: `${uploads}abc?_state=s1` })
    }])
    const session = new Repository.UploadSession({ url: `${base}${uploads}abc?_state=s0`, offset: 0 })
    return Effect.gen(function*() {
      const now = yield* withRepo((repo) => repo.uploadStatus(target, session))
      expect(now).toMatchObject({ url: `${base}${uploads}abc?_state=s1`, offset: 10 })
      expect(s.sent()[0]!.url.searchParams.get("_state")).toBe("s0")
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("uploadStatus without a Range is an InvalidResponse", () => {
    const s = script([{ method: "GET", path: `${uploads}abc`, answer: empty(204) }])
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) =>
        repo.uploadStatus(target, new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 0 }))
      ))
      expect(error._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("resumeUpload after a restart: asks where the session stands and sends only the rest", () => {
    const blob = randomBytes(12)
    const digest = Digest.compute(blob)
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-4", location: `${uploads}abc?_state=5` }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-8", location: `${uploads}abc?_state=9` }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-11", location: `${uploads}abc?_state=12` }) },
      {
        method: "PUT",
        path: `${uploads}abc?_state=12&digest=${encodeURIComponent(digest)}`,
        answer: empty(201, { "docker-content-digest": digest })
      }
    ])
    // what a previous process stored: it believed 4 bytes were sent, the registry holds 5
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc?_state=4`, offset: 4 })
    const seen: Array<number> = []
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) =>
        repo.resumeUpload(target, stored, blob, {
          chunkSize: 4,
          onProgress: (session) => Effect.sync(() => seen.push(session.offset))
        })
      )
      expect(descriptor).toEqual({ digest, size: 12, mediaType: "application/octet-stream" })
      const patches = s.sent().filter((r) => r.method === "PATCH")
      expect(patches.map((p) => p.headers["content-range"])).toEqual(["5-8", "9-11"])
      expect(patches.map((p) => p.url.searchParams.get("_state"))).toEqual(["5", "9"])
      expect(patches[0]!.body).toEqual(blob.subarray(5, 9))
      expect(seen).toEqual([5, 9, 12])
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("resumeUpload with only the rest of the body (bodyOffset) and the digest", () => {
    const blob = randomBytes(10)
    const digest = Digest.compute(blob)
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-5" }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-9" }) },
      { method: "PUT", path: `${uploads}abc`, answer: empty(201, { "docker-content-digest": digest }) }
    ])
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 4 })
    return Effect.gen(function*() {
      yield* withRepo((repo) =>
        repo.resumeUpload(target, stored, Stream.make(blob.subarray(4)), { bodyOffset: 4, digest, size: 10 })
      )
      const [patch] = s.sent().filter((r) => r.method === "PATCH")
      expect(patch!.headers["content-range"]).toBe("6-9")
      expect(patch!.body).toEqual(blob.subarray(6))
      expect(s.sent().at(-1)!.url.searchParams.get("digest")).toBe(digest)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("resumeUpload: a registry holding less than the body's start is CannotResume; the session stays", () => {
    const s = script([{ method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-2" }) }])
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 4 })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) =>
        repo.resumeUpload(target, stored, randomBytes(6), { bodyOffset: 4, digest: Digest.compute("x") })
      ))
      expect(error).toMatchObject({ _tag: "CannotResume", offset: 3 })
      expect(s.sent().map((r) => r.method)).toEqual(["GET"])
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("resumeUpload failing leaves the session open (no DELETE)", () => {
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-0" }) },
      { method: "PATCH", path: `${uploads}abc`, answer: () => FakeHttp.errorBody(403, "DENIED", "no") }
    ])
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) =>
        repo.resumeUpload(target, new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 0 }), randomBytes(4))
      ))
      expect(error._tag).toBe("Denied")
      expect(s.sent().map((r) => r.method)).toEqual(["GET", "PATCH"])
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("cancelUpload: DELETE; a session the registry no longer knows counts as cancelled", () => {
    const s = script([
      { method: "DELETE", path: `${uploads}abc`, answer: empty(204) },
      { method: "DELETE", path: `${uploads}abc`, answer: () => FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "") }
    ])
    const session = new Repository.UploadSession({ url: `${base}${uploads}abc?_state=x`, offset: 3 })
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.cancelUpload(target, session))
      yield* withRepo((repo) => repo.cancelUpload(target, session))
      expect(s.sent()[0]!.url.searchParams.get("_state")).toBe("x")
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })
})

describe("cross-repository mount", () => {
  const blob = randomBytes(42)
  const digest = Digest.compute(blob)
  const mountQuery = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent("other/base")}`

  it.effect("201: Mounted, with the size from a HEAD on the target", () => {
    const s = script([
      {
        method: "POST",
        path: `${uploads}${mountQuery}`,
        answer: empty(201, { location: `/v2/${repository}/blobs/${digest}`, "docker-content-digest": digest })
      },
      {
        method: "HEAD",
        path: `/v2/${repository}/blobs/${digest}`,
        answer: empty(200, { "content-length": "42", "content-type": "application/octet-stream" })
      }
    ])
    return Effect.gen(function*() {
      const result = yield* withRepo((repo) => repo.mountBlob(target, digest, "other/base"))
      expect(result).toEqual({
        _tag: "Mounted",
        descriptor: { digest, size: 42, mediaType: "application/octet-stream" }
      })
      const post = s.sent()[0]!
      expect(post.url.searchParams.get("mount")).toBe(digest)
      expect(post.url.searchParams.get("from")).toBe("other/base")
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("202: the registry opened a session instead — UploadStarted", () => {
    const s = script([{
      method: "POST",
      path: `${uploads}${mountQuery}`,
      answer: empty(202, { location: `${uploads}fresh`, range: "0-0" })
    }])
    return Effect.gen(function*() {
      const result = yield* withRepo((repo) => repo.mountBlob(target, digest, "other/base"))
      expect(result).toMatchObject({ _tag: "UploadStarted", session: { url: `${base}${uploads}fresh`, offset: 0 } })
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("putBlob with mountFrom: a 201 ends the push (size known, no HEAD after)", () => {
    const s = script([
      { method: "HEAD", path: `/v2/${repository}/blobs/${digest}`, answer: empty(404) },
      { method: "POST", path: `${uploads}${mountQuery}`, answer: empty(201, { "docker-content-digest": digest }) }
    ])
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) => repo.putBlob(target, blob, { mountFrom: "other/base" }))
      expect(descriptor).toEqual({ digest, size: 42, mediaType: "application/octet-stream" })
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("putBlob with mountFrom: a 202 session is used for the upload, without a second POST", () => {
    const s = script([
      { method: "HEAD", path: `/v2/${repository}/blobs/${digest}`, answer: empty(404) },
      { method: "POST", path: `${uploads}${mountQuery}`, answer: empty(202, { location: `${uploads}m1` }) },
      {
        method: "PUT",
        path: `${uploads}m1?digest=${encodeURIComponent(digest)}`,
        answer: empty(201, { "docker-content-digest": digest })
      }
    ])
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putBlob(target, blob, { mountFrom: "other/base" }))
      expect(s.sent().at(-1)!.body).toEqual(blob)
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("the token asked for a mount carries pull on the source repository", () => {
    const tokenScopes: Array<ReadonlyArray<string>> = []
    const handler: FakeHttp.Handler = (request) => {
      if (request.url.host === "auth.example") {
        tokenScopes.push(request.url.searchParams.getAll("scope"))
        return FakeHttp.json(200, { token: "tok" })
      }
      if (request.headers["authorization"] !== "Bearer tok") {
        return FakeHttp.errorBody(401, "UNAUTHORIZED", "", {
          "www-authenticate": `Bearer realm="https://auth.example/token",service="registry.example"`
        })
      }
      return new Response(null, { status: 202, headers: { location: `${uploads}m1` } })
    }
    const t = setup(handler)
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.mountBlob(target, digest, "other/base"))
      expect(tokenScopes).toEqual([["repository:other/base:pull", `repository:${repository}:pull,push`]])
    }).pipe(Effect.provide(t.layer))
  })
})

describe("the Go client's blob write scenarios", () => {
  it.effect("chunked upload (POST, PATCH per chunk with an advancing Content-Range, PUT ?digest=)", () => {
    const blob = randomBytes(1024)
    const digest = Digest.compute(blob)
    const s = script([
      { method: "POST", path: uploads, answer: empty(202, { location: `${uploads}uuid-1`, "docker-upload-uuid": "uuid-1" }) },
      { method: "PATCH", path: `${uploads}uuid-1`, answer: empty(202, { location: `${uploads}uuid-2`, range: "0-511" }) },
      { method: "PATCH", path: `${uploads}uuid-2`, answer: empty(202, { location: `${uploads}uuid-3`, range: "0-1023" }) },
      {
        method: "PUT",
        path: `${uploads}uuid-3?digest=${encodeURIComponent(digest)}`,
        answer: empty(201, { location: `/v2/${repository}/blobs/${digest}`, "docker-content-digest": digest })
      }
    ])
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) =>
        repo.putBlob(target, blob, { strategy: "chunked", chunkSize: 512, skipExisting: false })
      )
      expect(descriptor).toMatchObject({ digest, size: 1024 })
      const patches = s.sent().filter((r) => r.method === "PATCH")
      // v2.8.3 sent 0-511 twice (its offset never advanced)
      expect(patches.map((p) => p.headers["content-range"])).toEqual(["0-511", "512-1023"])
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("one-PATCH upload (the Go client's ReadFrom: no Content-Range), then PUT ?digest=", () => {
    const blob = randomBytes(100)
    const digest = Digest.compute(blob)
    const s = script([
      { method: "POST", path: uploads, answer: empty(202, { location: `${uploads}uuid-1` }) },
      { method: "PATCH", path: `${uploads}uuid-1`, answer: empty(202, { location: `${uploads}uuid-2`, range: "0-99" }) },
      {
        method: "PUT",
        path: `${uploads}uuid-2?digest=${encodeURIComponent(digest)}`,
        answer: empty(201, { "docker-content-digest": digest })
      }
    ])
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putBlob(target, Stream.make(blob), { strategy: "streamed" }))
      expect(s.sent()[1]!.headers["content-range"]).toBeUndefined()
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("a 200 to the upload POST is not a session", () => {
    const s = script([{ method: "POST", path: uploads, answer: empty(200) }])
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.startUpload(target)))
      expect(error._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("a 202 without Location is an InvalidResponse", () => {
    const s = script([{ method: "POST", path: uploads, answer: empty(202) }])
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.startUpload(target)))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: "upload opened without a Location" })
    }).pipe(Effect.provide(s.layer))
  })
})

describe("crash resume (resumeUpload from a stored session)", () => {
  const blob = randomBytes(12)
  const digest = Digest.compute(blob)
  /** The blob as a Reopenable, recording the offsets it is opened at. */
  const reopenable = () => {
    const opens: Array<number> = []
    const body = Repository.reopenable((offset) => {
      opens.push(offset)
      return Stream.make(blob.subarray(offset))
    }, { size: blob.byteLength })
    return { body, opens }
  }

  it.effect("the registry holds fewer bytes than stored: rewinds to its offset", () => {
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-1" }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-7" }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-11" }) },
      { method: "PUT", path: `${uploads}abc`, answer: empty(201, { "docker-content-digest": digest }) }
    ])
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 8 })
    const { body, opens } = reopenable()
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.resumeUpload(target, stored, body, { chunkSize: 6, digest }))
      expect(s.sent().filter((r) => r.method === "PATCH").map((p) => p.headers["content-range"])).toEqual(["2-7", "8-11"])
      // the digest is known: the body is opened where the registry stands, not read from 0
      expect(opens).toEqual([2])
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("the session is gone: a new session from the same source, from byte 0", () => {
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: () => FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "gone") },
      { method: "DELETE", path: `${uploads}abc`, answer: () => FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "gone") },
      { method: "POST", path: uploads, answer: empty(202, { location: `${uploads}def`, range: "0-0" }) },
      { method: "PATCH", path: `${uploads}def`, answer: empty(202, { range: "0-11" }) },
      { method: "PUT", path: `${uploads}def`, answer: empty(201, { "docker-content-digest": digest }) }
    ])
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 8 })
    const seen: Array<string> = []
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) =>
        repo.resumeUpload(target, stored, reopenable().body, {
          onProgress: (session) => Effect.sync(() => seen.push(`${session.uuid}@${session.offset}`))
        })
      )
      expect(descriptor.digest).toBe(digest)
      expect(s.sent().find((r) => r.method === "PATCH")!.headers["content-range"]).toBe("0-11")
      // the new session is reported, so a caller storing sessions stores it
      expect(seen).toEqual(["def@0", "def@12"])
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("the session is gone and the body given starts past 0: CannotResume, nothing opened", () => {
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: () => FakeHttp.errorBody(404, "BLOB_UPLOAD_UNKNOWN", "gone") }
    ])
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 8 })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) =>
        repo.resumeUpload(target, stored, blob.subarray(8), { bodyOffset: 8, digest, size: 12 })
      ))
      expect(error).toMatchObject({ _tag: "CannotResume", offset: 0 })
      expect(s.sent().map((r) => r.method)).toEqual(["GET"])
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("a session refused mid-way (BLOB_UPLOAD_INVALID) is cancelled and replaced; the new one is the caller's", () => {
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-3" }) },
      { method: "PATCH", path: `${uploads}abc`, answer: () => FakeHttp.errorBody(404, "BLOB_UPLOAD_INVALID", "wrong offset") },
      { method: "DELETE", path: `${uploads}abc`, answer: empty(204) },
      { method: "POST", path: uploads, answer: empty(202, { location: `${uploads}def`, range: "0-0" }) },
      { method: "PATCH", path: `${uploads}def`, answer: empty(202, { range: "0-11" }) },
      { method: "PUT", path: `${uploads}def`, answer: empty(201, { "docker-content-digest": digest }) }
    ])
    const stored = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 4 })
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.resumeUpload(target, stored, reopenable().body))
      expect(s.done()).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })
})

describe("upload protocol checks", () => {
  it.effect("a 202 to a PATCH without a Range is an InvalidResponse", () => {
    const s = script([
      { method: "GET", path: `${uploads}abc`, answer: empty(204, { range: "0-0" }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202) }
    ])
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) =>
        repo.resumeUpload(target, new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 0 }), randomBytes(4))
      ))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: "the registry accepted a chunk without a Range header" })
    }).pipe(Effect.provide(s.layer))
  })

  it.effect.each(["", "bytes", "0-x", "5-9"])("a 202 to a PATCH with the Range %j is an InvalidResponse naming it", (range) => {
    const s = script([{ method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range }) }])
    return Effect.gen(function*() {
      const session = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 0 })
      const error = yield* Effect.flip(withRepo((repo) => repo.appendUpload(target, session, randomBytes(4))))
      expect(error._tag).toBe("InvalidResponse")
      expect(String((error as { reason?: string }).reason)).toContain(`unusable Range ${JSON.stringify(range)}`)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect.each([uploads, uploads.slice(0, -1), `${base}${uploads}`])(
    "a Location naming no session (%s) is an InvalidResponse before any PATCH",
    (location) => {
      const s = script([{ method: "POST", path: uploads, answer: empty(202, { location }) }])
      return Effect.gen(function*() {
        const error = yield* Effect.flip(withRepo((repo) => repo.putBlob(target, randomBytes(20), { strategy: "chunked", skipExisting: false })))
        expect(`${error._tag}: ${String((error as { reason?: string }).reason)}`).toContain("InvalidResponse: upload Location names no session")
        expect(s.sent().map((r) => r.method)).toEqual(["POST"])
      }).pipe(Effect.provide(s.layer))
    }
  )

  it.effect("without Docker-Upload-UUID the session's uuid is its URL's last path segment", () => {
    const s = script([{ method: "POST", path: uploads, answer: empty(202, { location: `${uploads}f00d-1?_state=x` }) }])
    return Effect.gen(function*() {
      const session = yield* withRepo((repo) => repo.startUpload(target))
      expect(session.uuid).toBe("f00d-1")
    }).pipe(Effect.provide(s.layer))
  })
})

describe("chunk-level uploads", () => {
  it.effect("appendUpload sends each chunk with its true Content-Range; commitUpload commits and gives the descriptor", () => {
    const blob = randomBytes(10)
    const digest = Digest.compute(blob)
    const s = script([
      { method: "POST", path: uploads, answer: empty(202, { location: `${uploads}abc?_state=0` }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-2", location: `${uploads}abc?_state=3` }) },
      { method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-9", location: `${uploads}abc?_state=10` }) },
      { method: "PUT", path: `${uploads}abc`, answer: empty(201, { "docker-content-digest": digest }) }
    ])
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) =>
        Effect.gen(function*() {
          const opened = yield* repo.startUpload(target)
          const first = yield* repo.appendUpload(target, opened, blob.subarray(0, 3))
          expect(first.offset).toBe(3)
          const second = yield* repo.appendUpload(target, first, blob.subarray(3))
          expect(second.offset).toBe(10)
          return yield* repo.commitUpload(target, second, { digest })
        })
      )
      expect(descriptor).toEqual({ digest, size: 10, mediaType: "application/octet-stream" })
      const patches = s.sent().filter((r) => r.method === "PATCH")
      expect(patches.map((p) => p.headers["content-range"])).toEqual(["0-2", "3-9"])
      expect(patches.map((p) => p.url.searchParams.get("_state"))).toEqual(["0", "3"])
      const put = s.sent().at(-1)!
      expect(put.url.searchParams.get("_state")).toBe("10")
      expect(put.url.searchParams.get("digest")).toBe(digest)
      expect(put.body === undefined || put.body.byteLength === 0).toBe(true)
    }).pipe(Effect.provide(s.layer))
  })

  it.effect("appendUpload: a registry holding other than the bytes before plus these is an InvalidResponse", () => {
    const s = script([{ method: "PATCH", path: `${uploads}abc`, answer: empty(202, { range: "0-1" }) }])
    return Effect.gen(function*() {
      const session = new Repository.UploadSession({ url: `${base}${uploads}abc`, offset: 0 })
      const error = yield* Effect.flip(withRepo((repo) => repo.appendUpload(target, session, randomBytes(4))))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: "the registry holds 2 bytes after a chunk ending at 4" })
    }).pipe(Effect.provide(s.layer))
  })
})
