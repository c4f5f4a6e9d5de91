/**
 * Start-up of the command line: `effect-oci --help` (and `node -e 0` beside it, the floor), each
 * run its own process, the bundle built as `npm run build` builds it. Prints the median and the
 * best wall time and CPU time (user + system) of each, with the load average, since a loaded
 * machine stretches wall time far more than CPU time. The target (issue 14): ≤ 0.3 s wall.
 *
 *   npx tsx bench/cli.ts [RUNS]
 */
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"
import { buildCli } from "../scripts/build-cli.js"

const runs = Number(process.argv[2] ?? 15)

const measure = (args: ReadonlyArray<string>) => {
  const wall: Array<number> = []
  const cpu: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const out = ChildProcess.spawnSync("/usr/bin/time", ["-f", "%e %U %S", process.execPath, ...args], {
      encoding: "utf8"
    })
    const [e, u, s] = out.stderr.trim().split("\n").at(-1)!.split(" ").map(Number)
    wall.push(e!)
    cpu.push(u! + s!)
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return { wall: median(wall), bestWall: Math.min(...wall), cpu: median(cpu), bestCpu: Math.min(...cpu) }
}

const entry = await buildCli()
const load = Os.loadavg().map((l) => l.toFixed(1)).join(" ")
const rows = [
  ["node -e 0", measure(["-e", "0"])],
  ["effect-oci --help", measure([entry, "--help"])],
  ["effect-oci version", measure([entry, "version"])]
] as const
process.stdout.write(`load average ${load}, ${Os.cpus().length} cores, ${runs} runs each\n`)
process.stdout.write(`| program | wall median | wall best | cpu median | cpu best |\n|---|---|---|---|---|\n`)
for (const [name, r] of rows) {
  process.stdout.write(`| ${name} | ${r.wall.toFixed(2)} s | ${r.bestWall.toFixed(2)} s | ${r.cpu.toFixed(2)} s | ${r.bestCpu.toFixed(2)} s |\n`)
}
