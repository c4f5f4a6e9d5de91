/**
 * The round trips every mode runs, compared byte for byte: skopeo pushes and our client reads
 * (manifest by tag and by digest, resolve, blobs verified, tags); our client pushes (monolithic,
 * chunked, streamed), tags, mounts and deletes, and skopeo reads.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, type Vitest } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as BlobFile from "../../../src/BlobFile.js"
import * as Copy from "../../../src/Copy.js"
import * as Digest from "../../../src/Digest.js"
import * as MediaType from "../../../src/MediaType.js"
import * as Layout from "../../../src/OciLayout.js"
import * as Repository from "../../../src/Repository.js"
import * as Client from "./client.js"
import { type Env, Fixture, scratch, skopeoPush } from "./environment.js"
import * as OciLayout from "./ociLayout.js"
import { logMark, requestsSince } from "./registry.js"
import * as Skopeo from "./skopeo.js"

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/**
 * Pushes an image with our client: the config monolithic, the first layer chunked (16 KiB
 * chunks), the second streamed from a `Stream` of unknown size; then the manifest by tag.
 */
export const clientPush = (repository: string, tag: string, seed: string = `client:${repository}:${tag}`) =>
  Effect.gen(function*() {
    const { registry } = yield* Fixture
    const repo = yield* Repository.Repository
    const image = OciLayout.makeImage(seed)
    const target = Client.ref(registry, repository)
    const [first, second] = image.layers
    const pushed = [
      yield* repo.putBlob(target, image.config.bytes, { strategy: "monolithic", mediaType: image.config.mediaType }),
      yield* repo.putBlob(target, first!.bytes, { strategy: "chunked", chunkSize: 16 * 1024, mediaType: first!.mediaType }),
      // a re-runnable stream of several chunks, size and digest unknown to the client up front
      yield* repo.putBlob(
        target,
        Stream.fromIterable(Array.from({ length: 5 }, (_, i) => second!.bytes.subarray(i * 10_000, (i + 1) * 10_000)))
          .pipe(Stream.concat(Stream.make(second!.bytes.subarray(50_000)))),
        { strategy: "streamed", mediaType: second!.mediaType }
      )
    ]
    expect(pushed.map((d) => d.digest)).toEqual([image.config, ...image.layers].map((b) => b.digest))
    expect(pushed.map((d) => d.size)).toEqual([image.config, ...image.layers].map((b) => b.bytes.length))
    const digest = yield* repo.putManifest(Client.ref(registry, repository, tag), {
      bytes: image.manifest.bytes,
      mediaType: image.manifest.mediaType
    })
    expect(digest).toBe(image.manifest.digest)
    return image
  })

/** Registers the "skopeo pushes, effect-oci reads" tests on a suite's `it`. */
export const skopeoToClient = (it: Vitest.MethodsNonLive<Env, true>) => {
  it.effect("reads the manifest skopeo pushed, by tag and by digest, byte for byte", () =>
    Effect.gen(function*() {
      const { registry } = yield* Fixture
      const repo = yield* Repository.Repository
      const image = yield* skopeoPush("it/pulled", "v1")

      const byTag = yield* repo.getManifest(Client.ref(registry, "it/pulled", "v1"))
      expect(byTag.digest).toBe(image.manifest.digest)
      expect(byTag.mediaType).toBe(MediaType.OciManifest)
      expect(same(byTag.bytes, image.manifest.bytes)).toBe(true)

      const byDigest = yield* repo.getManifest(Client.ref(registry, "it/pulled", image.manifest.digest))
      expect(same(byDigest.bytes, image.manifest.bytes)).toBe(true)

      const descriptor = yield* repo.resolve(Client.ref(registry, "it/pulled", "v1"))
      expect(descriptor).toMatchObject({
        mediaType: MediaType.OciManifest,
        digest: image.manifest.digest,
        size: image.manifest.bytes.length
      })
      expect(yield* repo.manifestExists(Client.ref(registry, "it/pulled", "v1"))).toBe(true)
      expect(yield* repo.manifestExists(Client.ref(registry, "it/pulled", "no-such-tag"))).toBe(false)
    }))

  it.effect("reads every blob, verified, and its size", () =>
    Effect.gen(function*() {
      const { registry } = yield* Fixture
      const repo = yield* Repository.Repository
      const image = yield* skopeoPush("it/blobs", "v1")
      const target = Client.ref(registry, "it/blobs")
      for (const blob of [image.config, ...image.layers]) {
        const digest = Client.digest(blob.digest)
        const bytes = yield* Client.readBlob(target, digest, blob.bytes.length)
        expect(Digest.compute(bytes)).toBe(blob.digest)
        expect(same(bytes, blob.bytes)).toBe(true)
        const stat = yield* repo.statBlob(target, digest)
        expect(stat.size).toBe(blob.bytes.length)
      }
      const range = yield* repo.getBlobRange(target, Client.digest(image.layers[0]!.digest), { offset: 10, length: 100 })
        .pipe(Stream.runCollect, Effect.map((c) => Buffer.concat(Chunk.toReadonlyArray(c))))
      expect(range.equals(Buffer.from(image.layers[0]!.bytes.subarray(10, 110)))).toBe(true)
    }))

  it.effect("a large blob: BlobFile.download and Copy into a layout, through reused memory, byte for byte", () =>
    Effect.gen(function*() {
      const { registry } = yield* Fixture
      const repo = yield* Repository.Repository
      const target = Client.ref(registry, "it/large")
      // large enough for the ring of reused memory a download to a file reads into
      const layer = Crypto.randomBytes(9 * 1024 * 1024 + 3)
      const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux" }))
      const layerBlob = yield* repo.putBlob(target, layer, { mediaType: MediaType.OciLayerGzip })
      const configBlob = yield* repo.putBlob(target, config, { mediaType: MediaType.OciConfig })
      const dir = yield* scratch("large")
      Fs.mkdirSync(dir, { recursive: true })
      const file = Path.join(dir, "blob")
      for (const size of [layer.byteLength, undefined]) {
        yield* BlobFile.download(target, layerBlob.digest, file, { size }).pipe(Effect.provide(NodeContext.layer))
        expect(Fs.readFileSync(file).equals(layer)).toBe(true)
      }
      const bytes = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: configBlob.digest, size: configBlob.size },
        layers: [{ mediaType: MediaType.OciLayerGzip, digest: layerBlob.digest, size: layerBlob.size }]
      }))
      yield* repo.putManifest(Client.ref(registry, "it/large", "v1"), { bytes, mediaType: MediaType.OciManifest })
      const layoutDir = Path.join(dir, "layout")
      const copied = yield* Copy.copy(Copy.registry(Client.ref(registry, "it/large", "v1")), Copy.layout(layoutDir, "v1")).pipe(
        Effect.provide(NodeContext.layer)
      )
      expect(copied.blobs.copied).toBe(2)
      const [algorithm, hex] = layerBlob.digest.split(":")
      expect(Fs.readFileSync(Path.join(layoutDir, "blobs", algorithm!, hex!)).equals(layer)).toBe(true)
    }))

  it.effect("lists the tags skopeo pushed", () =>
    Effect.gen(function*() {
      const { registry, skopeo } = yield* Fixture
      const repo = yield* Repository.Repository
      const image = yield* skopeoPush("it/tags", "one")
      // a second tag for the same image: skopeo copies registry to registry
      yield* skopeo.run([
        "copy",
        "--quiet",
        ...Skopeo.flags(registry, "src"),
        ...Skopeo.flags(registry, "dest"),
        Skopeo.dockerRef(registry, "it/tags", "one"),
        Skopeo.dockerRef(registry, "it/tags", "two")
      ])
      const tags = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.tags(Client.ref(registry, "it/tags"))))
      expect([...tags].sort()).toEqual(["one", "two"])
      const two = yield* repo.resolve(Client.ref(registry, "it/tags", "two"))
      expect(two.digest).toBe(image.manifest.digest)
    }))
}

/** Registers the "effect-oci pushes, skopeo reads" tests. */
export const clientToSkopeo = (it: Vitest.MethodsNonLive<Env, true>) => {
  it.effect("skopeo reads what our client pushed, byte for byte", () =>
    Effect.gen(function*() {
      const { registry, skopeo } = yield* Fixture
      const mark = logMark(registry)
      const image = yield* clientPush("it/pushed", "v1")
      // the chunked layer really went in several PATCHes of at most 16 KiB
      const uploads = (yield* requestsSince(registry, mark)).filter((r) => r.startsWith("PATCH /v2/it/pushed/blobs/uploads/"))
      expect(uploads.length).toBeGreaterThanOrEqual(3)

      const raw = yield* Skopeo.inspectRaw(skopeo, registry, "it/pushed", "v1")
      expect(same(Buffer.from(raw), image.manifest.bytes)).toBe(true)
      const rawByDigest = yield* Skopeo.inspectRaw(skopeo, registry, "it/pushed", image.manifest.digest)
      expect(same(Buffer.from(rawByDigest), image.manifest.bytes)).toBe(true)

      const dir = yield* scratch("pulled")
      yield* Skopeo.pull(skopeo, registry, "it/pushed", "v1", dir, "v1")
      // skopeo wrote the layout; the public reader checks it holds exactly what we pushed
      const { blobs, entries } = yield* Effect.gen(function*() {
        const layout = yield* Layout.open(dir)
        const blobs = yield* Effect.forEach([image.manifest, image.config, ...image.layers], (blob) =>
          Effect.flatMap(layout.blobPath(blob.digest), (file) => Effect.sync(() => Fs.readFileSync(file))))
        return { blobs, entries: yield* layout.entries }
      }).pipe(Effect.provide(NodeContext.layer))
      expect(entries.map((m) => m.digest)).toEqual([image.manifest.digest])
      ;[image.manifest, image.config, ...image.layers].forEach((blob, i) => expect(same(blobs[i]!, blob.bytes)).toBe(true))
    }))

  it.effect("a second push of the same blobs sends nothing; tag() adds a tag skopeo sees", () =>
    Effect.gen(function*() {
      const { registry, skopeo } = yield* Fixture
      const repo = yield* Repository.Repository
      const image = yield* clientPush("it/retagged", "v1")
      const target = Client.ref(registry, "it/retagged")
      const mark = logMark(registry)
      const again = yield* repo.putBlob(target, image.layers[0]!.bytes, { mediaType: image.layers[0]!.mediaType })
      expect(again.digest).toBe(image.layers[0]!.digest)
      const requests = yield* requestsSince(registry, mark)
      expect(requests.filter((r) => !r.startsWith("HEAD ") && !r.startsWith("GET /v2/ "))).toEqual([])
      const descriptor = yield* repo.tag(Client.ref(registry, "it/retagged", "v1"), "v2")
      expect(descriptor.digest).toBe(image.manifest.digest)
      const raw = yield* Skopeo.inspectRaw(skopeo, registry, "it/retagged", "v2")
      expect(same(Buffer.from(raw), image.manifest.bytes)).toBe(true)
    }))

  it.effect("mounts a blob from another repository", () =>
    Effect.gen(function*() {
      const { registry } = yield* Fixture
      const repo = yield* Repository.Repository
      const image = yield* clientPush("it/mount-source", "v1")
      const layer = image.layers[1]!
      const result = yield* repo.mountBlob(Client.ref(registry, "it/mount-target"), Client.digest(layer.digest), "it/mount-source")
      expect(result._tag).toBe("Mounted")
      const bytes = yield* Client.readBlob(Client.ref(registry, "it/mount-target"), Client.digest(layer.digest))
      expect(same(bytes, layer.bytes)).toBe(true)
    }))

  it.effect("deletes: a manifest by digest (its tags go too), then a blob", () =>
    Effect.gen(function*() {
      const { registry, skopeo } = yield* Fixture
      const repo = yield* Repository.Repository
      const image = yield* clientPush("it/deleted", "v1")
      const byDigest = Client.ref(registry, "it/deleted", image.manifest.digest)
      yield* repo.deleteManifest(byDigest)
      expect(yield* repo.manifestExists(byDigest)).toBe(false)
      expect((yield* Effect.flip(repo.getManifest(byDigest)))._tag).toBe("ManifestUnknown")
      expect((yield* Effect.flip(repo.getManifest(Client.ref(registry, "it/deleted", "v1"))))._tag)
        .toBe("ManifestUnknown")
      expect(yield* Effect.flip(Skopeo.inspectRaw(skopeo, registry, "it/deleted", "v1"))).toBeInstanceOf(Error)

      const target = Client.ref(registry, "it/deleted")
      const layer = Client.digest(image.layers[0]!.digest)
      expect((yield* repo.statBlob(target, layer)).size).toBe(image.layers[0]!.bytes.length)
      yield* repo.deleteBlob(target, layer)
      expect((yield* Effect.flip(repo.statBlob(target, layer)))._tag).toBe("BlobUnknown")
      expect((yield* Effect.flip(repo.deleteBlob(target, layer)))._tag).toBe("BlobUnknown")
      // the other blobs are untouched
      const config = yield* Client.readBlob(target, Client.digest(image.config.digest))
      expect(same(config, image.config.bytes)).toBe(true)
    }))
}
