/**
 * Politeness toward registries: runners sharing a state database never have more than the limit of
 * requests in flight to one registry together, and a 429 with `Retry-After` (or an exhausted
 * `RateLimit-*` window) answered to one of them holds every runner back until the time is up.
 * "Runners" here are separate client stacks in one process, each with its own connection to the
 * same SQLite file, so they can only learn of each other through the database.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import * as node from "../src/node.js"
import { waitOf } from "../src/internal/rateLimit.js"
import * as Sync from "../src/Sync.js"
import * as Transport from "../src/Transport.js"
import { burst, countingServer, expectHeldBack, pausedTogether, runner as runnerOn } from "./support/politeness.js"
import { tempDir } from "./support/syncFixture.js"

/** One runner on the SQLite file `file`. */
const runner = (file: string, politeness: Sync.Politeness, name: string) =>
  runnerOn(Sync.layerSqlite(file), politeness, name)


describe("Sync politeness", () => {
  it.scopedLive("two runners on one database never exceed the registry's limit together", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "state.db")
      const { host, seen } = yield* countingServer(40)
      const politeness: Sync.Politeness = { maxConcurrentRequests: 10, registries: { [host]: { maxConcurrentRequests: 3 } } }
      const [a, b] = yield* Effect.all([
        burst(host, 24).pipe(Effect.provide(runner(file, politeness, "a"))),
        burst(host, 24).pipe(Effect.provide(runner(file, politeness, "b")))
      ], { concurrency: 2 })
      expect([...a, ...b].every((status) => status === 200)).toBe(true)
      expect(seen.arrivals).toHaveLength(48)
      expect(seen.maxInFlight).toBeLessThanOrEqual(3)
      // the limit is used, not undercut: both runners had requests out at once
      expect(seen.maxInFlight).toBeGreaterThanOrEqual(2)
    }), { timeout: 60_000 })

  it.scopedLive("four runners racing for one slot: never two requests at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "state.db")
      const { host, seen } = yield* countingServer(2)
      yield* Effect.forEach(["a", "b", "c", "d"], (name) =>
        burst(host, 10).pipe(Effect.provide(runner(file, { maxConcurrentRequests: 1 }, name))), { concurrency: 4 })
      expect(seen.arrivals).toHaveLength(40)
      expect(seen.maxInFlight).toBe(1)
    }), { timeout: 60_000 })

  it.scopedLive("leases end with their requests; a dead runner's leases expire and its slots are taken over", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "state.db")
      const { host, seen } = yield* countingServer(5)
      const leases = Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM effect_oci_sync_host_leases`).pipe(
          Effect.map((rows) => Number(rows[0]!.n)),
          Effect.provide(Sync.layerSqlite(file))
        )
      yield* burst(host, 6).pipe(Effect.provide(runner(file, { maxConcurrentRequests: 2 }, "a")))
      expect(yield* leases).toBe(0)
      // a runner killed mid-request leaves both slots leased until their expiry
      const expires = Date.now() + 1500
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`INSERT INTO effect_oci_sync_host_leases (host, slot, holder, expires_at)
          VALUES (${host}, 0, 'dead#1', ${expires}), (${host}, 1, 'dead#2', ${expires})`).pipe(
          Effect.provide(Sync.layerSqlite(file))
        )
      const statuses = yield* burst(host, 4).pipe(Effect.provide(runner(file, { maxConcurrentRequests: 2 }, "b")))
      expect(statuses).toEqual([200, 200, 200, 200])
      expect(seen.arrivals).toHaveLength(10)
      expect(seen.arrivals[6]!.at).toBeGreaterThanOrEqual(expires)
      expect(seen.maxInFlight).toBe(2)
      expect(yield* leases).toBe(0)
    }), { timeout: 60_000 })

  it.scopedLive("after a 429 with Retry-After: 2 to one runner, no runner sends to that registry before the time is up", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "state.db")
      const held = yield* pausedTogether(() => Sync.layerSqlite(file))
      expectHeldBack(held)
    }), { timeout: 60_000 })

  it.scopedLive("an answer saying the rate-limit window is spent holds the other runner back until its reset", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "state.db")
      const { host, seen } = yield* countingServer(
        5,
        (n) => (n === 1 ? { status: 200, headers: { "ratelimit-remaining": "0;w=60", "ratelimit-reset": "1" } } : { status: 200 })
      )
      yield* burst(host, 1).pipe(Effect.provide(runner(file, {}, "a")))
      yield* burst(host, 1).pipe(Effect.provide(runner(file, {}, "b")))
      expect(seen.arrivals).toHaveLength(2)
      expect(seen.arrivals[1]!.at - seen.arrivals[0]!.at).toBeGreaterThanOrEqual(950)
    }), { timeout: 60_000 })

  it.scopedLive("in one process the limit holds across fibers without a database", () =>
    Effect.gen(function*() {
      const { host, seen } = yield* countingServer(20)
      const transport = Layer.effect(Transport.Transport, Transport.make()).pipe(
        Layer.provide(Sync.layerPolite({ maxConcurrentRequests: 4 })),
        Layer.provide(node.layerHttpClient({ connections: 64 }))
      )
      yield* burst(host, 30).pipe(Effect.provide(transport))
      expect(seen.arrivals).toHaveLength(30)
      expect(seen.maxInFlight).toBe(4)
    }), { timeout: 60_000 })

  it("reads Retry-After and the RateLimit headers' waits", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(waitOf(429, { "retry-after": "2" }, now)).toBe(2000)
    expect(waitOf(503, { "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }, now)).toBe(3000)
    expect(waitOf(429, {}, now)).toBe(1000)
    expect(waitOf(200, { "retry-after": "5" }, now)).toBe(undefined)
    expect(waitOf(200, { "ratelimit-remaining": "3;w=60", "ratelimit-reset": "9" }, now)).toBe(undefined)
    expect(waitOf(200, { "ratelimit-remaining": "0;w=60", "ratelimit-reset": "9" }, now)).toBe(9000)
    expect(waitOf(200, { ratelimit: "limit=10, remaining=0, reset=4" }, now)).toBe(4000)
    expect(waitOf(200, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 7) }, now)).toBe(7000)
    expect(waitOf(200, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "6" }, now)).toBe(6000)
    expect(waitOf(429, { "retry-after": "1", "ratelimit-remaining": "0", "ratelimit-reset": "30" }, now)).toBe(30_000)
  })

  it.scoped("around node's client, the Transport still takes file bodies the client pulls; around another client it does not", () =>
    Effect.gen(function*() {
      const iterable = (client: Layer.Layer<HttpClient.HttpClient>) =>
        Effect.map(Effect.provide(Transport.Transport, Transport.layer().pipe(Layer.provide(client))), (t) => t.iterableBodies)
      expect(yield* iterable(Sync.layerPolite().pipe(Layer.provide(node.layerHttpClient())))).toBe(true)
      expect(yield* iterable(Sync.layerPolite().pipe(Layer.provide(FetchHttpClient.layer)))).toBe(false)
    }))
})

