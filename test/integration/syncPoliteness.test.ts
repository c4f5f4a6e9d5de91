/**
 * The registry limits runners share, on Postgres (where their queries really run at once): four
 * runners racing for a registry's one slot never have two requests in flight together, and a 429
 * with `Retry-After: 2` answered to one holds the others back.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Redacted from "effect/Redacted"
import * as Sync from "../../src/Sync.js"
import * as Transport from "../../src/Transport.js"
import { burst, countingServer, runner } from "../support/politeness.js"
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

      const { host, seen } = yield* countingServer(
        10,
        (n) => (n === 5 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 })
      )
      const steady = (name: string) =>
        Effect.flatMap(Transport.Transport, (transport) =>
          Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) =>
            transport.execute(HttpClientRequest.get(`http://${host}/v2/${name}${i}`)).pipe(
              Effect.flatMap((response) => response.text)
            ))).pipe(Effect.provide(runner(state(), { maxConcurrentRequests: 2 }, name)))
      yield* Effect.all([steady("a"), steady("b")], { concurrency: 2 })
      const refused = seen.arrivals.find((a) => a.status === 429)!
      expect(refused).toBeDefined()
      expect(seen.arrivals.filter((a) => a.at > refused.at + 100 && a.at < refused.at + 1950)).toEqual([])
      expect(seen.arrivals).toHaveLength(17)
    }), { timeout: 120_000 })
})
