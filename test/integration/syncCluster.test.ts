/**
 * Sync across two runner processes sharing a private Postgres, between two Debian docker-registry
 * (distribution 2.8) servers: one runner is SIGKILLed midway; the other finishes everything. Every
 * image arrives byte-exact and the status holds each tag exactly once, copied.
 */
import { expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as Reference from "../../src/Reference.js"
import { Repository } from "../../src/Repository.js"
import * as Sync from "../../src/Sync.js"
import { concat } from "../../src/internal/body.js"
import * as Images from "../support/images.js"
import { integrationSuite } from "./support/binaries.js"
import * as Client from "./support/client.js"
import * as Credentials from "../../src/Credentials.js"
import * as node from "../../src/node.js"
import * as Postgres from "./support/postgres.js"
import { daemon, run, tempDir } from "./support/processes.js"
import { launch, type Registry } from "./support/registry.js"

const repositories = Array.from({ length: 8 }, (_, i) => `team/svc${String(i).padStart(2, "0")}`)
const tags = ["v1.0.0", "v1.1.0"]

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Pushes a one-layer image of ~100 KiB whose bytes depend on the repository and tag. */
const push = (registry: Registry, repository: string, tag: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const ref = yield* Reference.parse(`${registry.host}/${repository}:${tag}`)
    const img = Images.image(`${repository}:${tag}`, { layers: 1, layerSize: 100_000 })
    for (const blob of img.blobs) yield* repo.putBlob(ref, blob.bytes)
    return yield* repo.putManifest(ref, img.manifest)
  }).pipe(Effect.provide(Client.layer(registry)))

/** The manifest digest at `registry` and every blob's bytes hashed (the client verifies them too). */
const pull = (registry: Registry, repository: string, tag: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const ref = yield* Reference.parse(`${registry.host}/${repository}:${tag}`)
    const fetched = yield* repo.getManifest(ref)
    const blobs = yield* Effect.forEach(Manifest.references(fetched.manifest), (d) =>
      Stream.runCollect(repo.getBlob(ref, d.digest, { size: d.size })).pipe(
        Effect.map((chunks) => Digest.compute(concat(Chunk.toReadonlyArray(chunks))))
      ))
    return { digest: fetched.digest, blobs }
  }).pipe(Effect.provide(Client.layer(registry)))

// node itself with tsx's loader, not the tsx wrapper: the wrapper runs the script in a child process,
// so SIGKILL to its pid would leave the runner alive
const runnerCommand = (args: ReadonlyArray<string>) => [process.execPath, ["--import", "tsx", ...args]] as const
const runnerScript = Path.resolve("test/integration/support/syncRunner.ts")

integrationSuite("sync across runners on Postgres", ["docker-registry", "postgres"], () => {
  it.scopedLive("a runner killed midway has its work finished by another; nothing is lost or doubled", () =>
    Effect.gen(function*() {
      const [pg, source, destination, dir] = yield* Effect.all(
        [Postgres.start, launch("plain"), launch("plain"), tempDir("sync-cluster")],
        { concurrency: "unbounded" }
      )
      const sourceDigests = new Map<string, string>()
      yield* Effect.forEach(repositories, (repository) =>
        Effect.forEach(tags, (tag) =>
          Effect.map(push(source, repository, tag), (digest) => sourceDigests.set(`${repository}:${tag}`, digest))), {
        concurrency: 4
      })
      const configPath = Path.join(dir, "sync.yaml")
      Fs.writeFileSync(
        configPath,
        `mappings:\n  - from: docker://${source.host}/team/*\n    to: docker://${destination.host}/mirror\n`
      )

      const state = Sync.layerPostgres(Redacted.make(pg.url))
      const status = Sync.status.pipe(Effect.provide(state))
      const startRunner = (name: string) =>
        Effect.flatMap(freePort, (port) =>
          // svc00's copies end after 0.3 s, svc07's after 4.5 s: a runner is killed while later ones are left
          daemon(...runnerCommand([runnerScript, configPath, pg.url, String(port), name]), {
            env: { SYNC_COPY_STAGGER_MS: "600" }
          }))
      const runners = { "runner-a": yield* startRunner("runner-a"), "runner-b": yield* startRunner("runner-b") }
      const logs = () => Object.values(runners).map((r) => r.log()).join("\n")

      // Which runner runs which repository is the cluster's choice (by shard): once something is
      // copied, kill a runner that is copying at that moment, while work is left.
      const before = yield* status.pipe(
        Effect.filterOrFail(
          (rows) => rows.some((r) => r.state === "copied") && rows.some((r) => r.state === "copying"),
          () => new Error("not yet")
        ),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("90 seconds"))),
        Effect.mapError(() => new Error(`nothing copied while work was left:\n${logs()}`))
      )
      const victimName = before.find((r) => r.state === "copying")!.runner as keyof typeof runners
      const survivorName = victimName === "runner-a" ? "runner-b" : "runner-a"
      process.kill(runners[victimName].pid, "SIGKILL")
      // what the victim was copying when it died: read once it is dead (a statement it sent just
      // before the kill may still land), not from the snapshot that chose it
      yield* Effect.sleep("300 millis")
      const afterKill = yield* status
      const interrupted = afterKill.filter((r) => r.state === "copying" && r.runner === victimName)
      // every tag the victim wrote a row for: copying, or copied but perhaps not yet in its journal
      const touchedByVictim = afterKill.filter((r) => r.runner === victimName)
      const survivor = runners[survivorName]

      yield* Effect.sync(() => survivor.alive()).pipe(
        Effect.repeat({ schedule: Schedule.spaced("200 millis"), while: (alive) => alive }),
        Effect.timeoutFail({ duration: "120 seconds", onTimeout: () => new Error(`the survivor did not finish:\n${survivor.log()}`) })
      )
      const summaryLine = survivor.log().split("\n").find((l) => l.startsWith("SUMMARY "))
      expect(summaryLine, survivor.log()).toBeDefined()
      const summary = JSON.parse(summaryLine!.slice("SUMMARY ".length))
      expect(summary.failures).toEqual([])
      expect(summary.total.failed).toBe(0)
      expect(summary.total.checked).toBe(repositories.length * tags.length)

      for (const repository of repositories) {
        for (const tag of tags) {
          const copy = yield* pull(destination, `mirror/${repository.slice("team/".length)}`, tag)
          const original = yield* pull(source, repository, tag)
          expect(copy).toEqual(original)
          expect(copy.digest).toBe(sourceDigests.get(`${repository}:${tag}`))
        }
      }
      const rows = yield* status
      expect(rows.length).toBe(repositories.length * tags.length)
      expect(new Set(rows.map((r) => `${r.source}:${r.tag}`)).size).toBe(rows.length)
      const wasTouched = (r: { readonly source: string; readonly tag: string }) =>
        touchedByVictim.some((i) => i.source === r.source && i.tag === r.tag)
      for (const row of rows) {
        const label = `${row.source}:${row.tag} ${row.state}`
        expect(row.destinationDigest, label).toBe(row.sourceDigest)
        // A tag the killed runner worked on may be copied again by the survivor, which then finds it
        // there ("unchanged"): pushed before its row said so, or recorded as copied before its
        // workflow's journal did (a step is run at least once). Every other tag was copied once.
        expect(wasTouched(row) ? ["copied", "unchanged"] : ["copied"], label).toContain(row.state)
      }
      // what the killed runner was copying was finished by the other
      expect(interrupted.length).toBeGreaterThan(0)
      for (const row of interrupted) {
        const after = rows.find((r) => r.source === row.source && r.tag === row.tag)!
        expect(after.runner, `${row.source}:${row.tag}`).toBe(survivorName)
      }
    }).pipe(Effect.provide(Layer.empty)), { timeout: 240_000 })

  it.scopedLive("runners started at the same moment on a fresh database all start", () =>
    // Postgres lets concurrent `CREATE TABLE IF NOT EXISTS` of one table fail; the cluster's storage
    // creates its tables so on start. Without the start lock, some of four runners fail here.
    Effect.gen(function*() {
      const pg = yield* Postgres.start
      for (let round = 0; round < 3; round++) {
        yield* run("psql", [pg.url, "-q", "-c", `CREATE DATABASE fresh${round}`])
        const url = Redacted.make(pg.url.replace(/\/postgres$/, `/fresh${round}`))
        const exits = yield* Effect.forEach([0, 1, 2, 3], (i) =>
          Effect.flatMap(freePort, (port) =>
            Effect.scoped(Layer.build(
              Sync.layerCluster({ url, runner: `r${i}`, runnerAddress: { host: "127.0.0.1", port } }).pipe(
                Layer.provide(Sync.layerCopier),
                Layer.provide(node.layer({ credentials: Credentials.layerAnonymous }))
              )
            ))).pipe(Effect.exit), { concurrency: "unbounded" })
        expect(exits.filter(Exit.isFailure).map((exit) => String(exit))).toEqual([])
      }
    }), { timeout: 120_000 })
})
