/**
 * `effect-oci catalog REGISTRY`: the repositories of a registry, one per line.
 * JSON: `{ "registry": "host", "repositories": ["a/b", …] }`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { registryHost } from "./args.js"
import { inContext } from "./errors.js"
import { onRegistry } from "./load.js"
import * as Output from "./output.js"

export const catalog = Command.make("catalog", { registry: Args.text({ name: "REGISTRY" }) }, ({ registry }) =>
  onRegistry(({ Repository }) =>
    Effect.gen(function*() {
      const host = yield* registryHost(registry)
      const repo = yield* Repository.Repository
      const repositories = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.catalog(host)))
      yield* Output.result({ registry: host, repositories }, repositories)
    })
  ).pipe(inContext(`catalog ${registry}`))).pipe(
    Command.withDescription("List the repositories of a registry (its _catalog).")
  )
