/**
 * `effect-oci tag REF NEWTAG...`: puts the manifest REF points to under more tags of its
 * repository (the exact bytes; nothing is downloaded but the manifest).
 * JSON: `{ "digest", "mediaType", "size", "tags": ["host/repo:newtag", …] }`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { referenceArg } from "./args.js"
import { inContext } from "./errors.js"
import * as Output from "./output.js"
import { onRegistry } from "./load.js"

export const tag = Command.make(
  "tag",
  { reference: referenceArg(), tags: Args.text({ name: "NEWTAG" }).pipe(Args.atLeast(1)) },
  ({ reference, tags }) =>
    onRegistry(({ Reference, Repository }) => Effect.gen(function*() {
      const ref = yield* Reference.parse(reference)
      // every new tag must be a valid tag before anything is written
      const targets = yield* Effect.forEach(tags, (t) => Reference.parse(`${Reference.name(ref)}:${t}`))
      const repo = yield* Repository.Repository
      // pin the source to its digest, so every new tag gets the same manifest even if REF moves
      const source = yield* repo.resolve(ref)
      const pinned = Reference.withDigest(ref, source.digest)
      yield* Effect.forEach(tags, (t) => repo.tag(pinned, t), { discard: true })
      const formatted = targets.map(Reference.format)
      yield* Output.result(
        { digest: source.digest, mediaType: source.mediaType, size: source.size, tags: formatted },
        formatted.map((t) => `${t}@${source.digest}`)
      )
    })).pipe(inContext(`tag ${reference}`))
).pipe(Command.withDescription("Add tags to the manifest a reference points to."))
