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
import * as Effect from "effect/Effect"
import type * as Digest from "./Digest.js"
import { fileReader, readFrom } from "./internal/fileRead.js"
import { reopenableFile } from "./internal/repository/uploadBody.js"
import { releasing } from "./internal/bodyRing.js"
import { writeAtomically } from "./internal/fileWrite.js"
import type * as Reference from "./Reference.js"
import { type BlobReadError, Repository } from "./Repository.js"

/**
 * Downloads a blob into `path`: the verified stream is written to a temporary file next to it,
 * which is renamed to `path` only when the digest (and `size`, when given) matched; on any failure or
 * interruption the temporary file is removed and `path` is left as it was. A body that breaks off
 * is resumed where it stopped. Memory stays flat whatever the blob's size: with the Node client, a
 * large blob (or one of unknown size) comes over a connection of its own into a few reused buffers.
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
  // the file writer releases each piece once written: a large blob is read into reused memory
  yield* writeAtomically(fs, path, repository.getBlob(repo, digest, options)).pipe(releasing(options.size))
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
  const body = reopenableFile(fileReader(fs, path), (offset) => readFrom(fs, path, offset), Number(size))
  return yield* repository.putBlob(repo, body, {
    size: Number(size),
    ...(options.mediaType === undefined ? {} : { mediaType: options.mediaType }),
    ...(options.digest === undefined ? {} : { digest: options.digest })
  })
})
