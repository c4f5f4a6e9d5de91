/**
 * `effect-oci blob REPO@DIGEST [-o FILE]`: a blob's bytes, verified against the digest, to stdout
 * or into FILE (written only once verified: a mismatch leaves no file).
 * JSON (needs `-o`): `{ "digest", "size", "file" }`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { referenceArg } from "./args.js"
import { inContext, UsageError } from "./errors.js"
import { globals } from "./global.js"
import { onRegistry } from "./load.js"
import * as Output from "./output.js"

export const blob = Command.make(
  "blob",
  {
    reference: referenceArg("REPO@DIGEST"),
    output: Options.file("output").pipe(
      Options.withAlias("o"),
      Options.optional,
      Options.withDescription("Write the blob into FILE (renamed into place once verified) instead of stdout.")
    )
  },
  ({ output, reference }) =>
    onRegistry(({ BlobFile, FileSystem, NodeContext, Reference, Repository }) =>
      Effect.gen(function*() {
        const g = yield* globals
        const ref = yield* Reference.parse(reference)
        if (ref.digest === undefined) {
          return yield* new UsageError({ message: "blob needs REPO@DIGEST (a digest, not a tag)" })
        }
        const digest = ref.digest
        if (Option.isNone(output)) {
          if (g.json) return yield* new UsageError({ message: "blob --json needs -o FILE (stdout carries the blob)" })
          const repo = yield* Repository.Repository
          return yield* Stream.runForEach(repo.getBlob(ref, digest), Output.stdout)
        }
        yield* BlobFile.download(ref, digest, output.value)
        const fs = yield* FileSystem.FileSystem
        const size = Number((yield* fs.stat(output.value)).size)
        yield* Output.result({ digest, size, file: output.value }, [])
        yield* Output.status(`${digest} → ${output.value} (${Output.bytes(size)})`)
      }).pipe(Effect.provide(NodeContext.layer))
    ).pipe(inContext(`blob ${reference}`))
).pipe(Command.withDescription("Download a blob, verified, to stdout or -o FILE."))
