/**
 * The behaviour every BlobCache Layer must have; run against each implementation.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { BlobCache, type BlobDescriptor } from "../../src/BlobCache.js"
import * as Digest from "../../src/Digest.js"

const descriptor = (content: string, mediaType = "application/octet-stream"): BlobDescriptor => ({
  digest: Digest.compute(content),
  size: content.length,
  mediaType
})

/** Registers the conformance tests for a cache Layer (a fresh cache per test is not required). */
export const conformance = (name: string, makeLayer: () => Layer.Layer<BlobCache, unknown>) =>
  describe(`BlobCache conformance: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, BlobCache>) =>
      Effect.provide(effect, makeLayer()) as Effect.Effect<A, E>
    // Unique content per test so that caches shared between tests (Redis) do not interfere.
    const unique = (label: string) => `${label}-${Math.random()}-${Date.now()}`

    it.live("misses, then hits after set", () =>
      run(Effect.gen(function*() {
        const cache = yield* BlobCache
        const d = descriptor(unique("a"))
        expect(Option.isNone(yield* cache.get(d.digest))).toBe(true)
        yield* cache.set(d)
        expect(yield* cache.get(d.digest)).toEqual(Option.some(d))
      })))

    it.live("scopes per repository: membership and media type override", () =>
      run(Effect.gen(function*() {
        const cache = yield* BlobCache
        const content = unique("b")
        const first = descriptor(content, "application/vnd.oci.image.layer.v1.tar+gzip")
        const second = descriptor(content, "application/vnd.docker.image.rootfs.diff.tar.gzip")
        yield* cache.set(first, "team/one")
        expect(Option.isNone(yield* cache.get(first.digest, "team/two"))).toBe(true)
        yield* cache.set(second, "team/two")
        expect(yield* cache.get(first.digest, "team/one")).toEqual(Option.some(first))
        expect(yield* cache.get(first.digest, "team/two")).toEqual(Option.some(second))
        // globally, the first media type written wins
        expect(yield* cache.get(first.digest)).toEqual(Option.some(first))
      })))

    it.live("clears per repository without touching others, and globally everywhere", () =>
      run(Effect.gen(function*() {
        const cache = yield* BlobCache
        const d = descriptor(unique("c"))
        yield* cache.set(d, "x/one")
        yield* cache.set(d, "x/two")
        yield* cache.clear(d.digest, "x/one")
        expect(Option.isNone(yield* cache.get(d.digest, "x/one"))).toBe(true)
        expect(yield* cache.get(d.digest, "x/two")).toEqual(Option.some(d))
        expect(yield* cache.get(d.digest)).toEqual(Option.some(d))
        yield* cache.clear(d.digest)
        expect(Option.isNone(yield* cache.get(d.digest))).toBe(true)
        expect(Option.isNone(yield* cache.get(d.digest, "x/two"))).toBe(true)
      })))

    it.live("lists the repositories a blob is known in, after clears too", () =>
      run(Effect.gen(function*() {
        const cache = yield* BlobCache
        const d = descriptor(unique("r"))
        const other = descriptor(unique("r-other"))
        expect(yield* cache.repositories(d.digest)).toEqual([])
        yield* cache.set(d)
        expect(yield* cache.repositories(d.digest)).toEqual([])
        yield* cache.set(d, "reg.example/one")
        yield* cache.set(d, "reg.example/two/deep")
        yield* cache.set(other, "reg.example/three")
        expect([...(yield* cache.repositories(d.digest))].sort()).toEqual(["reg.example/one", "reg.example/two/deep"])
        yield* cache.clear(d.digest, "reg.example/one")
        expect(yield* cache.repositories(d.digest)).toEqual(["reg.example/two/deep"])
        yield* cache.clear(d.digest)
        expect(yield* cache.repositories(d.digest)).toEqual([])
        expect(yield* cache.repositories(other.digest)).toEqual(["reg.example/three"])
      })))

    it.live("refuses invalid descriptors", () =>
      run(Effect.gen(function*() {
        const cache = yield* BlobCache
        const good = descriptor(unique("d"))
        const bad: Array<BlobDescriptor> = [
          { ...good, size: -1 },
          { ...good, mediaType: "" },
          { ...good, digest: "sha256:nothex" as Digest.Digest },
          { ...good, size: 1.5 }
        ]
        for (const d of bad) {
          const error = yield* Effect.flip(cache.set(d, "r/x"))
          expect(error._tag).toBe("InvalidDescriptor")
        }
        expect(Option.isNone(yield* cache.get(good.digest, "r/x"))).toBe(true)
      })))

    it.live("stays consistent under concurrent writers", () =>
      run(Effect.gen(function*() {
        const cache = yield* BlobCache
        const ds = Array.from({ length: 50 }, (_, i) => descriptor(unique(`e${i}`)))
        yield* Effect.forEach(ds, (d, i) => cache.set(d, `repo/${i % 5}`), { concurrency: 20, discard: true })
        const found = yield* Effect.forEach(ds, (d, i) => cache.get(d.digest, `repo/${i % 5}`), { concurrency: 20 })
        expect(found.map(Option.getOrUndefined)).toEqual(ds)
      })))
  })
