/**
 * The `effect-oci` command line: parses the arguments, runs the verb, and ends the process with
 * the exit code of its outcome (see errors.ts). Bundled by `npm run build` into
 * `dist/effect-oci.cjs`, which is the package's `bin`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { commands } from "./commands.js"
import { describe, ExitCode, exitCode } from "./errors.js"
import { root } from "./global.js"
import { packageVersion } from "./version.js"

const cli = Command.run(root.pipe(Command.withSubcommands(commands)), {
  name: "effect-oci",
  version: packageVersion
})

/** Runs the command line and gives the exit code; every failure is reported as one line here. */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  cli(argv).pipe(
    Effect.provide(NodeContext.layer),
    Effect.as(0),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(130)
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value
        // the parser has already printed what was wrong (and the usage)
        if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.usage)
        return Effect.sync(() => {
          process.stderr.write(`effect-oci: ${describe(error)}\n`)
          return exitCode(error)
        })
      }
      return Effect.sync(() => {
        const defect = Cause.squash(cause)
        process.stderr.write(`effect-oci: internal error: ${describe(defect)}\n`)
        return ExitCode.failure
      })
    })
  )

NodeRuntime.runMain(run(process.argv), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    const code = Exit.isSuccess(exit) && typeof exit.value === "number"
      ? exit.value
      : Exit.isInterrupted(exit)
      ? 130
      : ExitCode.failure
    // let stdout drain; set the code rather than exit at once
    process.exitCode = code
    if (code !== 0) onExit(code)
  }
})
