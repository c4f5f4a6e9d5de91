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
import type * as Reference from "../Reference.js"
import { platformOption, referenceArg } from "./args.js"
import { inContext, UsageError } from "./errors.js"
import { globals } from "./global.js"
import { type Library, onRegistry } from "./load.js"
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

/**
 * A verb on one image reference with an optional `--platform`, run on the client stack; its
 * failures name the verb and the reference.
 */
const imageVerb = <E, R>(
  name: string,
  description: string,
  body: (lib: Library, ref: Reference.Reference, platform: Option.Option<string>) => Effect.Effect<void, E, R>
) =>
  Command.make(name, { reference: referenceArg(), platform: platformOption }, ({ platform, reference }) =>
    onRegistry((lib) => Effect.flatMap(lib.Reference.parse(reference), (ref) => body(lib, ref, platform))).pipe(
      inContext(`${name} ${reference}`)
    )).pipe(Command.withDescription(description))

/** The manifest `ref` points to, or its entry for `platform` when one is given. */
const fetchManifest = (lib: Library, ref: Reference.Reference, platform: Option.Option<string>) =>
  Effect.flatMap(lib.Repository.Repository, (repo) =>
    Option.isSome(platform)
      ? Effect.flatMap(lib.Manifest.parsePlatform(platform.value), (p) => repo.getManifestForPlatform(ref, p))
      : repo.getManifest(ref))

export const manifest = imageVerb(
  "manifest",
  "Print a manifest exactly as the registry stores it.",
  (lib, ref, platform) =>
    Effect.flatMap(fetchManifest(lib, ref, platform), (fetched) =>
      raw(fetched.bytes, () => ({
        digest: fetched.digest,
        mediaType: fetched.mediaType,
        size: fetched.size,
        manifest: json(fetched.bytes)
      })))
)

export const config = imageVerb(
  "config",
  "Print an image's config blob (verified).",
  ({ Common, Manifest }, ref, platform) =>
    Effect.gen(function*() {
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
)

export const digest = imageVerb(
  "digest",
  "Print the digest of the manifest a reference points to.",
  (lib, ref, platform) =>
    Effect.gen(function*() {
      const descriptor = Option.isSome(platform)
        ? lib.Manifest.descriptorOf(yield* fetchManifest(lib, ref, platform))
        : yield* Effect.flatMap(lib.Repository.Repository, (repo) => repo.resolve(ref))
      yield* Output.result(
        { digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size },
        [descriptor.digest]
      )
    })
)
