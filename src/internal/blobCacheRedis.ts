/**
 * The Redis BlobCache: key layout, atomic updates, and the "never fail a pull" guard. The layout is
 * documented in `BlobCacheRedis.ts`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Metrics from "../Metrics.js"
import { BlobCache, type BlobDescriptor, validate } from "../BlobCache.js"
import type * as Digest from "../Digest.js"
import * as Connection from "./blobCacheRedisConnection.js"

/** @internal */
export interface ResolvedOptions {
  readonly url: string
  readonly prefix: string
  readonly ttl: Option.Option<Duration.Duration>
  readonly timeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
}

/** @internal */
export const errors = Metrics.cacheErrors

/**
 * The keys of the layout, under `prefix`. Digests never contain `::`, so no two (repository, digest)
 * pairs share a key.
 *
 * @internal
 */
export const keys = (prefix: string) => {
  // What surrounds the repository name in its keys; the clear script builds them from these too.
  const membersHead = `${prefix}repository::`
  const membersTail = "::blobs"
  const members = (repository: string) => `${membersHead}${repository}${membersTail}`
  return {
    descriptor: (digest: string) => `${prefix}blobs::${digest}`,
    repositories: (digest: string) => `${prefix}blobs::${digest}::repositories`,
    members,
    override: (repository: string, digest: string) => `${members(repository)}::${digest}`,
    membersHead,
    membersTail
  }
}

const fields = ["digest", "size", "mediatype"]

/**
 * The global clear, as one script so that it is atomic: the repositories holding the digest are
 * only known by reading its reverse index. `ARGV` is the text around a repository name in its
 * membership key (see `keys`) and the digest. Returns the number of keys and memberships removed.
 * (The repository keys are computed in the script, so this is for a single Redis, not a Cluster.)
 */
const clearEverywhere = `
local removed = 0
local repositories = redis.call('SMEMBERS', KEYS[2])
for _, repository in ipairs(repositories) do
  local members = ARGV[1] .. repository .. ARGV[2]
  removed = removed + redis.call('SREM', members, ARGV[3])
  removed = removed + redis.call('DEL', members .. '::' .. ARGV[3])
end
return removed + redis.call('DEL', KEYS[1], KEYS[2])
`

// node-redis answers HMGET with `null` for a missing field; other shapes are treated as absent.
const text = (value: unknown): string | undefined => typeof value === "string" ? value : undefined

/** Decodes a global hash; anything incomplete or invalid (e.g. the seed's legacy `length`) misses. */
const decode = (reply: ReadonlyArray<unknown>, mediaType?: string): Effect.Effect<Option.Option<BlobDescriptor>> => {
  const [digest, size, globalType] = reply.map(text)
  if (digest === undefined || size === undefined || globalType === undefined) return Effect.succeedNone
  const descriptor: BlobDescriptor = {
    digest: digest as Digest.Digest,
    size: /^\d+$/.test(size) ? Number(size) : Number.NaN,
    mediaType: mediaType !== undefined && mediaType !== "" ? mediaType : globalType
  }
  return Effect.option(validate(descriptor))
}

/**
 * Builds the Redis BlobCache on a scoped connection.
 *
 * @internal
 */
export const make = (options: ResolvedOptions): Effect.Effect<BlobCache["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const connection = yield* Connection.make(options)
    const key = keys(options.prefix)
    const ttlMillis = Option.map(options.ttl, (ttl) => Math.max(1, Math.ceil(Duration.toMillis(ttl))))

    // Redis down, slow or failing never fails a pull or push: the operation becomes a miss (get) or
    // a no-op (set, clear), counted in `errors`. The first failure after a success is a warning and
    // the next ones debug logs, so an outage during a large pull does not flood the log; the
    // recovery is logged too.
    let failing = !connection.connected
    const guard = <A>(operation: "get" | "set" | "clear" | "repositories", fallback: A) =>
    <E, R>(effect: Effect.Effect<A, E | Connection.CommandFailed, R>) =>
      effect.pipe(
        Effect.tap(() => {
          if (!failing) return Effect.void
          failing = false
          return Effect.logInfo("Redis blob cache: Redis answers again")
        }),
        Effect.catchIf(
          (error): error is Connection.CommandFailed => error instanceof Connection.CommandFailed,
          (error) => {
            const log = failing
              ? Effect.logDebug(`Redis blob cache: ${operation} failed, answering as if not cached`)
              : Effect.logWarning(
                `Redis blob cache: ${operation} failed, answering as if not cached (until Redis answers again, ` +
                  "further failures are debug logs)"
              )
            failing = true
            return log.pipe(
              Effect.annotateLogs({ reason: error.reason, error: error.message }),
              Effect.zipRight(Metric.increment(Metric.tagged(errors, "operation", operation))),
              Effect.as(fallback)
            )
          }
        )
      )

    const get = Effect.fn("BlobCacheRedis.get")(function*(digest: Digest.Digest, repository?: string) {
      if (repository === undefined) {
        const reply = yield* connection.run((client) => client.hmGet(key.descriptor(digest), fields))
        return yield* decode(reply)
      }
      const [member, global, override] = yield* connection.run((client) =>
        client.multi()
          .sIsMember(key.members(repository), digest)
          .hmGet(key.descriptor(digest), fields)
          .hGet(key.override(repository, digest), "mediatype")
          .execTyped()
      )
      // The repository hash is written with the membership, so a member without it is a torn or
      // expired entry: a miss, not the global media type.
      const mediaType = text(override)
      if (Number(member) !== 1 || mediaType === undefined) return Option.none()
      return yield* decode(global, mediaType)
    }, guard("get", Option.none<BlobDescriptor>()))

    const set = Effect.fn("BlobCacheRedis.set")(function*(descriptor: BlobDescriptor, repository?: string) {
      const valid = yield* validate(descriptor)
      const digest = valid.digest
      yield* connection.run((client) => {
        const multi = client.multi()
          .hSet(key.descriptor(digest), "digest", digest)
          // The first descriptor written wins globally; later ones only refresh the expiry.
          .hSetNX(key.descriptor(digest), "size", String(valid.size))
          .hSetNX(key.descriptor(digest), "mediatype", valid.mediaType)
        const touched = [key.descriptor(digest)]
        if (repository !== undefined) {
          multi
            .sAdd(key.members(repository), digest)
            .hSet(key.override(repository, digest), "mediatype", valid.mediaType)
            .sAdd(key.repositories(digest), repository)
          touched.push(key.members(repository), key.override(repository, digest), key.repositories(digest))
        }
        if (Option.isSome(ttlMillis)) for (const k of touched) multi.pExpire(k, ttlMillis.value)
        return multi.exec()
      })
    }, guard<void>("set", undefined))

    const clear = Effect.fn("BlobCacheRedis.clear")(function*(digest: Digest.Digest, repository?: string) {
      if (repository !== undefined) {
        yield* connection.run((client) =>
          client.multi()
            .sRem(key.members(repository), digest)
            .del(key.override(repository, digest))
            .sRem(key.repositories(digest), repository)
            .exec()
        )
        return
      }
      const removed = yield* connection.run((client) =>
        client.eval(clearEverywhere, {
          keys: [key.descriptor(digest), key.repositories(digest)],
          arguments: [key.membersHead, key.membersTail, digest]
        })
      )
      yield* Effect.annotateCurrentSpan("removed", Number(removed))
      yield* Effect.logDebug(`Redis blob cache: cleared ${digest} (${Number(removed)} keys and memberships)`)
    }, guard<void>("clear", undefined))

    const repositories = Effect.fn("BlobCacheRedis.repositories")(function*(digest: Digest.Digest) {
      return yield* connection.run((client) => client.sMembers(key.repositories(digest)))
    }, guard<ReadonlyArray<string>>("repositories", []))

    return BlobCache.of({ get, set, clear, repositories })
  })
