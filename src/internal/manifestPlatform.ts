/**
 * Platform strings (`linux/arm64/v8`) and picking an index entry for a platform.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Descriptor, DockerManifestList, ImageIndex, Platform } from "./manifestSchema.js"
import { InvalidPlatform } from "./manifestSchema.js"

const word = /^[A-Za-z0-9_.-]+$/
const osPart = /^([^()]*)(?:\(([^()]*)\))?$/

/** @internal */
export const parse = (input: string): Either.Either<Platform, InvalidPlatform> => {
  const fail = (reason: string) => Either.left(new InvalidPlatform({ input, reason }))
  if (input.trim() === "") return fail("empty platform")
  const parts = input.split("/")
  if (parts.length < 2 || parts.length > 3) {
    return fail(`expected os/architecture or os/architecture/variant, got ${parts.length} part(s)`)
  }
  const osMatch = osPart.exec(parts[0]!)
  if (osMatch === null) return fail(`the os "${parts[0]}" has unbalanced parentheses`)
  const os = osMatch[1]!.toLowerCase()
  const osVersion = osMatch[2]
  const architecture = parts[1]!.toLowerCase()
  const variant = parts[2]?.toLowerCase()
  const checks: ReadonlyArray<readonly [string, string | undefined]> = [
    ["os", os],
    ["os version", osVersion],
    ["architecture", architecture],
    ["variant", variant]
  ]
  for (const [what, value] of checks) {
    if (value === undefined) continue
    if (value === "") return fail(`the ${what} is empty`)
    if (!word.test(value)) return fail(`the ${what} "${value}" may only have letters, digits, "_", "." and "-"`)
  }
  return Either.right({
    architecture,
    os,
    ...(osVersion === undefined ? {} : { "os.version": osVersion }),
    ...(variant === undefined ? {} : { variant })
  })
}

/** @internal */
export const format = (platform: Platform): string => {
  const osVersion = platform["os.version"]
  const os = osVersion === undefined || osVersion === "" ? platform.os : `${platform.os}(${osVersion})`
  const variant = platform.variant === undefined || platform.variant === "" ? "" : `/${platform.variant}`
  return `${os}/${platform.architecture}${variant}`
}

// Names other tools (uname, Debian) use for the same architecture, with the variant they imply.
const aliases: Record<string, readonly [string, string?]> = {
  x86_64: ["amd64"],
  "x86-64": ["amd64"],
  aarch64: ["arm64"],
  armhf: ["arm", "v7"],
  armel: ["arm", "v6"],
  i386: ["386"]
}

// The variant an architecture has when none is written (`linux/arm64` is `linux/arm64/v8`).
const defaultVariant: Record<string, string> = { amd64: "v1", arm64: "v8", arm: "v7" }

interface Normalized {
  readonly os: string
  readonly architecture: string
  readonly variant: string
}

const normalize = (platform: Platform): Normalized => {
  const arch = platform.architecture.toLowerCase()
  const [architecture, impliedVariant] = Object.hasOwn(aliases, arch) ? aliases[arch]! : [arch]
  let variant = platform.variant?.toLowerCase() || impliedVariant
  // `arm64/8` and `arm/7` are written too.
  if (variant !== undefined && /^\d+$/.test(variant) && (architecture === "arm" || architecture === "arm64")) {
    variant = `v${variant}`
  }
  return {
    os: platform.os.toLowerCase(),
    architecture,
    variant: variant ?? (Object.hasOwn(defaultVariant, architecture) ? defaultVariant[architecture]! : "")
  }
}

/** @internal */
export const matches = (candidate: Platform, wanted: Platform): boolean => {
  const have = normalize(candidate)
  const want = normalize(wanted)
  return have.os === want.os && have.architecture === want.architecture && have.variant === want.variant &&
    (wanted["os.version"] === undefined || candidate["os.version"] === wanted["os.version"])
}

/** @internal */
export const match = (index: ImageIndex | DockerManifestList, platform: Platform): Option.Option<Descriptor> =>
  Option.fromNullable(
    index.manifests.find((descriptor) => descriptor.platform !== undefined && matches(descriptor.platform, platform))
  )
