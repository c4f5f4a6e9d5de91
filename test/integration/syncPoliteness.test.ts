/**
 * The registry limits runners share, on Postgres (where their queries really run at once): four
 * runners racing for a registry's one slot never have two requests in flight together, and a 429
 * with `Retry-After: 2` answered to one holds the others back.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Sync from "../../src/Sync.js"
import { burst, countingServer, expectHeldBack, pausedTogether, runner } from "../support/politeness.js"
import { integrationSuite } from "./support/binaries.js"
import * as Postgres from "./support/postgres.js"

integrationSuite("sync politeness on Postgres", ["postgres"], () => {
  it.scopedLive("runners share one limit and one pause per registry", () =>
    Effect.gen(function*() {
      const pg = yield* Postgres.start
      const state = () => Sync.layerPostgres(Redacted.make(pg.url))
      const racing = yield* countingServer(2)
      yield* Effect.forEach(["a", "b", "c", "d"], (name) =>
        burst(racing.host, 10).pipe(Effect.provide(runner(state(), { maxConcurrentRequests: 1 }, name))), {
        concurrency: 4
      })
      expect(racing.seen.arrivals).toHaveLength(40)
      expect(racing.seen.maxInFlight).toBe(1)

      const held = yield* pausedTogether(state)
      expectHeldBack(held)
    }), { timeout: 120_000 })
})
