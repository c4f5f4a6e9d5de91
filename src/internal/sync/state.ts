/**
 * The durable sync state: one row per (source repository, destination repository, tag), written as
 * each tag is checked, started, copied or failed. Plain SQL that SQLite and Postgres both accept,
 * so one process (a SQLite file) and many runners (Postgres) share this code.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

/**
 * What sync last did with a tag: `copying` (a copy started and has not ended — a crash leaves it so),
 * `copied`, `unchanged` (the destination already had the source's image) or `failed`.
 */
export const TagState = Schema.Literal("copying", "copied", "unchanged", "failed")

/** What sync last did with a tag. */
export type TagState = typeof TagState.Type

/** One tag's record. Times are ISO 8601 strings (UTC). */
export class TagStatus extends Schema.Class<TagStatus>("effect-oci/Sync/TagStatus")({
  mapping: Schema.String,
  source: Schema.String,
  destination: Schema.String,
  tag: Schema.String,
  sourceDigest: Schema.NullOr(Schema.String),
  destinationDigest: Schema.NullOr(Schema.String),
  state: TagState,
  lastRun: Schema.String,
  lastError: Schema.NullOr(Schema.String),
  runner: Schema.NullOr(Schema.String)
}) {}

/** The identity of a row. */
export interface TagKey {
  readonly mapping: string
  readonly source: string
  readonly destination: string
  readonly tag: string
}

const table = "effect_oci_sync_tags"
/** Per job, the tags and digests a runner last found, and when (see `workflow.ts`). */
const plans = "effect_oci_sync_plans"

/**
 * Runs `CREATE TABLE IF NOT EXISTS` statements. Runners may start together, and Postgres does not
 * make such a statement safe against another session creating the same table: a lost race is retried.
 */
export const createTables = (
  ...statements: ReadonlyArray<string>
): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true }))
    .pipe(Effect.retry(Schedule.recurs(3).pipe(Schedule.addDelay(() => "50 millis"))))

/** Creates the tables if missing. */
export const ensureSchema: Effect.Effect<void, SqlError, SqlClient.SqlClient> = createTables(
  `CREATE TABLE IF NOT EXISTS ${table} (
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    tag TEXT NOT NULL,
    mapping TEXT NOT NULL,
    source_digest TEXT,
    destination_digest TEXT,
    state TEXT NOT NULL,
    last_run TEXT NOT NULL,
    last_error TEXT,
    runner TEXT,
    PRIMARY KEY (source, destination, tag)
  )`,
  `CREATE TABLE IF NOT EXISTS ${plans} (job TEXT PRIMARY KEY, plan TEXT NOT NULL, planned_at BIGINT NOT NULL)`
)

/** The plan recorded for `job` (its JSON) when it was made at `since` (ms) or later. */
export const recentPlan = (
  job: string,
  since: number
): Effect.Effect<Option.Option<string>, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly plan: string }>`SELECT plan FROM ${sql(plans)} WHERE job = ${job} AND planned_at >= ${since}`).pipe(
      Effect.map((rows) => Option.fromNullable(rows[0]?.plan))
    )

/** Records the plan (JSON) a runner made for `job` now. */
export const recordPlan = (job: string, plan: string): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO ${sql(plans)} (job, plan, planned_at) VALUES (${job}, ${plan}, ${Date.now()})
      ON CONFLICT (job) DO UPDATE SET plan = excluded.plan, planned_at = excluded.planned_at`).pipe(Effect.asVoid)

const columns = `mapping, source, destination, tag, source_digest AS "sourceDigest",
  destination_digest AS "destinationDigest", state, last_run AS "lastRun", last_error AS "lastError", runner`

const decodeRows = Schema.decodeUnknown(Schema.Array(TagStatus))

/** Records a tag's state (insert or update), stamped with the current time. */
export const record = (
  key: TagKey,
  fields: {
    readonly state: TagState
    readonly sourceDigest: string | null
    readonly destinationDigest: string | null
    readonly lastError: string | null
    readonly runner: string | null
  }
): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = new Date().toISOString()
    yield* sql`INSERT INTO ${sql(table)}
      (source, destination, tag, mapping, source_digest, destination_digest, state, last_run, last_error, runner)
      VALUES (${key.source}, ${key.destination}, ${key.tag}, ${key.mapping}, ${fields.sourceDigest},
        ${fields.destinationDigest}, ${fields.state}, ${now}, ${fields.lastError}, ${fields.runner})
      ON CONFLICT (source, destination, tag) DO UPDATE SET
        mapping = excluded.mapping, source_digest = excluded.source_digest,
        destination_digest = excluded.destination_digest, state = excluded.state,
        last_run = excluded.last_run, last_error = excluded.last_error, runner = excluded.runner`
  })

/** A tag's record, if any. */
export const get = (key: TagKey): Effect.Effect<Option.Option<TagStatus>, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT ${sql.literal(columns)} FROM ${sql(table)}
      WHERE source = ${key.source} AND destination = ${key.destination} AND tag = ${key.tag}`.pipe(
      Effect.flatMap(decodeRows),
      Effect.orDie
    )
    return Option.fromNullable(rows[0])
  })

/** Every record, ordered by mapping, source, destination and tag. */
export const list: Effect.Effect<ReadonlyArray<TagStatus>, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.unsafe(`SELECT ${columns} FROM ${table} ORDER BY mapping, source, destination, tag`).pipe(
    Effect.flatMap(decodeRows),
    Effect.orDie
  )
})
