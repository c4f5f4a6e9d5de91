/**
 * Every way of uploading a blob, for recovery tests that run each of them under the same fault.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as BlobFile from "../../src/BlobFile.js"
import type * as Reference from "../../src/Reference.js"
import * as Repository from "../../src/Repository.js"

/** How a blob is uploaded: `putBlob` per strategy, `BlobFile.upload`, or `startUpload` + `resumeUpload`. */
export type Strategy = "monolithic" | "chunked" | "streamed" | "file" | "resume"

export const strategies: ReadonlyArray<Strategy> = ["monolithic", "chunked", "streamed", "file", "resume"]

/** `bytes` as a Reopenable body, in pieces of `piece` bytes; `opens` records the offsets it is opened at. */
export const reopenableOf = (bytes: Uint8Array, piece = bytes.byteLength) => {
  const opens: Array<number> = []
  const body = Repository.reopenable((offset) => {
    opens.push(offset)
    const pieces: Array<Uint8Array> = []
    for (let at = offset; at < bytes.byteLength; at += piece) pieces.push(bytes.subarray(at, at + piece))
    return Stream.fromIterable(pieces)
  }, { size: bytes.byteLength })
  return { body, opens }
}

/** Uploads `blob` to `ref` by `strategy`. */
export const uploadBy = (strategy: Strategy, ref: Reference.Reference, blob: Uint8Array, piece?: number) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    switch (strategy) {
      case "monolithic":
        return yield* repo.putBlob(ref, blob, { strategy: "monolithic" })
      case "chunked":
        return yield* repo.putBlob(ref, reopenableOf(blob, piece).body, { strategy: "chunked" })
      case "streamed":
        return yield* repo.putBlob(ref, reopenableOf(blob, piece).body, { strategy: "streamed" })
      case "file": {
        const fs = yield* FileSystem.FileSystem
        const path = yield* fs.makeTempFileScoped()
        yield* fs.writeFile(path, blob)
        return yield* BlobFile.upload(ref, path)
      }
      case "resume":
        return yield* repo.resumeUpload(ref, yield* repo.startUpload(ref), reopenableOf(blob, piece).body)
    }
  }).pipe(Effect.scoped)
