/**
 * Turns a config's mappings into jobs, one per source repository: a prefix mapping lists the
 * source registry's catalog and maps `<from prefix>/<rest>` to `<to>/<rest>`.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ListingError } from "../../Repository.js"
import { Repository } from "../../Repository.js"
import { type Config, type Location, type Mapping, parseLocation, TagFilter } from "./config.js"

/**
 * One repository to sync: names are `registry/repository`; `mapping` labels the config entry
 * (`from -> to`) in state and metrics. A Schema, so a job can be a durable workflow's payload.
 */
export const Job = Schema.Struct({
  mapping: Schema.String,
  source: Schema.String,
  destination: Schema.String,
  tags: Schema.optional(TagFilter),
  platforms: Schema.optional(Schema.Array(Schema.String)),
  referrers: Schema.Boolean
})

/** One repository to sync. */
export type Job = typeof Job.Type

/** A mapping's label: `from -> to` as written. */
export const mappingLabel = (mapping: Mapping): string => `${mapping.from} -> ${mapping.to}`

const locationOf = (input: string): Location =>
  Either.getOrThrowWith(parseLocation(input), (reason) => new Error(`unchecked location ${input}: ${reason}`))

const join = (base: string, rest: string) => (base === "" ? rest : rest === "" ? base : `${base}/${rest}`)

const baseOf = (location: Location) => location._tag === "Prefix" ? location.prefix : location.repository

/** The jobs of one mapping (a prefix lists the catalog). */
export const expandMapping = (mapping: Mapping): Effect.Effect<ReadonlyArray<Job>, ListingError, Repository> =>
  Effect.gen(function*() {
    const from = locationOf(mapping.from)
    const to = locationOf(mapping.to)
    const make = (sourceRepository: string, destinationRepository: string): Job => ({
      mapping: mappingLabel(mapping),
      source: `${from.registry}/${sourceRepository}`,
      destination: `${to.registry}/${destinationRepository}`,
      ...(mapping.tags === undefined ? {} : { tags: mapping.tags }),
      ...(mapping.platforms === undefined ? {} : { platforms: mapping.platforms }),
      referrers: mapping.referrers ?? false
    })
    if (from._tag === "Repository") return [make(from.repository, baseOf(to))]
    const repo = yield* Repository
    const below = from.prefix === "" ? "" : `${from.prefix}/`
    const names = yield* Stream.runCollect(
      repo.catalog(from.registry).pipe(Stream.filter((name) => name.startsWith(below)))
    )
    return Chunk.toReadonlyArray(names).map((name) => make(name, join(baseOf(to), name.slice(below.length))))
  }).pipe(Effect.withSpan("Sync.expandMapping", { attributes: { mapping: mappingLabel(mapping) } }))

/** Every job of a config, mapping by mapping. */
export const expand = (config: Config): Effect.Effect<ReadonlyArray<Job>, ListingError, Repository> =>
  Effect.map(Effect.forEach(config.mappings, expandMapping), (jobs) => jobs.flat())
