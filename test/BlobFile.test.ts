import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as BlobFile from "../src/BlobFile.js"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as Metrics from "../src/Metrics.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Testing from "../src/testing/index.js"

const content = new Uint8Array(200_000).map((_, i) => (i * 31) % 256)

const withDir = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-blobfile-"))),
    f,
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

const stack = Layer.merge(
  node.layer({
    credentials: Credentials.layerAnonymous,
    transport: { retry: Schedule.recurs(0) },
    repository: { resume: Schedule.recurs(0) }
  }),
  NodeFileSystem.layer
)

/** The stack with resumes and a short stall timeout. */
const resuming = Layer.merge(
  node.layer({
    credentials: Credentials.layerAnonymous,
    transport: { retry: Schedule.recurs(0), bodyStallTimeout: "300 millis" },
    repository: { resume: Schedule.recurs(3) }
  }),
  NodeFileSystem.layer
)

const seeded = Effect.gen(function*() {
  const registry = yield* Testing.TestRegistry
  const { digest } = yield* registry.putBlob("files/app", content)
  const ref = yield* Reference.parse(`${registry.host}/files/app`)
  return { registry, digest, ref }
})

describe("BlobFile", () => {
  it.live("downloads a verified blob into its file, leaving nothing else behind", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const { digest, ref } = yield* seeded
        const path = Path.join(dir, "blob")
        yield* BlobFile.download(ref, digest, path, { size: content.byteLength })
        expect(Digest.compute(Fs.readFileSync(path))).toBe(digest)
        expect(Fs.readdirSync(dir)).toEqual(["blob"])
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a blob larger than the read-ahead arrives in batches and lands byte for byte", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const registry = yield* Testing.TestRegistry
        const big = new Uint8Array(5 * 1024 * 1024 + 123).map((_, i) => (i * 7 + (i >> 16)) % 251)
        const { digest } = yield* registry.putBlob("files/big", big)
        const ref = yield* Reference.parse(`${registry.host}/files/big`)
        const path = Path.join(dir, "big")
        yield* BlobFile.download(ref, digest, path, { size: big.byteLength })
        expect(Buffer.compare(Fs.readFileSync(path), big)).toBe(0)
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a large blob whose body breaks off, then stalls, is resumed by ranged GETs on the client's own connections", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const registry = yield* Testing.TestRegistry
        // large enough to be read into the reused ring, which wraps several times
        const big = new Uint8Array(9 * 1024 * 1024 + 77).map((_, i) => (i * 11 + (i >> 14)) % 241)
        const { digest } = yield* registry.putBlob("files/resumed", big)
        const ref = yield* Reference.parse(`${registry.host}/files/resumed`)
        yield* registry.setFaults([
          { method: "GET", path: /\/blobs\//, first: 1, action: Testing.FaultAction.cutBody(5_000_000) },
          { method: "GET", path: /\/blobs\//, nth: [2], action: Testing.FaultAction.stallBody(1_000_000, 5_000) }
        ])
        const path = Path.join(dir, "big")
        const receivedBefore = (yield* Metric.value(Metrics.bytesReceived)).count
        for (const size of [big.byteLength, undefined]) {
          yield* BlobFile.download(ref, digest, path, { size }).pipe(Effect.provide(resuming))
          expect(Buffer.compare(Fs.readFileSync(path), big)).toBe(0)
        }
        // every byte received counts, the bytes of the broken bodies too
        const received = (yield* Metric.value(Metrics.bytesReceived)).count - receivedBefore
        expect(received).toBeGreaterThanOrEqual(2 * big.byteLength)
        expect(received).toBeLessThan(2 * big.byteLength + 1_000_000)
        const gets = (yield* registry.requests).filter((r) => r.method === "GET" && r.path.includes("/blobs/"))
        expect(gets.map((r) => r.headers["range"])).toEqual([undefined, "bytes=5000000-", "bytes=6000000-", undefined])
        // each on a connection of the client's own (a releasing consumer's GET; Node's says keep-alive)
        expect(gets.every((r) => r.headers["connection"] === undefined)).toBe(true)
        expect(Fs.readdirSync(dir)).toEqual(["big"])
      })
    ).pipe(Effect.provide(Testing.layer())))

  it.live("a FIFO (like -o /dev/null) is written in place, never renamed over", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const { digest, ref } = yield* seeded
        const fifo = Path.join(dir, "pipe")
        ChildProcess.execFileSync("mkfifo", [fifo])
        const out = Path.join(dir, "out")
        // the reader blocks on the FIFO until a writer opens it; replaced by a renamed file, it never returns
        const reader = ChildProcess.spawn("sh", ["-c", `cat "${fifo}" > "${out}"`])
        const done = new Promise<number | null>((resolve) => reader.on("exit", resolve))
        yield* BlobFile.download(ref, digest, fifo, { size: content.byteLength })
        const code = yield* Effect.promise(() =>
          Promise.race([done, new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), 5_000))])
        )
        if (code === "timeout") reader.kill("SIGKILL")
        expect(Fs.statSync(fifo).isFIFO()).toBe(true)
        expect(code).toBe(0)
        expect(Digest.compute(Fs.readFileSync(out))).toBe(digest)
        expect(Fs.readdirSync(dir).sort()).toEqual(["out", "pipe"])
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a blob that does not verify leaves no file, and an existing file untouched", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const { digest, ref } = yield* seeded
        const path = Path.join(dir, "blob")
        Fs.writeFileSync(path, "previous content")
        const error = yield* Effect.flip(BlobFile.download(ref, digest, path, { size: content.byteLength + 1 }))
        expect(error._tag).toBe("SizeMismatch")
        expect(Fs.readdirSync(dir)).toEqual(["blob"])
        expect(Fs.readFileSync(path, "utf8")).toBe("previous content")
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a transfer that breaks off (resume disabled) leaves no file", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const { digest, ref, registry } = yield* seeded
        yield* registry.setFaults([{ method: "GET", path: /\/blobs\//, action: Testing.FaultAction.cutBody(50_000) }])
        const path = Path.join(dir, "blob")
        const error = yield* Effect.flip(BlobFile.download(ref, digest, path))
        expect(error._tag).toBe("TransportError")
        expect(Fs.readdirSync(dir)).toEqual([])
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a big file goes in one streamed PATCH; when the registry refuses it, the file is read again, in chunks", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const registry = yield* Testing.TestRegistry
        const ref = yield* Reference.parse(`${registry.host}/files/big-upload`)
        const big = new Uint8Array(9 * 1024 * 1024).map((_, i) => (i * 13 + (i >> 12)) % 253)
        const source = Path.join(dir, "source")
        Fs.writeFileSync(source, big)
        yield* registry.setFaults([{
          method: "PATCH",
          path: "/blobs/uploads/",
          first: 1,
          action: Testing.FaultAction.capChunkSize(3 * 1024 * 1024)
        }])
        const descriptor = yield* BlobFile.upload(ref, source)
        expect(descriptor).toMatchObject({ digest: Digest.compute(big), size: big.byteLength })
        const patches = (yield* registry.requests).filter((r) => r.method === "PATCH")
        // the streamed PATCH (no Content-Range, refused whole), then chunks from the registry's offset 0
        expect(patches.map((r) => [r.status, r.headers["content-range"]])).toEqual([
          [416, undefined],
          [202, "0-4194303"],
          [202, "4194304-8388607"],
          [202, "8388608-9437183"]
        ])
        expect(yield* registry.hasBlob("files/big-upload", descriptor.digest)).toBe(true)
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("uploads a file as a blob and reads it back", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const registry = yield* Testing.TestRegistry
        const ref = yield* Reference.parse(`${registry.host}/files/upload`)
        const source = Path.join(dir, "source")
        Fs.writeFileSync(source, content)
        const descriptor = yield* BlobFile.upload(ref, source, { mediaType: "application/octet-stream" })
        expect(descriptor).toMatchObject({ digest: Digest.compute(content), size: content.byteLength })
        expect(yield* registry.hasBlob("files/upload", descriptor.digest)).toBe(true)
      })
    ).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))
})
