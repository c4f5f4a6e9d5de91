/**
 * Reading a file as a byte stream for an upload or a copy: large pieces, a short read-ahead.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as Stream from "effect/Stream"

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
