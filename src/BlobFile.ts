/**
 * Blobs to and from files: a download lands in its file only once every byte is verified, so a
 * digest that does not match (or a transfer that fails) never leaves a file behind.
 *
 * Uses `@effect/platform`'s `FileSystem` (on Node: `NodeFileSystem.layer`, or `NodeContext.layer`).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Digest from "./Digest.js"
import { concat, readAhead } from "./internal/body.js"
import type * as Reference from "./Reference.js"
import { type BlobReadError, reopenable, Repository } from "./Repository.js"

/**
 * Writes each batch of byte arrays with one write, through a reused staging buffer: the transport
 * delivers a body in batches of many 64 KiB arrays (see `Transport.bodyStream`), and a write per
 * array, or a fresh buffer per batch, costs more than the copy.
 */
const batchWriter = (handle: FileSystem.File) => {
  const staging = new Uint8Array(2 * readAhead)
  return (chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<void, PlatformError> => {
    if (chunk.length === 1) return handle.writeAll(Chunk.unsafeHead(chunk))
    let size = 0
    for (const part of chunk) size += part.byteLength
    if (size > staging.byteLength) return handle.writeAll(concat(Chunk.toReadonlyArray(chunk), size))
    let offset = 0
    for (const part of chunk) {
      staging.set(part, offset)
      offset += part.byteLength
    }
    return handle.writeAll(staging.subarray(0, size))
  }
}

/**
 * Downloads a blob into `path`: the verified stream is written to a temporary file next to it,
 * which is renamed to `path` only when the digest (and `size`, when given) matched; on any failure or
 * interruption the temporary file is removed and `path` is left as it was.
 *
 * @example
 * BlobFile.download(ref, layer.digest, "/tmp/layer.tar.gz", { size: layer.size })
 *
 * @since 0.1.0
 * @category downloads
 */
export const download = Effect.fn("BlobFile.download")(function*(
  repo: Reference.Reference,
  digest: Digest.Digest,
  path: string,
  options: { readonly size?: number | undefined } = {}
): Effect.fn.Return<void, BlobReadError | PlatformError, Repository | FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const repository = yield* Repository
  const partial = `${path}.partial-${Math.random().toString(36).slice(2, 10)}`
  yield* Effect.acquireUseRelease(
    Effect.succeed(partial),
    (file) =>
      Effect.scoped(Effect.flatMap(fs.open(file, { flag: "w" }), (handle) => {
        const write = batchWriter(handle)
        return Stream.runForEachChunk(repository.getBlob(repo, digest, options), write)
      })).pipe(Effect.zipRight(fs.rename(file, path))),
    (file, exit) => (exit._tag === "Success" ? Effect.void : Effect.ignore(fs.remove(file)))
  )
})

/**
 * Uploads a file as a blob. The file is streamed, and is a {@link Repository.Reopenable}: when the
 * upload must recover it is opened again where the registry stands (from byte 0 only for a fresh
 * session).
 *
 * @since 0.1.0
 * @category uploads
 */
export const upload = Effect.fn("BlobFile.upload")(function*(
  repo: Reference.Reference,
  path: string,
  options: { readonly mediaType?: string | undefined; readonly digest?: Digest.Digest | undefined } = {}
) {
  const fs = yield* FileSystem.FileSystem
  const repository = yield* Repository
  const { size } = yield* fs.stat(path)
  // read in 1 MiB pieces: per-piece Effect work, not the disk, bounds a 64 KiB read's speed
  const body = reopenable((offset) => fs.stream(path, { offset: BigInt(offset), chunkSize: FileSystem.MiB(1) }), {
    size: Number(size)
  })
  return yield* repository.putBlob(repo, body, {
    size: Number(size),
    ...(options.mediaType === undefined ? {} : { mediaType: options.mediaType }),
    ...(options.digest === undefined ? {} : { digest: options.digest })
  })
})
