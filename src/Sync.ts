/**
 * Declarative, incremental, durable mirroring between registries (`effect-oci sync`).
 *
 * A config file lists mappings from a source repository (or every repository under a prefix) to a
 * destination, with tag filters, platforms and referrers. A pass compares each selected tag's source
 * and destination digests and copies only what changed; it never deletes at the destination. What it
 * does is recorded per tag, as it happens, in a SQL database (a SQLite file by default), so a
 * crashed pass picks up where it stopped and {@link status} reports it.
 *
 * @example
 * ```yaml
 * mappings:
 *   - from: docker://src.example:5000/team/*          # every repository under team/
 *     to: docker://dst.example:5000/mirror/team       # team/app → mirror/team/app
 *     tags: { regex: "^v[0-9]", semver: ">=1.2.0", newest: 5 }
 *     platforms: [linux/amd64, linux/arm64]
 *     referrers: true
 * ```
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as config from "./internal/sync/config.js"
import * as engine from "./internal/sync/engine.js"
import * as runner from "./internal/sync/runner.js"
import * as state from "./internal/sync/state.js"
import type { Repository } from "./Repository.js"

export {
  /**
   * The image copier a pass drives. {@link layerCopier} provides `Copy.copy` between registries;
   * tests or other transports may provide their own.
   *
   * @since 0.1.0
   * @category services
   */
  Copier,
  /**
   * What a copy reports back: the digest written, blobs copied / skipped / mounted, bytes moved.
   *
   * @since 0.1.0
   * @category models
   */
  type CopyOutcome,
  /**
   * Tag and blob tallies of a pass or a mapping.
   *
   * @since 0.1.0
   * @category models
   */
  type Tally
} from "./internal/sync/engine.js"

export {
  /**
   * A config file could not be parsed or breaks the schema; `message` is one line naming the file,
   * line and key, e.g. `sync.yaml:4: mappings[0].tags.newest: expected a whole number above 0`.
   *
   * @since 0.1.0
   * @category errors
   */
  SyncConfigError,
  /**
   * The config file's Schema (`{ mappings: [{ from, to, tags?, platforms?, referrers? }] }`; unknown
   * keys are errors).
   *
   * @since 0.1.0
   * @category schemas
   */
  Config,
  /**
   * One mapping's Schema.
   *
   * @since 0.1.0
   * @category schemas
   */
  Mapping,
  /**
   * The tag filters' Schema: `regex`, `semver` (a range), `newest` (a count). A tag must pass every
   * filter given; `newest` keeps the highest versions (tags that are no version come after).
   *
   * @since 0.1.0
   * @category schemas
   */
  TagFilter
} from "./internal/sync/config.js"

export {
  /**
   * One tag's record: mapping, source and destination repositories, tag, digests, state, last run
   * (ISO 8601), last error, and the runner that wrote it.
   *
   * @since 0.1.0
   * @category models
   */
  TagStatus,
  /**
   * `copying` (started, not ended: a crash leaves it so), `copied`, `unchanged`, `failed`.
   *
   * @since 0.1.0
   * @category models
   */
  TagState
} from "./internal/sync/state.js"

export {
  /**
   * Tags compared, by `mapping`.
   *
   * @since 0.1.0
   * @category metrics
   */
  tagsChecked,
  /**
   * Tags copied, by `mapping`.
   *
   * @since 0.1.0
   * @category metrics
   */
  tagsCopied,
  /**
   * Tags found up to date, by `mapping`.
   *
   * @since 0.1.0
   * @category metrics
   */
  tagsSkipped,
  /**
   * Tags whose check or copy failed, by `mapping`.
   *
   * @since 0.1.0
   * @category metrics
   */
  tagsFailed,
  /**
   * Seconds per pass.
   *
   * @since 0.1.0
   * @category metrics
   */
  duration
} from "./internal/sync/metrics.js"

/**
 * A pass's result: per mapping the repositories found and the tag tallies; repositories (or whole
 * mappings) that failed before reaching their tags; totals; how long it took.
 *
 * @since 0.1.0
 * @category models
 */
export type Summary = runner.Summary

/**
 * Options of a pass: repositories and tags at once (default 4 and 2), this process's name in the
 * state (default `host:pid`).
 *
 * @since 0.1.0
 * @category models
 */
export type RunOptions = runner.RunOptions

/**
 * Parses a config's text (YAML or JSON); `file` names it in error messages.
 *
 * @example
 * const config = yield* Sync.parseConfig(text, "sync.yaml")
 *
 * @since 0.1.0
 * @category config
 */
export const parseConfig = (text: string, file = "config"): Effect.Effect<config.Config, config.SyncConfigError> =>
  config.parse(text, file)

/**
 * Reads and parses a config file.
 *
 * @since 0.1.0
 * @category config
 */
export const loadConfig = (
  path: string
): Effect.Effect<config.Config, config.SyncConfigError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
    Effect.mapError((error) => new config.SyncConfigError({ file: path, reason: error.message })),
    Effect.flatMap((text) => parseConfig(text, path))
  )

/**
 * One pass over every mapping. A tag or repository that fails is recorded and tallied, and the pass
 * goes on; only the state database failing stops it.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  configuration: config.Config,
  options?: RunOptions
): Effect.Effect<Summary, SqlError, Repository | engine.Copier | SqlClient.SqlClient> =>
  runner.runPass(configuration, options)

/**
 * Passes forever, `interval` apart; `onPass` sees each summary.
 *
 * @since 0.1.0
 * @category running
 */
export const watch = (
  configuration: config.Config,
  interval: Duration.DurationInput,
  onPass: (summary: Summary) => Effect.Effect<void>,
  options?: RunOptions
): Effect.Effect<never, SqlError, Repository | engine.Copier | SqlClient.SqlClient> =>
  runner.watch(configuration, interval, onPass, options)

/**
 * Every tag's record, by mapping, source, destination and tag (empty before the first pass).
 *
 * @since 0.1.0
 * @category state
 */
export const status: Effect.Effect<ReadonlyArray<state.TagStatus>, SqlError, SqlClient.SqlClient> = Effect.zipRight(
  state.ensureSchema,
  state.list
)

/**
 * The default state database file, `./effect-oci-sync.db`.
 *
 * @since 0.1.0
 * @category state
 */
export const defaultStateFile = "effect-oci-sync.db"

/**
 * The state in a SQLite file (created if missing).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string = defaultStateFile): Layer.Layer<SqlClient.SqlClient> =>
  // Its only ConfigError comes from reading options from `Config`, which this layer does not do.
  Layer.orDie(SqliteClient.layer({ filename }))
