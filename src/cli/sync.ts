/**
 * `effect-oci sync CONFIG`: one pass (or `--watch INTERVAL`, one pass every INTERVAL) of the
 * mappings in CONFIG, with the state in a SQLite file (`--state`, default ./effect-oci-sync.db) or,
 * with `--cluster postgres://…`, as one runner among those sharing that database (listening for
 * its peers at `--runner-address HOST:PORT`). `effect-oci sync status`: each tag's record.
 * JSON: the pass's summary; for `status`, `{ "tags": [ … ] }`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import { inContext, UsageError } from "./errors.js"
import { globals } from "./global.js"
import { type SyncLibrary, withSyncLibrary } from "./load.js"
import * as Output from "./output.js"
import type { Summary } from "../Sync.js"

/** A pass ended with tags or repositories that failed (each recorded in the state). */
export class SyncIncomplete extends Data.TaggedError("SyncIncomplete")<{ readonly failed: number }> {
  override get message() {
    return `${this.failed} tag(s) or repositories failed; see effect-oci sync status`
  }
}

const state = Options.file("state").pipe(
  Options.withDefault("effect-oci-sync.db"),
  Options.withDescription("The SQLite file holding the sync state.")
)
const cluster = Options.text("cluster").pipe(
  Options.withPseudoName("postgres://…"),
  Options.optional,
  Options.withDescription("Join the runners sharing this Postgres database (state and work) instead of --state.")
)
const json = Options.boolean("json").pipe(Options.withDescription("One JSON document on stdout."))

/** `30s`, `5m`, `1h`, `250ms`, or Effect's `5 minutes`. */
export const parseInterval = (text: string): Option.Option<Duration.Duration> => {
  const short = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim())
  if (short !== null) {
    const n = Number(short[1])
    const unit = { ms: "millis", s: "seconds", m: "minutes", h: "hours" }[short[2] as "ms" | "s" | "m" | "h"]
    return Option.some(Duration.decode(`${n} ${unit}` as Duration.DurationInput))
  }
  return Option.filter(Duration.decodeUnknown(text.trim()), (d) => Duration.toMillis(d) > 0)
}

/** `HOST:PORT` (IPv6 in brackets). */
export const parseAddress = (text: string): Option.Option<{ readonly host: string; readonly port: number }> => {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim())
  if (match === null) return Option.none()
  const port = Number(match[2])
  return port > 0 && port < 65536 ? Option.some({ host: match[1]!.replace(/^\[|\]$/g, ""), port }) : Option.none()
}

const stateLayer = (lib: SyncLibrary, stateFile: string, url: Option.Option<string>) =>
  Option.match(url, {
    onNone: () =>
      Fs.existsSync(stateFile)
        ? Effect.succeed(lib.Sync.layerSqlite(stateFile))
        : Effect.fail(new UsageError({ message: `no sync state at ${stateFile} (run effect-oci sync CONFIG first)` })),
    onSome: (u) => Effect.succeed(lib.Sync.layerPostgres(Redacted.make(u)))
  })

const short = (digest: string | null) => (digest === null ? "-" : digest.replace(/^sha256:/, "").slice(0, 12))

const status = Command.make("status", { state, cluster, json }, (options) =>
  withSyncLibrary((lib) =>
    Effect.gen(function*() {
      const layer = yield* stateLayer(lib, options.state, options.cluster)
      const rows = yield* lib.Sync.status.pipe(Effect.provide(layer))
      const g = yield* globals
      const text = () =>
        rows.map((r) =>
          [
            `${r.source}:${r.tag} -> ${r.destination}`,
            r.state,
            short(r.sourceDigest),
            short(r.destinationDigest),
            r.lastRun,
            ...(r.lastError === null ? [] : [r.lastError.split("\n")[0]])
          ].join("  ")
        )
      if (options.json || g.json) return yield* Output.stdout(`${JSON.stringify({ tags: rows })}\n`)
      yield* Output.result({ tags: rows }, text)
    })
  ).pipe(inContext("sync status"))).pipe(
    Command.withDescription("Show what sync last did with each tag: digests, state, last run, last error.")
  )

const summaryLines = (summary: Summary): ReadonlyArray<string> => [
  ...summary.mappings.map((m) =>
    `${m.mapping}: ${m.repositories} repositories, ${m.tally.checked} tags checked, ${m.tally.copied} copied, ` +
    `${m.tally.unchanged} up to date, ${m.tally.failed} failed`
  ),
  ...summary.failures.map((f) => `failed: ${f.source}: ${f.message}`),
  `${summary.total.copied} copied, ${summary.total.unchanged} up to date, ${summary.total.failed} failed in ` +
  `${Duration.format(summary.duration)} (${Output.bytes(summary.total.bytes)} sent)`
]

export const sync = Command.make("sync", {
  config: Args.file({ name: "CONFIG", exists: "yes" }).pipe(
    Args.withDescription("The sync config (YAML or JSON)."),
    Args.optional
  ),
  state,
  cluster,
  runnerAddress: Options.text("runner-address").pipe(
    Options.withPseudoName("HOST:PORT"),
    Options.optional,
    Options.withDescription("Where this runner listens for its peers (with --cluster; default 127.0.0.1:34431).")
  ),
  watch: Options.text("watch").pipe(
    Options.withPseudoName("INTERVAL"),
    Options.optional,
    Options.withDescription("Run a pass every INTERVAL (30s, 5m, 1h) until stopped.")
  )
}, (options) =>
  withSyncLibrary((lib) =>
    Effect.gen(function*() {
      if (Option.isNone(options.config)) {
        return yield* new UsageError({ message: "sync needs a CONFIG file (or: effect-oci sync status)" })
      }
      const config = yield* lib.Sync.loadConfig(options.config.value).pipe(Effect.provide(lib.NodeContext.layer))
      const interval = Option.isNone(options.watch) ? Option.none() : parseInterval(options.watch.value)
      if (Option.isSome(options.watch) && Option.isNone(interval)) {
        return yield* new UsageError({ message: `--watch ${options.watch.value}: not an interval (30s, 5m, 1h)` })
      }
      if (Option.isSome(options.runnerAddress) && Option.isNone(options.cluster)) {
        return yield* new UsageError({ message: "--runner-address goes with --cluster" })
      }
      const address = Option.isNone(options.runnerAddress)
        ? Option.some({ host: "127.0.0.1", port: 34431 })
        : parseAddress(options.runnerAddress.value)
      if (Option.isNone(address)) {
        return yield* new UsageError({ message: `--runner-address: expected HOST:PORT` })
      }
      const engine = Option.match(options.cluster, {
        onNone: () => lib.Sync.layerSingle({ stateFile: options.state }),
        onSome: (url) => lib.Sync.layerCluster({ url: Redacted.make(url), runnerAddress: address.value })
      })
      // The registry limits: in this process alone, or shared with the runners through their database.
      const politeness = lib.Sync.politenessOf(config)
      const polite = Option.match(options.cluster, {
        onNone: () => lib.Sync.layerPolite(politeness),
        onSome: (url) =>
          lib.Sync.layerPoliteShared(politeness).pipe(Layer.provide(lib.Sync.layerPostgres(Redacted.make(url))))
      })
      const g = yield* globals
      const layer = engine.pipe(
        Layer.provideMerge(lib.Sync.layerCopier),
        Layer.provideMerge(lib.Stack.layer(g, undefined, polite)),
        Layer.provide(lib.NodeContext.layer)
      )
      const report = (summary: Summary) =>
        g.json
          ? Output.stdout(`${JSON.stringify({ ...summary, duration: Duration.toMillis(summary.duration) })}\n`)
          : Output.stdout(summaryLines(summary).map((l) => `${l}\n`).join(""))
      if (Option.isSome(interval)) {
        return yield* lib.Sync.watch(config, interval.value, report).pipe(Effect.provide(layer))
      }
      const summary = yield* lib.Sync.run(config).pipe(Effect.provide(layer))
      yield* report(summary)
      if (summary.total.failed > 0 || summary.failures.length > 0) {
        return yield* new SyncIncomplete({ failed: summary.total.failed + summary.failures.length })
      }
    })
  ).pipe(inContext(`sync ${Option.getOrElse(options.config, () => "")}`))).pipe(
    Command.withDescription("Mirror the mappings of a config file, copying only what changed."),
    Command.withSubcommands([status])
  )
