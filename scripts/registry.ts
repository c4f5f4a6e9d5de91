/**
 * Runs the embedded test registry as a standalone server, for trying a client against it:
 *
 *   tsx scripts/registry.ts --port 5000 [--host 127.0.0.1] [--auth none|basic|token]
 *                           [--user name:password]… [--no-referrers] [--storage DIR]
 *                           [--chunk-min-length N]
 *
 * It prints the registry's URL and runs until SIGINT or SIGTERM.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import * as TestRegistry from "../src/testing/index.js"

const usage = `usage: tsx scripts/registry.ts [--port N] [--host ADDR] [--auth none|basic|token]
       [--user name:password]... [--no-referrers] [--storage DIR] [--chunk-min-length N]`

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        port: { type: "string", default: "5000" },
        host: { type: "string", default: "127.0.0.1" },
        auth: { type: "string", default: "none" },
        user: { type: "string", multiple: true, default: [] },
        "no-referrers": { type: "boolean", default: false },
        storage: { type: "string" },
        "chunk-min-length": { type: "string" },
        help: { type: "boolean", short: "h", default: false }
      },
      strict: true
    })
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
})()

if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const integer = (name: string, text: string): number =>
  /^\d+$/.test(text) ? Number(text) : fail(`--${name} must be a non-negative integer, got "${text}"`)

const users: Record<string, string> = {}
for (const spec of values.user) {
  const colon = spec.indexOf(":")
  if (colon <= 0) fail(`--user must be name:password, got "${spec}"`)
  users[spec.slice(0, colon)] = spec.slice(colon + 1)
}

const auth: TestRegistry.AuthOptions = values.auth === "none"
  ? { mode: "none" }
  : values.auth === "basic" || values.auth === "token"
  ? Object.keys(users).length === 0
    ? fail(`--auth ${values.auth} needs at least one --user name:password`)
    : { mode: values.auth, users }
  : fail(`--auth must be none, basic or token, got "${values.auth}"`)

const program = Effect.gen(function*() {
  const registry = yield* TestRegistry.make({
    host: values.host,
    port: integer("port", values.port),
    auth,
    referrers: !values["no-referrers"],
    storageDirectory: values.storage,
    chunkMinLength: values["chunk-min-length"] === undefined
      ? undefined
      : integer("chunk-min-length", values["chunk-min-length"])
  })
  yield* Console.log(`test registry listening on ${registry.url} (auth: ${auth.mode}${
    auth.mode === "token" ? `, token endpoint ${registry.url}/token` : ""
  }, referrers: ${values["no-referrers"] ? "off" : "on"}, storage: ${values.storage ?? "memory"})`)
  return yield* Effect.never
}).pipe(Effect.scoped)

// runMain interrupts the program on SIGINT/SIGTERM, which closes the scope and both servers
NodeRuntime.runMain(program)
