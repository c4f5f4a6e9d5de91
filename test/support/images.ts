/**
 * Images for copy tests: built in memory (config, layers of pseudo-random bytes, manifest; a
 * multi-arch index; an artifact referring to a subject) and seeded straight into the embedded
 * registry's storage, so that what a test measures is only what the copy sends.
 */
import * as Crypto from "node:crypto"
import * as Effect from "effect/Effect"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as MediaType from "../../src/MediaType.js"
import type * as Testing from "../../src/testing/index.js"

/** Bytes with their descriptor. */
export interface Blob {
  readonly descriptor: Manifest.Descriptor
  readonly bytes: Uint8Array
}

/** An image: its manifest (encoded) and its blobs, config first. */
export interface Image {
  readonly manifest: Manifest.Decoded
  readonly blobs: ReadonlyArray<Blob>
}

const blob = (bytes: Uint8Array, mediaType: string): Blob => ({
  descriptor: { mediaType, digest: Digest.compute(bytes), size: bytes.byteLength },
  bytes
})

/** `size` deterministic pseudo-random bytes for `seed`. */
export const bytes = (seed: string, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let state = Crypto.createHash("sha256").update(seed).digest()
  for (let i = 0; i < size; i += state.length) {
    out.set(state.subarray(0, Math.min(state.length, size - i)), i)
    state = Crypto.createHash("sha256").update(state).digest()
  }
  return out
}

/** An OCI image with `layers` layers of `layerSize` bytes (unique per seed). */
export const image = (
  seed: string,
  options: { readonly layers?: number; readonly layerSize?: number; readonly platform?: Manifest.Platform } = {}
): Image => {
  const layers = Array.from(
    { length: options.layers ?? 2 },
    (_, i) => blob(bytes(`${seed}/${i}`, options.layerSize ?? 20_000), MediaType.OciLayerGzip)
  )
  const platform = options.platform ?? { os: "linux", architecture: "amd64" }
  const config = blob(
    new TextEncoder().encode(JSON.stringify({ ...platform, rootfs: { type: "layers", diff_ids: [] }, seed })),
    MediaType.OciConfig
  )
  const manifest = Manifest.encode({
    schemaVersion: 2,
    config: config.descriptor,
    layers: layers.map((l) => l.descriptor)
  })
  return { manifest, blobs: [config, ...layers] }
}

/** A multi-arch index over one image per platform. */
export const index = (seed: string, platforms: ReadonlyArray<Manifest.Platform>) => {
  const images = platforms.map((platform) => image(`${seed}/${Manifest.formatPlatform(platform)}`, { platform }))
  const manifest = Manifest.encode({
    schemaVersion: 2,
    manifests: images.map((img, i) => ({ ...Manifest.descriptorOf(img.manifest), platform: platforms[i]! }))
  })
  return { manifest, images }
}

/** An artifact (e.g. a signature) whose `subject` is `subject`, with one small layer. */
export const artifact = (name: string, subject: Manifest.Decoded): Image => {
  const empty = blob(new TextEncoder().encode("{}"), MediaType.OciEmpty)
  const payload = blob(new TextEncoder().encode(`signature of ${subject.digest} by ${name}`), "application/vnd.example.sig")
  const manifest = Manifest.encode({
    schemaVersion: 2,
    artifactType: "application/vnd.example.signature",
    config: empty.descriptor,
    layers: [payload.descriptor],
    subject: Manifest.descriptorOf(subject),
    annotations: { "org.example.name": name }
  })
  return { manifest, blobs: [empty, payload] }
}

/** Stores an image's blobs and manifest in a repository of the embedded registry. */
export const seed = (registry: Testing.TestRegistryService, repository: string, img: Image, tag?: string) =>
  Effect.gen(function*() {
    for (const b of img.blobs) yield* registry.putBlob(repository, b.bytes)
    yield* registry.putManifest(repository, img.manifest.bytes, { tag, mediaType: img.manifest.mediaType })
  })

/** Stores an index with all its images. */
export const seedIndex = (
  registry: Testing.TestRegistryService,
  repository: string,
  idx: ReturnType<typeof index>,
  tag: string
) =>
  Effect.gen(function*() {
    for (const img of idx.images) yield* seed(registry, repository, img)
    yield* registry.putManifest(repository, idx.manifest.bytes, { tag, mediaType: idx.manifest.mediaType })
  })

/** The blob-upload requests (`POST`/`PATCH`/`PUT` on `/blobs/uploads/`) of a request log. */
export const uploads = (log: ReadonlyArray<Testing.RequestLogEntry>) =>
  log.filter((r) => r.path.includes("/blobs/uploads/") && r.method !== "DELETE")

/** The digests whose upload was committed (the closing `PUT …?digest=`). */
export const committed = (log: ReadonlyArray<Testing.RequestLogEntry>) =>
  log.filter((r) => r.method === "PUT" && r.path.includes("/blobs/uploads/") && r.query["digest"] !== undefined)
    .map((r) => r.query["digest"]!)
