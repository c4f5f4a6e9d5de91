/**
 * Writing a file all at once or not at all: the bytes go to a temporary file next to the target,
 * which is renamed over it only when the stream ended without failure. On failure or interruption
 * the temporary file is removed, so a reader never sees half a file and a failed verification
 * leaves nothing behind. A target that is a device, FIFO or socket is written in place instead.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { concat, readAhead } from "./body.js"
import { release } from "./bodyRing.js"

/** A temporary name next to `path` (same directory, so that the rename is atomic). @internal */
export const temporaryName = (path: string): string => `${path}.partial-${Math.random().toString(36).slice(2, 10)}`

/**
 * Writes each batch of byte arrays, then releases them (see `bodyRing.ts`: a large download's
 * bytes are views into a ring, read into again once released). A batch of large arrays (a ring's
 * views, one per slab) is written array by array; one of many small arrays (the Transport's
 * read-ahead of 64 KiB reads) with one write, through a reused staging buffer: a write per array,
 * or a fresh buffer per batch, costs more than the copy.
 */
const batchWriter = (handle: FileSystem.File) => {
  let staging: Uint8Array | undefined
  return (chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<void, PlatformError> => {
    // every array: a batch may mix a ring's views with copies (bytes that came while it was full)
    const done = Effect.sync(() => {
      for (const part of chunk) release(part)
    })
    let size = 0
    for (const part of chunk) size += part.byteLength
    if (chunk.length === 1 || size >= chunk.length * largeParts) {
      return Effect.zipRight(Effect.forEach(chunk, (part) => handle.writeAll(part), { discard: true }), done)
    }
    if (size > 2 * readAhead) return Effect.zipRight(handle.writeAll(concat(Chunk.toReadonlyArray(chunk), size)), done)
    staging ??= new Uint8Array(2 * readAhead)
    let offset = 0
    for (const part of chunk) {
      staging.set(part, offset)
      offset += part.byteLength
    }
    return Effect.zipRight(handle.writeAll(staging.subarray(0, size)), done)
  }
}

/** Arrays this large on average (a ring's views) are written one by one. */
const largeParts = 256 * 1024

/**
 * Streams `body` into a temporary file next to `path` (a batch of chunks per write) and renames it
 * to `path` once the stream ended; the temporary file is removed on any failure or interruption.
 * A device, FIFO or socket at `path` is written in place (its bytes are not verified before they go).
 *
 * @internal
 */
export const writeAtomically = <E, R>(
  fs: FileSystem.FileSystem,
  path: string,
  body: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<void, E | PlatformError, R> =>
  Effect.flatMap(isSpecialFile(fs, path), (special) =>
    special
      // a device, FIFO or socket (`-o /dev/null`, a pipe) is written in place: renaming a temporary
      // file over it would replace the device itself (as root, /dev/null would become a plain file).
      // "a": a FIFO cannot seek, and the platform's File writes at a position unless appending.
      ? writeTo(fs, path, body, "a")
      : Effect.acquireUseRelease(
        Effect.sync(() => temporaryName(path)),
        (file) => writeTo(fs, file, body, "w").pipe(Effect.zipRight(fs.rename(file, path))),
        (file, exit) => (exit._tag === "Success" ? Effect.void : Effect.ignore(fs.remove(file)))
      ))

const writeTo = <E, R>(
  fs: FileSystem.FileSystem,
  path: string,
  body: Stream.Stream<Uint8Array, E, R>,
  flag: "w" | "a"
) =>
  Effect.scoped(
    Effect.flatMap(fs.open(path, { flag }), (handle) => Stream.runForEachChunk(body, batchWriter(handle)))
  )

/** Whether `path` exists as something other than a regular file or a directory. */
const isSpecialFile = (fs: FileSystem.FileSystem, path: string): Effect.Effect<boolean> =>
  fs.stat(path).pipe(
    Effect.map((info) => info.type !== "File" && info.type !== "Directory"),
    Effect.orElseSucceed(() => false)
  )
