/** The benchmark report: markdown tables of the measured series, and ours/skopeo ratios. */
import { type Sample, type Spread, spread } from "./measure.js"

/** What was measured. */
export type Operation = "pull" | "push" | "start-up"

/** The peer every series of ours is compared with. */
export const peer = "skopeo"

/** The limit of a pull here: `curl | tee | sha256sum`, no client logic at all. */
export const limit = "curl + sha256sum (limit)"

/** The limit of a push here: one `curl -T` PUT per blob. */
export const pushLimit = "curl -T (limit)"

/** Ours: the default strategy, on the public API. */
export const ours = "effect-oci"

/** Ours: the image copy (`effect-oci/Copy`) to / from an OCI layout, as skopeo does. */
export const copy = "effect-oci (Copy)"

/** Ours: the command line, bundled (`effect-oci pull` / `push` with a layout), as users run it from a shell. */
export const cli = "effect-oci CLI (bundled)"

/** The floor of start-up: the Effect and @effect/platform imports alone (`bench/startupFloor.mjs`). */
export const startUpFloor = "Effect + platform imports (floor)"

const isLimit = (client: string) => client === limit || client === pushLimit

/** How a target names the way ours ran: the user program on the API, Copy, or the command line. */
const withWhat = (client: string) => (client === copy ? " with Copy" : client === cli ? " with the CLI" : "")

/** The runs of one client doing one operation at one size. */
export interface Series {
  readonly op: Operation
  /** MiB of layer data (0 for start-up). */
  readonly sizeMib: number
  /** `effect-oci`, `effect-oci (streamed)`, `skopeo`, … */
  readonly client: string
  /** Bytes moved per run (config + layer). */
  readonly bytes: number
  readonly samples: ReadonlyArray<Sample>
}

/** Context printed above the tables. */
export interface Environment {
  readonly date: string
  readonly cpus: string
  readonly node: string
  readonly skopeo: string
  readonly registry: string
  readonly runs: number
  readonly totalSeconds: number
  /** Load averages while it ran (other work on the machine disturbs timings). */
  readonly load: string
}

const mib = (kib: number) => kib / 1024
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "–")
const range = (s: Spread, digits: number) => `${fixed(s.median, digits)} (${fixed(s.min, digits)}–${fixed(s.max, digits)})`

const wall = (series: Series) => spread(series.samples.map((s) => s.wallMs / 1000))
const rate = (series: Series) => spread(series.samples.map((s) => series.bytes / 1e6 / (s.wallMs / 1000)))
const rss = (series: Series) => spread(series.samples.map((s) => mib(s.maxRssKiB)))
const cpu = (series: Series) => spread(series.samples.map((s) => s.cpuS))

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map((h, i) => (i === 0 || h === "client" || h === "op" ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

const sizeLabel = (s: Series) => (s.op === "start-up" ? "–" : `${s.sizeMib} MiB`)

/** Every series: wall time, throughput, peak RSS, CPU. */
export const resultsTable = (all: ReadonlyArray<Series>): string =>
  table(
    ["op", "size", "client", "wall s, median (min–max)", "MB/s, median (min–max)", "peak RSS MiB, median (min–max)", "CPU s, median"],
    all.map((s) => [
      s.op,
      sizeLabel(s),
      s.client,
      range(wall(s), 2),
      s.op === "start-up" ? "–" : range(rate(s), 0),
      range(rss(s), 0),
      fixed(cpu(s).median, 2)
    ])
  )

/** Ours / skopeo for every series of ours that has a skopeo series at the same op and size. */
export const ratioTable = (all: ReadonlyArray<Series>): string => {
  const startUp = all.find((s) => s.op === "start-up" && s.client === ours)
  const startUpS = startUp === undefined ? Number.NaN : wall(startUp).median
  const rows: Array<Array<string>> = []
  for (const ours of all) {
    if (ours.client === peer || ours.op === "start-up") continue
    const theirs = all.find((s) => s.client === peer && s.op === ours.op && s.sizeMib === ours.sizeMib)
    if (theirs === undefined) continue
    const ratio = (f: (s: Series) => Spread) => fixed(f(ours).median / f(theirs).median, 2)
    // what a long-running program would see: our median wall time less our median start-up
    const netRate = ours.bytes / 1e6 / (wall(ours).median - startUpS)
    rows.push([
      ours.op,
      sizeLabel(ours),
      ours.client,
      ratio(wall),
      ratio(rate),
      isLimit(ours.client) ? "–" : fixed(netRate / rate(theirs).median, 2),
      ratio(rss),
      ratio(cpu)
    ])
  }
  return table(
    ["op", "size", "client", "wall time ×", "MB/s ×", "MB/s × without our start-up", "peak RSS ×", "CPU ×"],
    rows
  )
}

const growth100 = (first: { size: number; rss: number }, last: { size: number; rss: number }) =>
  ((last.rss - first.rss) / (last.size - first.size)) * 100

/**
 * Peak RSS by size for each client and op; the last column is the growth from the smallest to
 * the largest size per 100 MiB of blob (0 when memory does not depend on blob size).
 */
export const memoryTable = (all: ReadonlyArray<Series>): string => {
  const sizes = [...new Set(all.filter((s) => s.op !== "start-up").map((s) => s.sizeMib))].sort((a, b) => a - b)
  const keys = [...new Set(all.filter((s) => s.op !== "start-up").map((s) => `${s.op}\u0000${s.client}`))]
  const rows = keys.map((key) => {
    const [op, client] = key.split("\u0000") as [Operation, string]
    const bySize = sizes.map((size) => all.find((s) => s.op === op && s.client === client && s.sizeMib === size))
    const medians = bySize.map((s) => (s === undefined ? Number.NaN : rss(s).median))
    const measured = sizes.flatMap((size, i) => (Number.isFinite(medians[i]!) ? [{ size, rss: medians[i]! }] : []))
    const first = measured[0]
    const last = measured[measured.length - 1]
    const growth = first !== undefined && last !== undefined && last.size > first.size
      ? fixed(Math.abs(growth100(first, last)) < 0.05 ? 0 : growth100(first, last), 1)
      : "–"
    return [op, client, ...medians.map((m) => fixed(m, 0)), growth]
  })
  return table(["op", "client", ...sizes.map((s) => `${s} MiB`), "MiB per +100 MiB blob"], rows)
}

/** One target of issue 12: what it asks, what was measured, whether it is met. */
interface Target {
  readonly target: string
  readonly measured: number
  readonly met: boolean
  readonly unit: "×" | "MiB" | "s"
}

/**
 * The targets of issue 12 against this run's medians: wall time against skopeo (pull and push),
 * a long-running program's pull throughput, peak RSS at every size, start-up time.
 */
export const targets = (all: ReadonlyArray<Series>): ReadonlyArray<Target> => {
  const find = (op: Operation, client: string, size: number) =>
    all.find((s) => s.op === op && s.client === client && s.sizeMib === size)
  const out: Array<Target> = []
  const wallRatio = (op: Operation, size: number, atMost: number) => {
    for (const client of [ours, copy, cli]) {
      const mine = find(op, client, size)
      const theirs = find(op, peer, size)
      if (mine === undefined || theirs === undefined) continue
      const measured = wall(mine).median / wall(theirs).median
      const what = `${op} ${size} MiB${withWhat(client)}`
      out.push({ target: `${what}: wall time ≤ ${atMost.toFixed(2)}× skopeo`, measured, met: measured <= atMost, unit: "×" })
    }
  }
  wallRatio("pull", 256, 1)
  wallRatio("pull", 1024, 0.85)
  wallRatio("push", 256, 1)
  wallRatio("push", 1024, 1)
  const startUp = all.find((s) => s.op === "start-up" && s.client === ours)
  const pulls = all.filter((s) => s.op === "pull" && s.client === ours && find("pull", peer, s.sizeMib) !== undefined)
  const largest = pulls.sort((a, b) => b.sizeMib - a.sizeMib)[0]
  if (startUp !== undefined && largest !== undefined) {
    const theirs = find("pull", peer, largest.sizeMib)!
    const measured = largest.bytes / 1e6 / (wall(largest).median - wall(startUp).median) / rate(theirs).median
    out.push({
      target: `pull ${largest.sizeMib} MiB, start-up excluded: throughput ≥ 1.25× skopeo`,
      measured,
      met: measured >= 1.25,
      unit: "×"
    })
  }
  for (const s of all.filter((s) => (s.client === ours || s.client === copy || s.client === cli) && s.op !== "start-up")) {
    const measured = rss(s).median
    out.push({ target: `${s.op} ${s.sizeMib} MiB${withWhat(s.client)}: peak RSS ≤ 120 MiB`, measured, met: measured <= 120, unit: "MiB" })
  }
  if (startUp !== undefined) {
    const measured = wall(startUp).median
    const floor = all.find((s) => s.op === "start-up" && s.client === startUpFloor)
    const of = floor === undefined ? "" : ` (the imports' floor: ${fixed(wall(floor).median, 2)} s)`
    out.push({ target: `start-up (imports + default layer) ≤ 0.30 s${of}`, measured, met: measured <= 0.3, unit: "s" })
  }
  return out
}

/** The targets as a table. */
export const targetsTable = (all: ReadonlyArray<Series>): string =>
  table(
    ["target", "measured (medians)", "met"],
    targets(all).map((t) => [
      t.target,
      t.unit === "×" ? `${fixed(t.measured, 2)}×` : t.unit === "s" ? `${fixed(t.measured, 2)} s` : `${fixed(t.measured, 0)} MiB`,
      t.met ? "yes" : "**no**"
    ])
  )

/** The whole report. */
export const markdown = (env: Environment, all: ReadonlyArray<Series>): string =>
  [
    "# effect-oci benchmark: pull and push vs skopeo",
    "",
    `${env.date} · ${env.cpus} · node ${env.node} · ${env.skopeo} · ${env.registry} · ${env.runs} runs per row · whole run ${fixed(env.totalSeconds, 0)} s`,
    "",
    `Load average (1, 5, 15 min): ${env.load}. Other work on the machine slows every contender; compare the`,
    "ratios of one run, not absolute numbers across runs.",
    "",
    "Every run is a separate process against Debian's docker-registry on 127.0.0.1 (plain http, filesystem storage),",
    "measured with `/usr/bin/time -v`. Wall time is the whole process, start-up included; MB/s = blob bytes",
    "(config + layer) / wall time, 1 MB = 10⁶ bytes. The layer is an uncompressed tar of random bytes.",
    `Ours pulls with \`BlobFile.download\` and pushes with \`BlobFile.upload\` (the default strategy) on the public API;`,
    `skopeo runs \`copy --preserve-digests\` to / from an OCI layout; "${limit}" and "${pushLimit}" are the`,
    "limits of this machine: the registry and the loopback with no client logic.",
    "",
    "## Targets (issue 12)",
    "",
    targetsTable(all),
    "",
    "## Results",
    "",
    resultsTable(all),
    "",
    "## Ours / skopeo (ratio of medians; wall time, RSS and CPU: lower is better, MB/s: higher is better)",
    "",
    ratioTable(all),
    "",
    "\"Without our start-up\" takes our median start-up time (loading modules, building the layer) off our median",
    "wall time, as a long-running program pays it once; skopeo's own start-up is tens of milliseconds.",
    "",
    "## Peak RSS (MiB, median) by blob size",
    "",
    memoryTable(all),
    ""
  ].join("\n")
