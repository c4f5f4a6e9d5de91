/**
 * Arguments and options several verbs share (light: no library code, so `--help` stays fast).
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"

/** A positional image reference (`host/repo:tag`, `host/repo@sha256:…`). */
export const referenceArg = (name = "REF") => Args.text({ name })

/** `--platform os/arch[/variant]`. */
export const platformOption = Options.text("platform").pipe(
  Options.withPseudoName("OS/ARCH[/VARIANT]"),
  Options.optional,
  Options.withDescription("The platform to pick from an index (default: this machine's, else the first).")
)

