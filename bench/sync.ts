/**
 * Sync at scale on this machine: 200 small repositories (one tag, ~20 KiB each) mirrored between two
 * Debian docker-registry servers by 1, 2 and 4 runner processes sharing a private Postgres. Each
 * runner count gets a fresh database and its own destination prefix, so every run copies all. The
 * runners copy at full speed (no test delay) and keep to the default registry limits.
 *
 *   npx tsx bench/sync.ts [--repositories 200] [--runners 1,2,4] [--max-concurrent-requests N]
 *
 * The time is from starting the runners to the last one exiting (process start-up included: each
 * runner loads TypeScript through tsx, about 2–4 s here). Writes bench/results/sync.md.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Reference from "../src/Reference.js"
import { Repository } from "../src/Repository.js"
import * as Client from "../test/integration/support/client.js"
import * as Postgres from "../test/integration/support/postgres.js"
import { daemon, type Daemon, tempDir } from "../test/integration/support/processes.js"
import { launch } from "../test/integration/support/registry.js"
import * as Images from "../test/support/images.js"

const argument = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback
}
const repositoryCount = Number(argument("repositories", "200"))
const runnerCounts = argument("runners", "1,2,4").split(",").map(Number)
/** The config's registry limit (requests in flight per registry, all runners together); default: sync's (8). */
const maxConcurrentRequests = argument("max-concurrent-requests", "")

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

const tsx = process.execPath // with tsx's loader (not the tsx wrapper, which would add a process per runner)
const runnerScript = Path.resolve("test/integration/support/syncRunner.ts")

/** Waits for a runner process to exit. */
const exited = (runner: Daemon) =>
  Effect.sync(() => runner.alive()).pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), while: (alive) => alive })
  )

const program = Effect.gen(function*() {
  const [pg, source, destination, dir] = yield* Effect.all(
    [Postgres.start, launch("plain"), launch("plain"), tempDir("bench-sync")],
    { concurrency: "unbounded" }
  )
  process.stderr.write(`seeding ${repositoryCount} repositories…\n`)
  yield* Effect.forEach(Array.from({ length: repositoryCount }, (_, i) => `team/r${String(i).padStart(4, "0")}`), (name) =>
    Effect.gen(function*() {
      const repo = yield* Repository
      const ref = yield* Reference.parse(`${source.host}/${name}:v1`)
      const img = Images.image(name, { layers: 1, layerSize: 20_000 })
      for (const blob of img.blobs) yield* repo.putBlob(ref, blob.bytes)
      yield* repo.putManifest(ref, img.manifest)
    }), { concurrency: 8 }).pipe(Effect.provide(Client.layer(source)))

  const rows: Array<string> = []
  for (const runners of runnerCounts) {
    const database = `bench${runners}`
    yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${database}`)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(pg.url) })),
      Effect.scoped
    )
    const url = pg.url.replace(/\/postgres$/, `/${database}`)
    const configPath = Path.join(dir, `sync-${runners}.yaml`)
    Fs.writeFileSync(
      configPath,
      (maxConcurrentRequests === "" ? "" : `maxConcurrentRequests: ${maxConcurrentRequests}\n`) +
        `mappings:\n  - from: docker://${source.host}/team/*\n    to: docker://${destination.host}/run${runners}\n`
    )
    process.stderr.write(`${runners} runner(s)…\n`)
    const started = Date.now()
    const processes = yield* Effect.forEach(Array.from({ length: runners }, (_, i) => i), (i) =>
      Effect.flatMap(freePort, (port) => daemon(tsx, ["--import", "tsx", runnerScript, configPath, url, String(port), `bench-${i}`], { env: { SYNC_COPY_DELAY_MS: "0" } })))
    yield* Effect.forEach(processes, exited)
    const seconds = (Date.now() - started) / 1000
    const summaries = processes.map((p) => p.log().split("\n").find((l) => l.startsWith("SUMMARY ")) ?? p.log())
    const copied = summaries.map((s) => s.startsWith("SUMMARY ") ? JSON.parse(s.slice(8)).total.copied : NaN)
    rows.push(`| ${runners} | ${seconds.toFixed(1)} | ${(repositoryCount / seconds).toFixed(1)} | ${copied.join(", ")} |`)
    process.stderr.write(`${runners} runner(s): ${seconds.toFixed(1)} s\n`)
  }
  const report = [
    `# Sync: ${repositoryCount} repositories (one tag, ~20 KiB layer each), distribution 2.8 → distribution 2.8`,
    "",
    `${new Date().toISOString()} · ${Os.cpus().length} × ${Os.cpus()[0]?.model ?? "cpu"} · node ${process.version} · shared with other work`,
    "",
    "| runners | seconds | repositories/s | tags each runner reports copied |",
    "|---:|---:|---:|---|",
    ...rows,
    "",
    "Each runner submits every repository, in an order of its own; executions are shared out by shard,",
    "and a runner that comes to an execution another started waits for it and reports its result too,",
    "so the per-runner counts add up to a little more than the repositories.",
    "Runners in one pass share the planning: a repository's tags are listed and resolved by the first",
    "runner to come to it, and the others take that plan from the database.",
    maxConcurrentRequests === ""
      ? "The runners keep to the default registry limit (8 requests in flight per registry, all runners together, through leases in the shared database)."
      : `The runners keep to a registry limit of ${maxConcurrentRequests} requests in flight per registry, all runners together.`
  ].join("\n")
  Fs.mkdirSync("bench/results", { recursive: true })
  Fs.writeFileSync("bench/results/sync.md", report + "\n")
  process.stdout.write(report + "\n")
}).pipe(Effect.scoped)

Effect.runPromise(program).catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
