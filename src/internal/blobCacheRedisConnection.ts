/**
 * The Redis connection behind the Redis BlobCache: one node-redis client, opened in the background,
 * every command bounded by a timeout, and the client replaced when a command times out.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { createClient, RedisClient as NodeRedisClient } from "redis"

/** node-redis cannot name its client type generically (`ReturnType<typeof createClient>` does not fit). */
const createNodeRedis = (url: string, connectTimeoutMillis: number) =>
  createClient({
    url,
    name: "effect-oci-blob-cache",
    // A command sent while the connection is down is rejected at once (a cache miss) rather than
    // queued until Redis returns: a cache must never hold up a pull.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMillis,
      // Unlike node-redis's default strategy this never gives up (not even after a socket timeout):
      // the cache recovers by itself whenever Redis comes back.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1_000) + Math.floor(Math.random() * 100)
    }
  })

/**
 * Checks a URL the way node-redis will read it (`redis:`, `rediss:` or `unix:`). The reason never
 * repeats the URL: it may hold a password.
 *
 * @internal
 */
export const checkUrl = (url: string): Either.Either<string, string> => {
  try {
    NodeRedisClient.parseURL(url)
    return Either.right(url)
  } catch {
    return Either.left("not a Redis URL (redis://, rediss:// or unix://, with an optional numeric database)")
  }
}

/** @internal */
export type RedisClient = ReturnType<typeof createNodeRedis>

/**
 * A Redis request that did not answer: not connected, it failed, or no answer within the timeout.
 *
 * @internal
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly reason: "error" | "timeout" | "offline"
  readonly cause?: unknown
}> {
  override get message(): string {
    if (this.reason === "timeout") return "Redis did not answer in time"
    if (this.reason === "offline") return "not connected to Redis"
    return this.cause instanceof Error ? this.cause.message : String(this.cause)
  }
}

/** @internal */
export interface Connection {
  /** Runs one request (a command, a MULTI or a script) on the current client. */
  readonly run: <A>(request: (client: RedisClient) => Promise<A>) => Effect.Effect<A, CommandFailed>
  /** Whether Redis answered while the connection was being made. */
  readonly connected: boolean
}

/** @internal */
export interface ConnectionOptions {
  readonly url: string
  readonly timeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
}

interface Opened {
  readonly client: RedisClient
  readonly ready: Promise<boolean>
}

const open = (options: ConnectionOptions): Opened => {
  const client = createNodeRedis(options.url, Math.max(1, Duration.toMillis(options.connectTimeout)))
  // node-redis emits "error" for every failed (re)connection attempt; without a listener the
  // EventEmitter would throw. The failures reach the cache through the commands that miss.
  client.on("error", () => {})
  // With a reconnect strategy that never gives up, connect() settles once Redis answers (or
  // rejects when the client is closed first); it keeps trying in the background meanwhile.
  const ready = client.connect().then(() => true, () => false)
  return { client, ready }
}

const close = (client: RedisClient, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.tryPromise(() => client.close()).pipe(
    Effect.timeout(timeout),
    Effect.catchAll(() => Effect.sync(() => client.destroy()))
  )

/**
 * Opens the connection, waiting at most `connectTimeout` for Redis to answer (a Redis that is down
 * at start-up does not fail the Layer: the cache misses until Redis is reachable). Closed with the
 * scope.
 *
 * @internal
 */
export const make = (options: ConnectionOptions): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function*() {
    let current = yield* Effect.sync(() => open(options))
    yield* Effect.addFinalizer(() => close(current.client, options.timeout))

    const connected = yield* Effect.promise(() => current.ready).pipe(
      Effect.timeout(options.connectTimeout),
      Effect.orElseSucceed(() => false)
    )
    if (!connected) {
      yield* Effect.logWarning("Redis blob cache: Redis is not reachable yet; lookups miss until it is")
    }

    // A timed-out command means the connection may be dead without the socket knowing it (a hung
    // server, a silent network partition): replace the client rather than wait for TCP to notice.
    // Only the first timeout on a client replaces it; the new one connects in the background.
    const replace = (failed: RedisClient) =>
      Effect.sync(() => {
        if (current.client !== failed) return
        current = open(options)
        failed.destroy()
      })

    const run = <A>(request: (client: RedisClient) => Promise<A>): Effect.Effect<A, CommandFailed> =>
      Effect.suspend(() => {
        const client = current.client
        // node-redis queues a MULTI even with `disableOfflineQueue`, so check readiness here.
        if (!client.isReady) return Effect.fail(new CommandFailed({ reason: "offline" }))
        return Effect.tryPromise({
          try: () => request(client),
          catch: (cause) => new CommandFailed({ reason: "error", cause })
        }).pipe(
          Effect.timeoutFail({ duration: options.timeout, onTimeout: () => new CommandFailed({ reason: "timeout" }) }),
          Effect.tapErrorTag("CommandFailed", (error) => error.reason === "timeout" ? replace(client) : Effect.void)
        )
      })

    return { run, connected }
  })
