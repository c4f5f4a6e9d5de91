/**
 * Many-blob copies registry → registry: an image of 50 layers of 1 MiB copied with the command
 * line (`effect-oci cp`, built as `npm run build` builds it: skopeo's peer), with a program on
 * `effect-oci/Copy` (`bench/copy.ts`, our code bundled, its packages imported from node_modules as
 * a user's program would), with `skopeo copy --preserve-digests docker://… docker://…`, and with
 * the floor of a Node client (`bench/copyFloor.mjs`: plain `node:http`, no Effect, no retries),
 * one process per run, side by side in one run:
 *
 * - **same registry**: to a new repository of the registry the image is in (where mounts apply);
 * - **second registry**: to a new repository of another registry (every blob is sent).
 *
 *   npx tsx bench/copyLayers.ts [--layers 50] [--layer-kib 1024] [--runs 5]
 *
 * Both registries are Debian's docker-registry (distribution 2.8), plain http on 127.0.0.1, started
 * and stopped by PID through the integration test support. Every run copies to a fresh repository
 * and skopeo runs with a fresh blob-info cache each time (so neither client knows anything from a
 * previous run). Runs rotate which client goes first. Prints a table of medians and the
 * ratios to skopeo, and writes it to bench/results/copy-layers.md.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { buildCli } from "../scripts/build-cli.js"
import * as Digest from "../src/Digest.js"
import * as MediaType from "../src/MediaType.js"
import * as OciLayout from "../src/OciLayout.js"
import { run, tempDir } from "../test/integration/support/processes.js"
import { launch, type Registry } from "../test/integration/support/registry.js"
import * as Skopeo from "../test/integration/support/skopeo.js"
import { integer } from "./args.js"
import * as Image from "./image.js"
import { bundled, gnuTime, measure, type Sample, spread } from "./measure.js"

const benchDir = Path.dirname(fileURLToPath(import.meta.url))
const layers = integer("layers", 50)
const layerKib = integer("layer-kib", 1024)
const runs = integer("runs", 5)
const log = (line: string) => process.stderr.write(`${line}\n`)

/** An image of `layers` layers of random bytes, written with OciLayout; returns its manifest digest. */
const buildImage = (dir: string, tag: string) =>
  Effect.gen(function*() {
    const layout = yield* OciLayout.open(dir, { create: true })
    const descriptors = []
    for (let i = 0; i < layers; i++) {
      const bytes = new Uint8Array(Crypto.randomBytes(layerKib * 1024))
      const digest = Digest.compute(bytes)
      yield* layout.writeBlob(bytes, { digest, size: bytes.byteLength })
      descriptors.push({ mediaType: MediaType.OciLayer, digest, size: bytes.byteLength })
    }
    return (yield* Image.writeManifest(layout, descriptors, tag)).manifest.digest
  }).pipe(Effect.provide(NodeContext.layer))

const bundle = bundled(".build-copy-layers", ["copy"])

/** The command line, built as `npm run build` builds it, into bench/.build-cli-layers (removed at the end). */
const cliBuild = Effect.acquireRelease(
  Effect.promise(() => buildCli(Path.join(benchDir, ".build-cli-layers"))),
  () => Effect.sync(() => Fs.rmSync(Path.join(benchDir, ".build-cli-layers"), { recursive: true, force: true }))
)

interface Case {
  readonly title: string
  readonly from: Registry
  readonly to: Registry
}

const program = Effect.scoped(Effect.gen(function*() {
  const loadAtStart = Os.loadavg().map((l) => l.toFixed(2)).join(", ")
  const built = yield* bundle
  const cliEntry = yield* cliBuild
  const shimDir = yield* tempDir("bench-copy-shim")
  const reportFile = Path.join(shimDir, "run.time")
  const [a, b] = yield* Effect.all([launch("plain"), launch("plain")], { concurrency: 2 })
  log(`docker-registry A pid ${a.process.pid} at ${a.url}, B pid ${b.process.pid} at ${b.url}`)

  const layoutDir = Path.join(yield* tempDir("bench-copy-layers"), "image")
  const tag = "bench"
  const manifestDigest = yield* buildImage(layoutDir, tag)
  yield* Effect.scoped(Effect.flatMap(Skopeo.make, (skopeo) =>
    skopeo.run([
      "copy",
      "--quiet",
      "--preserve-digests",
      ...Skopeo.flags(a, "dest"),
      `oci:${layoutDir}:${tag}`,
      Skopeo.dockerRef(a, "bench/many", tag)
    ])))
  log(`prepared ${layers} × ${layerKib} KiB image ${manifestDigest.slice(0, 19)}… in ${a.host}/bench/many`)

  let counter = 0
  const timed = (args: ReadonlyArray<string>) =>
    measure(reportFile, run(gnuTime, ["-v", "-o", reportFile, ...args], { timeout: "5 minutes" }))

  /** Checks the destination holds the image (by its digest), so a broken run cannot pass as fast. */
  const check = (registry: Registry, repository: string) =>
    Effect.gen(function*() {
      const head = yield* run("curl", [
        "-sfI",
        "-H",
        `Accept: ${MediaType.OciManifest}`,
        `${registry.url}/v2/${repository}/manifests/${tag}`
      ])
      if (!head.stdout.toLowerCase().includes(manifestDigest)) {
        return yield* Effect.dieMessage(`${registry.host}/${repository}:${tag} does not hold ${manifestDigest}`)
      }
    })

  const ours = (c: Case) =>
    Effect.gen(function*() {
      const repository = `bench/ours-${++counter}`
      const { result, sample } = yield* timed([
        process.execPath,
        built.copy,
        "--from",
        `docker://${c.from.host}/bench/many:${tag}`,
        "--to",
        `docker://${c.to.host}/${repository}:${tag}`
      ])
      yield* check(c.to, repository)
      return { sample, detail: result.stdout.trim() }
    })

  const cli = (c: Case) =>
    Effect.gen(function*() {
      const repository = `bench/cli-${++counter}`
      const { result, sample } = yield* timed([
        process.execPath,
        cliEntry,
        "--quiet",
        "cp",
        `docker://${c.from.host}/bench/many:${tag}`,
        `docker://${c.to.host}/${repository}:${tag}`
      ])
      yield* check(c.to, repository)
      return { sample, detail: result.stdout.trim().slice(0, 19) }
    })

  const floor = (c: Case) =>
    Effect.gen(function*() {
      const repository = `bench/floor-${++counter}`
      const { result, sample } = yield* timed([
        process.execPath,
        Path.join(benchDir, "copyFloor.mjs"),
        `${c.from.host}/bench/many:${tag}`,
        `${c.to.host}/${repository}:${tag}`
      ])
      yield* check(c.to, repository)
      return { sample, detail: result.stdout.trim() }
    })

  const skopeo = (c: Case) =>
    Effect.scoped(Effect.gen(function*() {
      const repository = `bench/skopeo-${++counter}`
      // a fresh skopeo (own blob-info cache) per run: it knows nothing from earlier runs
      const fresh = yield* Skopeo.make
      const args = [
        "copy",
        "--quiet",
        "--preserve-digests",
        ...Skopeo.flags(c.from, "src"),
        ...Skopeo.flags(c.to, "dest"),
        Skopeo.dockerRef(c.from, "bench/many", tag),
        Skopeo.dockerRef(c.to, repository, tag)
      ]
      // `fresh.run` runs `skopeo` from PATH with the isolated environment: wrap that in `time -v`
      const shim = Path.join(shimDir, "skopeo")
      Fs.writeFileSync(shim, `#!/bin/sh\nexec ${gnuTime} -v -o '${reportFile}' /usr/bin/skopeo "$@"\n`, { mode: 0o755 })
      const previous = process.env["PATH"]
      process.env["PATH"] = `${shimDir}${Path.delimiter}${previous ?? ""}`
      const measured = yield* measure(reportFile, fresh.run(args)).pipe(
        Effect.ensuring(Effect.sync(() => (process.env["PATH"] = previous)))
      )
      yield* check(c.to, repository)
      return { sample: measured.sample, detail: "" }
    }))

  const cases: ReadonlyArray<Case> = [
    { title: "same registry (another repository)", from: a, to: a },
    { title: "second registry", from: a, to: b }
  ]
  const contenders = { cli, ours, skopeo, floor }
  const names = ["cli", "ours", "skopeo", "floor"] as const
  const rows: Array<{ title: string } & Record<(typeof names)[number], ReadonlyArray<Sample>>> = []
  for (const c of cases) {
    const samples = { cli: [] as Array<Sample>, ours: [] as Array<Sample>, skopeo: [] as Array<Sample>, floor: [] as Array<Sample> }
    for (let i = 0; i < runs; i++) {
      const order = names.map((_, k) => names[(i + k) % names.length]!)
      for (const who of order) {
        const { sample, detail } = yield* contenders[who](c)
        samples[who].push(sample)
        log(`${c.title} run ${i + 1}/${runs}: ${who.padEnd(6)} ${(sample.wallMs / 1000).toFixed(2)} s, ${sample.cpuS.toFixed(2)} s CPU ${detail}`)
      }
    }
    rows.push({ title: c.title, ...samples })
  }

  const wall = (samples: ReadonlyArray<Sample>) => spread(samples.map((s) => s.wallMs / 1000))
  const cpu = (samples: ReadonlyArray<Sample>) => spread(samples.map((s) => s.cpuS)).median
  const text = [
    `# Registry → registry copy of ${layers} layers × ${layerKib} KiB`,
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${Os.cpus().length} × ${Os.cpus()[0]?.model.trim() ?? "CPU"}, ` +
    `Node ${process.version}, docker-registry (distribution 2.8), ${runs} runs each, alternating; ` +
    `load ${loadAtStart} at the start, ${Os.loadavg().map((l) => l.toFixed(2)).join(", ")} at the end.`,
    "",
    "| case | who | wall s, median (min–max) | / skopeo (target ≤ 0.5) | CPU s, median |",
    "|---|---|---:|---:|---:|",
    ...rows.flatMap((r) => {
      const s = wall(r.skopeo).median
      const who = [
        ["effect-oci cp (the CLI, bundled)", r.cli],
        ["program on effect-oci/Copy (packages unbundled)", r.ours],
        ["skopeo copy", r.skopeo],
        ["floor: plain node:http", r.floor]
      ] as const
      return who.map(([name, samples]) => {
        const w = wall(samples)
        return `| ${r.title} | ${name} | ${w.median.toFixed(2)} (${w.min.toFixed(2)}–${w.max.toFixed(2)}) | ` +
          `${(w.median / s).toFixed(2)}× | ${cpu(samples).toFixed(2)} |`
      })
    }),
    "",
    "The floor is `bench/copyFloor.mjs`: the same requests from plain `node:http` with no Effect, retries, resume",
    "or auth — what any Node client pays at least; between it and skopeo are the registries and this machine.",
    ""
  ].join("\n")
  Fs.mkdirSync(Path.join(benchDir, "results"), { recursive: true })
  Fs.writeFileSync(Path.join(benchDir, "results", "copy-layers.md"), text)
  process.stdout.write(`\n${text}`)
}))

NodeRuntime.runMain(program)
