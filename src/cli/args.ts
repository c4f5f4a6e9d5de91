/**
 * Arguments and options several verbs share (light: no library code, so `--help` stays fast).
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import { UsageError } from "./errors.js"

/** A positional image reference (`host/repo:tag`, `host/repo@sha256:…`). */
export const referenceArg = (name = "REF") => Args.text({ name })

/** `--platform os/arch[/variant]`. */
export const platformOption = Options.text("platform").pipe(
  Options.withPseudoName("OS/ARCH[/VARIANT]"),
  Options.optional,
  Options.withDescription("The platform to pick from an index (default: this machine's, else the first).")
)


/** A registry host, as in a reference: `host`, `host:port`, `[::1]:port`. */
const hostPattern = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/

/**
 * A registry host from the command line; a URL's scheme and trailing slash are dropped
 * (`https://ghcr.io/` → `ghcr.io`). Anything else fails with a usage error.
 */
export const registryHost = (text: string): Effect.Effect<string, UsageError> => {
  const host = text.replace(/^(?:https?|docker):\/\//, "").replace(/\/+$/, "")
  return hostPattern.test(host)
    ? Effect.succeed(host)
    : Effect.fail(new UsageError({ message: `not a registry host: ${JSON.stringify(text)}` }))
}
