/**
 * `effect-oci ls REPO`: the tags of a repository, one per line.
 * JSON: `{ "repository": "host/name", "tags": ["v1", …] }`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { inContext } from "./errors.js"
import { onRegistry } from "./load.js"
import * as Output from "./output.js"

export const ls = Command.make("ls", { repository: Args.text({ name: "REPO" }) }, ({ repository }) =>
  onRegistry(({ Reference, Repository }) =>
    Effect.gen(function*() {
      const ref = yield* Reference.parse(repository)
      const repo = yield* Repository.Repository
      const tags = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.tags(ref)))
      yield* Output.result({ repository: Reference.name(ref), tags }, tags)
    })
  ).pipe(inContext(`ls ${repository}`))).pipe(
    Command.withDescription("List the tags of a repository.")
  )
