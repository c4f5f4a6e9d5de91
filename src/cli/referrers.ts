/**
 * `effect-oci referrers REF [--artifact-type TYPE]`: the manifests that refer to REF's manifest
 * (signatures, SBOMs, …), through the referrers API or its `sha256-<hex>` fallback tag.
 * One line each: `DIGEST ARTIFACT-TYPE SIZE`.
 * JSON: `{ "subject": "sha256:…", "referrers": [{ "digest", "mediaType", "artifactType", "size",
 * "annotations" }] }`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { referenceArg } from "./args.js"
import { inContext } from "./errors.js"
import * as Output from "./output.js"
import { onRegistry } from "./load.js"

export const referrers = Command.make(
  "referrers",
  {
    reference: referenceArg(),
    artifactType: Options.text("artifact-type").pipe(
      Options.optional,
      Options.withDescription("Only referrers of this artifact type.")
    )
  },
  ({ artifactType, reference }) =>
    onRegistry(({ Reference, Repository }) => Effect.gen(function*() {
      const ref = yield* Reference.parse(reference)
      const repo = yield* Repository.Repository
      const subject = ref.digest ?? (yield* repo.resolve(ref)).digest
      const found = yield* repo.referrers(
        ref,
        subject,
        Option.isSome(artifactType) ? { artifactType: artifactType.value } : {}
      )
      const list = found.map((d) => ({
        digest: d.digest,
        mediaType: d.mediaType,
        artifactType: d.artifactType ?? null,
        size: d.size,
        annotations: d.annotations ?? {}
      }))
      yield* Output.result(
        { subject, referrers: list },
        list.map((d) => `${d.digest} ${d.artifactType ?? d.mediaType} ${d.size}`)
      )
    })).pipe(inContext(`referrers ${reference}`))
).pipe(Command.withDescription("List the artifacts that refer to an image (signatures, SBOMs, …)."))
