/**
 * The benchmark: our client against skopeo (and curl, the limit), side by side in one run, on
 * Debian's docker-registry (plain http on 127.0.0.1, started and stopped by PID through the
 * integration test support).
 *
 *   npx tsx bench/run.ts [--quick] [--sizes 256,1024] [--rss-mib 2048] [--runs 3] [--strategies default,streamed]
 *
 * - start-up: our pull program loading its modules and building its layer, no request; beside it
 *   the floor, `bench/startupFloor.mjs` (the Effect and @effect/platform imports alone);
 * - pull: `bench/pull.ts` (manifest, then `BlobFile.download` of each blob) vs
 *   `skopeo copy --preserve-digests docker://… oci:DIR` vs `curl | tee | sha256sum` of each blob;
 * - push: `bench/push.ts` (`BlobFile.upload` of each blob, `putManifest`) vs
 *   `skopeo copy --preserve-digests oci:DIR docker://…` vs `curl -T` of each blob, each run to a
 *   fresh repository;
 * - at `--rss-mib` (default 2048; 0 skips it) one run of our pull and push, for peak RSS by size.
 *
 * Each run is its own process under `/usr/bin/time -v` (our programs bundled with esbuild first,
 * so no TypeScript loader is measured). Runs alternate between contenders. The report (with the
 * targets of issue 12, met or not) is printed and written to bench/results/latest.md.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { buildCli } from "../scripts/build-cli.js"
import * as OciLayout from "../src/OciLayout.js"
import { run, tempDir } from "../test/integration/support/processes.js"
import { launch, type Registry } from "../test/integration/support/registry.js"
import * as Skopeo from "../test/integration/support/skopeo.js"
import { flag, integer, option } from "./args.js"
import * as Image from "./image.js"
import { bundled, gnuTime, measure, type Sample, skopeoShim } from "./measure.js"
import * as Report from "./report.js"

const benchDir = Path.dirname(fileURLToPath(import.meta.url))
const quick = flag("quick")
const runs = integer("runs", 3)
const sizes = [...new Set(option("sizes", quick ? "64,256" : "256,1024").split(",").map(Number))].sort((a, b) => a - b)
const rssSize = Number(option("rss-mib", quick ? "0" : "2048"))
const strategies = option("strategies", "default").split(",").filter((s) => s !== "")
const childTimeout = "10 minutes"
/** The size at which `effect-oci/Copy` is measured too (registry → layout, layout → registry). */
const copySize = integer("copy-mib", 256)
const knownStrategies = ["default", "auto", "chunked", "streamed", "monolithic"]
for (const strategy of strategies) {
  if (!knownStrategies.includes(strategy)) {
    process.stderr.write(`--strategies: ${strategy} is not one of ${knownStrategies.join(", ")}\n`)
    process.exit(2)
  }
}
if (sizes.some((size) => !Number.isInteger(size) || size <= 0) || !Number.isInteger(rssSize) || rssSize < 0) {
  process.stderr.write("--sizes and --rss-mib take whole MiB\n")
  process.exit(2)
}

const log = (line: string) => process.stderr.write(`${line}\n`)

/** Our child programs, bundled into bench/.build. */
const bundles = bundled(".build", ["pull", "push", "copy"])

/** The command line, built as `npm run build` builds it, into bench/.build-cli (removed at the end). */
const cliBundle = Effect.acquireRelease(
  Effect.promise(() => buildCli(Path.join(benchDir, ".build-cli"))),
  () => Effect.sync(() => Fs.rmSync(Path.join(benchDir, ".build-cli"), { recursive: true, force: true }))
)

interface Context {
  readonly registry: Registry
  readonly work: string
  readonly bundles: { readonly pull: string; readonly push: string; readonly copy: string }
  /** The command line, bundled as `npm run build` does (`effect-oci.js`). */
  readonly cli: string
  readonly reportFile: string
  readonly skopeoReport: string
}

/** A check on what a measured run did, so that a broken run cannot pass as a fast one. */
const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.dieMessage(`benchmark run went wrong: ${message}`)

let counter = 0
const fresh = (ctx: Context, name: string) => Path.join(ctx.work, `${name}-${++counter}`)

/** Runs one of our programs under `time -v`; returns its JSON line and the measurement. */
const ours = (ctx: Context, program: string, args: ReadonlyArray<string>) =>
  measure(
    ctx.reportFile,
    run(gnuTime, ["-v", "-o", ctx.reportFile, process.execPath, program, ...args], { timeout: childTimeout })
  ).pipe(Effect.map(({ result, sample }) => ({ sample, json: JSON.parse(result.stdout) as Record<string, unknown> })))

const pullRepository = (size: number) => `bench/pull-${size}`

/** The digest of the one image a layout holds (ours or skopeo's), read with the public OciLayout. */
const layoutTop = (dir: string) =>
  OciLayout.open(dir).pipe(
    Effect.flatMap((layout) => layout.resolve()),
    Effect.map((entry): string | undefined => entry.digest),
    Effect.orElseSucceed(() => undefined),
    Effect.provide(NodeContext.layer)
  )

const oursPull = (ctx: Context, image: Image.BenchImage, size: number) =>
  Effect.gen(function*() {
    const out = fresh(ctx, "ours-pull")
    const { json, sample } = yield* ours(ctx, ctx.bundles.pull, [
      "--ref",
      `${ctx.registry.host}/${pullRepository(size)}:${image.tag}`,
      "--out",
      out,
      "--fsync"
    ])
    yield* expect(json["manifestDigest"] === image.manifestDigest, `our pull got manifest ${String(json["manifestDigest"])}`)
    yield* expect(json["bytes"] === image.blobBytes, `our pull wrote ${String(json["bytes"])} of ${image.blobBytes} bytes`)
    Fs.rmSync(out, { recursive: true, force: true })
    return sample
  })

const skopeoPull = (ctx: Context, image: Image.BenchImage, size: number) =>
  Effect.scoped(Effect.gen(function*() {
    // a fresh isolated skopeo (own blob-info cache) per run, like a first pull on a new machine
    const skopeo = yield* Skopeo.make
    const out = fresh(ctx, "skopeo-pull")
    const { sample } = yield* measure(
      ctx.skopeoReport,
      Skopeo.pull(skopeo, ctx.registry, pullRepository(size), image.tag, out, image.tag)
    )
    const pulled = yield* layoutTop(out)
    yield* expect(pulled === image.manifestDigest, `skopeo pulled manifest ${String(pulled)}`)
    Fs.rmSync(out, { recursive: true, force: true })
    return sample
  }))

const oursPush = (ctx: Context, image: Image.BenchImage, strategy: string) =>
  Effect.gen(function*() {
    // a new repository every run: the registry must not already have the blobs there
    const ref = `${ctx.registry.host}/bench/push-ours-${++counter}:${image.tag}`
    const { json, sample } = yield* ours(ctx, ctx.bundles.push, ["--layout", image.dir, "--ref", ref, "--strategy", strategy])
    yield* expect(json["manifestDigest"] === image.manifestDigest, `our push returned ${String(json["manifestDigest"])}`)
    yield* expect(json["bytes"] === image.blobBytes, `our push sent ${String(json["bytes"])} of ${image.blobBytes} bytes`)
    return sample
  })

/**
 * `skopeo copy --preserve-digests oci:DIR:TAG docker://…`. Without the flag skopeo gzips an
 * uncompressed layer on its way to a registry: the pushed image would differ from the layout, and
 * skopeo's push would be timed compressing 256 MiB while ours just sends it.
 */
const skopeoCopyToRegistry = (skopeo: Skopeo.Skopeo, ctx: Context, image: Image.BenchImage, repository: string) =>
  skopeo.run([
    "copy",
    "--quiet",
    "--preserve-digests",
    ...Skopeo.flags(ctx.registry, "dest"),
    `oci:${image.dir}:${image.tag}`,
    Skopeo.dockerRef(ctx.registry, repository, image.tag)
  ])

const skopeoPush = (ctx: Context, image: Image.BenchImage) =>
  Effect.scoped(Effect.gen(function*() {
    // a fresh skopeo too: with a shared blob-info cache it would mount the blobs it pushed before
    const skopeo = yield* Skopeo.make
    const { sample } = yield* measure(
      ctx.skopeoReport,
      skopeoCopyToRegistry(skopeo, ctx, image, `bench/push-skopeo-${++counter}`)
    )
    return sample
  }))

/** The image copied with `effect-oci/Copy` from the registry into a new OCI layout. */
const copyPull = (ctx: Context, image: Image.BenchImage, size: number) =>
  Effect.gen(function*() {
    const out = fresh(ctx, "copy-pull")
    const from = `docker://${ctx.registry.host}/${pullRepository(size)}:${image.tag}`
    const { json, sample } = yield* ours(ctx, ctx.bundles.copy, ["--from", from, "--to", `oci:${out}:${image.tag}`])
    yield* expect(json["manifestDigest"] === image.manifestDigest, `Copy pulled manifest ${String(json["manifestDigest"])}`)
    const pulled = yield* layoutTop(out)
    yield* expect(pulled === image.manifestDigest, `Copy's layout lists ${String(pulled)}`)
    Fs.rmSync(out, { recursive: true, force: true })
    return sample
  })

/** The image pulled into a layout by the bundled command line, `effect-oci pull REF DIR:TAG`. */
const cliPull = (ctx: Context, image: Image.BenchImage, size: number) =>
  Effect.gen(function*() {
    const out = fresh(ctx, "cli-pull")
    const ref = `${ctx.registry.host}/${pullRepository(size)}:${image.tag}`
    const { sample } = yield* measure(
      ctx.reportFile,
      run(gnuTime, ["-v", "-o", ctx.reportFile, process.execPath, ctx.cli, "--plain-http", "-q", "pull", ref, `${out}:${image.tag}`], {
        timeout: childTimeout
      })
    )
    const pulled = yield* layoutTop(out)
    yield* expect(pulled === image.manifestDigest, `the CLI's layout lists ${String(pulled)}`)
    Fs.rmSync(out, { recursive: true, force: true })
    return sample
  })

/** The image pushed from its layout by the bundled command line, `effect-oci push DIR:TAG REF`. */
const cliPush = (ctx: Context, image: Image.BenchImage) =>
  Effect.gen(function*() {
    const ref = `${ctx.registry.host}/bench/push-cli-${++counter}:${image.tag}`
    const { result, sample } = yield* measure(
      ctx.reportFile,
      run(gnuTime, ["-v", "-o", ctx.reportFile, process.execPath, ctx.cli, "--plain-http", "-q", "push", `${image.dir}:${image.tag}`, ref], {
        timeout: childTimeout
      })
    )
    yield* expect(result.stdout.trim() === image.manifestDigest, `the CLI pushed manifest ${result.stdout.trim()}`)
    return sample
  })

/** The image copied with `effect-oci/Copy` from its layout to a new repository. */
const copyPush = (ctx: Context, image: Image.BenchImage) =>
  Effect.gen(function*() {
    const to = `docker://${ctx.registry.host}/bench/push-copy-${++counter}:${image.tag}`
    const { json, sample } = yield* ours(ctx, ctx.bundles.copy, ["--from", `oci:${image.dir}:${image.tag}`, "--to", to])
    yield* expect(json["manifestDigest"] === image.manifestDigest, `Copy pushed manifest ${String(json["manifestDigest"])}`)
    return sample
  })

/** The blobs of a layout's image, `[digest, path]` of the config and each layer, and the manifest's path. */
const layoutFiles = (image: Image.BenchImage) =>
  Effect.gen(function*() {
    const layout = yield* OciLayout.open(image.dir)
    const top = yield* layout.resolve(image.tag)
    const manifest = (yield* layout.readManifest(top)).manifest
    if (!("config" in manifest) || !("layers" in manifest)) return yield* Effect.dieMessage("the bench image is not an image manifest")
    const blobs = yield* Effect.forEach(
      [manifest.config, ...manifest.layers],
      (d) => Effect.map(layout.blobPath(d.digest), (file) => [d.digest, file] as const)
    )
    return { blobs, manifest: yield* layout.blobPath(top.digest) }
  }).pipe(Effect.orDie, Effect.provide(NodeContext.layer))

/** Runs a shell script under `time -v` (the report covers the processes it waits for). */
const shell = (ctx: Context, script: string) =>
  measure(ctx.reportFile, run(gnuTime, ["-v", "-o", ctx.reportFile, "sh", "-ec", script], { timeout: childTimeout }))

/** The limit of a pull here: each blob with `curl | tee FILE | sha256sum`, the digest checked. */
const curlPull = (ctx: Context, image: Image.BenchImage, size: number) =>
  Effect.gen(function*() {
    const out = fresh(ctx, "curl-pull")
    Fs.mkdirSync(out, { recursive: true })
    const { blobs } = yield* layoutFiles(image)
    const script = blobs.map(([digest], i) =>
      `curl -sf ${ctx.registry.url}/v2/${pullRepository(size)}/blobs/${digest} | tee ${out}/${i} | sha256sum`
    ).join("\n")
    const { result, sample } = yield* shell(ctx, script)
    const sums = result.stdout.trim().split("\n").map((line) => `sha256:${line.split(" ")[0]}`)
    yield* expect(
      sums.join() === blobs.map(([d]) => d).join(),
      `curl pull hashed ${sums.join()}`
    )
    Fs.rmSync(out, { recursive: true, force: true })
    return sample
  })

/**
 * The limit of a push here: each blob in one `curl -T` PUT to a new upload session (what a
 * monolithic upload sends), then the manifest; the registry verifies the digests.
 */
const curlPush = (ctx: Context, image: Image.BenchImage) =>
  Effect.gen(function*() {
    const repository = `bench/push-curl-${++counter}`
    const base = `${ctx.registry.url}/v2/${repository}`
    const files = yield* layoutFiles(image)
    const blobs = files.blobs.map(([digest, file]) =>
      `loc=$(curl -sf -X POST -D - -o /dev/null ${base}/blobs/uploads/ | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')\n` +
      `curl -sf -T ${file} -H 'Content-Type: application/octet-stream' "$loc&digest=${digest}"`
    )
    const manifest = `curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' ` +
      `--data-binary @${files.manifest} ${base}/manifests/${image.tag}`
    const { sample } = yield* shell(ctx, [...blobs, manifest].join("\n"))
    const check = yield* run("curl", ["-sfI", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `${base}/manifests/${image.tag}`])
    yield* expect(check.stdout.toLowerCase().includes(image.manifestDigest), "curl push did not store the manifest")
    return sample
  })

/** One contender of a group: its series and how to run it once. */
interface Contender {
  readonly series: Omit<Report.Series, "samples">
  readonly once: Effect.Effect<Sample, unknown>
}

/** Runs the contenders of a group `runs` times, alternating which goes first. */
const group = (title: string, contenders: ReadonlyArray<Contender>, times = runs) =>
  Effect.gen(function*() {
    const samples = contenders.map(() => [] as Array<Sample>)
    for (let i = 0; i < times; i++) {
      const order = contenders.map((_, k) => k)
      if (i % 2 === 1) order.reverse()
      for (const k of order) {
        const sample = yield* contenders[k]!.once
        samples[k]!.push(sample)
        log(
          `${title} run ${i + 1}/${times}: ${contenders[k]!.series.client.padEnd(24)} ${(sample.wallMs / 1000).toFixed(2)} s, ` +
            `${(sample.maxRssKiB / 1024).toFixed(0)} MiB peak RSS, ${sample.cpuS.toFixed(2)} s CPU`
        )
      }
    }
    return contenders.map((c, k): Report.Series => ({ ...c.series, samples: samples[k]! }))
  })

const oursLabel = (strategy: string) => (strategy === "default" ? "effect-oci" : `effect-oci (${strategy})`)

/** Builds the layout for `size` MiB and puts it in the registry (with skopeo; not measured). */
const prepare = (ctx: Context, size: number) =>
  Effect.scoped(Effect.gen(function*() {
    const started = Date.now()
    const image = yield* Image.build(fresh(ctx, `layout-${size}`), size, "bench")
    const skopeo = yield* Skopeo.make
    yield* skopeoCopyToRegistry(skopeo, ctx, image, pullRepository(size))
    log(`prepared ${size} MiB image (${image.manifestDigest.slice(0, 19)}…) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return image
  }))

/** A program's path on PATH, from the shell's `command -v`. */
const which = (name: string): string | undefined => {
  const found = ChildProcess.spawnSync("sh", ["-c", 'command -v "$0"', name], { encoding: "utf8" }).stdout.trim()
  return found === "" ? undefined : found
}

const version = (command: string, args: ReadonlyArray<string>) =>
  run(command, args).pipe(
    Effect.map((o) => (o.stdout + o.stderr).trim().split("\n")[0] ?? command),
    Effect.orElseSucceed(() => command)
  )

/** The 1, 5 and 15 minute load averages. */
const loadAverage = () => Os.loadavg().map((l) => l.toFixed(2)).join(", ")

const program = Effect.scoped(Effect.gen(function*() {
  const started = Date.now()
  const loadAtStart = loadAverage()
  // (test/integration/support/binaries.ts has this check, but it imports vitest, which only loads under vitest)
  const missing = ["docker-registry", "skopeo"].filter((name) => which(name) === undefined)
  if (missing.length > 0) return yield* Effect.dieMessage(`missing ${missing.join(", ")} (Debian packages of the same names)`)
  if (!Fs.existsSync(gnuTime)) return yield* Effect.dieMessage(`${gnuTime} missing: apt-get install -y time`)
  const realSkopeo = which("skopeo")!

  const built = yield* bundles
  const shim = skopeoShim(yield* tempDir("bench-shim"), realSkopeo)
  // the support's skopeo wrapper runs `skopeo` from PATH: ours wraps the real one in `time -v`
  process.env["PATH"] = `${shim.dir}${Path.delimiter}${process.env["PATH"] ?? ""}`
  const registry = yield* launch("plain")
  log(`docker-registry pid ${registry.process.pid} at ${registry.url}`)
  const ctx: Context = {
    registry,
    work: yield* tempDir("bench"),
    bundles: built,
    cli: yield* cliBundle,
    reportFile: Path.join(shim.dir, "ours.time"),
    skopeoReport: shim.reportFile
  }

  const images = new Map<number, Image.BenchImage>()
  for (const size of sizes) images.set(size, yield* prepare(ctx, size))

  const series: Array<Report.Series> = []
  series.push(...yield* group("start-up", [{
    series: { op: "start-up", sizeMib: 0, client: "effect-oci", bytes: 0 },
    once: ours(ctx, built.pull, ["--noop"]).pipe(Effect.map(({ sample }) => sample))
  }, {
    series: { op: "start-up", sizeMib: 0, client: Report.startUpFloor, bytes: 0 },
    once: ours(ctx, Path.join(benchDir, "startupFloor.mjs"), []).pipe(Effect.map(({ sample }) => sample))
  }]))
  for (const size of sizes) {
    const image = images.get(size)!
    series.push(...yield* group(`pull ${size} MiB`, [
      { series: { op: "pull", sizeMib: size, client: "effect-oci", bytes: image.blobBytes }, once: oursPull(ctx, image, size) },
      ...(size === copySize
        ? [
          { series: { op: "pull", sizeMib: size, client: Report.copy, bytes: image.blobBytes }, once: copyPull(ctx, image, size) } as const,
          { series: { op: "pull", sizeMib: size, client: Report.cli, bytes: image.blobBytes }, once: cliPull(ctx, image, size) } as const
        ]
        : []),
      { series: { op: "pull", sizeMib: size, client: Report.peer, bytes: image.blobBytes }, once: skopeoPull(ctx, image, size) },
      { series: { op: "pull", sizeMib: size, client: Report.limit, bytes: image.blobBytes }, once: curlPull(ctx, image, size) }
    ]))
    series.push(...yield* group(`push ${size} MiB`, [
      ...strategies.map((strategy): Contender => ({
        series: { op: "push", sizeMib: size, client: oursLabel(strategy), bytes: image.blobBytes },
        once: oursPush(ctx, image, strategy)
      })),
      ...(size === copySize
        ? [
          { series: { op: "push", sizeMib: size, client: Report.copy, bytes: image.blobBytes }, once: copyPush(ctx, image) } as const,
          { series: { op: "push", sizeMib: size, client: Report.cli, bytes: image.blobBytes }, once: cliPush(ctx, image) } as const
        ]
        : []),
      { series: { op: "push", sizeMib: size, client: Report.peer, bytes: image.blobBytes }, once: skopeoPush(ctx, image) },
      { series: { op: "push", sizeMib: size, client: Report.pushLimit, bytes: image.blobBytes }, once: curlPush(ctx, image) }
    ]))
    // big layouts are not kept longer than their rows need them (disk)
    Fs.rmSync(image.dir, { recursive: true, force: true })
  }
  if (rssSize > 0 && !sizes.includes(rssSize)) {
    const image = yield* prepare(ctx, rssSize)
    series.push(...yield* group(`pull ${rssSize} MiB`, [
      { series: { op: "pull", sizeMib: rssSize, client: "effect-oci", bytes: image.blobBytes }, once: oursPull(ctx, image, rssSize) }
    ], 1))
    series.push(...yield* group(`push ${rssSize} MiB`, [
      { series: { op: "push", sizeMib: rssSize, client: "effect-oci", bytes: image.blobBytes }, once: oursPush(ctx, image, "default") }
    ], 1))
    Fs.rmSync(image.dir, { recursive: true, force: true })
  }

  const environment: Report.Environment = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    cpus: `${Os.cpus().length} × ${Os.cpus()[0]?.model.trim() ?? "unknown CPU"}`,
    node: process.version,
    skopeo: yield* version(realSkopeo, ["--version"]),
    registry: (yield* version("docker-registry", ["--version"])).replace("github.com/docker/distribution ", ""),
    runs,
    totalSeconds: (Date.now() - started) / 1000,
    load: `${loadAtStart} at the start, ${loadAverage()} at the end`
  }
  const text = Report.markdown(environment, series)
  Fs.mkdirSync(Path.join(benchDir, "results"), { recursive: true })
  Fs.writeFileSync(Path.join(benchDir, "results", "latest.md"), text)
  process.stdout.write(`\n${text}`)
  log(`written to bench/results/latest.md; stopping docker-registry pid ${registry.process.pid}`)
}))

NodeRuntime.runMain(program)
