/**
 * The README's first quick-start command must keep working: run the demo as a user would.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { promisify } from "node:util"

describe("npm run demo", () => {
  it("pushes, lists and pulls back an image on the embedded registry", async () => {
    const { stdout } = await promisify(execFile)("npx", ["tsx", "scripts/demo.ts"], {
      timeout: 120_000,
      env: { ...process.env, DOCKER_CONFIG: "/nonexistent", REGISTRY_AUTH_FILE: "/nonexistent/auth.json" }
    })
    expect(stdout).toMatch(/started the embedded registry at http:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toMatch(/tags\s+latest, v1/)
    const pushed = /manifest (sha256:[0-9a-f]{12})…\s+\d+ B\s+tagged v1/.exec(stdout)?.[1]
    expect(pushed).toBeDefined()
    expect(stdout).toContain(`done: ${pushed}`)
    expect(stdout).toContain("round-tripped intact")
  }, 150_000)
})
