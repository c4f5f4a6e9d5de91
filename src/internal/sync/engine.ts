/**
 * The incremental sync of one repository: list the source's tags, keep those the filters select,
 * and for each compare the source and destination digests (and what the state recorded last time),
 * copying only what changed. Nothing is ever deleted at the destination. Every step is recorded in
 * the state as it happens.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Manifest from "../../Manifest.js"
import * as Reference from "../../Reference.js"
import type { ListingError, ManifestReadError } from "../../Repository.js"
import { Repository } from "../../Repository.js"
import type { InvalidReference } from "../../RegistryError.js"
import { selectTags } from "./filters.js"
import * as Metrics from "./metrics.js"
import type { Job } from "./plan.js"
import * as State from "./state.js"

/** What a copy reports back. */
export interface CopyOutcome {
  /** The digest written at the destination. */
  readonly digest: string
  readonly blobs: { readonly copied: number; readonly skipped: number; readonly mounted: number }
  readonly bytes: number
}

/**
 * The image copier sync drives: copies `from` (a tag) to `to` (the same tag), limited to `platforms`
 * when given, with referrers when asked. The default is `Copy.copy` between two registries.
 */
export class Copier extends Context.Tag("effect-oci/Sync/Copier")<Copier, {
  readonly copy: (
    from: Reference.Reference,
    to: Reference.Reference,
    options: { readonly platforms: ReadonlyArray<string> | undefined; readonly referrers: boolean }
  ) => Effect.Effect<CopyOutcome, { readonly message: string }>
}>() {}

/** What happened to one tag. */
export type TagOutcome = "copied" | "unchanged" | "failed"

/** Tallies of one repository's (or a whole run's) tags. */
export interface Tally {
  readonly checked: number
  readonly copied: number
  readonly unchanged: number
  readonly failed: number
  readonly blobsCopied: number
  readonly blobsSkipped: number
  readonly blobsMounted: number
  readonly bytes: number
}

/** No tags. */
export const emptyTally: Tally = {
  checked: 0,
  copied: 0,
  unchanged: 0,
  failed: 0,
  blobsCopied: 0,
  blobsSkipped: 0,
  blobsMounted: 0,
  bytes: 0
}

/** Two tallies added up. */
export const addTally = (a: Tally, b: Tally): Tally => ({
  checked: a.checked + b.checked,
  copied: a.copied + b.copied,
  unchanged: a.unchanged + b.unchanged,
  failed: a.failed + b.failed,
  blobsCopied: a.blobsCopied + b.blobsCopied,
  blobsSkipped: a.blobsSkipped + b.blobsSkipped,
  blobsMounted: a.blobsMounted + b.blobsMounted,
  bytes: a.bytes + b.bytes
})

/** Options of the engine. */
export interface EngineOptions {
  /** Tags of one repository checked and copied at once (default 2). */
  readonly tagConcurrency?: number | undefined
  /** Names this process in the state's `runner` column. */
  readonly runner: string
}

/** The digest a tag points to, or `null` when the tag (or the repository) does not exist. */
const digestOrNull = (ref: Reference.Reference): Effect.Effect<string | null, ManifestReadError, Repository> =>
  Effect.flatMap(Repository, (repo) => repo.resolve(ref)).pipe(
    Effect.map((descriptor: Manifest.Descriptor): string | null => descriptor.digest),
    Effect.catchTags({ ManifestUnknown: () => Effect.succeed(null), NameUnknown: () => Effect.succeed(null) })
  )

const messageOf = (error: { readonly message: string } & { readonly _tag?: string }) =>
  error._tag !== undefined && !error.message.startsWith(error._tag) ? `${error._tag}: ${error.message}` : error.message

const single = (outcome: TagOutcome, copy?: CopyOutcome): Tally => ({
  ...emptyTally,
  checked: 1,
  copied: outcome === "copied" ? 1 : 0,
  unchanged: outcome === "unchanged" ? 1 : 0,
  failed: outcome === "failed" ? 1 : 0,
  ...(copy === undefined
    ? {}
    : {
      blobsCopied: copy.blobs.copied,
      blobsSkipped: copy.blobs.skipped,
      blobsMounted: copy.blobs.mounted,
      bytes: copy.bytes
    })
})

/**
 * Syncs one tag: unchanged when the destination already has the source's digest, or when the state
 * says this source digest was copied and the destination still holds what was written then (a
 * platform subset has its own digest). Otherwise records `copying`, copies, and records the result.
 * A failure is recorded and counted, never raised: the other tags go on.
 */
export const syncTag = (
  job: Job,
  tag: string,
  options: EngineOptions
): Effect.Effect<Tally, SqlError, Repository | Copier | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const key: State.TagKey = { mapping: job.mapping, source: job.source, destination: job.destination, tag }
    const tagged = Metrics.forMapping(job.mapping)
    yield* Metric.increment(tagged.checked)
    const fail = (sourceDigest: string | null, destinationDigest: string | null, error: { readonly message: string }) =>
      State.record(key, {
        state: "failed",
        sourceDigest,
        destinationDigest,
        lastError: messageOf(error),
        runner: options.runner
      }).pipe(Effect.zipRight(Metric.increment(tagged.failed)), Effect.as(single("failed")))

    const refs = yield* Effect.all([
      Reference.parse(`${job.source}:${tag}`),
      Reference.parse(`${job.destination}:${tag}`)
    ]).pipe(Effect.either)
    if (refs._tag === "Left") return yield* fail(null, null, refs.left)
    const [from, to] = refs.right
    const digests = yield* Effect.all([digestOrNull(from), digestOrNull(to)], { concurrency: 2 }).pipe(Effect.either)
    if (digests._tag === "Left") return yield* fail(null, null, digests.left)
    const [sourceDigest, destinationDigest] = digests.right
    if (sourceDigest === null) return yield* fail(null, destinationDigest, { message: "the source tag disappeared" })

    const previous = yield* State.get(key)
    const unchanged = destinationDigest === sourceDigest || Option.exists(previous, (row) =>
      (row.state === "copied" || row.state === "unchanged") && row.sourceDigest === sourceDigest &&
      row.destinationDigest === destinationDigest && destinationDigest !== null)
    if (unchanged) {
      yield* State.record(key, { state: "unchanged", sourceDigest, destinationDigest, lastError: null, runner: options.runner })
      yield* Metric.increment(tagged.skipped)
      return single("unchanged")
    }
    yield* State.record(key, { state: "copying", sourceDigest, destinationDigest, lastError: null, runner: options.runner })
    const copier = yield* Copier
    const copied = yield* copier.copy(from, to, { platforms: job.platforms, referrers: job.referrers }).pipe(Effect.either)
    if (copied._tag === "Left") return yield* fail(sourceDigest, destinationDigest, copied.left)
    yield* State.record(key, {
      state: "copied",
      sourceDigest,
      destinationDigest: copied.right.digest,
      lastError: null,
      runner: options.runner
    })
    yield* Metric.increment(tagged.copied)
    return single("copied", copied.right)
  }).pipe(Effect.withSpan("Sync.syncTag", { attributes: { source: job.source, destination: job.destination, tag } }))

/** The tags of a job's source repository that its filters select. */
export const selectedTags = (
  job: Job
): Effect.Effect<ReadonlyArray<string>, ListingError | InvalidReference, Repository> =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const source = yield* Reference.parse(job.source)
    const tags = yield* Stream.runCollect(repo.tags(source))
    return selectTags(Chunk.toReadonlyArray(tags), job.tags)
  })

/** Syncs every selected tag of one repository. */
export const syncRepository = (
  job: Job,
  options: EngineOptions
): Effect.Effect<Tally, SqlError | ListingError | InvalidReference, Repository | Copier | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const tags = yield* selectedTags(job)
    const tallies = yield* Effect.forEach(tags, (tag) => syncTag(job, tag, options), {
      concurrency: options.tagConcurrency ?? 2
    })
    return tallies.reduce(addTally, emptyTally)
  }).pipe(Effect.withSpan("Sync.syncRepository", { attributes: { source: job.source, destination: job.destination } }))
