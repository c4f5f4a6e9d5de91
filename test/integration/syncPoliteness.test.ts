/**
 * The registry limits runners share, on Postgres (where their queries really run at once): four
 * runners racing for a registry's one slot never have two requests in flight together, and a 429
 * with `Retry-After: 2` answered to one holds the others back.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Sync from "../../src/Sync.js"
import { burst, countingServer, pausedTogether, runner } from "../support/politeness.js"
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

      const { seen, refused, other } = yield* pausedTogether(state)
      expect(refused).toBeDefined()
      // Requests sent before the refusal was known may still arrive just after it (on a loaded
      // machine, a few hundred milliseconds); after that, nothing until the 2 s are up.
      const quiet = (a: { readonly at: number }) => a.at > refused!.answeredAt! + 500 && a.at < refused!.at + 1950
      expect(seen.arrivals.filter(quiet)).toEqual([])
      // every request was answered in the end: 16, and the one refused sent again after the wait;
      // the other runner was still sending, so it was held back too
      expect(seen.arrivals).toHaveLength(17)
      expect(seen.arrivals.filter((a) => a.at >= refused!.at + 1950 && a.path.startsWith(`/v2/${other}/`)).length)
        .toBeGreaterThan(0)
    }), { timeout: 120_000 })
})
