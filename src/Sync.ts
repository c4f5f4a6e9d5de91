/**
 * Declarative, incremental, durable mirroring between registries (`effect-oci sync`).
 *
 * A config file lists mappings from a source repository (or every repository under a prefix) to a
 * destination, with tag filters, platforms and referrers. A pass compares each selected tag's source
 * and destination digests and copies only what changed; it never deletes at the destination. What it
 * does is recorded per tag, as it happens, in a SQL database (a SQLite file by default), so a
 * crashed pass picks up where it stopped and {@link status} reports it.
 *
 * Sync is polite to registries: at most `maxConcurrentRequests` requests (default 8) are in flight
 * to one registry host at once, counting every runner, and a registry's `Retry-After` (429 / 503)
 * or spent `RateLimit-*` window holds back every runner that talks to it ({@link layerPolite},
 * {@link layerPoliteShared}).
 *
 * @example
 * ```yaml
 * maxConcurrentRequests: 8                          # per registry, all runners together (default 8)
 * registries:
 *   src.example:5000: { maxConcurrentRequests: 4 }  # one registry's own limit
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
import * as HttpClient from "@effect/platform/HttpClient"
import type * as SocketServer from "@effect/platform/SocketServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Copy from "./Copy.js"
import * as cluster from "./internal/sync/cluster.js"
import * as copier from "./internal/sync/copier.js"
import * as config from "./internal/sync/config.js"
import * as engine from "./internal/sync/engine.js"
import { layerAroundClient } from "./internal/iterableBody.js"
import * as hostLeases from "./internal/sync/hostLeases.js"
import * as politeness from "./internal/sync/politeness.js"
import * as runner from "./internal/sync/runner.js"
import * as state from "./internal/sync/state.js"
import * as workflow from "./internal/sync/workflow.js"
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
  TagFilter,
  /**
   * One registry's settings in a config file's `registries` (`maxConcurrentRequests`).
   *
   * @since 0.1.0
   * @category schemas
   */
  RegistrySettings
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
 * Options of a pass: repositories synced at once (default 4).
 *
 * @since 0.1.0
 * @category models
 */
export type RunOptions = Pick<runner.RunOptions, "repositoryConcurrency">

/**
 * Options of the engine a layer runs: tags of one repository at once (default 2), and this
 * process's name in the state (default `host:pid`).
 *
 * @since 0.1.0
 * @category models
 */
export interface EngineOptions {
  readonly tagConcurrency?: number | undefined
  readonly runner?: string | undefined
}

/**
 * What a pass runs on: the durable workflow engine (one process, or a cluster of runners) and the
 * SQL database that holds the state. Provided by {@link layerSingle} or {@link layerCluster}.
 *
 * @since 0.1.0
 * @category models
 */
export type Engine = WorkflowEngine | SqlClient.SqlClient

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
 * One pass over every mapping: each repository is a durable workflow execution, each selected tag
 * an activity of it. A tag or repository that fails is recorded and tallied, and the pass goes on;
 * only the state database failing stops it. A pass over a source that has not changed since a
 * finished pass does nothing.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  configuration: config.Config,
  options?: RunOptions
): Effect.Effect<Summary, SqlError, Repository | engine.Copier | Engine> =>
  runner.runPass(configuration, options, workflow.runJob)

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
): Effect.Effect<never, SqlError, Repository | engine.Copier | Engine> =>
  runner.watch(configuration, interval, onPass, options, workflow.runJob)

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
 * The default {@link Copier}: `Copy.copy` between the two registries (blobs the destination has are
 * skipped, blobs in another repository of the same registry are mounted, broken uploads resume). A
 * mapping with one platform copies that platform's image; with several, an index of only those
 * platforms' images (a new manifest with its own digest); with none, the whole index.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCopier: Layer.Layer<engine.Copier, never, Copy.Services> = copier.layer

/**
 * The default state database file, `./effect-oci-sync.db`.
 *
 * @since 0.1.0
 * @category state
 */
export const defaultStateFile = "effect-oci-sync.db"

/**
 * A state database in a SQLite file (created if missing), e.g. to read {@link status}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string = defaultStateFile): Layer.Layer<SqlClient.SqlClient> =>
  cluster.layerSqlite(filename)

/**
 * A state database in Postgres (`postgres://user:password@host:port/db`), e.g. to read {@link status}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres = (url: Redacted.Redacted): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  cluster.layerPostgres(url)

const engineOptions = (options: EngineOptions): engine.EngineOptions => ({
  runner: options.runner ?? runner.defaultRunnerName(),
  tagConcurrency: options.tagConcurrency
})

/**
 * One process: workflows on `SingleRunner`, journaled with the state in a SQLite file (default
 * `./effect-oci-sync.db`). A pass killed midway resumes where it stopped when run again on the same
 * file.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSingle = (
  options: EngineOptions & { readonly stateFile?: string | undefined } = {}
): Layer.Layer<Engine, never, Repository | engine.Copier> =>
  cluster.layerSingle(engineOptions(options)).pipe(Layer.provideMerge(layerSqlite(options.stateFile)))

/**
 * One runner of many sharing a Postgres database: runners split the repositories between them
 * (every runner may run the same config; they join the same executions), listen for their peers at
 * `runnerAddress`, and finish the work of a runner that died (after its shard locks expire, 15 s by
 * default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCluster = (
  options: EngineOptions & {
    readonly url: Redacted.Redacted
    readonly runnerAddress: { readonly host: string; readonly port: number }
    readonly listenAddress?: { readonly host: string; readonly port: number } | undefined
    readonly sharding?: cluster.ClusterOptions["sharding"]
  }
): Layer.Layer<Engine, SqlError | SocketServer.SocketServerError | ConfigError.ConfigError, Repository | engine.Copier> =>
  cluster.layerCluster({
    ...engineOptions(options),
    runnerAddress: options.runnerAddress,
    listenAddress: options.listenAddress,
    sharding: options.sharding
  }).pipe(Layer.provideMerge(layerPostgres(options.url)))

/**
 * How politely sync treats registries. `maxConcurrentRequests` (default 8) is how many requests may
 * be in flight to one registry host at once — counting every runner when they share a database
 * ({@link layerPoliteShared}) — and `registries` sets it per registry (`host[:port]`). A request
 * holds its place from sending until its answer's headers arrive. An answer asking for a pause
 * (`Retry-After` on a 429 or 503, or `RateLimit-Remaining: 0` / `X-RateLimit-Remaining: 0` with a
 * reset time) holds every request to that host back until then, at most `maxWait` (default 5
 * minutes).
 *
 * @since 0.1.0
 * @category models
 */
export interface Politeness {
  readonly maxConcurrentRequests?: number | undefined
  readonly registries?: Readonly<Record<string, { readonly maxConcurrentRequests?: number | undefined }>> | undefined
  readonly maxWait?: Duration.DurationInput | undefined
}

/**
 * The politeness a config file sets (its top-level `maxConcurrentRequests` and `registries`).
 *
 * @since 0.1.0
 * @category config
 */
export const politenessOf = (configuration: config.Config): Politeness => ({
  maxConcurrentRequests: configuration.maxConcurrentRequests,
  registries: configuration.registries
})

const settingsOf = (options: Politeness): politeness.Settings => ({
  maxConcurrentRequests: options.maxConcurrentRequests ?? politeness.defaultMaxConcurrentRequests,
  registries: new Map(
    Object.entries(options.registries ?? {}).flatMap(([registry, settings]) =>
      settings.maxConcurrentRequests === undefined ? [] : [[registry, settings.maxConcurrentRequests] as const]
    )
  ),
  maxWait: options.maxWait === undefined ? politeness.defaultMaxWait : Duration.decode(options.maxWait)
})

/**
 * The `HttpClient` in context made polite within this process: at most `maxConcurrentRequests`
 * requests in flight per registry host across all fibers, and a registry's request for a pause
 * honoured by all of them. Put it under the Transport, e.g. `Stack.layer(Sync.layerPolite(…).pipe(
 * Layer.provide(httpClient)))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPolite = (
  options: Politeness = {}
): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  layerAroundClient((client) => Effect.map(politeness.makeGate(settingsOf(options)), (gate) => politeness.wrap(client, gate)))

/**
 * {@link layerPolite} shared by every runner using the same database (the SqlClient in context, e.g.
 * {@link layerPostgres} on the cluster's database): the limit per registry counts the requests of
 * all of them (each holds an expiring lease on one of the registry's slots, so a runner that dies
 * frees its slots within 15 s), and a pause one of them is asked for holds them all back.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPoliteShared = (
  options: Politeness & { readonly runner?: string | undefined } = {}
): Layer.Layer<HttpClient.HttpClient, SqlError, HttpClient.HttpClient | SqlClient.SqlClient> =>
  layerAroundClient((client) =>
    Effect.gen(function*() {
      const store = yield* hostLeases.make(options.runner ?? runner.defaultRunnerName())
      const gate = yield* politeness.makeGate(settingsOf(options), store)
      return politeness.wrap(client, gate)
    })
  )
