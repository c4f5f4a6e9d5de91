/**
 * The benchmark image: one big uncompressed tar layer of random bytes (random so that nothing on
 * the way can compress it), a small OCI config and an OCI manifest, written as an OCI image layout
 * for skopeo's `oci:DIR:TAG` transport and for `bench/push.ts`.
 *
 * The layer is written piece by piece, never held in memory: a tar of several 16 MiB files is the
 * concatenation of one-file tars (from the integration support's `tar`) without their end blocks,
 * followed by one end block.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as MediaType from "../src/MediaType.js"
import * as OciLayout from "../test/integration/support/ociLayout.js"

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

/** Writes the random tar layer of `mib` MiB of file data into the layout's blob dir; returns its descriptor. */
const writeLayer = (blobDir: string, mib: number, seed: string) => {
  const temp = Path.join(blobDir, `layer-${seed}.partial`)
  const fd = Fs.openSync(temp, "w")
  const hash = Crypto.createHash("sha256")
  let size = 0
  const write = (bytes: Uint8Array) => {
    hash.update(bytes)
    Fs.writeSync(fd, bytes)
    size += bytes.byteLength
  }
  try {
    let remaining = mib * 1024 * 1024
    for (let i = 0; remaining > 0; i++) {
      const length = Math.min(piece, remaining)
      const oneFile = OciLayout.tar([{ name: `data/${seed}-${String(i).padStart(4, "0")}.bin`, content: Crypto.randomBytes(length) }])
      write(oneFile.subarray(0, oneFile.byteLength - endBlocks))
      remaining -= length
    }
    write(new Uint8Array(endBlocks))
  } finally {
    Fs.closeSync(fd)
  }
  const digest = `sha256:${hash.digest("hex")}`
  Fs.renameSync(temp, Path.join(blobDir, digest.slice("sha256:".length)))
  return { mediaType: MediaType.OciLayer, digest, size }
}

const jsonBlob = (value: unknown, mediaType: string): OciLayout.Blob => {
  const bytes = new Uint8Array(Buffer.from(JSON.stringify(value)))
  return { digest: OciLayout.sha256(bytes), bytes, mediaType }
}

/** Builds the layout for a `mib` MiB image in `dir` (created), tagged `tag`. */
export const build = (dir: string, mib: number, tag: string): BenchImage => {
  const blobDir = Path.join(dir, "blobs", "sha256")
  Fs.mkdirSync(blobDir, { recursive: true })
  const seed = `${mib}mib-${Crypto.randomBytes(4).toString("hex")}`
  const layer = writeLayer(blobDir, mib, seed)
  const config = jsonBlob({
    architecture: "amd64",
    os: "linux",
    config: { Env: [`BENCH_SEED=${seed}`] },
    // the layer is uncompressed, so its diff ID is its digest
    rootfs: { type: "layers", diff_ids: [layer.digest] },
    history: [{ created_by: `effect-oci bench: ${mib} MiB of random data` }]
  }, MediaType.OciConfig)
  const manifest = jsonBlob({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.byteLength },
    layers: [layer]
  }, MediaType.OciManifest)
  // writeLayout writes the manifest, config and index; the layer file is already in place
  OciLayout.writeLayout(dir, { manifest, config, layers: [] }, tag)
  return {
    dir,
    tag,
    manifestDigest: manifest.digest,
    blobBytes: config.bytes.byteLength + layer.size,
    layerBytes: layer.size
  }
}
