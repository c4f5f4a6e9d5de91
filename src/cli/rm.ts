/**
 * `effect-oci rm REF`: deletes a manifest by digest (with every tag on it), or removes a tag where
 * the registry allows deleting by tag (distribution 2.8 does not: use the digest there).
 * JSON: `{ "deleted": "host/repo@sha256:…" | "host/repo:tag", "kind": "manifest" | "tag" }`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { referenceArg } from "./args.js"
import { inContext } from "./errors.js"
import * as Output from "./output.js"
import { onRegistry } from "./load.js"

export const rm = Command.make("rm", { reference: referenceArg() }, ({ reference }) =>
  onRegistry(({ Reference, RegistryError, Repository }) => Effect.gen(function*() {
    const ref = yield* Reference.parse(reference)
    const repo = yield* Repository.Repository
    const kind = ref.digest === undefined ? "tag" as const : "manifest" as const
    if (ref.digest === undefined) {
      yield* repo.untag(ref).pipe(
        Effect.catchTag("Unsupported", (e) =>
          Effect.fail(
            new RegistryError.Unsupported({
              ...e,
              message: `the registry does not delete by tag (${e.message}); rm REF@DIGEST deletes the manifest with all its tags`
            })
          ))
      )
    } else {
      yield* repo.deleteManifest(ref)
    }
    const deleted = Reference.format(ref)
    yield* Output.result({ deleted, kind }, [])
    yield* Output.status(`deleted ${kind} ${deleted}`)
  })).pipe(inContext(`rm ${reference}`))).pipe(
    Command.withDescription("Delete a manifest by digest, or a tag where the registry allows it.")
  )
