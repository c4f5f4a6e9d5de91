/**
 * Where sync's workflows run: one process on a SQLite file (`SingleRunner`), or runners sharing a
 * Postgres database and talking over sockets (`NodeClusterSocket`). Both hold the sync state in the
 * same database as the cluster's messages.
 *
 * @internal
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SingleRunner from "@effect/cluster/SingleRunner"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Redacted from "effect/Redacted"
import type { Repository } from "../../Repository.js"
import type { Copier, EngineOptions } from "./engine.js"
import * as workflow from "./workflow.js"

/** A SQLite file (created if missing) as a SqlClient. */
export const layerSqlite = (filename: string): Layer.Layer<SqlClient.SqlClient> =>
  // Its only ConfigError comes from reading options from `Config`, which this layer does not do.
  Layer.orDie(SqliteClient.layer({ filename }))

/** A Postgres database as a SqlClient. */
export const layerPostgres = (url: Redacted.Redacted): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  PgClient.layer({ url })

/** The workflows of one process, journaled in the SqlClient's database. */
export const layerSingle = (
  options: EngineOptions
): Layer.Layer<WorkflowEngine, never, Repository | Copier | SqlClient.SqlClient> =>
  workflow.layer(options).pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provide(Layer.orDie(SingleRunner.layer({ runnerStorage: "memory" })))
  )

/** Options of a runner among many. */
export interface ClusterOptions extends EngineOptions {
  /** Where peers reach this runner. */
  readonly runnerAddress: { readonly host: string; readonly port: number }
  /** Where it listens, when that differs (e.g. `0.0.0.0` behind NAT). */
  readonly listenAddress?: { readonly host: string; readonly port: number } | undefined
  /** Overrides of the cluster's timing (shard lock expiry, polling intervals, …). */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

/**
 * The faster failover sync wants by default: a dead runner's shards are free after 15 s (the
 * cluster's default is 35 s), and new work is looked for every 2 s.
 */
const syncSharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardLockRefreshInterval: "4 seconds",
  shardLockExpiration: "15 seconds",
  entityMessagePollInterval: "2 seconds",
  refreshAssignmentsInterval: "1 second"
}

/** The advisory lock (two-key form, apart from the cluster's own one-key shard locks) that runners starting together take in turn. */
const startLock = "SELECT pg_advisory_lock(20611, 1)"
const startUnlock = "SELECT pg_advisory_unlock(20611, 1)"

/**
 * Builds `layer` while holding a Postgres advisory lock. The cluster's storage creates its tables
 * with `CREATE TABLE IF NOT EXISTS` on start, which Postgres does not make safe against another
 * session creating the same table at the same moment (one of them fails on a unique index of
 * the catalog): runners started together would fail at random. Under the lock they start one
 * after the other; the lock is held only while the layer is built, on a connection of its own.
 */
const builtInTurn = <A, E, R>(
  layer: Layer.Layer<A, E, R>
): Layer.Layer<A, E | SqlError, R | SqlClient.SqlClient> =>
  Layer.scopedContext(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const outer = yield* Effect.scope
    const turn = yield* Scope.make()
    return yield* Effect.gen(function*() {
      const connection = yield* Scope.extend(sql.reserve, turn)
      yield* connection.executeRaw(startLock, [])
      yield* Scope.addFinalizer(turn, Effect.ignore(connection.executeRaw(startUnlock, [])))
      return yield* Layer.buildWithScope(layer, outer)
    }).pipe(Effect.onExit((exit) => Scope.close(turn, Exit.asVoid(exit))))
  }))

/** One runner of many: it takes shards of the work, serves its peers, and journals in the SqlClient's database (Postgres). */
export const layerCluster = (
  options: ClusterOptions
): Layer.Layer<
  WorkflowEngine,
  SocketServer.SocketServerError | ConfigError.ConfigError | SqlError,
  Repository | Copier | SqlClient.SqlClient
> =>
  workflow.layer(options).pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provide(builtInTurn(
      NodeClusterSocket.layer({
        storage: "sql",
        shardingConfig: {
          ...syncSharding,
          ...options.sharding,
          runnerAddress: Option.some(RunnerAddress.make(options.runnerAddress.host, options.runnerAddress.port)),
          runnerListenAddress: Option.map(
            Option.fromNullable(options.listenAddress),
            (address) => RunnerAddress.make(address.host, address.port)
          )
        }
      })
    ))
  )
