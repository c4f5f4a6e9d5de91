/**
 * A child program for the cleanup test: it starts a registry in a scope that never closes, prints
 * `PID <registry pid>`, and then ends the way argv[2] says — `exit` (process.exit without
 * releasing the scope, as a crashed test run would) or `wait` (until the test sends SIGTERM).
 *
 * Run with `node --import tsx test/integration/support/orphanCheck.ts exit|wait`.
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { launch } from "./registry.js"

const how = process.argv[2] ?? "wait"

const program = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const registry = yield* Scope.extend(launch("plain"), scope)
  process.stdout.write(`PID ${registry.process.pid}\n`)
  if (how === "exit") process.exit(3)
  yield* Effect.never
})

Effect.runPromise(program).catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(2)
})
