/**
 * Where the test registry keeps bytes: content-addressed blobs (layers, configs and manifests alike)
 * and one small JSON document describing repositories. Two implementations: memory (the default)
 * and a directory, read and written through `@effect/platform`'s `FileSystem`.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Digest } from "../../Digest.js"

/**
 * The storage interface the registry is written against.
 *
 * @internal
 */
export interface Storage {
  /** The size of a stored blob, or `undefined` when it is not stored. */
  readonly size: (digest: Digest) => Effect.Effect<number | undefined>
  /** Bytes `[start, end)` of a stored blob, in pieces of at most {@link pieceSize}. */
  readonly read: (digest: Digest, start: number, end: number) => Stream.Stream<Uint8Array>
  /** Stores a blob whose content (already verified) is the concatenation of `parts`. */
  readonly write: (digest: Digest, parts: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** Forgets a blob. */
  readonly remove: (digest: Digest) => Effect.Effect<void>
  /** The saved repository document, if any. */
  readonly loadState: Effect.Effect<string | undefined>
  /** Replaces the saved repository document. */
  readonly saveState: (json: string) => Effect.Effect<void>
}

/** Responses are emitted in pieces of at most this many bytes (what a socket write takes well). */
export const pieceSize = 64 * 1024

/**
 * Slices `[start, end)` out of a list of parts without copying, in pieces of at most `pieceSize`.
 *
 * @internal
 */
export const sliceParts = (
  parts: ReadonlyArray<Uint8Array>,
  start: number,
  end: number
): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let offset = 0
  for (const part of parts) {
    const from = Math.max(start - offset, 0)
    const to = Math.min(end - offset, part.byteLength)
    for (let at = from; at < to; at += pieceSize) out.push(part.subarray(at, Math.min(at + pieceSize, to)))
    offset += part.byteLength
    if (offset >= end) break
  }
  return out
}

/**
 * Storage that lives only as long as the registry.
 *
 * @internal
 */
export const memory = (): Storage => {
  const blobs = new Map<Digest, { readonly parts: ReadonlyArray<Uint8Array>; readonly size: number }>()
  return {
    size: (digest) => Effect.sync(() => blobs.get(digest)?.size),
    read: (digest, start, end) =>
      Stream.suspend(() => Stream.fromIterable(sliceParts(blobs.get(digest)?.parts ?? [], start, end))),
    write: (digest, parts) =>
      Effect.sync(() => {
        blobs.set(digest, { parts, size: parts.reduce((n, p) => n + p.byteLength, 0) })
      }),
    remove: (digest) => Effect.sync(() => void blobs.delete(digest)),
    // the repository document is already in memory: nothing to keep
    loadState: Effect.succeed(undefined),
    saveState: () => Effect.void
  }
}

/**
 * Storage in a directory: `blobs/<algorithm>/<hex>` and `repositories.json`, both written to a
 * temporary file first and renamed, so a crash never leaves half a blob under its digest.
 * File-system failures are defects: a test registry has no better answer than a 500.
 *
 * @internal
 */
export const directory = (root: string): Effect.Effect<Storage, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const blobPath = (digest: Digest) => `${root}/blobs/${digest.replace(":", "/")}`
    const statePath = `${root}/repositories.json`
    const tmpPath = () => `${root}/tmp/${crypto.randomUUID()}`
    yield* Effect.orDie(fs.makeDirectory(`${root}/tmp`, { recursive: true }))
    yield* Effect.orDie(fs.makeDirectory(`${root}/blobs/sha256`, { recursive: true }))
    yield* Effect.orDie(fs.makeDirectory(`${root}/blobs/sha512`, { recursive: true }))

    const writeAtomically = (path: string, parts: ReadonlyArray<Uint8Array>) =>
      Effect.gen(function*() {
        const tmp = tmpPath()
        yield* Stream.run(Stream.fromIterable(parts), fs.sink(tmp))
        yield* fs.rename(tmp, path)
      }).pipe(Effect.orDie)

    return {
      size: (digest) =>
        fs.stat(blobPath(digest)).pipe(
          Effect.map((info) => Number(info.size)),
          Effect.catchAll(() => Effect.succeed(undefined))
        ),
      read: (digest, start, end) =>
        end <= start
          ? Stream.empty
          : fs.stream(blobPath(digest), {
            offset: start,
            bytesToRead: end - start,
            chunkSize: pieceSize
          }).pipe(Stream.orDie),
      write: (digest, parts) => writeAtomically(blobPath(digest), parts),
      remove: (digest) => fs.remove(blobPath(digest)).pipe(Effect.catchAll(() => Effect.void)),
      loadState: fs.readFileString(statePath).pipe(
        Effect.option,
        Effect.map(Option.getOrUndefined)
      ),
      saveState: (json) => writeAtomically(statePath, [new TextEncoder().encode(json)])
    } satisfies Storage
  })
