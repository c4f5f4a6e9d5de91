import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
// node with tsx's loader, not the tsx wrapper: signals then reach the script itself, not a relay
const node = (args: ReadonlyArray<string>) => spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })

/** Starts the standalone registry and resolves with its URL once it has printed it. */
const start = (args: ReadonlyArray<string>): Promise<{ readonly child: ChildProcess; readonly url: string }> =>
  new Promise((resolve, reject) => {
    const child = node(["scripts/registry.ts", ...args])
    let out = ""
    let err = ""
    child.stdout!.on("data", (data) => {
      out += data
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve({ child, url: m[1]! })
    })
    child.stderr!.on("data", (data) => (err += data))
    child.on("exit", (code) => reject(new Error(`exited with ${code}: ${err}`)))
  })

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.on("exit", (code) => resolve(code))
  })

describe("scripts/registry.ts", () => {
  it("serves with basic auth, without referrers, and stops on SIGTERM", async () => {
    const { child, url } = await start(["--port", "0", "--auth", "basic", "--user", "ci:secret", "--no-referrers"])
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await fetch(`${url}/v2/`)).status).toBe(401)
      const authorization = `Basic ${Buffer.from("ci:secret").toString("base64")}`
      expect((await fetch(`${url}/v2/`, { headers: { authorization } })).status).toBe(200)
      const referrers = await fetch(`${url}/v2/a/referrers/sha256:${"0".repeat(64)}`, { headers: { authorization } })
      expect(referrers.status).toBe(404)
      expect(await referrers.text()).toBe("404 page not found\n")
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited(child)).toBe(0)
  })

  it("refuses bad arguments with exit code 2", async () => {
    const child = node(["scripts/registry.ts", "--auth", "token"])
    expect(await exited(child)).toBe(2)
  })
})
