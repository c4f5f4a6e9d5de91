/**
 * Copy against embedded registries and layouts on disk: registry ↔ registry, registry ↔ layout,
 * layout ↔ layout; single images, 5 layers, multi-arch indexes, artifacts and their referrers;
 * mounts, skips, interrupted copies run again, progress events and errors.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as BlobCache from "../src/BlobCache.js"
import * as Copy from "../src/Copy.js"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as node from "../src/node.js"
import * as OciLayout from "../src/OciLayout.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"
import * as Images from "./support/images.js"

const stack = node.layer({
  credentials: Credentials.layerAnonymous,
  transport: { retry: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(3))) },
  repository: { resume: Schedule.recurs(3) }
})

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-copy-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const refOf = (registry: Testing.TestRegistryService, repository: string, tag?: string) =>
  Either.getOrThrow(Reference.parseEither(`${registry.host}/${repository}${tag === undefined ? "" : `:${tag}`}`))

const at = (registry: Testing.TestRegistryService, repository: string, tag?: string) =>
  Copy.registry(refOf(registry, repository, tag))

/** Every blob and the manifest of `img` are in `repository` of `registry`, byte for byte. */
const expectImageIn = (registry: Testing.TestRegistryService, repository: string, img: Images.Image) =>
  Effect.gen(function*() {
    for (const b of img.blobs) expect(yield* registry.hasBlob(repository, b.descriptor.digest)).toBe(true)
    expect(yield* registry.hasManifest(repository, img.manifest.digest)).toBe(true)
  })

/** Every blob and the manifest of `img` are in the layout, byte for byte. */
const expectImageInLayout = (dir: string, img: Images.Image) =>
  Effect.gen(function*() {
    const layout = yield* OciLayout.open(dir)
    for (const b of [...img.blobs, { bytes: img.manifest.bytes, descriptor: Manifest.descriptorOf(img.manifest) }]) {
      const file = yield* layout.blobPath(b.descriptor.digest)
      expect(new Uint8Array(Fs.readFileSync(file))).toEqual(b.bytes)
    }
  })

const run = <A, E>(effect: Effect.Effect<A, E, Copy.Services>) => Effect.provide(effect, stack)

/** The stack with some of the Repository's operations replaced (each given the real Repository). */
const withRepository = (
  change: (repo: Repository.Repository["Type"]) => Partial<Repository.Repository["Type"]>
) =>
  Layer.effect(Repository.Repository, Effect.map(Repository.Repository, (repo) => ({ ...repo, ...change(repo) }))).pipe(
    Layer.provideMerge(stack)
  )

/** The platforms of the multi-arch test indexes. */
const platforms = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64", variant: "v8" },
  { os: "linux", architecture: "s390x" }
]

describe("Copy.parseEndpoint", () => {
  it.effect("reads docker:// and oci: with and without a tag", () =>
    Effect.gen(function*() {
      const docker = yield* Copy.parseEndpoint("docker://localhost:5000/a/b:v1")
      expect(docker._tag === "Registry" && Reference.format(docker.reference)).toBe("localhost:5000/a/b:v1")
      expect(yield* Copy.parseEndpoint("oci:/tmp/x:v1.0")).toEqual({ _tag: "Layout", directory: "/tmp/x", tag: "v1.0" })
      expect(yield* Copy.parseEndpoint("oci:relative/dir")).toEqual({ _tag: "Layout", directory: "relative/dir" })
      expect(Copy.formatEndpoint(yield* Copy.parseEndpoint("oci:/tmp/x:v1"))).toBe("oci:/tmp/x:v1")
    }))

  it.effect("refuses other transports, a bad reference, an empty directory and a bad tag", () =>
    Effect.gen(function*() {
      for (const input of ["dir:/tmp/x", "localhost:5000/a:v1", "docker://host/UPPER:v1", "oci:", "oci::v1", "oci:/x:bad tag"]) {
        const error = yield* Effect.flip(Copy.parseEndpoint(input))
        expect(error._tag).toBe("CopyEndpointInvalid")
        expect(error.input).toBe(input)
      }
    }))
})

describe("Copy.copy between registries", () => {
  it.scopedLive("a 5-layer image to another registry: every blob uploaded once, digests preserved", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("five", { layers: 5 })
      yield* Images.seed(a, "src/app", img, "v1")
      const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v2")))
      expect(result.digest).toBe(img.manifest.digest)
      expect(result.mediaType).toBe(img.manifest.mediaType)
      expect(result.size).toBe(img.manifest.size)
      expect(result.blobs).toEqual({ copied: 6, skipped: 0, mounted: 0 })
      const blobBytes = img.blobs.reduce((n, x) => n + x.descriptor.size, 0)
      expect(result.bytes).toBe(blobBytes + img.manifest.size)
      yield* expectImageIn(b, "dst/app", img)
      expect(yield* b.hasManifest("dst/app", "v2")).toBe(true)
      const log = yield* b.requests
      expect(Images.committed(log).sort()).toEqual(img.blobs.map((x) => x.descriptor.digest).sort())
      // the manifest went up after every blob, by tag
      const manifestPut = log.findIndex((r) => r.method === "PUT" && r.path.endsWith("/manifests/v2"))
      const lastBlob = Math.max(...log.flatMap((r, i) => (r.method === "PUT" && r.path.includes("/blobs/uploads/") ? [i] : [])))
      expect(manifestPut).toBeGreaterThan(lastBlob)
    }))

  it.scopedLive("within one registry every blob is mounted from the source repository, one request each", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const img = Images.image("mount", { layers: 5 })
      yield* Images.seed(a, "src/app", img, "v1")
      const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(a, "other/app", "v1")))
      expect(result.blobs).toEqual({ copied: 0, skipped: 0, mounted: 6 })
      expect(result.bytes).toBe(img.manifest.size)
      yield* expectImageIn(a, "other/app", img)
      const log = yield* a.requests
      expect(log.filter((r) => r.method === "PATCH" || (r.method === "PUT" && r.path.includes("/blobs/")))).toEqual([])
      expect(log.filter((r) => r.query["mount"] !== undefined).every((r) => r.query["from"] === "src/app")).toBe(true)
      // the mount itself is the only request per blob: no HEAD first
      expect(log.filter((r) => r.path.includes("/blobs/")).map((r) => r.method)).toEqual(Array(6).fill("POST"))
    }))

  it.scopedLive("within one registry, blobs this process knows the destination holds are skipped without a request", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const img = Images.image("known", { layers: 3 })
      yield* Images.seed(a, "src/app", img, "v1")
      for (const b of img.blobs) yield* a.putBlob("other/app", b.bytes)
      const result = yield* run(Effect.gen(function*() {
        // this process learns that other/app holds every blob (one HEAD each, remembered)
        const repo = yield* Repository.Repository
        for (const b of img.blobs) yield* repo.statBlob(refOf(a, "other/app"), b.descriptor.digest)
        yield* a.clearRequests
        return yield* Copy.copy(at(a, "src/app", "v1"), at(a, "other/app", "v1"))
      }))
      expect(result.blobs).toEqual({ copied: 0, skipped: 4, mounted: 0 })
      expect((yield* a.requests).filter((r) => r.path.includes("/blobs/"))).toEqual([])
    }))

  it.scopedLive("within one registry that refuses mounts, only the first blob tries one; the rest are asked for, then uploaded", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const img = Images.image("nomount", { layers: 4 })
      yield* Images.seed(a, "src/app", img, "v1")
      // a registry that never mounts: every mount POST opens an upload session instead (202)
      yield* a.setFaults([{
        method: "POST",
        path: /mount=/,
        action: Testing.FaultAction.respond(202, {
          headers: { location: "/v2/other/app/blobs/uploads/refused", "docker-upload-uuid": "refused", range: "0-0" }
        })
      }])
      yield* a.clearRequests
      const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(a, "other/app", "v1"), { concurrency: 1 }))
      expect(result.blobs).toEqual({ copied: 5, skipped: 0, mounted: 0 })
      yield* a.setFaults([])
      yield* expectImageIn(a, "other/app", img)
      const log = yield* a.requests
      expect(log.filter((r) => r.query["mount"] !== undefined).length).toBe(1)
      expect(log.filter((r) => r.method === "HEAD" && r.path.includes("/blobs/")).length).toBe(5)
    }))

  it.scopedLive("within one registry, a mount the registry refuses is cancelled, then the destination is asked", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const img = Images.image("refused", { layers: 2 })
      const [held, ...rest] = img.blobs
      // the source repository lacks one blob (so it cannot be mounted from there); the destination holds it
      for (const b of rest) yield* a.putBlob("src/app", b.bytes)
      yield* a.putManifest("src/app", img.manifest.bytes, { tag: "v1", mediaType: img.manifest.mediaType })
      yield* a.putBlob("other/app", held!.bytes)
      yield* a.clearRequests
      const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(a, "other/app", "v1")))
      expect(result.blobs).toEqual({ copied: 0, skipped: 1, mounted: 2 })
      yield* expectImageIn(a, "other/app", img)
      const forHeld = (yield* a.requests).filter((r) =>
        r.query["mount"] === held!.descriptor.digest || r.path.endsWith(held!.descriptor.digest) ||
        (r.method === "DELETE" && r.path.includes("/blobs/uploads/"))
      )
      expect(forHeld.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 202", "DELETE 204", "HEAD 200"])
    }))

  it.scopedLive("from another registry, blobs the BlobCache knows in a destination repository are mounted from it", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("cached", { layers: 4 })
      yield* Images.seed(a, "src/app", img, "v1")
      // one stack (so one BlobCache) for both copies
      const [first, second] = yield* run(Effect.all([
        Copy.copy(at(a, "src/app", "v1"), at(b, "team/one", "v1")),
        Copy.copy(at(a, "src/app", "v1"), at(b, "team/two", "v1"))
      ]))
      expect(first.blobs).toEqual({ copied: 5, skipped: 0, mounted: 0 })
      expect(second.blobs).toEqual({ copied: 0, skipped: 0, mounted: 5 })
      yield* expectImageIn(b, "team/two", img)
      const mounts = (yield* b.requests).filter((r) => r.query["mount"] !== undefined)
      expect(mounts.map((r) => r.query["from"])).toEqual(Array(5).fill("team/one"))
      expect(mounts.every((r) => r.status === 201)).toBe(true)
    }))

  it.scopedLive("a mount the registry refuses (stale cache) becomes an upload, its session cancelled", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("stale", { layers: 1 })
      yield* Images.seed(a, "src/app", img, "v1")
      const [result, forgotten] = yield* run(Effect.gen(function*() {
        const cache = yield* BlobCache.BlobCache
        for (const x of img.blobs) yield* cache.set({ ...x.descriptor }, `${b.host}/ghost/repo`)
        const result = yield* Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1"))
        return [result, yield* cache.repositories(img.blobs[0]!.descriptor.digest)] as const
      }))
      // the cache no longer claims ghost/repo holds the blob
      expect(forgotten).toEqual([`${b.host}/dst/app`])
      expect(result.blobs).toEqual({ copied: 2, skipped: 0, mounted: 0 })
      yield* expectImageIn(b, "dst/app", img)
      const log = yield* b.requests
      const mounts = log.filter((r) => r.query["mount"] !== undefined)
      expect(mounts.map((r) => [r.query["from"], r.status])).toEqual([["ghost/repo", 202], ["ghost/repo", 202]])
      expect(log.filter((r) => r.method === "DELETE" && r.path.includes("/blobs/uploads/")).length).toBe(2)
    }))

  it.scopedLive("a second copy sends no blob and finds the manifest there", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("again", { layers: 3 })
      yield* Images.seed(a, "src/app", img, "v1")
      yield* run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1")))
      yield* b.clearRequests
      const again = yield* run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1")))
      expect(again.blobs).toEqual({ copied: 0, skipped: 0, mounted: 0 })
      expect(Images.uploads(yield* b.requests)).toEqual([])
    }))

  it.scopedLive("a multi-arch index with all its children; `platform` copies the one image", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const idx = Images.index("multi", platforms)
      yield* Images.seedIndex(a, "src/multi", idx, "v1")
      const all = yield* run(Copy.copy(at(a, "src/multi", "v1"), at(b, "dst/multi", "v1")))
      expect(all.digest).toBe(idx.manifest.digest)
      expect(all.blobs.copied).toBe(9)
      for (const img of idx.images) yield* expectImageIn(b, "dst/multi", img)
      expect(yield* b.hasManifest("dst/multi", idx.manifest.digest)).toBe(true)

      const one = yield* run(
        Copy.copy(at(a, "src/multi", "v1"), at(b, "dst/one", "arm"), { platform: { os: "linux", architecture: "arm64" } })
      )
      expect(one.digest).toBe(idx.images[1]!.manifest.digest)
      expect(one.blobs.copied).toBe(3)
      yield* expectImageIn(b, "dst/one", idx.images[1]!)
      expect(yield* b.hasManifest("dst/one", idx.images[0]!.manifest.digest)).toBe(false)

      const missing = yield* Effect.flip(
        run(Copy.copy(at(a, "src/multi", "v1"), at(b, "dst/none", "x"), { platform: { os: "windows", architecture: "amd64" } }))
      )
      expect(missing._tag).toBe("CopyPlatformNotFound")
      if (missing._tag === "CopyPlatformNotFound") expect(missing.available).toEqual(["linux/amd64", "linux/arm64/v8", "linux/s390x"])
    }))

  it.scopedLive("`platforms` copies an index of only those platforms, with their attestations", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const idx = Images.index("subset", platforms)
      // a Docker build attestation for each image: platform unknown/unknown, naming the image it describes
      const attestations = idx.images.map((_, i) => Images.image(`subset/attestation-${i}`))
      const withAttestations = {
        images: [...idx.images, ...attestations],
        manifest: Manifest.encode({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          annotations: { "org.example.built": "yes" },
          manifests: [
            ...idx.images.map((img, i) => ({ ...Manifest.descriptorOf(img.manifest), platform: platforms[i]! })),
            ...attestations.map((att, i) => ({
              ...Manifest.descriptorOf(att.manifest),
              platform: { os: "unknown", architecture: "unknown" },
              annotations: {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": idx.images[i]!.manifest.digest
              }
            }))
          ]
        })
      }
      // stored as a registry may hold it: not the bytes Manifest.encode would write
      const stored = new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(withAttestations.manifest.bytes)), null, 3))
      for (const img of withAttestations.images) yield* Images.seed(a, "src/subset", img)
      yield* a.putManifest("src/subset", stored, { tag: "v1", mediaType: withAttestations.manifest.mediaType })
      const two = [platforms[0]!, { os: "linux", architecture: "s390x" }]
      const result = yield* run(Copy.copy(at(a, "src/subset", "v1"), at(b, "dst/subset", "v1"), { platforms: two }))
      expect(result.digest).not.toBe(Digest.compute(stored))
      expect(result.blobs.copied).toBe(12) // two images and two attestations, 3 blobs each

      const copied = yield* run(Effect.flatMap(Repository.Repository, (repo) => repo.getManifest(refOf(b, "dst/subset", "v1"))))
      expect(copied.digest).toBe(result.digest)
      expect(Digest.compute(copied.bytes)).toBe(result.digest)
      if (!Manifest.isIndex(copied.manifest)) return expect.fail("not an index")
      const keep = [idx.images[0]!, idx.images[2]!, attestations[0]!, attestations[2]!]
      expect(copied.manifest.manifests.map((m) => m.digest)).toEqual(keep.map((img) => img.manifest.digest))
      expect(new TextDecoder().decode(copied.bytes)).toContain(`"org.example.built":"yes"`)
      for (const img of keep) yield* expectImageIn(b, "dst/subset", img)
      for (const img of [idx.images[1]!, attestations[1]!]) {
        expect(yield* b.hasManifest("dst/subset", img.manifest.digest)).toBe(false)
      }

      // every platform: the source's own index, bytes and digest preserved
      const all = yield* run(Copy.copy(at(a, "src/subset", "v1"), at(b, "dst/all", "v1"), { platforms }))
      expect(all.digest).toBe(Digest.compute(stored))
      // one missing: nothing is copied, the error lists what the index has
      const missing = yield* Effect.flip(run(Copy.copy(at(a, "src/subset", "v1"), at(b, "dst/missing", "v1"), {
        platforms: [platforms[0]!, { os: "windows", architecture: "amd64" }]
      })))
      expect(missing._tag).toBe("CopyPlatformNotFound")
      expect(yield* b.hasManifest("dst/missing", idx.images[0]!.manifest.digest)).toBe(false)
    }))

  it.scopedLive("with referrers: the artifacts referring to the image follow it (API and fallback tag)", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const withApi = yield* Testing.make()
      const withoutApi = yield* Testing.make({ referrers: false })
      const img = Images.image("signed")
      const sig = Images.artifact("alice", img.manifest)
      const sbom = Images.artifact("sbom", img.manifest)
      yield* Images.seed(a, "src/app", img, "v1")
      yield* Images.seed(a, "src/app", sig)
      yield* Images.seed(a, "src/app", sbom)
      for (const target of [withApi, withoutApi]) {
        const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(target, "dst/app", "v1"), { referrers: true }))
        expect(result.digest).toBe(img.manifest.digest)
        yield* expectImageIn(target, "dst/app", sig)
        yield* expectImageIn(target, "dst/app", sbom)
        const listed = yield* run(Effect.flatMap(Repository.Repository, (repo) =>
          repo.referrers(refOf(target, "dst/app"), img.manifest.digest)))
        expect(listed.map((d) => d.digest).sort()).toEqual([sig.manifest.digest, sbom.manifest.digest].sort())
      }
      // without the option, no referrer is copied
      const plain = yield* Testing.make()
      yield* run(Copy.copy(at(a, "src/app", "v1"), at(plain, "dst/app", "v1")))
      expect(yield* plain.hasManifest("dst/app", sig.manifest.digest)).toBe(false)
    }))

  it.scopedLive("a missing source tag is CopyImageNotFound naming the endpoint", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const error = yield* Effect.flip(run(Copy.copy(at(a, "src/app", "nope"), at(a, "dst/app", "v1"))))
      expect(error._tag).toBe("CopyImageNotFound")
      expect(error.message).toContain(`docker://${a.host}/src/app:nope`)
    }))
})

describe("Copy.copy interrupted, then run again", () => {
  it.scopedLive("an interrupted copy leaves no tag; run again, it sends no blob twice", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("interrupted", { layers: 5 })
      yield* Images.seed(a, "src/app", img, "v1")
      let done = 0
      const exit = yield* Effect.exit(run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1"), {
        concurrency: 1,
        onProgress: (e) => (e._tag === "BlobDone" && ++done === 3 ? Effect.interrupt : Effect.void)
      })))
      expect(exit._tag === "Failure" && exit.cause._tag).toBe("Interrupt")
      expect(yield* b.hasManifest("dst/app", "v1")).toBe(false)
      const first = Images.committed(yield* b.requests)
      expect(first.length).toBe(3)
      yield* b.clearRequests
      const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1")))
      const second = Images.committed(yield* b.requests)
      expect(result.blobs).toEqual({ copied: 3, skipped: 3, mounted: 0 })
      expect([...first, ...second].sort()).toEqual(img.blobs.map((x) => x.descriptor.digest).sort())
      yield* expectImageIn(b, "dst/app", img)
    }))

  it.scopedLive("a blob the destination refuses fails the copy naming the blob and the endpoint", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("refused", { layers: 2 })
      yield* Images.seed(a, "src/app", img, "v1")
      const refused = img.blobs[2]!.descriptor.digest
      yield* b.setFaults([{ method: "PUT", path: Digest.hex(refused), action: Testing.FaultAction.respond(403, { code: "DENIED" }) }])
      const error = yield* Effect.flip(run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1"))))
      expect(error._tag).toBe("CopyBlobFailed")
      if (error._tag === "CopyBlobFailed") {
        expect(error.digest).toBe(refused)
        expect(error.operation).toBe("write")
        expect(error.endpoint).toBe(`docker://${b.host}/dst/app:v1`)
        expect(error.cause._tag).toBe("Denied")
      }
      expect(yield* b.hasManifest("dst/app", "v1")).toBe(false)
    }))
})

describe("Copy.copy with layouts", () => {
  it.scopedLive("registry → layout → layout → registry keeps every byte", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const dir = yield* tempDir
      const img = Images.image("roundtrip", { layers: 5 })
      yield* Images.seed(a, "src/app", img, "v1")
      const first = Path.join(dir, "first")
      const second = Path.join(dir, "second")
      const pulled = yield* run(Copy.copy(at(a, "src/app", "v1"), Copy.layout(first, "v1")))
      expect(pulled.blobs.copied).toBe(6)
      yield* run(expectImageInLayout(first, img))
      const copied = yield* run(Copy.copy(Copy.layout(first, "v1"), Copy.layout(second, "latest")))
      expect(copied.digest).toBe(img.manifest.digest)
      yield* run(expectImageInLayout(second, img))
      const pushed = yield* run(Copy.copy(Copy.layout(second, "latest"), at(b, "back/app", "v1")))
      expect(pushed.digest).toBe(img.manifest.digest)
      yield* expectImageIn(b, "back/app", img)
      const index = JSON.parse(Fs.readFileSync(Path.join(second, "index.json"), "utf8"))
      expect(index.manifests).toEqual([{
        mediaType: img.manifest.mediaType,
        digest: img.manifest.digest,
        size: img.manifest.size,
        annotations: { [OciLayout.refNameAnnotation]: "latest" }
      }])
    }))

  it.scopedLive("large layers: into a layout through reused memory, and on to another registry, byte for byte", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const dir = yield* tempDir
      // over the size read into a ring, the second cut part-way (a resume)
      const img = Images.image("large", { layers: 2, layerSize: 6 * 1024 * 1024 + 5 })
      yield* Images.seed(a, "src/app", img, "v1")
      yield* a.setFaults([{ method: "GET", path: img.blobs[2]!.descriptor.digest, first: 1, action: Testing.FaultAction.cutBody(4_500_000) }])
      const pulled = yield* run(Copy.copy(at(a, "src/app", "v1"), Copy.layout(dir, "v1")))
      expect(pulled.blobs.copied).toBe(3)
      const layout = yield* run(OciLayout.open(dir))
      for (const blob of img.blobs) {
        // (Buffer.compare, not toEqual: vitest compares large arrays element by element)
        const file = Fs.readFileSync(yield* run(layout.blobPath(blob.descriptor.digest)))
        expect(Buffer.compare(file, blob.bytes)).toBe(0)
      }
      const [config, ...layers] = img.blobs.map((blob) =>
        a.requests.pipe(Effect.map((log) => log.filter((r) => r.method === "GET" && r.path.endsWith(blob.descriptor.digest))))
      )
      // the layers' GETs on the client's own connections (Node's client says keep-alive)
      expect((yield* config!).map((r) => r.headers["connection"])).toEqual(["keep-alive"])
      expect((yield* Effect.all(layers)).map((gets) => gets.map((r) => r.headers["connection"]))).toEqual([[undefined], [undefined, undefined]])
      // registry to registry: the upload holds what it reads, so the reads stay on pooled connections
      yield* a.clearRequests
      yield* run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1")))
      yield* expectImageIn(b, "dst/app", img)
      const again = (yield* a.requests).filter((r) => r.method === "GET" && r.path.includes("/blobs/"))
      expect(again.length).toBeGreaterThan(0)
      expect(again.every((r) => r.headers["connection"] === "keep-alive")).toBe(true)
    }))

  it.scopedLive("an index and its referrers into a layout and back out", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make({ referrers: false })
      const dir = yield* tempDir
      const idx = Images.index("laymulti", [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }])
      const sig = Images.artifact("bob", idx.manifest)
      yield* Images.seedIndex(a, "src/multi", idx, "v1")
      yield* Images.seed(a, "src/multi", sig)
      yield* run(Copy.copy(at(a, "src/multi", "v1"), Copy.layout(dir, "v1"), { referrers: true }))
      for (const img of [...idx.images, sig]) yield* run(expectImageInLayout(dir, img))
      const layout = yield* run(OciLayout.open(dir))
      expect((yield* run(layout.referrers(idx.manifest.digest))).map((d) => d.digest)).toEqual([sig.manifest.digest])
      // index.json lists the index under its tag and the referrer untagged; children are blobs only
      expect((yield* run(layout.entries)).map((e) => e.digest).sort()).toEqual([idx.manifest.digest, sig.manifest.digest].sort())

      const back = yield* run(Copy.copy(Copy.layout(dir, "v1"), at(b, "dst/multi", "v1"), { referrers: true }))
      expect(back.digest).toBe(idx.manifest.digest)
      for (const img of [...idx.images, sig]) yield* expectImageIn(b, "dst/multi", img)
      expect(yield* b.hasManifest("dst/multi", "sha256-" + Digest.hex(idx.manifest.digest))).toBe(true)
    }))

  /**
   * A layout whose blob `n` (0: the config) was altered in place, keeping its size: read unverified
   * by the copy, it must be caught by the destination, which commits nothing.
   */
  const tampered = (seed: string, n: number, layerSize?: number) =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const dir = yield* tempDir
      const img = Images.image(seed, { layers: 1, ...(layerSize === undefined ? {} : { layerSize }) })
      yield* Images.seed(a, "src/app", img, "v1")
      const source = Path.join(dir, "source")
      yield* run(Copy.copy(at(a, "src/app", "v1"), Copy.layout(source, "v1")))
      const blob = img.blobs[n]!.descriptor
      const file = yield* run(Effect.flatMap(OciLayout.open(source), (layout) => layout.blobPath(blob.digest)))
      const bytes = Fs.readFileSync(file)
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff
      Fs.writeFileSync(file, bytes)
      return { dir, source, blob, img }
    })

  const expectCaught = (error: { readonly _tag: string }, digest: Digest.Digest) => {
    expect(error._tag).toBe("CopyBlobFailed")
    if (!(error instanceof Copy.BlobFailed)) return
    expect(error.digest).toBe(digest)
    expect(error.operation).toBe("write")
    // our own check, not a registry's refusal of a complete upload
    expect(error.cause).toMatchObject({ _tag: "DigestMismatch", expected: digest })
  }

  for (const [what, n, layerSize] of [["a small blob (one PUT)", 0, undefined], ["a large blob (streamed)", 1, 8 * 1024 * 1024 + 5]] as const) {
    it.scopedLive(`layout → registry: ${what} altered in the layout fails typed, and the registry commits nothing`, () =>
      Effect.gen(function*() {
        const { blob, img, source } = yield* tampered(`tamper-${n}`, n, layerSize)
        const b = yield* Testing.make()
        const error = yield* Effect.flip(run(Copy.copy(Copy.layout(source, "v1"), at(b, "dst/app", "v1"))))
        expectCaught(error, blob.digest)
        expect(yield* b.hasBlob("dst/app", blob.digest)).toBe(false)
        expect(yield* b.hasManifest("dst/app", img.manifest.digest)).toBe(false)
        expect(yield* b.uploadSessions).toEqual([])
      }), 30_000)
  }

  it.scopedLive("registry → registry: a small blob the source serves altered fails typed before the destination opens an upload", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("tamper-registry", { layers: 1 })
      yield* Images.seed(a, "src/app", img, "v1")
      const layer = img.blobs[1]!.descriptor
      // the source's reads of the layer come back with one byte flipped
      const altered = withRepository((repo) => ({
        getBlobRange: (ref, digest, range) =>
          digest !== layer.digest ? repo.getBlobRange(ref, digest, range) : repo.getBlobRange(ref, digest, range).pipe(
            Stream.map((bytes) => {
              const copy = new Uint8Array(bytes)
              copy[0]! ^= 0xff
              return copy
            })
          )
      }))
      const error = yield* Effect.flip(
        Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1"), { concurrency: 1 }).pipe(Effect.provide(altered))
      )
      expectCaught(error, layer.digest)
      expect(yield* b.hasBlob("dst/app", layer.digest)).toBe(false)
      expect(yield* b.hasManifest("dst/app", img.manifest.digest)).toBe(false)
      // the config (first, one at a time) opened the only upload: the layer was checked before its POST
      const posts = (yield* b.requests).filter((r) => r.method === "POST")
      expect(posts).toHaveLength(1)
      expect(yield* b.uploadSessions).toEqual([])
    }))

  it.scopedLive("layout → layout: a blob altered in the source layout fails typed, and leaves no file", () =>
    Effect.gen(function*() {
      const { blob, dir, img, source } = yield* tampered("tamper-layout", 1)
      const target = Path.join(dir, "target")
      const error = yield* Effect.flip(run(Copy.copy(Copy.layout(source, "v1"), Copy.layout(target, "v1"))))
      expectCaught(error, blob.digest)
      const written = Fs.readdirSync(Path.join(target, "blobs", "sha256"))
      expect(written.some((name) => name.startsWith(Digest.hex(blob.digest)))).toBe(false)
      expect(written).not.toContain(Digest.hex(img.manifest.digest))
    }))

  it.scopedLive("a source directory that is not a layout fails with CopyEndpointFailed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(run(Copy.copy(Copy.layout(dir, "v1"), Copy.layout(Path.join(dir, "out")))))
      expect(error._tag).toBe("CopyEndpointFailed")
      expect(error.message).toContain(`oci:${dir}:v1`)
    }))
})

describe("Copy progress", () => {
  it.scopedLive("events add up to the bytes sent, and the Stream ends with the result", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("progress", { layers: 4, layerSize: 300_000 })
      yield* Images.seed(a, "src/app", img, "v1")
      // one blob already at the destination: skipped, and sends nothing
      yield* b.putBlob("dst/app", img.blobs[1]!.bytes)
      const events = Chunk.toReadonlyArray(
        yield* run(Stream.runCollect(Copy.copyWithProgress(at(a, "src/app", "v1"), at(b, "dst/app", "v1"))))
      )
      const last = events[events.length - 1]!
      expect(last._tag).toBe("Completed")
      const result = last._tag === "Completed" ? last.result : undefined!
      expect(result.blobs).toEqual({ copied: 4, skipped: 1, mounted: 0 })
      const sum = events.reduce(
        (n, e) => n + (e._tag === "BlobBytes" ? e.bytes : e._tag === "ManifestDone" ? e.size : 0),
        0
      )
      expect(sum).toBe(result.bytes)
      const sentBlobs = img.blobs.filter((_, i) => i !== 1).reduce((n, x) => n + x.descriptor.size, 0)
      expect(result.bytes).toBe(sentBlobs + img.manifest.size)
      expect(events[0]).toEqual({ _tag: "Planned", manifests: 1, blobs: 5, bytes: img.blobs.reduce((n, x) => n + x.descriptor.size, 0) })
      expect(events.filter((e) => e._tag === "BlobSkipped").map((e) => e._tag === "BlobSkipped" && e.digest)).toEqual([
        img.blobs[1]!.descriptor.digest
      ])
      expect(events.filter((e) => e._tag === "BlobDone").length).toBe(4)
      const totals = events.filter((e) => e._tag === "Totals")
      expect(totals[totals.length - 1]).toEqual({
        _tag: "Totals",
        blobs: { copied: 4, skipped: 1, mounted: 0, done: 5, total: 5 },
        bytes: result.bytes
      })
    }))

  it.scopedLive("a blob PUT the registry fails is sent again, read again from the source", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("put-fails", { layers: 1, layerSize: 100_000 })
      yield* Images.seed(a, "src/app", img, "v1")
      const layer = img.blobs[1]!.descriptor
      yield* b.setFaults([{ method: "PUT", path: Digest.hex(layer.digest), first: 1, action: Testing.FaultAction.serverError() }])
      const events: Array<Copy.ProgressEvent> = []
      const result = yield* run(Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1"), {
        onProgress: (e) => Effect.sync(() => events.push(e))
      }))
      yield* expectImageIn(b, "dst/app", img)
      expect(result.blobs.copied).toBe(2)
      expect(events.filter((e) => e._tag === "BlobRetried").map((e) => e._tag === "BlobRetried" && e.digest)).toEqual([layer.digest])
      const sum = events.reduce((n, e) => n + (e._tag === "BlobBytes" ? e.bytes : e._tag === "ManifestDone" ? e.size : 0), 0)
      expect(sum).toBe(result.bytes)
      expect(result.bytes).toBe(img.blobs[0]!.descriptor.size + 2 * layer.size + img.manifest.size)
    }))

  it.scopedLive("a large blob from a layout, its PATCH cut part-way: BlobResumed, and its bytes count", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const dir = yield* tempDir
      const img = Images.image("layout-cut", { layers: 1, layerSize: 9 * 1024 * 1024 })
      yield* Images.seed(a, "src/app", img, "v1")
      yield* run(Copy.copy(at(a, "src/app", "v1"), Copy.layout(dir, "v1")))
      const layer = img.blobs[1]!.descriptor
      yield* b.setFaults([
        { method: "PATCH", nth: 1, path: /\/blobs\/uploads\/./, action: Testing.FaultAction.cutRequest(3 * 1024 * 1024) }
      ])
      const events: Array<Copy.ProgressEvent> = []
      const result = yield* run(Copy.copy(Copy.layout(dir, "v1"), at(b, "dst/app", "v1"), {
        onProgress: (e) => Effect.sync(() => events.push(e))
      }))
      yield* expectImageIn(b, "dst/app", img)
      const resumed = events.filter((e) => e._tag === "BlobResumed")
      expect(resumed).toHaveLength(1)
      expect(resumed[0]).toMatchObject({ digest: layer.digest, size: layer.size })
      const offset = resumed[0]!._tag === "BlobResumed" ? resumed[0]!.offset : 0
      expect(offset).toBeGreaterThan(0)
      const sum = events.reduce((n, e) => n + (e._tag === "BlobBytes" ? e.bytes : e._tag === "ManifestDone" ? e.size : 0), 0)
      expect(sum).toBe(result.bytes)
      // what was read before the cut counts, and the rest from the registry's offset once more
      const done = events.find((e) => e._tag === "BlobDone" && e.digest === layer.digest)
      expect(done?._tag === "BlobDone" && done.sent).toBeGreaterThanOrEqual(layer.size + 3 * 1024 * 1024 - offset)
      expect(yield* b.uploadSessions).toEqual([])
    }), 30_000)

  it.scopedLive("a body opened again is BlobResumed (from an offset) or BlobRetried (from 0); its bytes count", () =>
    Effect.gen(function*() {
      const a = yield* Testing.make()
      const b = yield* Testing.make()
      const img = Images.image("retry", { layers: 1, layerSize: 200_000 })
      yield* Images.seed(a, "src/app", img, "v1")
      const layer = img.blobs[1]!.descriptor
      // a Repository whose uploads of the layer (read once already, to be sent) read part of it
      // again from an offset, as a recovering upload does, then from 0 again
      const flaky = withRepository((repo) => ({
        putBlob: (ref, body, o) =>
          Effect.gen(function*() {
            if (o?.digest === layer.digest && typeof body === "object" && "open" in body) {
              yield* Stream.runDrain(Stream.take(body.open(150_000), 1))
              yield* Stream.runDrain(Stream.take(body.open(0), 1))
            }
            return yield* repo.putBlob(ref, body, o)
          })
      }))
      const events: Array<Copy.ProgressEvent> = []
      const result = yield* Copy.copy(at(a, "src/app", "v1"), at(b, "dst/app", "v1"), {
        onProgress: (e) => Effect.sync(() => events.push(e))
      }).pipe(Effect.provide(flaky))
      yield* expectImageIn(b, "dst/app", img)
      expect(events.filter((e) => e._tag === "BlobResumed" || e._tag === "BlobRetried")).toEqual([
        { _tag: "BlobResumed", digest: layer.digest, size: layer.size, offset: 150_000 },
        { _tag: "BlobRetried", digest: layer.digest, size: layer.size, attempt: 2 }
      ])
      const sum = events.reduce((n, e) => n + (e._tag === "BlobBytes" ? e.bytes : e._tag === "ManifestDone" ? e.size : 0), 0)
      expect(sum).toBe(result.bytes)
      expect(result.bytes).toBeGreaterThan(img.blobs[0]!.descriptor.size + layer.size + img.manifest.size)
      const done = events.find((e) => e._tag === "BlobDone" && e.digest === layer.digest)
      expect(done?._tag === "BlobDone" && done.sent).toBeGreaterThan(layer.size)
    }))
})
