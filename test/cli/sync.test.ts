/**
 * `effect-oci sync` and `sync status` as the built CLI runs them, against two embedded registries:
 * a pass copies the selected tags and records them, a second pass copies nothing, `status` reports
 * each tag (text and JSON), and bad configs and options exit 2 with one line.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as TestRegistry from "../../src/testing/index.js"
import { cli, cliPath, json, sandbox, seedImage } from "./support.js"

describe("effect-oci sync", () => {
  it.scopedLive("mirrors, records, copies nothing the second time, and reports status", () =>
    Effect.gen(function*() {
      const source = yield* TestRegistry.make()
      const destination = yield* TestRegistry.make()
      const box = sandbox()
      const images = new Map<string, string>()
      for (const repository of ["team/a", "team/b"]) {
        for (const tag of ["v1.0.0", "v2.0.0", "dev"]) {
          images.set(`${repository}:${tag}`, (yield* seedImage(source, repository, { tag, seed: `${repository}:${tag}` })).digest)
        }
      }
      const config = Path.join(box.dir, "sync.yaml")
      Fs.writeFileSync(
        config,
        `mappings:\n  - from: docker://${source.host}/team/*\n    to: docker://${destination.host}/mirror\n` +
          `    tags: { semver: ">=1.0.0" }\n`
      )
      const state = Path.join(box.dir, "state.db")

      const first = yield* cli(["sync", config, "--state", state], { sandbox: box })
      expect(first.stderr).toBe("")
      expect(first.code).toBe(0)
      expect(first.out).toContain("4 copied, 0 up to date, 0 failed")
      for (const repository of ["a", "b"]) {
        expect(yield* destination.hasManifest(`mirror/${repository}`, images.get(`team/${repository}:v2.0.0`)!)).toBe(true)
        expect(yield* destination.hasManifest(`mirror/${repository}`, "dev")).toBe(false)
      }

      const second = yield* cli(["--json", "sync", config, "--state", state], { sandbox: box })
      expect(second.code).toBe(0)
      expect(json(second).total).toMatchObject({ checked: 4, copied: 0, unchanged: 4, failed: 0 })

      const status = yield* cli(["sync", "status", "--state", state, "--json"], { sandbox: box })
      expect(status.code).toBe(0)
      const rows = json(status).tags as ReadonlyArray<{ source: string; tag: string; state: string; sourceDigest: string; destinationDigest: string }>
      expect(rows.map((r) => `${r.source}:${r.tag}`).sort()).toEqual(
        ["a:v1.0.0", "a:v2.0.0", "b:v1.0.0", "b:v2.0.0"].map((t) => `${source.host}/team/${t}`)
      )
      for (const row of rows) {
        expect(row.state).toBe("copied")
        expect(row.sourceDigest).toBe(images.get(`${row.source.slice(source.host.length + 1)}:${row.tag}`))
        expect(row.destinationDigest).toBe(row.sourceDigest)
      }
      const text = yield* cli(["sync", "status", "--state", state], { sandbox: box })
      expect(text.out.trim().split("\n")).toHaveLength(4)
      expect(text.out).toContain(`${source.host}/team/a:v1.0.0 -> ${destination.host}/mirror/a  copied  `)
    }), { timeout: 120_000 })

  it.effect("bad configs and options exit 2 with one line; an unreachable state database 1", () =>
    Effect.gen(function*() {
      const box = sandbox()
      const config = Path.join(box.dir, "bad.yaml")
      Fs.writeFileSync(config, "mappings:\n  - from: docker://127.0.0.1:1/a\n    to: docker://127.0.0.1:1/b\n    tagz: 1\n")
      const bad = yield* cli(["sync", config, "--state", Path.join(box.dir, "s.db")], { sandbox: box })
      expect(bad.code).toBe(2)
      expect(bad.stderr).toBe(`effect-oci: sync ${config}: ${config}:4: mappings[0].tagz: unknown key\n`)
      const noState = yield* cli(["sync", "status", "--state", Path.join(box.dir, "none.db")], { sandbox: box })
      expect(noState.code).toBe(2)
      expect(noState.stderr).toContain("no sync state at")
      const good = Path.join(box.dir, "good.yaml")
      Fs.writeFileSync(good, "mappings:\n  - from: docker://127.0.0.1:1/a\n    to: docker://127.0.0.1:1/b\n")
      const watch = yield* cli(["sync", good, "--watch", "soon"], { sandbox: box })
      expect(watch.code).toBe(2)
      expect(watch.stderr).toContain("--watch soon: not an interval")
      const noDatabase = yield* cli(
        ["sync", good, "--cluster", "postgres://sync:s3cret@127.0.0.1:1/sync", "--runner-address", "127.0.0.1:1"],
        { sandbox: box }
      )
      expect(noDatabase.code).toBe(1)
      expect(noDatabase.stderr).toMatch(/^effect-oci: sync .*: state database: .*ECONNREFUSED 127\.0\.0\.1:1\n$/)
      expect(noDatabase.stderr).not.toContain("s3cret")
      const noConfig = yield* cli(["sync"], { sandbox: box })
      expect(noConfig.code).toBe(2)
    }), { timeout: 120_000 })
})

describe("effect-oci sync politeness", () => {
  it.scopedLive("keeps to a registry's maxConcurrentRequests and waits out a spent rate-limit window", () =>
    Effect.gen(function*() {
      const source = yield* TestRegistry.make()
      const destination = yield* TestRegistry.make()
      const box = sandbox()
      for (const repository of ["team/a", "team/b", "team/c"]) {
        for (const tag of ["v1", "v2"]) yield* seedImage(source, repository, { tag, seed: `${repository}:${tag}` })
      }
      yield* source.setFaults([
        { first: 1, action: TestRegistry.FaultAction.rateLimit({ limit: 100, remaining: 0, resetSeconds: 2 }) },
        { action: TestRegistry.FaultAction.delayHeaders(100) }
      ])
      const config = Path.join(box.dir, "sync.yaml")
      Fs.writeFileSync(
        config,
        `maxConcurrentRequests: 50\nregistries:\n  "${source.host}": { maxConcurrentRequests: 1 }\n` +
          `mappings:\n  - from: docker://${source.host}/team/*\n    to: docker://${destination.host}/mirror\n`
      )
      const run = yield* cli(["--json", "sync", config, "--state", Path.join(box.dir, "state.db")], { sandbox: box })
      expect(run.stderr).toBe("")
      expect(json(run).total).toMatchObject({ copied: 6, failed: 0 })
      const arrivals = (yield* source.requests).map((r) => r.at)
      expect(arrivals.length).toBeGreaterThan(10)
      // the first answer said the window is spent for 2 s: nothing more until then
      expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(1950)
      // one request at a time: each waits for the one before it to be answered (100 ms each)
      const gaps = arrivals.slice(2).map((at, i) => at - arrivals[i + 1]!)
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(95)
    }), { timeout: 120_000 })
})

/** Starts `effect-oci --json sync ARGS…` in the background; its stdout lines (one summary per pass) arrive in `lines`. */
const background = (args: ReadonlyArray<string>, box: ReturnType<typeof sandbox>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = ChildProcess.spawn(process.execPath, [cliPath(), "--json", "sync", ...args], {
        env: box.env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const lines: Array<{ readonly at: number; readonly summary: any }> = []
      let out = ""
      let err = ""
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString()
        for (let newline = out.indexOf("\n"); newline >= 0; newline = out.indexOf("\n")) {
          lines.push({ at: Date.now(), summary: JSON.parse(out.slice(0, newline)) })
          out = out.slice(newline + 1)
        }
      })
      child.stderr.on("data", (b: Buffer) => (err += b.toString()))
      return { child, lines, stderr: () => err }
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )

describe("effect-oci sync --watch", () => {
  it.scopedLive("runs another pass after the interval and picks up a tag pushed meanwhile", () =>
    Effect.gen(function*() {
      const source = yield* TestRegistry.make()
      const destination = yield* TestRegistry.make()
      const box = sandbox()
      yield* seedImage(source, "team/app", { tag: "v1", seed: "v1" })
      const config = Path.join(box.dir, "sync.yaml")
      Fs.writeFileSync(config, `mappings:\n  - from: docker://${source.host}/team/app\n    to: docker://${destination.host}/mirror/app\n`)
      const run = yield* background([config, "--state", Path.join(box.dir, "state.db"), "--watch", "1s"], box)
      /** Waits for the pass after `count` passes, failing with the CLI's stderr if it never comes. */
      const pass = (count: number) =>
        Effect.suspend(() => Effect.succeed(run.lines[count])).pipe(
          Effect.filterOrFail((line) => line !== undefined, () => new Error("no pass yet")),
          Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 600 }),
          Effect.orElse(() => Effect.dieMessage(`no pass ${count + 1}; stderr: ${run.stderr()}`))
        )
      const first = yield* pass(0)
      expect(first.summary.total).toMatchObject({ checked: 1, copied: 1, failed: 0 })
      const v2 = yield* seedImage(source, "team/app", { tag: "v2", seed: "v2" })
      // The next pass that sees v2 copies it, and only it; it starts no sooner than the interval.
      let found: { readonly at: number; readonly summary: any } | undefined
      for (let i = 1; found === undefined && i < 10; i++) {
        const line = yield* pass(i)
        if (line.summary.total.checked === 2) found = line
      }
      expect(found?.summary.total).toMatchObject({ checked: 2, copied: 1, unchanged: 1, failed: 0 })
      expect(found!.at - first.at).toBeGreaterThanOrEqual(1000)
      expect(yield* destination.hasManifest("mirror/app", v2.digest)).toBe(true)
      expect(run.child.exitCode).toBe(null)
    }), { timeout: 120_000 })
})
