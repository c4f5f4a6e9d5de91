/**
 * Copy and OciLayout against distribution 2.8 (token auth) and skopeo 1.9: skopeo reads the layouts
 * and registries we write and we read what it writes, byte for byte; multi-arch indexes with
 * `--all`; mounts within the registry; referrers through the fallback tag.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Copy from "../../src/Copy.js"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as OciLayout from "../../src/OciLayout.js"
import * as Images from "../support/images.js"
import { integrationSuite } from "./support/binaries.js"
import * as Client from "./support/client.js"
import * as Environment from "./support/environment.js"
import { Fixture, scratch } from "./support/environment.js"
import { logMark, requestsSince } from "./support/registry.js"
import * as Skopeo from "./support/skopeo.js"

/** Writes `images` and then `top` under `tag` into a new layout; returns its directory. */
const writeLayout = (tag: string, top: Manifest.Decoded, images: ReadonlyArray<Images.Image>) =>
  Effect.gen(function*() {
    const dir = yield* scratch("ours")
    const layout = yield* OciLayout.open(dir, { create: true })
    for (const img of images) {
      for (const b of img.blobs) yield* layout.writeBlob(b.bytes, { digest: b.descriptor.digest, size: b.descriptor.size })
      // an artifact is listed (untagged) so that it can be found as a referrer; a child is a blob only
      yield* layout.writeManifest(img.manifest, { index: Manifest.subject(img.manifest.manifest) !== undefined })
    }
    yield* layout.writeManifest(top, { tag })
    return dir
  })

const registryEndpoint = (repository: string, tag: string) =>
  Effect.map(Fixture, ({ registry }) => Copy.registry(Client.ref(registry, repository, tag)))

const fileBytes = (file: string) => new Uint8Array(Fs.readFileSync(file))

/** `skopeo copy --preserve-digests SRC dir:OUT` (the `dir:` transport: `manifest.json` and blobs by hex). */
const skopeoToDir = (source: string, side: "src" | undefined) =>
  Effect.gen(function*() {
    const { registry, skopeo } = yield* Fixture
    const out = yield* scratch("dir")
    yield* skopeo.run(["copy", "--quiet", "--preserve-digests", ...(side === undefined ? [] : Skopeo.flags(registry, side)), source, `dir:${out}`])
    return out
  })

integrationSuite("copy with distribution 2.8 and skopeo", ["docker-registry", "skopeo", "openssl"], () => {
  layer(Layer.merge(Environment.layer("token"), NodeContext.layer), Environment.layerOptions)((it) => {
    it.effect("skopeo reads the layout we write from the registry, byte for byte", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const img = Images.image("ours-to-skopeo", { layers: 5 })
        const source = yield* writeLayout("v1", img.manifest, [img])
        const pushed = yield* Copy.copy(Copy.layout(source, "v1"), yield* registryEndpoint("copy/app", "v1"))
        expect(pushed.blobs.copied).toBe(6)
        const dir = yield* scratch("pulled")
        yield* Copy.copy(yield* registryEndpoint("copy/app", "v1"), Copy.layout(dir, "v1"))

        const raw = yield* skopeo.run(["inspect", "--raw", `oci:${dir}:v1`])
        expect(raw.stdout).toBe(new TextDecoder().decode(img.manifest.bytes))
        const viaRegistry = yield* Skopeo.inspectRaw(skopeo, registry, "copy/app", "v1")
        expect(viaRegistry).toBe(raw.stdout)
        const out = yield* skopeoToDir(`oci:${dir}:v1`, undefined)
        expect(fileBytes(Path.join(out, "manifest.json"))).toEqual(img.manifest.bytes)
        for (const b of img.blobs) expect(fileBytes(Path.join(out, Digest.hex(b.descriptor.digest)))).toEqual(b.bytes)
      }))

    it.effect("we read the layout skopeo writes, byte for byte, and push it back", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const img = Images.image("skopeo-to-ours", { layers: 3 })
        const source = yield* writeLayout("v1", img.manifest, [img])
        yield* skopeo.run([
          "copy",
          "--quiet",
          "--preserve-digests",
          ...Skopeo.flags(registry, "dest"),
          `oci:${source}:v1`,
          Skopeo.dockerRef(registry, "skopeo/app", "v1")
        ])
        const theirs = yield* scratch("theirs")
        yield* Skopeo.pull(skopeo, registry, "skopeo/app", "v1", theirs, "v1")

        const copied = yield* scratch("copied")
        const result = yield* Copy.copy(Copy.layout(theirs, "v1"), Copy.layout(copied, "v1"))
        expect(result.digest).toBe(img.manifest.digest)
        const layout = yield* OciLayout.open(theirs)
        expect((yield* layout.resolve("v1")).digest).toBe(img.manifest.digest)
        for (const b of [...img.blobs, { descriptor: Manifest.descriptorOf(img.manifest), bytes: img.manifest.bytes }]) {
          const hex = Digest.hex(b.descriptor.digest)
          expect(fileBytes(Path.join(copied, "blobs", "sha256", hex))).toEqual(fileBytes(Path.join(theirs, "blobs", "sha256", hex)))
        }
        yield* Copy.copy(Copy.layout(theirs, "v1"), yield* registryEndpoint("skopeo/back", "v1"))
        expect(yield* Skopeo.inspectRaw(skopeo, registry, "skopeo/back", "v1")).toBe(new TextDecoder().decode(img.manifest.bytes))
      }))

    it.effect("a multi-arch index: we push it, skopeo --all pulls it, we push skopeo's layout again", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const idx = Images.index("multi", [
          { os: "linux", architecture: "amd64" },
          { os: "linux", architecture: "arm64", variant: "v8" }
        ])
        const source = yield* writeLayout("v1", idx.manifest, idx.images)
        const pushed = yield* Copy.copy(Copy.layout(source, "v1"), yield* registryEndpoint("multi/app", "v1"))
        expect(pushed.digest).toBe(idx.manifest.digest)
        expect(pushed.blobs.copied).toBe(6)

        const theirs = yield* scratch("theirs-all")
        yield* skopeo.run([
          "copy",
          "--quiet",
          "--all",
          "--preserve-digests",
          ...Skopeo.flags(registry, "src"),
          Skopeo.dockerRef(registry, "multi/app", "v1"),
          `oci:${theirs}:v1`
        ])
        const entries = yield* (yield* OciLayout.open(theirs)).entries
        expect(entries.map((e) => e.digest)).toEqual([idx.manifest.digest])

        const mark = logMark(registry)
        const again = yield* Copy.copy(Copy.layout(theirs, "v1"), yield* registryEndpoint("multi/again", "v1"))
        expect(again.digest).toBe(idx.manifest.digest)
        // the BlobCache knows multi/app holds every blob: mounted from there, though the source is a layout
        expect(again.blobs).toEqual({ copied: 0, skipped: 0, mounted: 6 })
        expect(yield* Skopeo.inspectRaw(skopeo, registry, "multi/again", "v1")).toBe(new TextDecoder().decode(idx.manifest.bytes))
        // children before their index, the index (with the tag) last
        const puts = (yield* requestsSince(registry, mark)).filter((r) => r.startsWith("PUT /v2/multi/again/manifests/"))
        expect(puts.map((r) => r.slice(r.lastIndexOf("/") + 1))).toEqual([
          ...idx.images.map((i) => i.manifest.digest),
          "v1"
        ])
      }))

    it.effect("within one registry (token auth) every blob is mounted, none uploaded", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const img = Images.image("mounted", { layers: 5 })
        yield* Copy.copy(Copy.layout(yield* writeLayout("v1", img.manifest, [img]), "v1"), yield* registryEndpoint("mount/src", "v1"))
        const mark = logMark(registry)
        const result = yield* Copy.copy(yield* registryEndpoint("mount/src", "v1"), yield* registryEndpoint("mount/dst", "v2"))
        expect(result.blobs).toEqual({ copied: 0, skipped: 0, mounted: 6 })
        const requests = yield* requestsSince(registry, mark)
        expect(requests.filter((r) => r.startsWith("PATCH") || (r.startsWith("PUT") && r.includes("/blobs/")))).toEqual([])
        expect(requests.filter((r) => r.includes("mount=")).length).toBe(6)
        expect(requests.filter((r) => r.includes("mount=")).every((r) => r.includes("from=mount%2Fsrc"))).toBe(true)
      }))

    it.effect("referrers go to 2.8 through the fallback tag and come back into a layout", () =>
      Effect.gen(function*() {
        const img = Images.image("signed")
        const sig = Images.artifact("alice", img.manifest)
        const source = yield* writeLayout("v1", img.manifest, [img, sig])
        yield* Copy.copy(Copy.layout(source, "v1"), yield* registryEndpoint("signed/app", "v1"), { referrers: true })
        const back = yield* scratch("signed-back")
        const result = yield* Copy.copy(yield* registryEndpoint("signed/app", "v1"), Copy.layout(back, "v1"), { referrers: true })
        expect(result.digest).toBe(img.manifest.digest)
        const layout = yield* OciLayout.open(back)
        expect((yield* layout.referrers(img.manifest.digest)).map((d) => d.digest)).toEqual([sig.manifest.digest])
        for (const b of sig.blobs) expect(yield* layout.hasBlob(b.descriptor.digest, b.descriptor.size)).toBe(true)
      }))

    it.effect("skopeo and we tag images in one layout; each sees the other's", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const a = Images.image("shared-a")
        const b = Images.image("shared-b")
        yield* Copy.copy(Copy.layout(yield* writeLayout("a", a.manifest, [a]), "a"), yield* registryEndpoint("shared/a", "v1"))
        const dir = yield* scratch("shared")
        yield* Skopeo.pull(skopeo, registry, "shared/a", "v1", dir, "from-skopeo")
        yield* Copy.copy(Copy.layout(yield* writeLayout("b", b.manifest, [b]), "b"), Copy.layout(dir, "from-us"))
        expect(yield* (yield* OciLayout.open(dir)).tags).toEqual(["from-skopeo", "from-us"])
        const ours = yield* skopeo.run(["inspect", "--raw", `oci:${dir}:from-us`])
        expect(ours.stdout).toBe(new TextDecoder().decode(b.manifest.bytes))
        const theirs = yield* skopeo.run(["inspect", "--raw", `oci:${dir}:from-skopeo`])
        expect(theirs.stdout).toBe(new TextDecoder().decode(a.manifest.bytes))
      }))
  })
})
