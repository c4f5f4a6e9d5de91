/**
 * Sync as durable workflows on @effect/cluster: one `SyncRepository` workflow per repository and
 * source state, each selected tag an activity. The cluster runs an execution on one runner at a
 * time and, when that runner dies, resumes it on another from its journal (finished tags are not
 * redone; the tag in flight is copied again, skipping the blobs already there).
 *
 * Every runner may submit every job: the execution id is derived from the job and the source's
 * tag digests, so runners submitting the same work join one execution, and a pass after the source
 * changed starts a new one. The first runner of a pass to come to a job lists and resolves its tags
 * and records that plan; the others of the pass take it from the state instead of listing again.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Reference from "../../Reference.js"
import { Repository } from "../../Repository.js"
import { addTally, type Copier, emptyTally, type EngineOptions, selectedTags, syncTag, type Tally } from "./engine.js"
import * as Metrics from "./metrics.js"
import * as State from "./state.js"
import { Job } from "./plan.js"
import type { RunJob } from "./runner.js"

/** A job's tags and the digests they had when it was submitted. */
const TagDigest = Schema.Struct({ tag: Schema.String, digest: Schema.String })

const TallySchema = Schema.Struct({
  checked: Schema.Number,
  copied: Schema.Number,
  unchanged: Schema.Number,
  failed: Schema.Number,
  blobsCopied: Schema.Number,
  blobsSkipped: Schema.Number,
  blobsMounted: Schema.Number,
  bytes: Schema.Number
})

/** A repository's sync could not record its progress (the state database failed). */
export class SyncJobError extends Schema.TaggedError<SyncJobError>()("SyncJobError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** The workflow: one repository of a mapping, at the source state its payload names. */
export const SyncRepository = Workflow.make({
  name: "effect-oci/SyncRepository",
  payload: { job: Job, tags: Schema.Array(TagDigest) },
  success: TallySchema,
  error: SyncJobError,
  idempotencyKey: ({ job, tags }) =>
    JSON.stringify([job, [...tags].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))])
})

/** The workflow's implementation; the activities run on whichever runner holds the execution. */
export const layer = (
  options: EngineOptions
): Layer.Layer<never, never, WorkflowEngine | Repository | Copier | SqlClient.SqlClient> =>
  SyncRepository.toLayer(({ job, tags }) =>
    Effect.forEach(tags, ({ tag }) =>
      Activity.make({
        name: `tag:${tag}`,
        success: TallySchema,
        error: SyncJobError,
        execute: syncTag(job, tag, options).pipe(
          Effect.mapError((error) => new SyncJobError({ source: job.source, message: error.message }))
        )
      }), { concurrency: options.tagConcurrency ?? 2 }).pipe(
        Effect.map((tallies) => tallies.reduce(addTally, emptyTally))
      )
  )

/** The selected tags of a job with their current source digests (tags that vanish meanwhile are left out). */
const tagDigests = (job: Job) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const tags = yield* selectedTags(job)
    const resolved = yield* Effect.forEach(tags, (tag) =>
      Reference.parse(`${job.source}:${tag}`).pipe(
        Effect.flatMap((ref) => repo.resolve(ref)),
        Effect.map((descriptor) => [{ tag, digest: descriptor.digest }]),
        Effect.catchTags({ ManifestUnknown: () => Effect.succeed([]) })
      ), { concurrency: 4 })
    return resolved.flat()
  })

const Plan = Schema.parseJson(Schema.Array(TagDigest))

/**
 * The job's tags and digests: those another runner found since this pass started, when one did
 * (runners in the same pass then name the same execution without each listing and resolving every
 * repository's tags again), else found now and recorded for the others.
 */
const planOf = (job: Job, passStartedAt: number) =>
  Effect.gen(function*() {
    const key = JSON.stringify(job)
    const recorded = yield* State.recentPlan(key, passStartedAt)
    if (Option.isSome(recorded)) {
      const plan = Schema.decodeUnknownOption(Plan)(recorded.value)
      if (Option.isSome(plan)) return plan.value
    }
    const tags = yield* tagDigests(job)
    yield* State.recordPlan(key, Schema.encodeSync(Plan)(tags))
    return tags
  })

/** Runs a job as a workflow execution (joining the one already running for the same work). */
export const runJob: RunJob<WorkflowEngine> = (job, passStartedAt) =>
  Effect.gen(function*() {
    const tags = yield* planOf(job, passStartedAt)
    if (tags.length === 0) return emptyTally
    const payload = { job, tags }
    // The same source state synced before: its execution's result is stored, nothing is redone.
    const previous = yield* SyncRepository.poll(yield* SyncRepository.executionId(payload))
    if (previous !== undefined && previous._tag === "Complete" && Exit.isSuccess(previous.exit)) {
      const counters = Metrics.forMapping(job.mapping)
      yield* Metric.incrementBy(counters.checked, tags.length)
      yield* Metric.incrementBy(counters.skipped, tags.length)
      return { ...emptyTally, checked: tags.length, unchanged: tags.length }
    }
    const tally: Tally = yield* SyncRepository.execute(payload)
    return tally
  })
