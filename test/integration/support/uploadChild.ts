/**
 * A program on the public API that uploads a file into a session it opens, storing the session
 * (as JSON, atomically) before the first chunk and after each one, so that the process can be
 * killed at any moment and the upload resumed by another from the stored session. It pauses a
 * little after each chunk, so that a kill at a random moment lands mid-upload.
 *
 * Usage: tsx uploadChild.ts <registry host> <repository> <blob file> <session file>
 * Writes `<session file>.done` when the upload is committed.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as node from "../../../src/node.js"
import * as Reference from "../../../src/Reference.js"
import * as Repository from "../../../src/Repository.js"

const [host, repository, blobPath, sessionPath] = process.argv.slice(2) as [string, string, string, string]

const store = (session: Repository.UploadSession) =>
  Effect.sync(() => {
    const json = JSON.stringify(Schema.encodeSync(Repository.UploadSession)(session))
    Fs.writeFileSync(`${sessionPath}.tmp`, json)
    Fs.renameSync(`${sessionPath}.tmp`, sessionPath)
  })

const program = Effect.gen(function*() {
  const repo = yield* Repository.Repository
  const fs = yield* FileSystem.FileSystem
  const ref = yield* Reference.parse(`${host}/${repository}`)
  const session = yield* repo.startUpload(ref)
  yield* store(session)
  const size = Fs.statSync(blobPath).size
  const body = Repository.reopenable((offset) => fs.stream(blobPath, { offset: BigInt(offset) }), { size })
  yield* repo.resumeUpload(ref, session, body, {
    chunkSize: 1024 * 1024,
    // 60 ms after each 1 MiB chunk: the 7 chunks after the first take >= 420 ms however fast the
    // upload is, longer than the test's random kill window (0-300 ms after the first)
    onProgress: (next) => Effect.zipRight(store(next), Effect.sleep("60 millis"))
  })
  Fs.writeFileSync(`${sessionPath}.done`, "")
})

NodeRuntime.runMain(program.pipe(Effect.provide(node.layer()), Effect.provide(NodeContext.layer)))
