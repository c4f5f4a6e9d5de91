/**
 * The BlobCache service: remembers blob descriptors (digest → size and media type) so that a blob
 * `stat` can skip its HEAD request. The seed's blob-descriptor cache, with its bugs fixed.
 *
 * Two views, as in distribution:
 * - **global**: one descriptor per digest; the first media type written wins;
 * - **per repository**: membership (a digest is only known *in* a repository once it was seen there)
 *   plus a media type that overrides the global one for that repository.
 *
 * The default Layer is an in-memory LRU ({@link layerMemory}); a Redis Layer serves many processes.
 * A cache never fails a pull or push: lookups have no error channel, and implementations turn their
 * own failures into misses.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Digest from "./Digest.js"

/**
 * What the cache stores about a blob.
 *
 * @since 0.1.0
 * @category models
 */
export interface BlobDescriptor {
  readonly digest: Digest.Digest
  readonly size: number
  readonly mediaType: string
}

/**
 * A descriptor the cache refuses: a bad digest, a negative size, or an empty media type.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidDescriptor extends Schema.TaggedError<InvalidDescriptor>()("InvalidDescriptor", {
  reason: Schema.String
}) {}

/**
 * The BlobCache service. `repository` scopes an operation to one repository; without it the global
 * view is used.
 *
 * @since 0.1.0
 * @category tags
 */
export class BlobCache extends Context.Tag("effect-oci/BlobCache")<BlobCache, {
  /** The descriptor of `digest` (in `repository`, when given), if known. */
  readonly get: (digest: Digest.Digest, repository?: string) => Effect.Effect<Option.Option<BlobDescriptor>>
  /** Records a descriptor (globally, and in `repository` when given). */
  readonly set: (descriptor: BlobDescriptor, repository?: string) => Effect.Effect<void, InvalidDescriptor>
  /** Forgets `digest` (in `repository` only, when given; everywhere otherwise). */
  readonly clear: (digest: Digest.Digest, repository?: string) => Effect.Effect<void>
  /**
   * The repositories `digest` is known in (as given to `set`): where a push can mount it from
   * instead of uploading it, as the Go client's blob-descriptor cache and skopeo do.
   */
  readonly repositories: (digest: Digest.Digest) => Effect.Effect<ReadonlyArray<string>>
}>() {}

/**
 * Checks a descriptor before it is cached.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (descriptor: BlobDescriptor): Effect.Effect<BlobDescriptor, InvalidDescriptor> => {
  if (!Digest.isDigest(descriptor.digest)) {
    return Effect.fail(new InvalidDescriptor({ reason: `invalid digest ${JSON.stringify(descriptor.digest)}` }))
  }
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    return Effect.fail(new InvalidDescriptor({ reason: `invalid size ${descriptor.size}` }))
  }
  if (descriptor.mediaType === "") return Effect.fail(new InvalidDescriptor({ reason: "empty media type" }))
  return Effect.succeed(descriptor)
}

/**
 * Cache hits, as an Effect metric (`effect_oci_blob_cache_hits_total`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const hits = Metric.counter("effect_oci_blob_cache_hits_total", {
  description: "blob descriptor lookups answered by the cache",
  incremental: true
})

/**
 * Cache misses, as an Effect metric (`effect_oci_blob_cache_misses_total`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const misses = Metric.counter("effect_oci_blob_cache_misses_total", {
  description: "blob descriptor lookups the cache could not answer",
  incremental: true
})

/**
 * The seed's "cached statter": answers from the cache when it can (a hit), otherwise runs `fetch`
 * and remembers its result (a result the cache refuses is simply not cached).
 *
 * @example
 * BlobCache.cached(cache, digest, "library/alpine", headBlob(digest))
 *
 * @since 0.1.0
 * @category combinators
 */
export const cached = <E, R>(
  cache: BlobCache["Type"],
  digest: Digest.Digest,
  repository: string | undefined,
  fetch: Effect.Effect<BlobDescriptor, E, R>
): Effect.Effect<BlobDescriptor, E, R> =>
  cache.get(digest, repository).pipe(
    Effect.flatMap(Option.match({
      onSome: (descriptor) => Effect.as(Metric.increment(hits), descriptor),
      onNone: () =>
        Metric.increment(misses).pipe(
          Effect.zipRight(fetch),
          Effect.tap((descriptor) => Effect.ignore(cache.set(descriptor, repository)))
        )
    }))
  )

/**
 * An in-memory cache with least-recently-used eviction over `capacity` entries (global and
 * per-repository entries together; default 10 000).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options: { readonly capacity?: number | undefined } = {}): BlobCache["Type"] => {
  const capacity = Math.max(1, options.capacity ?? 10_000)
  // A Map iterates in insertion order, so re-inserting on every read makes its first key the LRU one.
  const entries = new Map<string, BlobDescriptor>()
  const globalKey = (digest: string) => `g\u0000${digest}`
  const repoKey = (repository: string, digest: string) => `r\u0000${repository}\u0000${digest}`

  const touch = (key: string): BlobDescriptor | undefined => {
    const value = entries.get(key)
    if (value !== undefined) {
      entries.delete(key)
      entries.set(key, value)
    }
    return value
  }
  /** The per-repository keys of `digest` (a scan: clears and mount lookups are rare next to gets). */
  const repoKeysOf = (digest: string) => {
    const suffix = `\u0000${digest}`
    return [...entries.keys()].filter((key) => key.startsWith("r\u0000") && key.endsWith(suffix))
  }
  const put = (key: string, value: BlobDescriptor) => {
    entries.delete(key)
    entries.set(key, value)
    while (entries.size > capacity) entries.delete(entries.keys().next().value!)
  }

  return BlobCache.of({
    get: (digest, repository) =>
      Effect.sync(() => {
        if (repository === undefined) return Option.fromNullable(touch(globalKey(digest)))
        // The repository entry records membership and its own media type; size comes from it too,
        // so an evicted global entry does not hide a blob the repository is known to hold.
        return Option.fromNullable(touch(repoKey(repository, digest)))
      }),
    set: (descriptor, repository) =>
      Effect.flatMap(validate(descriptor), (valid) =>
        Effect.sync(() => {
          const global = touch(globalKey(valid.digest))
          if (global === undefined) put(globalKey(valid.digest), valid)
          if (repository !== undefined) put(repoKey(repository, valid.digest), valid)
        })),
    clear: (digest, repository) =>
      Effect.sync(() => {
        if (repository !== undefined) {
          entries.delete(repoKey(repository, digest))
          return
        }
        entries.delete(globalKey(digest))
        for (const key of repoKeysOf(digest)) entries.delete(key)
      }),
    repositories: (digest) =>
      Effect.sync(() => repoKeysOf(digest).map((key) => key.slice(2, key.length - digest.length - 1)))
  })
}

/**
 * The in-memory cache as a Layer (the default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: { readonly capacity?: number | undefined } = {}): Layer.Layer<BlobCache> =>
  Layer.sync(BlobCache, () => makeMemory(options))

/**
 * The default cache as a Layer: the in-memory LRU ({@link layerMemory}). Redis is
 * `effect-oci/BlobCacheRedis`'s `layer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: { readonly capacity?: number | undefined } = {}): Layer.Layer<BlobCache> =>
  layerMemory(options)

/**
 * A cache that remembers nothing (every lookup is a miss).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDisabled: Layer.Layer<BlobCache> = Layer.succeed(
  BlobCache,
  BlobCache.of({
    get: () => Effect.succeedNone,
    set: () => Effect.void,
    clear: () => Effect.void,
    repositories: () => Effect.succeed([])
  })
)
