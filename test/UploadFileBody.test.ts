/**
 * Files uploaded as a body the HTTP client pulls (Node's, through `node.layer`), read into reused
 * buffers: the bytes arrive whole across many pieces and after a cut, the digest is checked on the
 * way, the file is read once, its own failure comes out as itself, and an interruption closes it.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BlobFile from "../src/BlobFile.js"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import type { FileReader } from "../src/internal/iterableBody.js"
import { reopenableFile } from "../src/internal/repository/uploadBody.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"
import { randomBytes } from "./support/RepositoryFixture.js"

const MiB = 1024 * 1024

const stack = Layer.merge(
  node.layer({
    credentials: Credentials.layerAnonymous,
    transport: { retry: Schedule.recurs(0) },
    repository: { monolithicThreshold: 1000, uploadResume: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(3))) }
  }),
  NodeFileSystem.layer
)

const withFile = <A, E, R>(bytes: Uint8Array, f: (path: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-filebody-"))
      Fs.writeFileSync(Path.join(dir, "blob"), bytes)
      return dir
    }),
    (dir) => f(Path.join(dir, "blob")),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** `bytes` as a file-like body that counts how it is read: as a file (`files`) or as a stream (`streams`). */
const counted = (bytes: Uint8Array, options: { readonly failAfter?: number } = {}) => {
  const reads = { files: 0, streams: 0 }
  const file: FileReader<{ readonly _tag: "DiskError" }> = {
    open: (offset) =>
      Effect.sync(() => {
        reads.files++
        let at = offset
        return (into: Uint8Array) =>
          Effect.suspend(() => {
            if (options.failAfter !== undefined && at >= options.failAfter) return Effect.fail({ _tag: "DiskError" as const })
            const piece = bytes.subarray(at, at + into.byteLength)
            into.set(piece)
            at += piece.byteLength
            return Effect.succeed(piece.byteLength)
          })
      })
  }
  const open = (offset: number) =>
    Stream.suspend(() => {
      reads.streams++
      return Stream.make(bytes.subarray(offset))
    })
  return { body: reopenableFile(file, open, bytes.byteLength), reads }
}

const repositoryAt = (path: string) =>
  Effect.gen(function*() {
    const registry = yield* Testing.TestRegistry
    return { registry, ref: yield* Reference.parse(`${registry.host}/${path}`) }
  })

describe("uploading a file as a pulled body", () => {
  it.live("a file of many pieces arrives byte for byte, in one PATCH", () =>
    Effect.gen(function*() {
      const { ref, registry } = yield* repositoryAt("files/many")
      // more pieces than reused buffers, and a short last one
      const blob = randomBytes(7 * MiB + 12_345, 5)
      const descriptor = yield* withFile(blob, (path) => BlobFile.upload(ref, path))
      expect(descriptor.digest).toBe(Digest.compute(blob))
      expect(yield* registry.hasBlob("files/many", Digest.compute(blob))).toBe(true)
      const log = yield* registry.requests
      expect(log.filter((r) => r.method === "PATCH")).toHaveLength(1)
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())), 30_000)

  it.live("a PATCH cut part-way goes on from the registry's offset, and the blob is whole", () =>
    Effect.gen(function*() {
      const { ref, registry } = yield* repositoryAt("files/cut")
      const blob = randomBytes(5 * MiB + 7, 6)
      yield* registry.setFaults([
        { method: "PATCH", nth: 1, path: /\/blobs\/uploads\/./, action: Testing.FaultAction.cutRequest(2.5 * MiB) }
      ])
      const descriptor = yield* withFile(blob, (path) => BlobFile.upload(ref, path, { digest: Digest.compute(blob) }))
      expect(descriptor.digest).toBe(Digest.compute(blob))
      expect(yield* registry.hasBlob("files/cut", Digest.compute(blob))).toBe(true)
      expect(yield* registry.uploadSessions).toEqual([])
      expect((yield* registry.requests).some((r) => r.faults.length > 0)).toBe(true)
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())), 30_000)

  it.live("a known digest: the file is read once, as it is sent; a wrong one fails typed and commits nothing", () =>
    Effect.gen(function*() {
      const { ref, registry } = yield* repositoryAt("files/digest")
      const repo = yield* Repository.Repository
      const blob = randomBytes(3 * MiB + 1, 7)
      const good = counted(blob)
      const descriptor = yield* repo.putBlob(ref, good.body, { digest: Digest.compute(blob) })
      expect(descriptor.digest).toBe(Digest.compute(blob))
      expect(good.reads).toEqual({ files: 1, streams: 0 })

      const other = randomBytes(3 * MiB + 1, 8)
      const bad = counted(other)
      const error = yield* Effect.flip(repo.putBlob(ref, bad.body, { digest: Digest.compute(blob), skipExisting: false }))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: Digest.compute(blob), actual: Digest.compute(other) })
      expect(bad.reads).toEqual({ files: 1, streams: 0 })
      expect(yield* registry.hasBlob("files/digest", Digest.compute(other))).toBe(false)
      expect(yield* registry.uploadSessions).toEqual([])
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())), 30_000)

  it.live("the file's own failure comes out as itself, and the session is cancelled", () =>
    Effect.gen(function*() {
      const { ref, registry } = yield* repositoryAt("files/broken")
      const repo = yield* Repository.Repository
      const blob = randomBytes(4 * MiB, 9)
      const { body } = counted(blob, { failAfter: 2 * MiB })
      const error = yield* Effect.flip(repo.putBlob(ref, body, { digest: Digest.compute(blob) }))
      expect(error).toEqual({ _tag: "DiskError" })
      expect(yield* registry.hasBlob("files/broken", Digest.compute(blob))).toBe(false)
      expect(yield* registry.uploadSessions).toEqual([])
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())), 30_000)

  it.live("an upload interrupted mid-body closes its file and cancels its session", () =>
    Effect.gen(function*() {
      const { ref, registry } = yield* repositoryAt("files/interrupted")
      const blob = randomBytes(6 * MiB, 10)
      yield* withFile(blob, (path) =>
        Effect.gen(function*() {
          // the registry waits before it answers the PATCH: the body is in flight when we interrupt
          yield* registry.setFaults([
            { method: "PATCH", nth: 1, path: /\/blobs\/uploads\/./, action: Testing.FaultAction.delayHeaders(60_000) }
          ])
          const fiber = yield* Effect.fork(BlobFile.upload(ref, path))
          yield* Effect.repeat(registry.uploadSessions, {
            until: (sessions) => sessions.some((s) => s.size > 0),
            schedule: Schedule.spaced("10 millis")
          }).pipe(Effect.timeout("10 seconds"))
          yield* Fiber.interrupt(fiber)
          const open = Fs.readdirSync("/proc/self/fd").filter((fd) => {
            try {
              return Fs.readlinkSync(`/proc/self/fd/${fd}`) === path
            } catch {
              return false
            }
          })
          expect(open).toEqual([])
          expect(yield* registry.uploadSessions).toEqual([])
        }))
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())), 30_000)
})
