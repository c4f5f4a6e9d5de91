/**
 * One sync pass in this process: expand the mappings into repository jobs, sync each (a few at a
 * time), tally per mapping, time the pass. Also `--watch`: a pass, a pause, again.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type { Repository } from "../../Repository.js"
import type { Config } from "./config.js"
import { addTally, type Copier, emptyTally, type EngineOptions, syncRepository, type Tally } from "./engine.js"
import * as Metrics from "./metrics.js"
import { expandMapping, type Job, mappingLabel } from "./plan.js"
import * as State from "./state.js"

/** A repository (or a whole mapping, when its catalog could not be listed) that could not be synced. */
export interface Failure {
  readonly mapping: string
  readonly source: string
  readonly message: string
}

/** The result of one pass: tallies per mapping label, and what failed before reaching its tags. */
export interface Summary {
  readonly mappings: ReadonlyArray<{ readonly mapping: string; readonly repositories: number; readonly tally: Tally }>
  readonly failures: ReadonlyArray<Failure>
  readonly total: Tally
  readonly duration: Duration.Duration
}

/** Options of a pass. */
export interface RunOptions extends Partial<EngineOptions> {
  /** Repositories synced at once (default 4). */
  readonly repositoryConcurrency?: number | undefined
}

/** Runs jobs; the default runs them in this process, a cluster hands them to its runners. */
export type RunJob<R = never> = (
  job: Job,
  /** When this pass started (ms): work another runner did for a job since then may be reused. */
  passStartedAt: number
) => Effect.Effect<Tally, SqlError | { readonly message: string }, Repository | Copier | SqlClient.SqlClient | R>

const describe = (error: { readonly message: string; readonly _tag?: string }) =>
  error._tag !== undefined && error.message === "" ? error._tag : error.message

/** A name for this process in the state: `host:pid`. */
export const defaultRunnerName = (): string => `${process.env["HOSTNAME"] ?? "localhost"}:${process.pid}`

/** A copy of `items` in random order. */
const shuffled = <A>(items: ReadonlyArray<A>): ReadonlyArray<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const swap = out[i]!
    out[i] = out[j]!
    out[j] = swap
  }
  return out
}

/** One pass over every mapping. Failures of single tags or repositories are tallied, not raised. */
export const runPass = <R = never>(
  config: Config,
  options: RunOptions = {},
  runJob?: RunJob<R>
): Effect.Effect<Summary, SqlError, Repository | Copier | SqlClient.SqlClient | R> =>
  Effect.gen(function*() {
    yield* State.ensureSchema
    const engineOptions: EngineOptions = { runner: options.runner ?? defaultRunnerName(), tagConcurrency: options.tagConcurrency }
    const run: RunJob<R> = runJob ?? ((job) => syncRepository(job, engineOptions))
    const start = Date.now()
    const failures: Array<Failure> = []
    const mappings = yield* Effect.forEach(config.mappings, (mapping) =>
      Effect.gen(function*() {
        const label = mappingLabel(mapping)
        const jobs = yield* expandMapping(mapping).pipe(
          Effect.catchAll((error) => {
            failures.push({ mapping: label, source: mapping.from, message: describe(error) })
            return Effect.succeed([] as ReadonlyArray<Job>)
          })
        )
        // Each runner goes through the jobs in an order of its own: runners started together then
        // start different executions instead of all waiting on the same few, and find most of the
        // others finished (a stored result, nothing redone) by the time they come to them.
        const tallies = yield* Effect.forEach(shuffled(jobs), (job) =>
          run(job, start).pipe(
            // A SqlError is the state store failing: the pass cannot record, so it stops.
            Effect.catchAll((error) => {
              if (error instanceof SqlError) return Effect.fail(error)
              failures.push({ mapping: label, source: job.source, message: describe(error) })
              return Effect.succeed(emptyTally)
            })
          ), { concurrency: options.repositoryConcurrency ?? 4 })
        return { mapping: label, repositories: jobs.length, tally: tallies.reduce(addTally, emptyTally) }
      }))
    const duration = Duration.millis(Date.now() - start)
    yield* Metric.update(Metrics.duration, Duration.toSeconds(duration))
    return {
      mappings,
      failures,
      total: mappings.map((m) => m.tally).reduce(addTally, emptyTally),
      duration
    }
  }).pipe(Effect.withSpan("Sync.run"))

/** Passes forever, `interval` apart (measured from the end of one pass to the start of the next). */
export const watch = <R = never>(
  config: Config,
  interval: Duration.DurationInput,
  onPass: (summary: Summary) => Effect.Effect<void>,
  options: RunOptions = {},
  runJob?: RunJob<R>
): Effect.Effect<never, SqlError, Repository | Copier | SqlClient.SqlClient | R> =>
  runPass(config, options, runJob).pipe(
    Effect.flatMap(onPass),
    Effect.repeat(Schedule.spaced(interval)),
    Effect.zipRight(Effect.never)
  )
