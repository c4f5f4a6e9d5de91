/**
 * Reading what a reference points to:
 * - `manifest REF`: the registry's bytes exactly (no newline added).
 *   JSON: `{ "digest", "mediaType", "size", "manifest": <the manifest> }`.
 * - `config REF`: the image's config blob, bytes exactly (an index resolves to a platform).
 *   JSON: `{ "digest", "mediaType", "size", "config": <the config> }`.
 * - `digest REF`: the manifest's digest. JSON: `{ "digest", "mediaType", "size" }`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { platformOption, referenceArg } from "./args.js"
import { inContext, UsageError } from "./errors.js"
import { globals } from "./global.js"
import { onRegistry } from "./load.js"
import * as Output from "./output.js"

const json = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return null
  }
}

/** Raw bytes on stdout, or the JSON document with `--json`. */
const raw = (bytes: Uint8Array, document: () => unknown) =>
  Effect.flatMap(globals, (g) => (g.json ? Output.stdout(`${JSON.stringify(document())}\n`) : Output.stdout(bytes)))

export const manifest = Command.make(
  "manifest",
  { reference: referenceArg(), platform: platformOption },
  ({ platform, reference }) =>
    onRegistry(({ Manifest, Reference, Repository }) =>
      Effect.gen(function*() {
        const ref = yield* Reference.parse(reference)
        const repo = yield* Repository.Repository
        const fetched = Option.isSome(platform)
          ? yield* repo.getManifestForPlatform(ref, yield* Manifest.parsePlatform(platform.value))
          : yield* repo.getManifest(ref)
        yield* raw(fetched.bytes, () => ({
          digest: fetched.digest,
          mediaType: fetched.mediaType,
          size: fetched.size,
          manifest: json(fetched.bytes)
        }))
      })
    ).pipe(inContext(`manifest ${reference}`))
).pipe(Command.withDescription("Print a manifest exactly as the registry stores it."))

export const config = Command.make(
  "config",
  { reference: referenceArg(), platform: platformOption },
  ({ platform, reference }) =>
    onRegistry(({ Common, Manifest, Reference }) =>
      Effect.gen(function*() {
        const ref = yield* Reference.parse(reference)
        const image = yield* Common.selectImage(ref, platform)
        const m = image.manifest
        if (!Manifest.isImageManifest(m) && !Manifest.isDockerManifest(m)) {
          return yield* new UsageError({ message: `a ${image.mediaType} has no config` })
        }
        const descriptor = m.config
        const bytes = yield* Common.readSmallBlob(ref, descriptor)
        yield* raw(bytes, () => ({
          digest: descriptor.digest,
          mediaType: descriptor.mediaType,
          size: descriptor.size,
          config: json(bytes)
        }))
      })
    ).pipe(inContext(`config ${reference}`))
).pipe(Command.withDescription("Print an image's config blob (verified)."))

export const digest = Command.make(
  "digest",
  { reference: referenceArg(), platform: platformOption },
  ({ platform, reference }) =>
    onRegistry(({ Manifest, Reference, Repository }) =>
      Effect.gen(function*() {
        const ref = yield* Reference.parse(reference)
        const repo = yield* Repository.Repository
        const descriptor = Option.isSome(platform)
          ? Manifest.descriptorOf(
            yield* repo.getManifestForPlatform(ref, yield* Manifest.parsePlatform(platform.value))
          )
          : yield* repo.resolve(ref)
        yield* Output.result(
          { digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size },
          [descriptor.digest]
        )
      })
    ).pipe(inContext(`digest ${reference}`))
).pipe(Command.withDescription("Print the digest of the manifest a reference points to."))
