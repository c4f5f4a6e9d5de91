/**
 * The benchmark image: one big uncompressed tar layer of random bytes (random so that nothing on
 * the way can compress it), a small OCI config and an OCI manifest, written as an OCI image layout
 * (with the public `OciLayout`) for skopeo's `oci:DIR:TAG` transport and for `bench/push.ts`.
 *
 * The layer is written piece by piece, never held in memory: a tar of several 16 MiB files is the
 * concatenation of one-file tars (from the integration support's `tar`) without their end blocks,
 * followed by one end block.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as OciLayout from "../src/OciLayout.js"
import { tar } from "../test/integration/support/ociLayout.js"

/** What the benchmark needs to know about a layout it built. */
export interface BenchImage {
  /** The layout directory. */
  readonly dir: string
  readonly tag: string
  readonly manifestDigest: string
  /** Bytes of every blob (config + layer) a pull transfers. */
  readonly blobBytes: number
  readonly layerBytes: number
}

const piece = 16 * 1024 * 1024
/** Two zero blocks end a tar archive. */
const endBlocks = 1024

/**
 * Writes the random tar layer of `mib` MiB of file data next to the layout's blobs, hashing it on
 * the way; returns its descriptor and the temporary file (moved into place by the caller).
 */
const writeLayer = (dir: string, mib: number, seed: string) => {
  const temp = Path.join(dir, `layer-${seed}.partial`)
  const fd = Fs.openSync(temp, "w")
  const hash = Digest.hasher()
  const write = (bytes: Uint8Array) => {
    hash.update(bytes)
    Fs.writeSync(fd, bytes)
  }
  try {
    let remaining = mib * 1024 * 1024
    for (let i = 0; remaining > 0; i++) {
      const length = Math.min(piece, remaining)
      const oneFile = tar([{ name: `data/${seed}-${String(i).padStart(4, "0")}.bin`, content: Crypto.randomBytes(length) }])
      write(oneFile.subarray(0, oneFile.byteLength - endBlocks))
      remaining -= length
    }
    write(new Uint8Array(endBlocks))
  } finally {
    Fs.closeSync(fd)
  }
  return { temp, descriptor: { mediaType: MediaType.OciLayer, digest: hash.digest(), size: hash.size() } }
}

/**
 * Writes an image's config (Linux/amd64, its layers uncompressed so their diff IDs are their
 * digests, plus `extra` fields) and its OCI manifest, tagged `tag`, into a layout whose layer blobs
 * are already written. Returns the manifest and the config's size.
 */
export const writeManifest = (
  layout: OciLayout.Layout,
  layers: ReadonlyArray<Manifest.Descriptor>,
  tag: string,
  extra: Record<string, unknown> = {}
) =>
  Effect.gen(function*() {
    const config = new TextEncoder().encode(JSON.stringify({
      architecture: "amd64",
      os: "linux",
      ...extra,
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) }
    }))
    const configDigest = Digest.compute(config)
    yield* layout.writeBlob(config, { digest: configDigest, size: config.byteLength })
    const manifest = Manifest.encode({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.byteLength },
      layers: [...layers]
    })
    yield* layout.writeManifest(manifest, { tag })
    return { manifest, configSize: config.byteLength }
  })

/** Builds the layout for a `mib` MiB image in `dir` (created), tagged `tag`. */
export const build = (dir: string, mib: number, tag: string): Effect.Effect<BenchImage, OciLayout.OciLayoutError> =>
  Effect.gen(function*() {
    const layout = yield* OciLayout.open(dir, { create: true })
    const seed = `${mib}mib-${Crypto.randomBytes(4).toString("hex")}`
    // the layer is hashed as it is written, then moved in: not read a second time to be verified
    const { temp, descriptor: layer } = writeLayer(dir, mib, seed)
    const file = yield* layout.blobPath(layer.digest)
    Fs.mkdirSync(Path.dirname(file), { recursive: true })
    Fs.renameSync(temp, file)
    const { configSize, manifest } = yield* writeManifest(layout, [layer], tag, {
      config: { Env: [`BENCH_SEED=${seed}`] },
      history: [{ created_by: `effect-oci bench: ${mib} MiB of random data` }]
    })
    return {
      dir,
      tag,
      manifestDigest: manifest.digest,
      blobBytes: configSize + layer.size,
      layerBytes: layer.size
    }
  }).pipe(Effect.provide(NodeContext.layer))
