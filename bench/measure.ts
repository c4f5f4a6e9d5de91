/**
 * Measuring one process: wall time (taken here, around the whole run), and peak RSS and CPU time
 * from GNU time's `-v` report (Debian package `time`, `/usr/bin/time`). Plus the few statistics the
 * report needs.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as esbuild from "esbuild"

/** The GNU time binary (not the shell keyword). */
export const gnuTime = "/usr/bin/time"

/** One measured process. */
export interface Sample {
  readonly wallMs: number
  /** Peak resident set size (`Maximum resident set size`), in KiB. */
  readonly maxRssKiB: number
  /** User + system CPU time, in seconds. */
  readonly cpuS: number
}

/** The fields of a `time -v` report we use; fails on a report that lacks them. */
export const parseTimeReport = (text: string): Omit<Sample, "wallMs"> => {
  const field = (label: string) => {
    const line = text.split("\n").find((l) => l.trim().startsWith(`${label}:`))
    const value = line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(":") + 1).trim())
    if (!Number.isFinite(value)) throw new Error(`no "${label}" in the time report:\n${text}`)
    return value
  }
  return {
    maxRssKiB: field("Maximum resident set size (kbytes)"),
    cpuS: field("User time (seconds)") + field("System time (seconds)")
  }
}

/**
 * Runs `effect` (which starts one process that writes its `time -v` report to `reportFile`) and
 * returns its result with the measurement. The report file is removed first, so a stale one
 * cannot be read.
 */
export const measure = <A, E, R>(reportFile: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    Fs.rmSync(reportFile, { force: true })
    const started = process.hrtime.bigint()
    const result = yield* effect
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6
    const report = yield* Effect.try(() => parseTimeReport(Fs.readFileSync(reportFile, "utf8")))
    return { result, sample: { wallMs, ...report } satisfies Sample }
  })

/**
 * A directory holding a `skopeo` that runs the real one under `time -v`, writing the report to
 * `<dir>/skopeo.time`. Put first on `PATH`, it makes the integration support's skopeo wrapper
 * (isolated home, flags) measurable without changing it.
 */
export const skopeoShim = (dir: string, realSkopeo: string): { readonly dir: string; readonly reportFile: string } => {
  const reportFile = Path.join(dir, "skopeo.time")
  const script = Path.join(dir, "skopeo")
  Fs.writeFileSync(script, `#!/bin/sh\nexec ${gnuTime} -v -o '${reportFile}' '${realSkopeo}' "$@"\n`, { mode: 0o755 })
  return { dir, reportFile }
}

/** Median, minimum and maximum. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

/** The spread of some numbers (the median of an even count is the mean of the middle two). */
export const spread = (values: ReadonlyArray<number>): Spread => {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! }
}

/**
 * Bench programs (`bench/<name>.ts`) bundled into `bench/<dir>` (our code inlined, packages left to
 * node_modules), as `<name>.mjs` paths by name; the directory goes when the scope closes.
 */
export const bundled = <const Name extends string>(dir: string, names: ReadonlyArray<Name>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const benchDir = Path.dirname(new URL(import.meta.url).pathname)
      const outdir = Path.join(benchDir, dir)
      await bundle(Object.fromEntries(names.map((name) => [name, Path.join(benchDir, `${name}.ts`)])), outdir)
      const paths = Object.fromEntries(names.map((name) => [name, Path.join(outdir, `${name}.mjs`)])) as Record<Name, string>
      return { outdir, ...paths }
    }),
    ({ outdir }) => Effect.sync(() => Fs.rmSync(outdir, { recursive: true, force: true }))
  )

/**
 * Bundles `entryPoints` (name → TypeScript file) into `outdir` as `<name>.mjs`: our code inlined,
 * packages left to the `node_modules` found from `outdir`.
 */
export const bundle = (entryPoints: Record<string, string>, outdir: string) =>
  esbuild.build({
    entryPoints,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error"
  })
