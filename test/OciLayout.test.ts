/**
 * OCI image layouts on disk: the files we write, verified blobs, tags, malformed layouts, and
 * concurrent writers (fibers and processes) that never lose an `index.json` entry.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as OciLayout from "../src/OciLayout.js"
import * as Images from "./support/images.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-layout-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const withLayout = <A, E, R>(f: (layout: OciLayout.Layout, dir: string) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const layout = yield* OciLayout.open(dir, { create: true })
    return yield* f(layout, dir)
  }).pipe(Effect.provide(NodeContext.layer))

const readJson = (file: string) => JSON.parse(Fs.readFileSync(file, "utf8"))

/** A small image manifest (its config written to the layout), distinct per `name`. */
const smallImage = (layout: OciLayout.Layout, name: string) =>
  Effect.gen(function*() {
    const config = new TextEncoder().encode(JSON.stringify({ name }))
    yield* layout.writeBlob(config, { digest: Digest.compute(config), size: config.byteLength })
    return Manifest.encode({
      schemaVersion: 2,
      config: { mediaType: MediaType.OciConfig, digest: Digest.compute(config), size: config.byteLength },
      layers: []
    })
  })

const refName = (tag: string) => ({ [OciLayout.refNameAnnotation]: tag })

describe("OciLayout files", () => {
  it.scopedLive("a new layout has oci-layout and an empty index.json, as skopeo writes them", () =>
    withLayout((_, dir) =>
      Effect.sync(() => {
        expect(Fs.readFileSync(Path.join(dir, "oci-layout"), "utf8")).toBe(`{"imageLayoutVersion": "1.0.0"}`)
        expect(readJson(Path.join(dir, "index.json"))).toEqual({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] })
        expect(Fs.readdirSync(dir).sort()).toEqual(["blobs", "index.json", "oci-layout"])
      })
    ))

  it.scopedLive("blobs land at blobs/<alg>/<hex>, whole; a mismatch or a failed stream leaves no file", () =>
    withLayout((layout, dir) =>
      Effect.gen(function*() {
        const bytes = Images.bytes("blob", 300_000)
        const digest = Digest.compute(bytes)
        const chunks = Stream.fromIterable([bytes.subarray(0, 1000), bytes.subarray(1000)])
        yield* layout.writeBlob(chunks, { digest, size: bytes.byteLength })
        const file = Path.join(dir, "blobs", "sha256", Digest.hex(digest))
        expect(new Uint8Array(Fs.readFileSync(file))).toEqual(bytes)
        expect(yield* layout.hasBlob(digest, bytes.byteLength)).toBe(true)
        expect(yield* layout.hasBlob(digest, 1)).toBe(false)

        const other = Digest.compute("other")
        const mismatch = yield* Effect.flip(layout.writeBlob(bytes, { digest: other }))
        expect(mismatch._tag).toBe("DigestMismatch")
        const short = yield* Effect.flip(layout.writeBlob(bytes.subarray(0, 10), { digest: other, size: 20 }))
        expect(short._tag).toBe("SizeMismatch")
        const broken = yield* Effect.flip(
          layout.writeBlob(Stream.concat(Stream.make(bytes.subarray(0, 10)), Stream.fail("cut" as const)), { digest: other })
        )
        expect(broken).toBe("cut")
        expect(Fs.readdirSync(Path.join(dir, "blobs", "sha256"))).toEqual([Digest.hex(digest)])
        expect(yield* layout.hasBlob(other)).toBe(false)
      })
    ))

  it.scopedLive("reads verify the blob: a corrupted file fails with DigestMismatch, a missing one LayoutBlobNotFound", () =>
    withLayout((layout, dir) =>
      Effect.gen(function*() {
        const bytes = Images.bytes("read", 10_000)
        const digest = Digest.compute(bytes)
        yield* layout.writeBlob(bytes, { digest })
        const read = Chunk.toReadonlyArray(yield* Stream.runCollect(layout.readBlob(digest, { size: bytes.byteLength })))
        expect(new Uint8Array(Buffer.concat(read))).toEqual(bytes)
        const tail = Chunk.toReadonlyArray(yield* Stream.runCollect(layout.readBlob(digest, { offset: 9_000 })))
        expect(new Uint8Array(Buffer.concat(tail))).toEqual(bytes.subarray(9_000))
        Fs.writeFileSync(Path.join(dir, "blobs", "sha256", Digest.hex(digest)), Images.bytes("evil", 10_000))
        expect((yield* Effect.flip(Stream.runDrain(layout.readBlob(digest))))._tag).toBe("DigestMismatch")
        const missing = yield* Effect.flip(Stream.runDrain(layout.readBlob(Digest.compute("nothing"))))
        expect(missing._tag).toBe("LayoutBlobNotFound")
      })
    ))
})

describe("OciLayout tags", () => {
  it.scopedLive("several images by tag; a tag moves, leaving its old entry untagged; the same tag twice is one entry", () =>
    withLayout((layout, dir) =>
      Effect.gen(function*() {
        const one = yield* smallImage(layout, "one")
        const two = yield* smallImage(layout, "two")
        yield* layout.writeManifest(one, { tag: "v1" })
        yield* layout.writeManifest(two, { tag: "v2" })
        yield* layout.writeManifest(two, { tag: "v2" })
        expect(yield* layout.tags).toEqual(["v1", "v2"])
        expect((yield* layout.resolve("v1")).digest).toBe(one.digest)
        expect((yield* layout.readManifest(yield* layout.resolve("v2"))).bytes).toEqual(two.bytes)

        yield* layout.writeManifest(two, { tag: "v1" })
        const index = readJson(Path.join(dir, "index.json"))
        expect(index.manifests).toEqual([
          { mediaType: MediaType.OciManifest, digest: one.digest, size: one.size },
          { mediaType: MediaType.OciManifest, digest: two.digest, size: two.size, annotations: refName("v2") },
          { mediaType: MediaType.OciManifest, digest: two.digest, size: two.size, annotations: refName("v1") }
        ])
        expect((yield* layout.resolve("v1")).digest).toBe(two.digest)
      })
    ))

  it.scopedLive("resolve without a tag needs exactly one image; unknown and malformed tags are typed errors", () =>
    withLayout((layout) =>
      Effect.gen(function*() {
        expect((yield* Effect.flip(layout.resolve()))._tag).toBe("LayoutImageNotFound")
        const one = yield* smallImage(layout, "one")
        yield* layout.writeManifest(one, { index: true })
        expect((yield* layout.resolve()).digest).toBe(one.digest)
        expect((yield* Effect.flip(layout.resolve("v9")))._tag).toBe("LayoutImageNotFound")
        for (const bad of ["", "a b", "../x", "-x", "x/"]) {
          expect((yield* Effect.flip(layout.writeManifest(one, { tag: bad })))._tag).toBe("InvalidReference")
        }
      })
    ))

  it.scopedLive("rewriting index.json keeps fields and entries we do not know", () =>
    withLayout((layout, dir) =>
      Effect.gen(function*() {
        const file = Path.join(dir, "index.json")
        const foreign = { mediaType: "application/vnd.example.thing", digest: Digest.compute("x"), size: 1, "x-extra": true }
        Fs.writeFileSync(file, JSON.stringify({ schemaVersion: 2, annotations: { a: "b" }, manifests: [foreign] }))
        yield* layout.writeManifest(yield* smallImage(layout, "one"), { tag: "v1" })
        const index = readJson(file)
        expect(index.annotations).toEqual({ a: "b" })
        expect(index.manifests[0]).toEqual(foreign)
        expect(index.manifests.length).toBe(2)
      })
    ))
})

describe("OciLayout refuses what is not a layout", () => {
  const cases: ReadonlyArray<readonly [string, (dir: string) => void, string]> = [
    ["no oci-layout", () => {}, "no oci-layout"],
    ["a version 2 layout", (dir) => Fs.writeFileSync(Path.join(dir, "oci-layout"), `{"imageLayoutVersion":"2.0.0"}`), "1.x"],
    ["oci-layout not JSON", (dir) => Fs.writeFileSync(Path.join(dir, "oci-layout"), "hello"), "1.x"]
  ]
  for (const [name, setup, reason] of cases) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        setup(dir)
        const error = yield* Effect.flip(OciLayout.open(dir))
        expect(error._tag).toBe("InvalidLayout")
        expect(error.message).toContain(reason)
      }).pipe(Effect.provide(NodeContext.layer)))
  }

  it.scopedLive("no such directory: LayoutNotFound, and nothing is created", () =>
    Effect.gen(function*() {
      const dir = Path.join(yield* tempDir, "missing")
      const error = yield* Effect.flip(OciLayout.open(dir))
      expect(error._tag).toBe("LayoutNotFound")
      expect(error.message).toBe(`no OCI layout at ${dir}: no such directory`)
      expect(Fs.existsSync(dir)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))

  const badIndexes: ReadonlyArray<readonly [string, string]> = [
    ["not JSON", "{"],
    ["no manifests", `{"schemaVersion":2}`],
    ["schema version 1", `{"schemaVersion":1,"manifests":[]}`],
    ["a digest escaping blobs/", `{"schemaVersion":2,"manifests":[{"mediaType":"${MediaType.OciManifest}","digest":"sha256:../../../etc/passwd","size":1}]}`],
    ["an unknown algorithm", `{"schemaVersion":2,"manifests":[{"mediaType":"${MediaType.OciManifest}","digest":"md5:${"a".repeat(32)}","size":1}]}`],
    ["a negative size", `{"schemaVersion":2,"manifests":[{"mediaType":"${MediaType.OciManifest}","digest":"${Digest.compute("x")}","size":-1}]}`]
  ]
  for (const [name, text] of badIndexes) {
    it.scopedLive(`index.json with ${name}`, () =>
      withLayout((layout, dir) =>
        Effect.gen(function*() {
          Fs.writeFileSync(Path.join(dir, "index.json"), text)
          const error = yield* Effect.flip(layout.entries)
          expect(error._tag).toBe("InvalidLayout")
          expect(error.message).toContain("index.json")
          // nothing is written over a malformed index
          expect((yield* Effect.flip(layout.writeManifest(yield* smallImage(layout, "x"), { tag: "v1" })))._tag).toBe("InvalidLayout")
          expect(Fs.readFileSync(Path.join(dir, "index.json"), "utf8")).toBe(text)
        })
      ))
  }

  it.scopedLive("a digest outside the grammar never becomes a path", () =>
    withLayout((layout) =>
      Effect.gen(function*() {
        // a caller who bypasses the Digest type still gets a typed error, not a path outside blobs/
        const sneaky = "sha256:../../etc/passwd" as Digest.Digest
        expect((yield* Effect.flip(layout.blobPath(sneaky)))._tag).toBe("InvalidDigest")
        expect((yield* Effect.flip(Stream.runDrain(layout.readBlob(sneaky))))._tag).toBe("InvalidDigest")
        expect((yield* Effect.flip(layout.writeBlob(new Uint8Array(1), { digest: sneaky })))._tag).toBe("InvalidDigest")
      })
    ))

  it.scopedLive("a manifest file that is not a manifest is InvalidManifest", () =>
    withLayout((layout) =>
      Effect.gen(function*() {
        const bytes = new TextEncoder().encode(`{"schemaVersion":2,"layers":"no"}`)
        yield* layout.writeBlob(bytes, { digest: Digest.compute(bytes) })
        const error = yield* Effect.flip(layout.readManifest({ mediaType: MediaType.OciManifest, digest: Digest.compute(bytes), size: bytes.byteLength }))
        expect(error._tag).toBe("InvalidManifest")
      })
    ))
})

describe("OciLayout with concurrent writers", () => {
  it.scopedLive("fibers tagging at once lose no entry", () =>
    withLayout((layout, dir) =>
      Effect.gen(function*() {
        const tags = Array.from({ length: 24 }, (_, i) => `t${i}`)
        yield* Effect.forEach(tags, (tag) => Effect.flatMap(smallImage(layout, tag), (m) => layout.writeManifest(m, { tag })), {
          concurrency: "unbounded",
          discard: true
        })
        expect([...(yield* layout.tags)].sort()).toEqual([...tags].sort())
        expect(Fs.existsSync(Path.join(dir, "index.json.lock"))).toBe(false)
        expect(Fs.readdirSync(dir).filter((f) => f.includes("partial"))).toEqual([])
      })
    ))

  it.scopedLive("two other processes and this one writing one layout lose no entry", () =>
    withLayout((layout, dir) =>
      Effect.gen(function*() {
        const script = Path.join(import.meta.dirname, "support", "layoutWriter.ts")
        const child = (prefix: string) =>
          Effect.async<number>((resume) => {
            const p = ChildProcess.spawn(process.execPath, ["--import", "tsx", script, dir, prefix, "15"], { stdio: "inherit" })
            p.on("exit", (code) => resume(Effect.succeed(code ?? -1)))
            return Effect.sync(() => p.kill("SIGKILL"))
          })
        const ours = Effect.forEach(Array.from({ length: 15 }, (_, i) => `main-${i}`), (tag) =>
          Effect.flatMap(smallImage(layout, tag), (m) => layout.writeManifest(m, { tag })), { concurrency: 3, discard: true })
        const [a, b] = yield* Effect.all([child("a"), child("b"), ours], { concurrency: "unbounded" })
        expect([a, b]).toEqual([0, 0])
        const tags = yield* layout.tags
        expect(tags.length).toBe(45)
        for (const prefix of ["a", "b", "main"]) {
          for (let i = 0; i < 15; i++) expect(tags).toContain(`${prefix}-${i}`)
        }
      })
    ), { timeout: 60_000 })

  it.scopedLive("a lock left by a dead writer is broken; a live one makes writers wait, then LayoutLocked", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const patient = yield* OciLayout.open(dir, { create: true, lockTimeout: "200 millis", staleLockAfter: "10 seconds" })
      const lock = Path.join(dir, "index.json.lock")
      Fs.writeFileSync(lock, "someone else")
      const image = yield* smallImage(patient, "locked")
      const error = yield* Effect.flip(patient.writeManifest(image, { tag: "v1" }))
      expect(error._tag).toBe("LayoutLocked")
      expect(Fs.readFileSync(lock, "utf8")).toBe("someone else")
      const old = new Date(Date.now() - 60_000)
      Fs.utimesSync(lock, old, old)
      yield* patient.writeManifest(image, { tag: "v1" })
      expect(yield* patient.tags).toEqual(["v1"])
      expect(Fs.existsSync(lock)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("OciLayout referrers", () => {
  /** The node FileSystem, counting the files read whole (manifests are read that way). */
  const countingFs = Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const reads: Array<string> = []
    const counted: FileSystem.FileSystem = { ...fs, readFile: (path) => Effect.zipRight(Effect.sync(() => reads.push(path)), fs.readFile(path)) }
    return { counted, reads }
  })

  /** An artifact manifest (empty config) referring to `subject`. */
  const artifact = (subject: Manifest.Descriptor, artifactType: string, name: string) =>
    Manifest.encode({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType,
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: Digest.compute("{}"), size: 2 },
      layers: [],
      subject,
      annotations: { name }
    })

  it.scopedLive("finds the entries whose subject is the image, filtered by artifact type; each manifest is read once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { counted, reads } = yield* countingFs
      yield* Effect.gen(function*() {
        const layout = yield* OciLayout.open(dir, { create: true })
        yield* layout.writeBlob(new TextEncoder().encode("{}"), { digest: Digest.compute("{}") })
        const a = yield* layout.writeManifest(yield* smallImage(layout, "a"), { tag: "a" })
        const b = yield* layout.writeManifest(yield* smallImage(layout, "b"), { tag: "b" })
        const sig = yield* layout.writeManifest(artifact(a, "application/example.sig", "sig"), { index: true })
        const sbom = yield* layout.writeManifest(artifact(a, "application/example.sbom", "sbom"), { index: true })
        const other = yield* layout.writeManifest(artifact(b, "application/example.sig", "other"), { index: true })
        const manifestReads = () => reads.filter((p) => p.includes(`${Path.sep}blobs${Path.sep}`)).length

        const before = manifestReads()
        expect((yield* layout.referrers(a.digest)).map((d) => [d.digest, d.artifactType]).sort()).toEqual(
          [[sig.digest, "application/example.sig"], [sbom.digest, "application/example.sbom"]].sort()
        )
        // the first lookup reads the five manifests once
        expect(manifestReads() - before).toBe(5)
        expect((yield* layout.referrers(a.digest, { artifactType: "application/example.sbom" })).map((d) => d.digest))
          .toEqual([sbom.digest])
        expect((yield* layout.referrers(b.digest)).map((d) => d.digest)).toEqual([other.digest])
        expect(yield* layout.referrers(other.digest)).toEqual([])
        // later lookups read none again
        expect(manifestReads() - before).toBe(5)
        // a referrer added (by this or another writer) is found, reading only it
        const late = yield* layout.writeManifest(artifact(b, "application/example.sig", "late"), { index: true })
        expect((yield* layout.referrers(b.digest)).map((d) => d.digest).sort()).toEqual([other.digest, late.digest].sort())
        expect(manifestReads() - before).toBe(6)
      }).pipe(Effect.provideService(FileSystem.FileSystem, counted))
    }).pipe(Effect.provide(NodeContext.layer)))
})
