/**
 * One sync runner process for the cluster tests:
 * `tsx syncRunner.ts CONFIG POSTGRES_URL PORT NAME`. Joins the runners sharing the database,
 * runs one pass and prints `SUMMARY <json>` on stdout.
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

const client = node.layer({
  credentials: Credentials.layerAnonymous,
  transport: { retry: Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(5))) }
})

// Each copy takes at least 300 ms, so that the test can kill a runner while work is left on a fast machine.
const slowCopier = Layer.effect(
  Sync.Copier,
  Effect.map(Sync.Copier, (copier) => ({
    copy: (...args: Parameters<typeof copier.copy>) => Effect.delay(copier.copy(...args), "300 millis")
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
}).pipe(Layer.provideMerge(slowCopier), Layer.provideMerge(client))

const program = Effect.gen(function*() {
  const config = yield* Sync.loadConfig(configPath)
  const summary = yield* Sync.run(config)
  process.stdout.write(`SUMMARY ${JSON.stringify({ total: summary.total, failures: summary.failures })}\n`)
}).pipe(Effect.provide(engine), Effect.provide(NodeContext.layer))

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
