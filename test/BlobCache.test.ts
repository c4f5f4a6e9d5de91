import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as BlobCache from "../src/BlobCache.js"
import * as Digest from "../src/Digest.js"
import { conformance } from "./support/blobCacheConformance.js"

conformance("memory", () => BlobCache.layerMemory())

const d = (s: string): BlobCache.BlobDescriptor => ({ digest: Digest.compute(s), size: s.length, mediaType: "x/y" })

describe("BlobCache memory", () => {
  it.effect("evicts the least recently used entry beyond its capacity", () =>
    Effect.gen(function*() {
      const cache = BlobCache.makeMemory({ capacity: 2 })
      yield* cache.set(d("1"))
      yield* cache.set(d("2"))
      yield* cache.get(d("1").digest) // 1 is now more recent than 2
      yield* cache.set(d("3"))
      expect(Option.isSome(yield* cache.get(d("1").digest))).toBe(true)
      expect(Option.isNone(yield* cache.get(d("2").digest))).toBe(true)
      expect(Option.isSome(yield* cache.get(d("3").digest))).toBe(true)
    }))

  it.effect("cached: a hit skips the fetch, a miss fetches once and fills the cache; both are metrics", () =>
    Effect.gen(function*() {
      const cache = BlobCache.makeMemory()
      let fetches = 0
      const fetch = Effect.sync(() => {
        fetches++
        return d("blob")
      })
      const hitsBefore = (yield* Metric.value(BlobCache.hits)).count
      const missesBefore = (yield* Metric.value(BlobCache.misses)).count
      yield* BlobCache.cached(cache, d("blob").digest, "a/b", fetch)
      yield* BlobCache.cached(cache, d("blob").digest, "a/b", fetch)
      expect(fetches).toBe(1)
      expect((yield* Metric.value(BlobCache.hits)).count - hitsBefore).toBe(1)
      expect((yield* Metric.value(BlobCache.misses)).count - missesBefore).toBe(1)
    }))

  it.effect("the disabled cache always misses", () =>
    Effect.gen(function*() {
      const cache = yield* BlobCache.BlobCache
      yield* cache.set(d("z"))
      expect(Option.isNone(yield* cache.get(d("z").digest))).toBe(true)
    }).pipe(Effect.provide(BlobCache.layerDisabled)))
})
