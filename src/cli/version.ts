/**
 * `effect-oci version`: the package's version. JSON: `{ "version": "0.1.0" }`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Output from "./output.js"

declare const EFFECT_OCI_VERSION: string | undefined

/**
 * The version of the package, put into the bundle at build time (from package.json).
 *
 * @internal
 */
export const packageVersion: string = typeof EFFECT_OCI_VERSION === "string" ? EFFECT_OCI_VERSION : "0.0.0-dev"

export const version = Command.make("version", {}, () => Output.result({ version: packageVersion }, [packageVersion])).pipe(
  Command.withDescription("Print the version of effect-oci.")
)
