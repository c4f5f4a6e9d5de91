/**
 * Reading a file as a byte stream for an upload or a copy: large pieces, a short read-ahead.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { FileReader } from "./iterableBody.js"

/**
 * The bytes of the file at `path` from `offset` on, in 1 MiB pieces with up to 4 read ahead: per-piece
 * Effect work, not the disk, bounds a 64 KiB read's speed (a 256 KiB read spent ~4× the time in
 * read calls of a 1 MiB one), and a deeper read-ahead (the platform's default is 16 pieces) only
 * holds more memory while the network is the slower side.
 *
 * @internal
 */
export const readFrom = (
  fs: FileSystem.FileSystem,
  path: string,
  offset: number
): Stream.Stream<Uint8Array, PlatformError> =>
  fs.stream(path, { offset: BigInt(offset), chunkSize: FileSystem.MiB(1), bufferSize: 4 })

/**
 * The file at `path` as a {@link FileReader}: opened (and closed with the scope) at an offset,
 * read into the caller's buffers.
 *
 * @internal
 */
export const fileReader = (fs: FileSystem.FileSystem, path: string): FileReader<PlatformError> => ({
  open: (offset) =>
    Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "r" })
      if (offset > 0) yield* file.seek(offset, "start")
      return (into: Uint8Array) => Effect.map(file.read(into), Number)
    })
})
