/**
 * The live progress bars in a real pseudo-terminal (tmux): the screen is redrawn in place (the
 * cursor goes back up over the bars; the scrollback holds one copy of them), and the final screen
 * shows every blob done and the total complete. `login` with neither user nor password asks for both
 * there, the password without echo.
 */
import { expect, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as TestRegistry from "../../src/testing/index.js"
import { integrationSuite } from "../integration/support/binaries.js"
import { cli, cliPath, sandbox, seedImage } from "./support.js"

const short = (digest: string) => digest.slice("sha256:".length, "sha256:".length + 12)

/** A private tmux server (its own socket), killed when the scope closes. */
const tmux = (dir: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const socket = Path.join(dir, "tmux.sock")
      const run = (...args: ReadonlyArray<string>) =>
        ChildProcess.execFileSync("tmux", ["-S", socket, ...args], { encoding: "utf8" })
      return { run }
    }),
    ({ run }) => Effect.sync(() => {
      try {
        run("kill-server")
      } catch {
        // already gone
      }
    })
  )

integrationSuite("live progress in a terminal", ["tmux"], () => {
  // blob bodies pause half-way, so the copy lasts long enough for several redraws
  const faults: ReadonlyArray<TestRegistry.Fault> = [
    { method: "GET", path: /\/blobs\/sha256:/, action: TestRegistry.FaultAction.stallBody(64 * 1024, 400) }
  ]
  layer(TestRegistry.layer({ faults }), { excludeTestServices: true })((it) => {
    it.scoped("bars per blob and a total, redrawn in place; the final screen shows every blob done", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "tty/src", { tag: "v1", layers: [300_000, 200_000, 150_000] })
        const box = sandbox()
        const raw = Path.join(box.dir, "raw.log")
        const { run } = yield* tmux(box.dir)
        const env = Object.entries(box.env).flatMap(([k, v]) => ["-e", `${k}=${v}`])
        const command = [
          "sleep 1;",
          process.execPath,
          cliPath(),
          "pull",
          `${registry.host}/tty/src:v1`,
          Path.join(box.dir, "layout"),
          "; echo EXIT=$?; sleep 60"
        ].join(" ")
        run("new-session", "-d", "-s", "cli", "-x", "150", "-y", "40", ...env, command)
        run("pipe-pane", "-o", "-t", "cli", `cat >> ${raw}`)

        const screen = yield* Effect.sync(() => run("capture-pane", "-p", "-t", "cli")).pipe(
          Effect.filterOrFail((text) => text.includes("EXIT="), () => new Error("still running")),
          Effect.retry(Schedule.spaced(Duration.millis(200)).pipe(Schedule.upTo(Duration.seconds(60))))
        )
        expect(screen).toContain("EXIT=0")
        const lines = screen.split("\n")
        const blobs = [image.config, ...image.layers]
        for (const blob of blobs) {
          const shown = lines.filter((l) => l.includes(short(blob.digest)))
          expect(shown, short(blob.digest)).toHaveLength(1)
          expect(shown[0]).toMatch(/\[#+\] done /)
        }
        expect(lines.filter((l) => l.startsWith("total"))).toEqual([
          expect.stringMatching(new RegExp(`^total +\\[#+\\] ${blobs.length}/${blobs.length} blobs`))
        ])
        // in place: the whole history holds the bars once, and the output moved the cursor up to redraw
        const history = run("capture-pane", "-p", "-S", "-", "-t", "cli")
        expect(history.split("\n").filter((l) => l.startsWith("total"))).toHaveLength(1)
        const output = Fs.readFileSync(raw, "utf8")
        const redraws = output.match(new RegExp(`\\x1b\\[${blobs.length + 1}A`, "g")) ?? []
        expect(redraws.length).toBeGreaterThanOrEqual(2)
      }))
  })

  layer(TestRegistry.layer({ auth: { mode: "basic", users: { ann: "pw-secret-1" } } }), { excludeTestServices: true })(
    (it) => {
      it.scoped("login asks for the user name and the password (not echoed), checks and stores them", () =>
        Effect.gen(function*() {
          const registry = yield* TestRegistry.TestRegistry
          const box = sandbox()
          const { run } = yield* tmux(box.dir)
          const env = Object.entries(box.env).flatMap(([k, v]) => ["-e", `${k}=${v}`])
          const command = [process.execPath, cliPath(), "login", registry.host, "; echo EXIT=$?; sleep 60"].join(" ")
          run("new-session", "-d", "-s", "login", "-x", "150", "-y", "20", ...env, command)
          const screenWith = (text: string) =>
            Effect.sync(() => run("capture-pane", "-p", "-t", "login")).pipe(
              Effect.filterOrFail((screen) => screen.includes(text), () => new Error(`no ${text} yet`)),
              Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(Duration.seconds(60))))
            )
          yield* screenWith("Username")
          run("send-keys", "-t", "login", "ann", "Enter")
          yield* screenWith("Password for ann")
          run("send-keys", "-t", "login", "pw-secret-1", "Enter")
          const screen = yield* screenWith("EXIT=")
          expect(screen).toContain("EXIT=0")
          expect(screen).toContain(`Login Succeeded (ann at ${registry.host})`)
          expect(screen).not.toContain("pw-secret-1")
          // stored as docker login stores them: the next command reads without being asked
          const listed = yield* cli(["catalog", registry.host], { sandbox: box })
          expect(listed.code).toBe(0)
          // not a terminal: no prompt, a usage error naming what is missing
          const scripted = yield* cli(["login", registry.host, "-u", "ann"], { sandbox: box, input: "" })
          expect(scripted.code).toBe(2)
          expect(scripted.stderr).toContain("--password-stdin")
        }))
    }
  )
})
