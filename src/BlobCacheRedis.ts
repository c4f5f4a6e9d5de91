/**
 * A {@link BlobCache.BlobCache} backed by Redis, shared by many processes, with the same behaviour as
 * the memory cache (`layerMemory`).
 *
 * Key layout, every key under the configured `prefix` (the seed's layout plus a reverse index):
 *
 * | key | type | content |
 * |---|---|---|
 * | `blobs::<digest>` | hash | `digest`, `size`, `mediatype`: the global descriptor; the first write wins (`HSETNX`) |
 * | `repository::<repo>::blobs` | set | the digests known in `<repo>` |
 * | `repository::<repo>::blobs::<digest>` | hash | `mediatype`: the media type `<repo>` overrides it with |
 * | `blobs::<digest>::repositories` | set | the repositories holding `<digest>`, so a global clear finds them |
 *
 * - A repository lookup hits only when the digest is a member, its repository hash exists and the global
 *   descriptor is complete (the size comes from the global hash).
 * - Every update is one `MULTI`; a global clear is one script (it reads the reverse index), so it
 *   removes the digest from every repository too. A repository clear removes the membership, the
 *   repository hash and the reverse-index entry, and leaves the global descriptor.
 * - With a `ttl`, every key an update touches expires `ttl` after that update (lookups do not extend it).
 * - For a single Redis server (or a primary behind Sentinel), not a Redis Cluster: the clear script
 *   reaches keys it derives itself.
 *
 * Redis being down, slow or failing never fails a pull or push: a lookup becomes a miss and an update or
 * clear a no-op, each counted in {@link errors}; the first failure after a success logs a warning (the
 * following ones debug messages, so an outage does not flood the log) and the recovery an info
 * message. While disconnected, commands fail at once instead of queueing. Every command is bounded by
 * `timeout`; after a timeout the connection is replaced (a hung server or a dead network path does not
 * hold it), and the client reconnects by itself, so the cache recovers when Redis returns.
 *
 * @example
 * import * as BlobCacheRedis from "effect-oci/BlobCacheRedis"
 *
 * const cache = BlobCacheRedis.layer({ url: "redis://cache.internal:6379", ttl: "1 day" })
 * // or from OCI_CACHE_REDIS_URL, OCI_CACHE_REDIS_PREFIX, OCI_CACHE_REDIS_TTL, OCI_CACHE_REDIS_TIMEOUT:
 * const fromEnv = BlobCacheRedis.layerConfig
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { BlobCache } from "./BlobCache.js"
import * as internal from "./internal/blobCacheRedis.js"
import { checkUrl } from "./internal/blobCacheRedisConnection.js"

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis[s]://[[user][:password]@]host[:port][/db]` (or `unix:`); `Redacted` when it holds a password. */
  readonly url: string | Redacted.Redacted<string>
  /** Prepended verbatim to every key (default `effect-oci:`); lets caches share one Redis database. */
  readonly prefix?: string | undefined
  /** How long an entry lives after its last update (default: forever). */
  readonly ttl?: Duration.DurationInput | undefined
  /** The longest a single Redis command may take before it counts as a miss (default 500 ms). */
  readonly timeout?: Duration.DurationInput | undefined
  /** The longest the Layer waits for Redis at start-up, and the TCP connect timeout (default 1 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * The default key prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPrefix = "effect-oci:"

/**
 * Redis cache operations that failed or timed out and were answered as a miss or a no-op
 * (`effect_oci_blob_cache_errors_total`), tagged with `operation` (`get`, `set` or `clear`).
 *
 * @example
 * Metric.value(Metric.tagged(BlobCacheRedis.errors, "operation", "get"))
 *
 * @since 0.1.0
 * @category metrics
 */
export const errors: Metric.Metric.Counter<number> = internal.errors

/**
 * A Redis-backed BlobCache. The connection opens with the Layer and closes when it is released. Redis
 * being unreachable at start-up does not fail the Layer (lookups miss until it is reachable); a
 * malformed `url` is a defect.
 *
 * @example
 * Layer.provide(myProgramLayer, BlobCacheRedis.layer({ url: Redacted.make(url), prefix: "ci:" }))
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BlobCache> =>
  Layer.scoped(
    BlobCache,
    Effect.gen(function*() {
      const raw = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
      const url = yield* Either.match(checkUrl(raw), {
        onLeft: (reason) => Effect.dieMessage(`BlobCacheRedis: invalid url: ${reason}`),
        onRight: Effect.succeed
      })
      return yield* internal.make({
        url,
        prefix: options.prefix ?? defaultPrefix,
        ttl: Option.map(Option.fromNullable(options.ttl), Duration.decode),
        timeout: Duration.decode(options.timeout ?? Duration.millis(500)),
        connectTimeout: Duration.decode(options.connectTimeout ?? Duration.seconds(1))
      })
    })
  )

/**
 * The options read from `Config` (environment variables by default): `OCI_CACHE_REDIS_URL`
 * (required, read as a secret), `OCI_CACHE_REDIS_PREFIX`, `OCI_CACHE_REDIS_TTL` and
 * `OCI_CACHE_REDIS_TIMEOUT` (durations, e.g. `12 hours`, `250 millis`).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  url: Config.redacted("OCI_CACHE_REDIS_URL").pipe(
    Config.mapOrFail((url) =>
      Either.mapBoth(checkUrl(Redacted.value(url)), {
        onLeft: (reason) => ConfigError.InvalidData(["OCI_CACHE_REDIS_URL"], reason),
        onRight: () => url
      })
    )
  ),
  prefix: Config.string("OCI_CACHE_REDIS_PREFIX").pipe(Config.withDefault(defaultPrefix)),
  ttl: Config.option(Config.duration("OCI_CACHE_REDIS_TTL")),
  timeout: Config.option(Config.duration("OCI_CACHE_REDIS_TIMEOUT"))
}).pipe(Config.map(({ prefix, timeout, ttl, url }): Options => ({
  url,
  prefix,
  ttl: Option.getOrUndefined(ttl),
  timeout: Option.getOrUndefined(timeout)
})))

/**
 * {@link layer} with options from {@link config}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<BlobCache, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(config, layer)
)

/**
 * @deprecated Use {@link layer}.
 * @since 0.1.0
 * @category layers
 */
export const layerRedis: (options: Options) => Layer.Layer<BlobCache> = layer

/**
 * @deprecated Use {@link layerConfig}.
 * @since 0.1.0
 * @category layers
 */
export const layerRedisConfig: Layer.Layer<BlobCache, ConfigError.ConfigError> = layerConfig
