/**
 * The pull rows of the benchmark alone, for before/after comparisons: our pull program
 * (`bench/pull.ts`: `BlobFile.download` of each blob) and `Copy` (registry → OCI layout), built from
 * this checkout and, with `--baseline DIR`, from another checkout of the project (e.g. main), the
 * two alternating; `--skopeo` adds skopeo's pull. Prints wall time, peak RSS and CPU per run and the
 * medians; writes no results file (that is `run.ts`'s).
 *
 *   npx tsx bench/pullRows.ts --sizes 256,1024,2048 --runs 3 [--baseline /work/main] [--skopeo] [--no-copy]
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { run, tempDir } from "../test/integration/support/processes.js"
import { launch } from "../test/integration/support/registry.js"
import * as Skopeo from "../test/integration/support/skopeo.js"
import { flag, integer, option } from "./args.js"
import * as Image from "./image.js"
import { bundle, gnuTime, measure, type Sample, skopeoShim, spread } from "./measure.js"

const benchDir = Path.dirname(fileURLToPath(import.meta.url))
const sizes = option("sizes", "256,1024").split(",").map(Number)
const runs = integer("runs", 3)
const baseline = option("baseline", "")
const withCopy = !flag("no-copy")
const withSkopeo = flag("skopeo")
const log = (line: string) => process.stderr.write(`${line}\n`)
const load = () => Os.loadavg().map((l) => l.toFixed(2)).join(", ")

/** bench/pull.ts and bench/copy.ts of a checkout, bundled into bench/.build-rows/<name> (packages from node_modules). */
const bundleOf = (checkout: string, name: string) =>
  Effect.promise(async () => {
    const outdir = Path.join(benchDir, ".build-rows", name)
    await bundle({ pull: Path.join(checkout, "bench", "pull.ts"), copy: Path.join(checkout, "bench", "copy.ts") }, outdir)
    return { pull: Path.join(outdir, "pull.mjs"), copy: Path.join(outdir, "copy.mjs") }
  })

const program = Effect.scoped(Effect.gen(function*() {
  log(`load average at start: ${load()}`)
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(Path.join(benchDir, ".build-rows"), { recursive: true, force: true })))
  const builds: Array<{ readonly name: string; readonly pull: string; readonly copy: string }> = [
    { name: "this", ...yield* bundleOf(Path.dirname(benchDir), "this") }
  ]
  if (baseline !== "") builds.unshift({ name: "baseline", ...yield* bundleOf(baseline, "baseline") })
  const shim = skopeoShim(yield* tempDir("bench-shim"), "/usr/bin/skopeo")
  process.env["PATH"] = `${shim.dir}${Path.delimiter}${process.env["PATH"] ?? ""}`
  const registry = yield* launch("plain")
  const work = yield* tempDir("bench-rows")
  const reportFile = Path.join(shim.dir, "ours.time")
  let counter = 0
  for (const size of sizes) {
    const dir = Path.join(work, `layout-${size}`)
    const image = yield* Image.build(dir, size, "bench")
    const repository = `bench/pull-${size}`
    yield* Effect.scoped(Effect.flatMap(Skopeo.make, (skopeo) =>
      skopeo.run(["copy", "--quiet", "--preserve-digests", ...Skopeo.flags(registry, "dest"), `oci:${dir}:bench`, Skopeo.dockerRef(registry, repository, "bench")])))
    Fs.rmSync(dir, { recursive: true, force: true })
    const ref = `${registry.host}/${repository}:bench`
    const rows: Array<{ readonly label: string; readonly once: Effect.Effect<Sample, unknown> }> = []
    const ours = (program: string, args: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const { result, sample } = yield* measure(reportFile, run(gnuTime, ["-v", "-o", reportFile, process.execPath, program, ...args], { timeout: "10 minutes" }))
        const json = JSON.parse(result.stdout) as Record<string, unknown>
        if (json["manifestDigest"] !== image.manifestDigest) return yield* Effect.dieMessage(`wrong manifest ${String(json["manifestDigest"])}`)
        return sample
      })
    for (const build of builds) {
      rows.push({
        label: `${build.name} pull`,
        once: Effect.gen(function*() {
          const out = Path.join(work, `out-${++counter}`)
          const sample = yield* ours(build.pull, ["--ref", ref, "--out", out, "--fsync"])
          const file = Path.join(out, "blobs", "sha256", Fs.readdirSync(Path.join(out, "blobs", "sha256")).sort((a, b) => Fs.statSync(Path.join(out, "blobs", "sha256", b)).size - Fs.statSync(Path.join(out, "blobs", "sha256", a)).size)[0]!)
          if (Fs.statSync(file).size !== image.layerBytes) return yield* Effect.dieMessage("layer size differs")
          Fs.rmSync(out, { recursive: true, force: true })
          return sample
        })
      })
      if (withCopy) {
        rows.push({
          label: `${build.name} Copy`,
          once: Effect.gen(function*() {
            const out = Path.join(work, `out-${++counter}`)
            const sample = yield* ours(build.copy, ["--from", `docker://${ref}`, "--to", `oci:${out}:bench`])
            Fs.rmSync(out, { recursive: true, force: true })
            return sample
          })
        })
      }
    }
    if (withSkopeo) {
      rows.push({
        label: "skopeo",
        once: Effect.scoped(Effect.gen(function*() {
          const skopeo = yield* Skopeo.make
          const out = Path.join(work, `out-${++counter}`)
          const { sample } = yield* measure(shim.reportFile, Skopeo.pull(skopeo, registry, repository, "bench", out, "bench"))
          Fs.rmSync(out, { recursive: true, force: true })
          return sample
        }))
      })
    }
    const samples = rows.map(() => [] as Array<Sample>)
    for (let i = 0; i < runs; i++) {
      const order = rows.map((_, k) => k)
      if (i % 2 === 1) order.reverse()
      for (const k of order) {
        const sample = yield* rows[k]!.once
        samples[k]!.push(sample)
        log(`${size} MiB ${rows[k]!.label.padEnd(16)} ${(sample.wallMs / 1000).toFixed(2)} s  ${(sample.maxRssKiB / 1024).toFixed(0)} MiB  ${sample.cpuS.toFixed(2)} s CPU  (load ${load()})`)
      }
    }
    for (const [k, row] of rows.entries()) {
      const wall = spread(samples[k]!.map((s) => s.wallMs / 1000))
      const rss = spread(samples[k]!.map((s) => s.maxRssKiB / 1024))
      const cpu = spread(samples[k]!.map((s) => s.cpuS))
      process.stdout.write(
        `| ${size} MiB | ${row.label} | ${wall.median.toFixed(2)} s (${wall.min.toFixed(2)}–${wall.max.toFixed(2)}) | ` +
          `${rss.median.toFixed(0)} MiB (${rss.min.toFixed(0)}–${rss.max.toFixed(0)}) | ${cpu.median.toFixed(2)} s |\n`
      )
    }
    yield* run("rm", ["-rf", Path.join(registry.storage, "docker")]).pipe(Effect.ignore)
  }
  log(`load average at end: ${load()}`)
}))

NodeRuntime.runMain(program)
