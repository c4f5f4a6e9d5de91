/**
 * One sync runner process for the cluster tests:
 * `tsx syncRunner.ts CONFIG POSTGRES_URL PORT NAME`. Joins the runners sharing the database
 * (registry limits shared through it as the config says), runs one pass and prints
 * `SUMMARY <json>` on stdout.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Credentials from "../../../src/Credentials.js"
import * as node from "../../../src/node.js"
import * as Sync from "../../../src/Sync.js"

const [configPath, url, port, name] = process.argv.slice(2)
if (configPath === undefined || url === undefined || port === undefined || name === undefined) {
  throw new Error("usage: syncRunner.ts CONFIG POSTGRES_URL PORT NAME")
}

/** The client stack, polite to registries as the config says, sharing the limits through the database. */
const client = (config: Sync.Config) =>
  node.layer({
    credentials: Credentials.layerAnonymous,
    transport: { retry: Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(5))) },
    httpClient: Sync.layerPoliteShared({ ...Sync.politenessOf(config), runner: name }).pipe(
      Layer.provide(node.layerHttpClient()),
      Layer.provide(Sync.layerPostgres(Redacted.make(url))),
      Layer.orDie
    )
  })

// Each copy takes at least SYNC_COPY_DELAY_MS (default 300 ms), plus SYNC_COPY_STAGGER_MS (default 0)
// times the number a repository's name ends with: the test's copies then end one repository after
// another, however many run at once, so it can kill a runner while work is left. The bench sets 0.
const copyDelay = Number(process.env["SYNC_COPY_DELAY_MS"] ?? "300")
const stagger = Number(process.env["SYNC_COPY_STAGGER_MS"] ?? "0")
const delayOf = (repository: string) => copyDelay + stagger * Number(/(\d+)$/.exec(repository)?.[1] ?? "0")
const slowCopier = copyDelay === 0 && stagger === 0 ? Sync.layerCopier : Layer.effect(
  Sync.Copier,
  Effect.map(Sync.Copier, (copier) => ({
    copy: (...args: Parameters<typeof copier.copy>) =>
      Effect.delay(copier.copy(...args), `${delayOf(args[0].repository)} millis`)
  }))
).pipe(Layer.provide(Sync.layerCopier))

const engine = Sync.layerCluster({
  url: Redacted.make(url),
  runner: name,
  runnerAddress: { host: "127.0.0.1", port: Number(port) },
  // Quick failover for the test: a dead runner's shards are free after 4 s.
  sharding: {
    shardLockRefreshInterval: "1 second",
    shardLockExpiration: "4 seconds",
    entityMessagePollInterval: "500 millis",
    refreshAssignmentsInterval: "500 millis",
    shardsPerGroup: 30
  }
})

const program = Effect.gen(function*() {
  const config = yield* Sync.loadConfig(configPath)
  const summary = yield* Sync.run(config).pipe(
    Effect.provide(engine.pipe(Layer.provideMerge(slowCopier), Layer.provideMerge(client(config))))
  )
  process.stdout.write(`SUMMARY ${JSON.stringify({ total: summary.total, failures: summary.failures })}\n`)
}).pipe(Effect.provide(NodeContext.layer))

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") {
    // The SQL driver's own message (e.g. a Postgres error) sits in the error's `cause`.
    const error = Cause.squash(exit.cause)
    const reason = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : ""
    process.stderr.write(`runner ${name} failed: ${Cause.pretty(exit.cause)}${reason}\n`)
    process.exit(1)
  }
  process.exit(0)
})
