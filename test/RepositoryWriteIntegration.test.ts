/**
 * The write side through the whole Node stack (undici → Transport → Auth → Repository) against the
 * embedded registry on a real port: every upload strategy read back, resume and size caps, mounts,
 * sessions kept across a "restart", manifests with referrers, tags and deletes.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"

const stack = (
  options: {
    readonly credentials?: Layer.Layer<Credentials.Credentials>
    readonly transportRetries?: number
    readonly repository?: Repository.Options
  } = {}
) =>
  node.layer({
    credentials: options.credentials ?? Credentials.layerAnonymous,
    transport: { retry: Schedule.recurs(options.transportRetries ?? 0) },
    repository: { resume: Schedule.recurs(5), ...options.repository }
  })

const bytesOf = (size: number, seed = 3) => new Uint8Array(size).map((_, i) => (i * seed + (i >> 8)) % 251)

const inRepo = (repository: string) =>
  Effect.flatMap(Testing.TestRegistry, (registry) => Reference.parse(`${registry.host}/${repository}`))

const readBack = (ref: Reference.Reference, digest: Digest.Digest) =>
  Effect.flatMap(Repository.Repository, (repo) =>
    Stream.runCollect(repo.getBlob(ref, digest)).pipe(
      Effect.map((chunks) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(chunks))))
    ))

/** Pieces of 1000 bytes, as a file read would give. */
const streamOf = (bytes: Uint8Array) =>
  Stream.suspend(() => Stream.fromIterable(Array.from({ length: Math.ceil(bytes.byteLength / 1000) }, (_, i) =>
    bytes.subarray(i * 1000, (i + 1) * 1000))))

const uploadRequests = (log: ReadonlyArray<Testing.RequestLogEntry>) =>
  log.filter((r) => r.path.includes("/blobs/uploads/")).map((r) => `${r.method} ${r.status}`)

describe("uploads against the embedded registry", () => {
  for (const strategy of ["monolithic", "chunked", "streamed", "auto"] as const) {
    it.live(`${strategy}: pushed, then read back byte for byte`, () =>
      Effect.gen(function*() {
        const registry = yield* Testing.TestRegistry
        const ref = yield* inRepo(`push/${strategy}`)
        const blob = bytesOf(70_000)
        const repo = yield* Repository.Repository
        const descriptor = yield* repo.putBlob(ref, streamOf(blob), { strategy, chunkSize: 16_384 })
        expect(descriptor).toMatchObject({ digest: Digest.compute(blob), size: blob.byteLength })
        expect(yield* registry.hasBlob(`push/${strategy}`, descriptor.digest)).toBe(true)
        expect(yield* readBack(ref, descriptor.digest)).toEqual(blob)
        const patches = uploadRequests(yield* registry.requests).filter((l) => l.startsWith("PATCH"))
        expect(patches.length).toBe(strategy === "chunked" || strategy === "auto" ? 5 : strategy === "streamed" ? 1 : 0)
      }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))
  }

  it.live("chunked honours the registry's OCI-Chunk-Min-Length", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("push/min")
      const blob = bytesOf(50_000)
      const repo = yield* Repository.Repository
      yield* repo.putBlob(ref, blob, { strategy: "chunked", chunkSize: 1000 })
      const patches = (yield* registry.requests).filter((r) => r.method === "PATCH")
      expect(patches.map((p) => p.headers["content-range"])).toEqual(["0-19999", "20000-39999", "40000-49999"])
      expect(yield* readBack(ref, Digest.compute(blob))).toEqual(blob)
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer({ chunkMinLength: 20_000 }))))

  it.live("a chunk refused with 500 is resumed from the registry's offset", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("push/resume")
      const blob = bytesOf(40_000)
      const repo = yield* Repository.Repository
      yield* repo.putBlob(ref, blob, { strategy: "chunked", chunkSize: 10_000 })
      expect(uploadRequests(yield* registry.requests)).toEqual([
        "POST 202",
        "PATCH 202",
        "PATCH 500",
        "GET 204",
        "PATCH 202",
        "PATCH 202",
        "PATCH 202",
        "PUT 201"
      ])
      expect(yield* readBack(ref, Digest.compute(blob))).toEqual(blob)
    }).pipe(
      Effect.provide(stack()),
      Effect.provide(Testing.layer({
        faults: [{ method: "PATCH", nth: 2, action: Testing.FaultAction.serverError(500) }]
      }))
    ))

  it.live("a registry capping chunk size (416) gets smaller chunks", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("push/capped")
      const blob = bytesOf(30_000)
      const repo = yield* Repository.Repository
      yield* repo.putBlob(ref, blob, { strategy: "chunked", chunkSize: 32_768 })
      const patches = (yield* registry.requests).filter((r) => r.method === "PATCH")
      expect(patches.map((p) => `${p.headers["content-range"]} ${p.status}`)).toEqual([
        "0-29999 416",
        "0-16383 416",
        "0-8191 202",
        "8192-16383 202",
        "16384-24575 202",
        "24576-29999 202"
      ])
      expect(yield* readBack(ref, Digest.compute(blob))).toEqual(blob)
    }).pipe(
      Effect.provide(stack()),
      Effect.provide(Testing.layer({ faults: [{ method: "PATCH", action: Testing.FaultAction.capChunkSize(10_000) }] }))
    ))

  it.live("a failed upload leaves no session behind (DELETE sent)", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("push/fail")
      const repo = yield* Repository.Repository
      const body = streamOf(bytesOf(1000))
      const error = yield* Effect.flip(repo.putBlob(ref, body, { digest: Digest.compute("not it"), skipExisting: false }))
      expect(error._tag).toBe("DigestMismatch")
      expect(uploadRequests(yield* registry.requests)).toEqual(["POST 202", "PATCH 202", "DELETE 204"])
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))

  it.live("a session kept across a restart: the first process dies mid-upload, the second resumes it", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("push/session")
      const blob = bytesOf(25_000)
      const repo = yield* Repository.Repository
      let stored = ""
      const keep = (session: Repository.UploadSession) =>
        Effect.sync(() => (stored = JSON.stringify(Schema.encodeSync(Repository.UploadSession)(session))))
      const started = yield* repo.startUpload(ref)
      yield* keep(started)
      // the first process: its body fails after 12 000 bytes
      const dying = Stream.concat(streamOf(blob.subarray(0, 12_000)), Stream.fail("crash" as const))
      const crash = yield* Effect.flip(repo.resumeUpload(ref, started, dying, { chunkSize: 5000, onProgress: keep }))
      expect(crash).toBe("crash")
      // the second process: reads the stored session back and sends the whole file again
      const session = Schema.decodeUnknownSync(Repository.UploadSession)(JSON.parse(stored))
      expect(session.offset).toBe(10_000)
      const status = yield* repo.uploadStatus(ref, session)
      expect(status.offset).toBe(10_000)
      const descriptor = yield* repo.resumeUpload(ref, session, streamOf(blob), { chunkSize: 5000 })
      expect(descriptor.digest).toBe(Digest.compute(blob))
      const patches = (yield* registry.requests).filter((r) => r.method === "PATCH")
      expect(patches.map((p) => p.headers["content-range"])).toEqual([
        "0-4999",
        "5000-9999",
        "10000-14999",
        "15000-19999",
        "20000-24999"
      ])
      expect(yield* readBack(ref, descriptor.digest)).toEqual(blob)
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))

  it.live("cancelUpload ends a session", () =>
    Effect.gen(function*() {
      const ref = yield* inRepo("push/cancel")
      const repo = yield* Repository.Repository
      const session = yield* repo.startUpload(ref)
      yield* repo.cancelUpload(ref, session)
      const error = yield* Effect.flip(repo.uploadStatus(ref, session))
      expect(error._tag).toBe("BlobUploadUnknown")
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))
})

describe("mounts against the embedded registry", () => {
  it.live("201 for a blob the source has, 202 (a session) for one it has not", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const source = yield* registry.putBlob("team/base", bytesOf(5000))
      const ref = yield* inRepo("team/app")
      const repo = yield* Repository.Repository
      const mounted = yield* repo.mountBlob(ref, source.digest, "team/base")
      expect(mounted).toEqual({
        _tag: "Mounted",
        descriptor: { digest: source.digest, size: 5000, mediaType: "application/octet-stream" }
      })
      expect(yield* registry.hasBlob("team/app", source.digest)).toBe(true)
      const missing = yield* repo.mountBlob(ref, Digest.compute("absent"), "team/base")
      expect(missing._tag).toBe("UploadStarted")
      if (missing._tag === "UploadStarted") yield* repo.cancelUpload(ref, missing.session)
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))

  it.live("putBlob with mountFrom mounts through token auth (pull on the source in the token)", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const blob = bytesOf(3000)
      yield* registry.putBlob("alice/base", blob)
      const ref = yield* inRepo("alice/app")
      const credentials = Credentials.layerStatic({
        [registry.host]: Credentials.Credential.Basic({ username: "alice", password: Redacted.make("pw") })
      })
      const descriptor = yield* Effect.flatMap(Repository.Repository, (repo) =>
        repo.putBlob(ref, blob, { mountFrom: "alice/base" })).pipe(Effect.provide(stack({ credentials })))
      expect(descriptor.digest).toBe(Digest.compute(blob))
      const log = yield* registry.requests
      const scopes = log.filter((r) => r.path === "/token").map((r) => r.query["scope"]?.split(" ").sort())
      // the existence HEAD already asks for push (the upload needs it anyway), then the mount adds
      // pull on the source
      expect(scopes).toEqual([
        ["repository:alice/app:pull,push"],
        ["repository:alice/app:pull,push", "repository:alice/base:pull"]
      ])
      expect(uploadRequests(log)).toEqual(["POST 201"])
    }).pipe(
      Effect.provide(Testing.layer({
        auth: {
          mode: "token",
          users: { alice: "pw" },
          access: ({ access, user }) => (user === "alice" && access.name.startsWith("alice/") ? access.actions : [])
        }
      }))
    ))
})

describe("manifests, tags and referrers against the embedded registry", () => {
  /** Pushes config and layer blobs and returns an image manifest over them. */
  const pushImage = (ref: Reference.Reference) =>
    Effect.gen(function*() {
      const repo = yield* Repository.Repository
      const config = yield* repo.putBlob(ref, new TextEncoder().encode(`{"os":"linux"}`), { mediaType: MediaType.OciConfig })
      const layer = yield* repo.putBlob(ref, bytesOf(2000), { mediaType: MediaType.OciLayerGzip })
      return Manifest.encode({ schemaVersion: 2, config, layers: [layer] })
    })

  const signature = (ref: Reference.Reference, subject: Manifest.Descriptor) =>
    Effect.gen(function*() {
      const repo = yield* Repository.Repository
      const empty = yield* repo.putBlob(ref, new TextEncoder().encode("{}"), { mediaType: MediaType.OciEmpty })
      return Manifest.encode({
        schemaVersion: 2,
        artifactType: "application/vnd.example.sig",
        config: empty,
        layers: [empty],
        subject,
        annotations: { signer: "alice" }
      })
    })

  it.live("put by tag and read back; tag, untag, delete by digest", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("team/app")
      const repo = yield* Repository.Repository
      const image = yield* pushImage(ref)
      const v1 = yield* Reference.withTag(ref, "v1")
      expect(yield* repo.putManifest(v1, image)).toBe(image.digest)
      expect(new Uint8Array((yield* repo.getManifest(v1)).bytes)).toEqual(image.bytes)
      const tagged = yield* repo.tag(v1, "stable")
      expect(tagged.digest).toBe(image.digest)
      expect(yield* registry.hasManifest("team/app", "stable")).toBe(true)
      yield* repo.untag(yield* Reference.withTag(ref, "stable"))
      expect(yield* registry.hasManifest("team/app", "stable")).toBe(false)
      yield* repo.deleteManifest(Reference.withDigest(ref, image.digest))
      expect(yield* registry.hasManifest("team/app", image.digest)).toBe(false)
      const layer = Manifest.references(image.manifest)[1]!
      yield* repo.deleteBlob(ref, layer.digest)
      expect(yield* registry.hasBlob("team/app", layer.digest)).toBe(false)
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))

  it.live("a registry without the referrers API: the fallback index is kept, and the read side finds it", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("team/app")
      const repo = yield* Repository.Repository
      const image = yield* pushImage(ref)
      yield* repo.putManifest(yield* Reference.withTag(ref, "v1"), image)
      const subject = Manifest.descriptorOf(image)
      const first = yield* signature(ref, subject)
      yield* repo.putManifest(ref, first)
      const second = Manifest.encode({ ...(first.manifest as Manifest.ImageManifest), annotations: { signer: "bob" } })
      yield* repo.putManifest(ref, second)
      expect(yield* registry.hasManifest("team/app", `sha256-${Digest.hex(image.digest)}`)).toBe(true)
      const found = yield* repo.referrers(ref, image.digest)
      expect(found.map((d) => [d.digest, d.artifactType, d.annotations?.signer])).toEqual([
        [first.digest, "application/vnd.example.sig", "alice"],
        [second.digest, "application/vnd.example.sig", "bob"]
      ])
      // deleting a referrer takes it out of the fallback index, keeping the other
      yield* repo.deleteManifest(Reference.withDigest(ref, first.digest))
      expect(yield* registry.hasManifest("team/app", first.digest)).toBe(false)
      const after = yield* repo.referrers(ref, image.digest)
      expect(after.map((d) => d.digest)).toEqual([second.digest])
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer({ referrers: false }))))

  it.live("a registry with the referrers API indexes the subject itself: no fallback tag", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const ref = yield* inRepo("team/app")
      const repo = yield* Repository.Repository
      const image = yield* pushImage(ref)
      yield* repo.putManifest(ref, image)
      const sig = yield* signature(ref, Manifest.descriptorOf(image))
      yield* repo.putManifest(ref, sig)
      expect(yield* registry.hasManifest("team/app", `sha256-${Digest.hex(image.digest)}`)).toBe(false)
      const found = yield* repo.referrers(ref, image.digest)
      expect(found.map((d) => d.digest)).toEqual([sig.digest])
    }).pipe(Effect.provide(stack()), Effect.provide(Testing.layer())))
})
