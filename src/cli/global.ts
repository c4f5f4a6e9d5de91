/**
 * The root command and the options every verb shares. They go before the verb
 * (`effect-oci --json -v ls REPO`); a verb reads them with `yield* globals`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as Option from "effect/Option"

const options = {
  plainHttp: Options.boolean("plain-http").pipe(
    Options.withDescription("Speak plain http (no TLS) to every registry.")
  ),
  insecure: Options.text("insecure-registry").pipe(
    Options.withPseudoName("HOST"),
    Options.repeated,
    Options.withDescription("Allow plain http with HOST (host or host:port); repeatable.")
  ),
  caFile: Options.file("ca-file", { exists: "yes" }).pipe(
    Options.optional,
    Options.withDescription("Trust the certificate authorities in this PEM file too.")
  ),
  tlsVerify: Options.choice("tls-verify", ["true", "false"]).pipe(
    Options.withDefault("true" as const),
    Options.withDescription("--tls-verify=false skips TLS certificate verification.")
  ),
  concurrency: Options.integer("concurrency").pipe(
    Options.optional,
    Options.withDescription("Blobs transferred at once (default 4).")
  ),
  retryTimes: Options.integer("retry-times").pipe(
    Options.optional,
    Options.withDescription("Retries of a failed request (default 5).")
  ),
  verbose: Options.boolean("verbose").pipe(
    Options.withAlias("v"),
    Options.withDescription("Log every request on stderr: method, URL (without query), status, time.")
  ),
  quiet: Options.boolean("quiet").pipe(
    Options.withAlias("q"),
    Options.withDescription("No progress and no status messages.")
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Machine output: one JSON document on stdout.")
  )
}

/**
 * The parsed global options.
 *
 * @internal
 */
export interface Globals {
  readonly plainHttp: boolean
  readonly insecure: ReadonlyArray<string>
  readonly caFile: Option.Option<string>
  readonly tlsVerify: "true" | "false"
  readonly concurrency: Option.Option<number>
  readonly retryTimes: Option.Option<number>
  readonly verbose: boolean
  readonly quiet: boolean
  readonly json: boolean
}

/**
 * The root command (`effect-oci`) with the global options; its verbs are added in `main.ts`.
 * Yielding it inside a verb's handler gives the {@link Globals}.
 *
 * @internal
 */
export const root = Command.make("effect-oci", options).pipe(
  Command.withDescription("Copy, inspect and manage images and artifacts in OCI / Docker registries.")
)

/**
 * The global options, for a verb's handler.
 *
 * @internal
 */
export const globals = root
