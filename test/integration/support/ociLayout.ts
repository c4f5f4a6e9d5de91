/**
 * Small, valid OCI images built in memory (a config and gzip'd tar layers, deterministic for a
 * given seed), written as OCI image layouts (with the public `OciLayout`) for skopeo's
 * `oci:DIR:TAG` transport.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Zlib from "node:zlib"
import * as Digest from "../../../src/Digest.js"
import * as MediaType from "../../../src/MediaType.js"
import * as OciLayout from "../../../src/OciLayout.js"

/** Bytes and their digest. */
export interface Blob {
  readonly digest: Digest.Digest
  readonly bytes: Uint8Array
  readonly mediaType: string
}

/** A whole image: its manifest, config and layers, each with exact bytes. */
export interface Image {
  readonly manifest: Blob
  readonly config: Blob
  readonly layers: ReadonlyArray<Blob>
}

/** `sha256:<hex>` of some bytes. */
export const sha256 = (bytes: Uint8Array | string): Digest.Digest => Digest.compute(bytes)

const blob = (bytes: Uint8Array, mediaType: string): Blob => ({ digest: sha256(bytes), bytes, mediaType })

/** A ustar archive of regular files (enough for a real layer: header, data, padding, end blocks). */
export const tar = (files: ReadonlyArray<{ readonly name: string; readonly content: string | Uint8Array }>): Uint8Array => {
  const blocks: Array<Buffer> = []
  for (const file of files) {
    const data = Buffer.from(file.content)
    const header = Buffer.alloc(512)
    const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii")
    const octal = (offset: number, length: number, value: number) =>
      field(offset, length, value.toString(8).padStart(length - 1, "0") + "\0")
    field(0, 100, file.name)
    octal(100, 8, 0o644)
    octal(108, 8, 0)
    octal(116, 8, 0)
    octal(124, 12, data.length)
    octal(136, 12, 0)
    field(148, 8, "        ") // checksum is computed with this field as spaces
    field(156, 1, "0")
    field(257, 6, "ustar\0")
    field(263, 2, "00")
    let sum = 0
    for (const byte of header) sum += byte
    field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ")
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return new Uint8Array(Buffer.concat(blocks))
}

/**
 * A small image: `layerCount` gzip'd tar layers (the first ~`layerSize` bytes of pseudo-random
 * data, so blobs differ per seed), an OCI config that lists their diff IDs, and an OCI manifest.
 */
export const makeImage = (seed: string, options: { readonly layerCount?: number; readonly layerSize?: number } = {}): Image => {
  const layerCount = options.layerCount ?? 2
  const layerSize = options.layerSize ?? 48 * 1024
  const tars = Array.from({ length: layerCount }, (_, i) => {
    // pseudo-random content (sha256 chain) so that gzip cannot shrink it to nothing
    const chunks: Array<Buffer> = []
    let state = Crypto.createHash("sha256").update(`${seed}/${i}`).digest()
    for (let n = 0; n < layerSize; n += state.length) {
      chunks.push(state)
      state = Crypto.createHash("sha256").update(state).digest()
    }
    return tar([
      { name: `layer-${i}/seed.txt`, content: `${seed} layer ${i}\n` },
      { name: `layer-${i}/data.bin`, content: Buffer.concat(chunks).subarray(0, layerSize) }
    ])
  })
  const layers = tars.map((t) => blob(new Uint8Array(Zlib.gzipSync(t)), MediaType.OciLayerGzip))
  const config = blob(
    Buffer.from(JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Env: [`SEED=${seed}`] },
      rootfs: { type: "layers", diff_ids: tars.map((t) => sha256(t)) },
      history: tars.map((_, i) => ({ created_by: `effect-oci integration test layer ${i}` }))
    })),
    MediaType.OciConfig
  )
  const descriptor = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.bytes.length })
  const manifest = blob(
    Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: descriptor(config),
      layers: layers.map(descriptor),
      annotations: { "org.example.seed": seed }
    })),
    MediaType.OciManifest
  )
  return { manifest, config, layers }
}

/** The blobs of an image, manifest last (the order a push needs). */
export const blobsOf = (image: Image): ReadonlyArray<Blob> => [image.config, ...image.layers]

/**
 * Writes an OCI image layout holding `image` under `tag` with the public `OciLayout` (for skopeo's
 * `oci:DIR:TAG` to read, independently of our reader); returns the layout directory.
 */
export const writeLayout = (dir: string, image: Image, tag: string): Effect.Effect<string, OciLayout.OciLayoutError> =>
  Effect.gen(function*() {
    const layout = yield* OciLayout.open(dir, { create: true })
    for (const b of blobsOf(image)) yield* layout.writeBlob(b.bytes, { digest: b.digest, size: b.bytes.byteLength })
    yield* layout.writeManifest({ bytes: image.manifest.bytes, mediaType: image.manifest.mediaType }, { tag })
    return dir
  }).pipe(Effect.provide(NodeContext.layer))
