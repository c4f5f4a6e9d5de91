/**
 * The integration support itself: the missing-binary policy, and that a registry started by a test
 * process does not outlive it however that process ends.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { decide, findBinary, integrationSuite, packageOf } from "./support/binaries.js"

describe("missing programs", () => {
  it("a missing program is a failure naming it and its package, never a skip", () => {
    expect(decide(["skopeo", "htpasswd"])).toEqual({
      _tag: "Fail",
      message:
        "skopeo not installed (Debian package skopeo), htpasswd not installed (Debian package apache2-utils): install it, or run the tests through .ci/run"
    })
  })

  it("nothing missing: the suite runs", () => {
    expect(decide([])).toEqual({ _tag: "Run" })
  })

  it("CI installs every program a suite may require: its Debian package is in .ci/apt-packages", () => {
    const listed = Fs.readFileSync(Path.join(import.meta.dirname, "../../.ci/apt-packages"), "utf8")
      .split("\n")
      .map((line) => line.replace(/#.*/, "").trim())
      .filter((line) => line !== "")
    const missing = Object.entries(packageOf).filter(([, pkg]) => !listed.includes(pkg))
    expect(missing).toEqual([])
  })

  it("finds executables on PATH only", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-it-path-"))
    try {
      Fs.writeFileSync(Path.join(dir, "runnable"), "#!/bin/sh\n", { mode: 0o755 })
      Fs.writeFileSync(Path.join(dir, "not-executable"), "", { mode: 0o644 })
      Fs.mkdirSync(Path.join(dir, "a-directory"))
      const path = ["/nonexistent", dir].join(Path.delimiter)
      expect(findBinary("runnable", path)).toBe(Path.join(dir, "runnable"))
      expect(findBinary("not-executable", path)).toBeUndefined()
      expect(findBinary("a-directory", path)).toBeUndefined()
      expect(findBinary("runnable", "")).toBeUndefined()
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** Whether a process is running (a zombie waiting for its parent to reap it is not). */
const isRunning = (pid: number): boolean => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

/** Runs the orphan-check program; resolves with the registry's PID and how the program ended. */
const orphanCheck = (how: "exit" | "wait") =>
  new Promise<{ readonly pid: number; readonly code: number | null; readonly signal: string | null }>((resolve, reject) => {
    const script = Path.join(import.meta.dirname, "support", "orphanCheck.ts")
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", script, how], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let pid: number | undefined
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s
      const match = /PID (\d+)/.exec(out)
      if (match !== null && pid === undefined) {
        pid = Number(match[1])
        // In "exit" mode the child is already tearing the registry down as this arrives; the
        // launcher only returns once the registry answers, so it was running.
        if (how === "wait") {
          expect(isRunning(pid)).toBe(true)
          child.kill("SIGTERM")
        }
      }
    })
    let err = ""
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s))
    child.once("error", reject)
    child.once("exit", (code, signal) =>
      pid === undefined
        ? reject(new Error(`no registry PID printed (exit ${code}): ${err}`))
        : resolve({ pid, code, signal }))
  })

integrationSuite("no registry outlives its test process", ["docker-registry"], () => {
  it("when the process exits without closing the scope", async () => {
    const { code, pid } = await orphanCheck("exit")
    expect(code).toBe(3)
    expect(isRunning(pid)).toBe(false)
  }, 60_000)

  it("when the process is terminated by SIGTERM", async () => {
    const { code, pid } = await orphanCheck("wait")
    expect(code).toBe(128 + Os.constants.signals.SIGTERM)
    expect(isRunning(pid)).toBe(false)
  }, 60_000)
})
