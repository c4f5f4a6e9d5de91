/**
 * The registry limits runners share through their state database: per registry host, numbered
 * request slots held as expiring leases, and a "not before" time no runner sends before.
 *
 * A slot is a row `(host, slot)`; taking it is one upsert that succeeds only when the row is
 * missing or its lease has expired, so two runners never hold the same slot. A holder renews its
 * lease while the request runs and deletes it when the answer's headers arrive; a runner killed
 * meanwhile leaves a lease that expires after {@link leaseTtl}, so nothing waits on a dead runner
 * for longer than that. Times are milliseconds of the runners' clocks (keep them in NTP sync).
 * Plain SQL that SQLite and Postgres both accept.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { createTables } from "./state.js"

const leases = "effect_oci_sync_host_leases"
const hosts = "effect_oci_sync_hosts"

/** How long a lease lasts unless renewed; renewed every third of it while its request runs. */
export const leaseTtl = Duration.seconds(15)

/** Pause between looks for a free slot when all are taken (jittered). */
const pollDelay = Duration.millis(25)

/** Creates the tables if missing. */
export const ensureSchema: Effect.Effect<void, SqlError, SqlClient.SqlClient> = createTables(
  `CREATE TABLE IF NOT EXISTS ${leases} (
    host TEXT NOT NULL,
    slot INTEGER NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (host, slot)
  )`,
  `CREATE TABLE IF NOT EXISTS ${hosts} (
    host TEXT PRIMARY KEY,
    not_before BIGINT NOT NULL
  )`
)

/** The store of one runner (one connection pool to the shared database). */
export interface Store {
  /** Takes one of `host`'s `limit` slots (waiting while all are held) until the scope closes. */
  readonly lease: (host: string, limit: number) => Effect.Effect<void, SqlError, Scope.Scope>
  /** The time (ms) before which no runner should send to `host`; 0 when none was set. */
  readonly notBefore: (host: string) => Effect.Effect<number, SqlError>
  /** Moves `host`'s not-before time to `until` (ms), unless it is already later. */
  readonly hold: (host: string, until: number) => Effect.Effect<void, SqlError>
}

let holderCounter = 0

/** The store over the SqlClient's database; `runner` names this process in the lease rows. */
export const make = (runner: string): Effect.Effect<Store, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* ensureSchema
    const ttl = Duration.toMillis(leaseTtl)

    /** Tries to take `slot`: inserts it, or takes it over when its lease has expired. */
    const claim = (host: string, slot: number, holder: string) =>
      Effect.suspend(() => {
        const now = Date.now()
        return sql<{ readonly holder: string }>`INSERT INTO ${sql(leases)} (host, slot, holder, expires_at)
          VALUES (${host}, ${slot}, ${holder}, ${now + ttl})
          ON CONFLICT (host, slot) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
          WHERE ${sql(leases)}.expires_at < ${now}
          RETURNING holder`
      }).pipe(Effect.map((rows) => rows.length > 0))

    /** Slots of `host` below `limit` that no live lease holds. */
    const freeSlots = (host: string, limit: number) =>
      Effect.suspend(() =>
        sql<{ readonly slot: number | string }>`SELECT slot FROM ${sql(leases)}
          WHERE host = ${host} AND expires_at >= ${Date.now()}`
      ).pipe(Effect.map((rows) => {
        const taken = new Set(rows.map((r) => Number(r.slot)))
        return Array.from({ length: limit }, (_, i) => i).filter((i) => !taken.has(i))
      }))

    const take = (host: string, limit: number, holder: string): Effect.Effect<number, SqlError> =>
      Effect.gen(function*() {
        for (;;) {
          const free = yield* freeSlots(host, limit)
          if (free.length === 0) {
            yield* Effect.sleep(Duration.millis(Duration.toMillis(pollDelay) * (0.5 + Math.random())))
            continue
          }
          // A random free slot, so runners looking at once mostly try different ones.
          const slot = free[Math.floor(Math.random() * free.length)]!
          if (yield* claim(host, slot, holder)) return slot
        }
      })

    const renew = (host: string, slot: number, holder: string) =>
      Effect.suspend(() =>
        sql`UPDATE ${sql(leases)} SET expires_at = ${Date.now() + ttl}
          WHERE host = ${host} AND slot = ${slot} AND holder = ${holder}`
      )

    const release = (host: string, slot: number, holder: string) =>
      sql`DELETE FROM ${sql(leases)} WHERE host = ${host} AND slot = ${slot} AND holder = ${holder}`

    const lease: Store["lease"] = (host, limit) =>
      Effect.gen(function*() {
        const holder = `${runner}#${++holderCounter}`
        const slot = yield* Effect.acquireRelease(
          take(host, limit, holder),
          (slot) => Effect.ignore(release(host, slot, holder))
        )
        yield* renew(host, slot, holder).pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced(Duration.millis(ttl / 3))),
          Effect.delay(Duration.millis(ttl / 3)),
          Effect.forkScoped
        )
      })

    const notBefore: Store["notBefore"] = (host) =>
      sql<{ readonly notBefore: number | string }>`SELECT not_before AS "notBefore" FROM ${sql(hosts)}
        WHERE host = ${host}`.pipe(Effect.map((rows) => (rows[0] === undefined ? 0 : Number(rows[0].notBefore))))

    const hold: Store["hold"] = (host, until) =>
      sql`INSERT INTO ${sql(hosts)} (host, not_before) VALUES (${host}, ${Math.ceil(until)})
        ON CONFLICT (host) DO UPDATE SET not_before = excluded.not_before
        WHERE ${sql(hosts)}.not_before < excluded.not_before`.pipe(Effect.asVoid)

    return { lease, notBefore, hold }
  })
