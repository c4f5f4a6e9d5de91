/**
 * Arguments, options and lookups several verbs share.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { concat } from "../internal/body.js"
import { BodyTooLarge } from "../RegistryError.js"
import * as Option from "effect/Option"
import * as Manifest from "../Manifest.js"
import * as Reference from "../Reference.js"
import * as Repository from "../Repository.js"

/** This machine's platform in OCI terms (`linux/amd64`, `linux/arm64`, …). */
export const hostPlatform = (): Manifest.Platform => {
  const arch = process.arch === "x64" ? "amd64" : process.arch === "ia32" ? "386" : process.arch
  return { os: process.platform === "win32" ? "windows" : process.platform, architecture: arch }
}

/** An index entry that is an image for some platform (not an attestation's `unknown/unknown`). */
const isPlatformEntry = (d: Manifest.Descriptor) =>
  d.platform !== undefined && d.platform.os !== "unknown" && d.platform.architecture !== "unknown"

/**
 * The image manifest `ref` stands for: for an index, the entry for `platform` when given, else
 * the one for this machine, else the first real platform. A single image is returned as it is.
 */
export const selectImage = (ref: Reference.Reference, platform: Option.Option<string>) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    if (Option.isSome(platform)) {
      return yield* repo.getManifestForPlatform(ref, yield* Manifest.parsePlatform(platform.value))
    }
    const top = yield* repo.getManifest(ref)
    if (!Manifest.isIndex(top.manifest)) return top
    const entries = top.manifest.manifests
    const host = hostPlatform()
    const chosen = entries.find((d) => d.platform !== undefined && Manifest.platformMatches(d.platform, host)) ??
      entries.find(isPlatformEntry) ?? entries[0]
    if (chosen === undefined) return top
    return yield* repo.getManifest(Reference.withDigest(ref, chosen.digest))
  })

/** Reads a small blob (a config) whole; `limit` bytes at most. */
export const readSmallBlob = (ref: Reference.Reference, descriptor: Manifest.Descriptor, limit = 16 * 1024 * 1024) =>
  Effect.gen(function*() {
    if (descriptor.size > limit) {
      return yield* new BodyTooLarge({ what: "blob", limit, size: descriptor.size })
    }
    const repo = yield* Repository.Repository
    const chunks = yield* Stream.runCollect(repo.getBlob(ref, descriptor.digest, { size: descriptor.size }))
    return concat(Chunk.toReadonlyArray(chunks), descriptor.size)
  })

/** The parts of an image config (OCI and Docker alike) that inspect shows. */
const ImageConfig = Schema.Struct({
  created: Schema.optional(Schema.String),
  os: Schema.optional(Schema.String),
  architecture: Schema.optional(Schema.String),
  variant: Schema.optional(Schema.String),
  config: Schema.optional(Schema.Struct({
    Labels: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })))
  }))
})
const decodeConfig = Schema.decodeUnknownOption(Schema.parseJson(ImageConfig))

/** `os/arch[/variant]` of a config or platform, or null when it does not say. */
export const platformText = (p: { readonly os?: string | undefined; readonly architecture?: string | undefined; readonly variant?: string | undefined }) =>
  p.os === undefined || p.architecture === undefined ? null : Manifest.formatPlatform({
    os: p.os,
    architecture: p.architecture,
    ...(p.variant === undefined ? {} : { variant: p.variant })
  })

/** The fields of an image config that inspect shows; undefined when the bytes are not a config. */
export const imageConfig = (bytes: Uint8Array) => Option.getOrUndefined(decodeConfig(new TextDecoder().decode(bytes)))

