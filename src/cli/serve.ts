/**
 * `effect-oci serve`: the embedded registry (effect-oci/testing) as a server, for trying clients
 * against. In memory unless `--dir` keeps its storage in a directory (kept across restarts).
 * Prints its URL once listening, then runs until interrupted (Ctrl-C, SIGTERM).
 * JSON: `{ "url", "host", "auth", "storage" }` (one line, once listening).
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { withServeLibrary } from "./load.js"
import { UsageError } from "./errors.js"
import * as Output from "./output.js"

const users = (specs: ReadonlyArray<string>) =>
  Effect.forEach(specs, (spec) => {
    const colon = spec.indexOf(":")
    return colon <= 0
      ? Effect.fail(new UsageError({ message: `--user must be NAME:PASSWORD, got ${JSON.stringify(spec.split(":")[0])}…` }))
      : Effect.succeed([spec.slice(0, colon), spec.slice(colon + 1)] as const)
  }).pipe(Effect.map((entries) => Object.fromEntries(entries)))

export const serve = Command.make(
  "serve",
  {
    port: Options.integer("port").pipe(
      Options.withDefault(5000),
      Options.withDescription("Port to listen on (0: any free port).")
    ),
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("Address to listen on.")),
    dir: Options.directory("dir").pipe(
      Options.optional,
      Options.withDescription("Keep blobs and repositories in this directory instead of memory.")
    ),
    auth: Options.choice("auth", ["none", "basic", "token"]).pipe(
      Options.withDefault("none" as const),
      Options.withDescription("none, basic (Basic auth) or token (bearer tokens from its own /token endpoint).")
    ),
    user: Options.text("user").pipe(
      Options.withPseudoName("NAME:PASSWORD"),
      Options.repeated,
      Options.withDescription("A user for --auth basic|token; repeatable.")
    ),
    noReferrers: Options.boolean("no-referrers").pipe(
      Options.withDescription("Answer the referrers API with 404, like distribution 2.8.")
    )
  },
  (o) =>
    withServeLibrary(({ TestRegistry }) => Effect.gen(function*() {
      const accounts = yield* users(o.user)
      if (o.auth !== "none" && Object.keys(accounts).length === 0) {
        return yield* new UsageError({ message: `--auth ${o.auth} needs at least one --user NAME:PASSWORD` })
      }
      const registry = yield* TestRegistry.make({
        host: o.host,
        port: o.port,
        auth: o.auth === "none" ? { mode: "none" } : { mode: o.auth, users: accounts },
        referrers: !o.noReferrers,
        storageDirectory: Option.getOrUndefined(o.dir)
      })
      const storage = Option.getOrElse(o.dir, () => "memory")
      yield* Output.result(
        { url: registry.url, host: registry.host, auth: o.auth, storage },
        [registry.url]
      )
      yield* Output.status(`registry listening on ${registry.url} (auth: ${o.auth}, storage: ${storage}); Ctrl-C stops it`)
      return yield* Effect.never
    }).pipe(Effect.scoped))
).pipe(Command.withDescription("Run the embedded registry (for tests and trying clients)."))
