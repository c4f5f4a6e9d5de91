import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { createClient } from "redis"
import { BlobCache, type BlobDescriptor } from "../src/BlobCache.js"
import * as BlobCacheRedis from "../src/BlobCacheRedis.js"
import * as Digest from "../src/Digest.js"
import { conformance } from "./support/blobCacheConformance.js"
import * as RedisServer from "./support/redisServer.js"

const runId = `${process.pid}-${Date.now()}`
let prefixes = 0
/** A key prefix no other test (or earlier run against the same server) uses. */
const freshPrefix = () => `effect-oci-test:${runId}:${prefixes++}:`

const descriptor = (content: string, mediaType = "application/vnd.oci.image.layer.v1.tar+gzip"): BlobDescriptor => ({
  digest: Digest.compute(`${runId}:${content}`),
  size: content.length,
  mediaType
})

/** A plain node-redis client to look at what the cache wrote. */
const rawClient = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(() => createClient({ url }).connect()),
    (client) => Effect.promise(() => client.close())
  )

/** The cache, built in the current scope (so a test can stop Redis underneath it). */
const buildCache = (options: BlobCacheRedis.Options) =>
  Layer.build(BlobCacheRedis.layer(options)).pipe(Effect.map(Context.get(BlobCache)))

const errorCount = (operation: "get" | "set" | "clear") =>
  Metric.value(Metric.tagged(BlobCacheRedis.errors, "operation", operation)).pipe(Effect.map((state) => state.count))
const errorCounts = Effect.all({ get: errorCount("get"), set: errorCount("set"), clear: errorCount("clear") })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timed(effect).pipe(Effect.map(([duration, a]) => [Duration.toMillis(duration), a] as const))

/** Writes and reads `d` until the cache answers again (Redis back, client reconnected). */
const untilHit = (cache: BlobCache["Type"], d: BlobDescriptor) =>
  cache.set(d).pipe(
    Effect.zipRight(cache.get(d.digest)),
    Effect.flatMap(Option.match({ onNone: () => Effect.fail("still missing"), onSome: Effect.succeed })),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
  )

RedisServer.describeWithRedis("BlobCacheRedis", () => {
  const server = RedisServer.shared()

  conformance("redis", () => BlobCacheRedis.layer({ url: server().url, prefix: `effect-oci-test:${runId}:c:` }))

  describe("key layout", () => {
    it.scopedLive("stores the global hash, the repository set and hash, and the reverse index", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cache = yield* buildCache({ url: server().url, prefix })
        const redis = yield* rawClient(server().url)
        const d = descriptor("layout")
        yield* cache.set(d)
        yield* cache.set({ ...d, mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip" }, "lib/app")

        expect((yield* Effect.promise(() => redis.keys(`${prefix}*`))).sort()).toEqual([
          `${prefix}blobs::${d.digest}`,
          `${prefix}blobs::${d.digest}::repositories`,
          `${prefix}repository::lib/app::blobs`,
          `${prefix}repository::lib/app::blobs::${d.digest}`
        ])
        expect({ ...(yield* Effect.promise(() => redis.hGetAll(`${prefix}blobs::${d.digest}`))) }).toEqual({
          digest: d.digest,
          size: String(d.size),
          mediatype: d.mediaType
        })
        expect(yield* Effect.promise(() => redis.sMembers(`${prefix}repository::lib/app::blobs`))).toEqual([d.digest])
        expect({ ...(yield* Effect.promise(() => redis.hGetAll(`${prefix}repository::lib/app::blobs::${d.digest}`))) })
          .toEqual({ mediatype: "application/vnd.docker.image.rootfs.diff.tar.gzip" })
        expect(yield* Effect.promise(() => redis.sMembers(`${prefix}blobs::${d.digest}::repositories`))).toEqual([
          "lib/app"
        ])
        // no TTL unless configured
        expect(yield* Effect.promise(() => redis.pTTL(`${prefix}blobs::${d.digest}`))).toBe(-1)
      }))

    it.scopedLive("reads entries written in the same layout by another process; incomplete ones miss", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cache = yield* buildCache({ url: server().url, prefix })
        const redis = yield* rawClient(server().url)
        const d = descriptor("foreign")
        const legacy = descriptor("legacy")
        yield* Effect.promise(() =>
          redis.multi()
            .hSet(`${prefix}blobs::${d.digest}`, { digest: d.digest, size: String(d.size), mediatype: d.mediaType })
            .sAdd(`${prefix}repository::a/b::blobs`, d.digest)
            .hSet(`${prefix}repository::a/b::blobs::${d.digest}`, "mediatype", "x/override")
            // the seed's legacy field name: a miss, as in the seed
            .hSet(`${prefix}blobs::${legacy.digest}`, { digest: legacy.digest, length: "3", mediatype: "x/y" })
            // a member without its repository hash (a torn write): a miss
            .sAdd(`${prefix}repository::a/c::blobs`, d.digest)
            .exec()
        )
        expect(yield* cache.get(d.digest)).toEqual(Option.some(d))
        expect(yield* cache.get(d.digest, "a/b")).toEqual(Option.some({ ...d, mediaType: "x/override" }))
        expect(Option.isNone(yield* cache.get(d.digest, "a/c"))).toBe(true)
        expect(Option.isNone(yield* cache.get(legacy.digest))).toBe(true)
      }))
  })

  describe("expiry", () => {
    it.scopedLive("applies the TTL to every key an update touches", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cache = yield* buildCache({ url: server().url, prefix, ttl: "1 minute" })
        const redis = yield* rawClient(server().url)
        yield* cache.set(descriptor("ttl"), "t/one")
        const keys = yield* Effect.promise(() => redis.keys(`${prefix}*`))
        expect(keys).toHaveLength(4)
        for (const key of keys) {
          const ttl = yield* Effect.promise(() => redis.pTTL(key))
          expect(ttl).toBeGreaterThan(50_000)
          expect(ttl).toBeLessThanOrEqual(60_000)
        }
      }))

    it.scopedLive("entries miss once their TTL has passed", () =>
      Effect.gen(function*() {
        const cache = yield* buildCache({ url: server().url, prefix: freshPrefix(), ttl: "300 millis" })
        const d = descriptor("expires")
        yield* cache.set(d, "t/two")
        expect(yield* cache.get(d.digest, "t/two")).toEqual(Option.some(d))
        yield* Effect.sleep("700 millis")
        expect(Option.isNone(yield* cache.get(d.digest))).toBe(true)
        expect(Option.isNone(yield* cache.get(d.digest, "t/two"))).toBe(true)
      }))
  })

  describe("clear", () => {
    it.scopedLive("a repository clear leaves no stale membership; a global clear leaves nothing", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const cache = yield* buildCache({ url: server().url, prefix })
        const redis = yield* rawClient(server().url)
        const d = descriptor("clear")
        yield* cache.set(d, "a/one")
        yield* cache.set(d, "a/two")

        yield* cache.clear(d.digest, "a/one")
        expect(yield* Effect.promise(() => redis.sIsMember(`${prefix}repository::a/one::blobs`, d.digest))).toBe(0)
        expect(yield* Effect.promise(() => redis.exists(`${prefix}repository::a/one::blobs::${d.digest}`))).toBe(0)
        expect(yield* Effect.promise(() => redis.sMembers(`${prefix}blobs::${d.digest}::repositories`))).toEqual([
          "a/two"
        ])
        expect(yield* cache.get(d.digest)).toEqual(Option.some(d))

        yield* cache.clear(d.digest)
        expect(yield* Effect.promise(() => redis.keys(`${prefix}*`))).toEqual([])
        // The seed kept the membership, so a later global write resurrected the repository entry.
        yield* cache.set(d)
        expect(Option.isNone(yield* cache.get(d.digest, "a/two"))).toBe(true)
        expect(yield* cache.get(d.digest)).toEqual(Option.some(d))
      }))
  })

  describe("concurrent writers (two processes)", () => {
    it.scopedLive("the first media type wins globally for every reader", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const url = server().url
        const caches = [yield* buildCache({ url, prefix }), yield* buildCache({ url, prefix })]
        const d = descriptor("race")
        yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) => caches[i % 2]!.set({ ...d, mediaType: `x/type-${i}` }, `race/${i % 4}`),
          { concurrency: "unbounded", discard: true }
        )
        const seen = yield* Effect.forEach(caches, (cache) => cache.get(d.digest))
        const winner = Option.getOrThrow(seen[0]!)
        expect(winner.mediaType).toMatch(/^x\/type-\d+$/)
        expect(seen[1]).toEqual(Option.some(winner))
      }))

    it.scopedLive("interleaved sets and clears keep membership, repository hash and reverse index in step", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const url = server().url
        const caches = [yield* buildCache({ url, prefix }), yield* buildCache({ url, prefix })]
        const redis = yield* rawClient(url)
        const digests = [descriptor("i0"), descriptor("i1"), descriptor("i2")]
        const repositories = ["r/0", "r/1", "r/2"]
        // A fixed pseudo-random mix of operations, so a failure can be replayed.
        let seed = 7
        const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n
        const operations = Array.from({ length: 300 }, () => {
          const cache = caches[next(2)]!
          const d = digests[next(digests.length)]!
          const repository = next(4) === 0 ? undefined : repositories[next(repositories.length)]
          return next(3) === 0 ? cache.clear(d.digest, repository) : cache.set(d, repository)
        })
        yield* Effect.all(operations, { concurrency: 16, discard: true })

        for (const d of digests) {
          const global = yield* Effect.promise(() => redis.exists(`${prefix}blobs::${d.digest}`))
          const holders = yield* Effect.promise(() => redis.sMembers(`${prefix}blobs::${d.digest}::repositories`))
          for (const repository of repositories) {
            const members = `${prefix}repository::${repository}::blobs`
            const member = yield* Effect.promise(() => redis.sIsMember(members, d.digest))
            const override = yield* Effect.promise(() => redis.exists(`${members}::${d.digest}`))
            expect({ repository, override }).toEqual({ repository, override: member })
            expect({ repository, indexed: holders.includes(repository) }).toEqual({ repository, indexed: member === 1 })
            if (member === 1) expect(global).toBe(1)
            const found = yield* caches[0]!.get(d.digest, repository)
            expect(Option.isSome(found)).toBe(member === 1)
          }
        }
      }))
  })

  describe("configuration", () => {
    it.scopedLive("layerConfig reads the URL, prefix and TTL", () =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const redis = yield* rawClient(server().url)
        const d = descriptor("config")
        const provider = ConfigProvider.fromMap(
          new Map([
            ["OCI_CACHE_REDIS_URL", server().url],
            ["OCI_CACHE_REDIS_PREFIX", prefix],
            ["OCI_CACHE_REDIS_TTL", "1 hour"],
            ["OCI_CACHE_REDIS_TIMEOUT", "200 millis"]
          ])
        )
        const cache = yield* Layer.build(BlobCacheRedis.layerConfig).pipe(
          Effect.map(Context.get(BlobCache)),
          Effect.withConfigProvider(provider)
        )
        yield* cache.set(d)
        expect(yield* cache.get(d.digest)).toEqual(Option.some(d))
        const ttl = yield* Effect.promise(() => redis.pTTL(`${prefix}blobs::${d.digest}`))
        expect(ttl).toBeGreaterThan(3_500_000)
      }))

    it.effect("refuses a URL node-redis cannot use, without echoing it", () =>
      Effect.gen(function*() {
        const provider = ConfigProvider.fromMap(new Map([["OCI_CACHE_REDIS_URL", "http://user:hunter2@cache:6379"]]))
        const fromConfig = yield* Effect.exit(
          Layer.build(BlobCacheRedis.layerConfig).pipe(Effect.scoped, Effect.withConfigProvider(provider))
        )
        const fromOptions = yield* Effect.exit(
          Layer.build(BlobCacheRedis.layer({ url: Redacted.make("redis://:hunter2@cache/not-a-db") })).pipe(
            Effect.scoped
          )
        )
        // a ConfigError from Config; a defect from options given in code
        expect(Exit.isFailure(fromConfig) && Cause.isFailType(fromConfig.cause)).toBe(true)
        expect(Exit.isFailure(fromOptions) && Cause.isDieType(fromOptions.cause)).toBe(true)
        const config = Exit.isFailure(fromConfig) ? Cause.pretty(fromConfig.cause) : ""
        const options = Exit.isFailure(fromOptions) ? Cause.pretty(fromOptions.cause) : ""
        expect(config).toContain("OCI_CACHE_REDIS_URL")
        expect(config).toContain("not a Redis URL")
        expect(options).toContain("not a Redis URL")
        expect(config + options).not.toContain("hunter2")
      }))

    it.scopedLive("closes its connection when the Layer is released", () =>
      Effect.gen(function*() {
        const redis = yield* rawClient(server().url)
        const ours = Effect.promise(() => redis.clientList()).pipe(
          Effect.map((clients) => clients.filter((client) => client.name === "effect-oci-blob-cache").length)
        )
        const before = yield* ours
        const scope = yield* Scope.make()
        yield* Scope.extend(buildCache({ url: server().url, prefix: freshPrefix() }), scope)
        expect(yield* ours).toBe(before + 1)
        yield* Scope.close(scope, Exit.void)
        // the server notices the closed socket asynchronously
        yield* ours.pipe(
          Effect.filterOrFail((count) => count === before),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("2 seconds")))
        )
      }))
  })

  describe("outages", () => {
    it.scopedLive("Redis stopped mid-test: misses and no-ops, promptly and counted; hits again once it is back", () => {
      const logs: Array<string> = []
      const collect = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => void logs.push(`${logLevel.label} ${String(message)}`))
      )
      return Effect.gen(function*() {
        const redisServer = yield* RedisServer.make()
        const cache = yield* buildCache({ url: redisServer.url, prefix: freshPrefix(), timeout: "300 millis" })
        const a = descriptor("outage-a")
        const b = descriptor("outage-b")
        yield* cache.set(a, "o/x")
        expect(yield* cache.get(a.digest)).toEqual(Option.some(a))

        const before = yield* errorCounts
        yield* redisServer.stop
        const [millis] = yield* elapsed(Effect.gen(function*() {
          expect(Option.isNone(yield* cache.get(a.digest))).toBe(true)
          expect(Option.isNone(yield* cache.get(a.digest, "o/x"))).toBe(true)
          yield* cache.set(b, "o/x")
          yield* cache.clear(a.digest)
          yield* cache.clear(a.digest, "o/x")
        }))
        expect(millis).toBeLessThan(1_000)
        const after = yield* errorCounts
        expect({ get: after.get - before.get, set: after.set - before.set, clear: after.clear - before.clear })
          .toEqual({ get: 2, set: 1, clear: 2 })

        yield* redisServer.start
        const [recovery, found] = yield* elapsed(untilHit(cache, b))
        expect(found).toEqual(b)
        expect(recovery).toBeLessThan(5_000)
        yield* cache.set(a, "o/x")
        expect(yield* cache.get(a.digest, "o/x")).toEqual(Option.some(a))

        // One warning for the whole outage (the other failures are debug logs), then the recovery.
        const warnings = logs.filter((line) => line.startsWith("WARN"))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain("get failed")
        expect(logs.at(-1)).toBe("INFO Redis blob cache: Redis answers again")
      }).pipe(Effect.provide(collect))
    })

    it.scopedLive("Redis hung (SIGSTOP): commands time out as misses; it answers again after SIGCONT", () =>
      Effect.gen(function*() {
        const redisServer = yield* RedisServer.make()
        const cache = yield* buildCache({ url: redisServer.url, prefix: freshPrefix(), timeout: "250 millis" })
        const a = descriptor("hung-a")
        yield* cache.set(a)

        const before = yield* errorCount("get")
        yield* redisServer.pause
        const [millis, results] = yield* elapsed(
          Effect.all([cache.get(a.digest), cache.get(a.digest), cache.set(descriptor("hung-b"))])
        )
        expect(Option.isNone(results[0])).toBe(true)
        expect(Option.isNone(results[1])).toBe(true)
        // the first timeout replaces the dead connection: later commands fail at once, not after 250 ms each
        expect(millis).toBeLessThan(1_000)
        expect((yield* errorCount("get")) - before).toBe(2)

        yield* redisServer.resume
        // Nothing was lost (the process only paused), and the new connection answers.
        const [recovery] = yield* elapsed(untilHit(cache, a))
        expect(recovery).toBeLessThan(5_000)
      }))

    it.scopedLive("Redis down at start-up: the Layer still builds, misses, and connects once Redis is up", () =>
      Effect.gen(function*() {
        const redisServer = yield* RedisServer.make()
        yield* redisServer.stop
        const [millis, cache] = yield* elapsed(
          buildCache({ url: Redacted.make(redisServer.url), prefix: freshPrefix(), connectTimeout: "300 millis" })
        )
        expect(millis).toBeLessThan(2_000)
        const d = descriptor("late")
        yield* cache.set(d)
        expect(Option.isNone(yield* cache.get(d.digest))).toBe(true)

        yield* redisServer.start
        expect(yield* untilHit(cache, d)).toEqual(d)
      }))
  })
})
