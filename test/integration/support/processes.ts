/**
 * Child processes and temporary directories of the integration tests, with cleanup that runs both
 * in the normal scope release (afterAll) and when the test process ends any other way (a failed
 * hook, a timeout, a signal): no registry is ever left running and no temp dir left behind.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Children not yet stopped, by PID. */
const live = new Map<number, ChildProcess.ChildProcess>()
const liveDirs = new Set<string>()

const killNow = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

let handlersInstalled = false
/** Last-resort cleanup: synchronous, so it also runs from `process.on("exit")`. */
const installExitHandlers = () => {
  if (handlersInstalled) return
  handlersInstalled = true
  const cleanup = () => {
    const children = [...live.values()]
    for (const pid of live.keys()) killNow(pid)
    live.clear()
    for (const dir of liveDirs) Fs.rmSync(dir, { recursive: true, force: true })
    liveDirs.clear()
    return children
  }
  process.on("exit", () => void cleanup())
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      // wait (briefly) for the killed children, so that we reap them rather than leave zombies
      const exited = cleanup().map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) => child.once("exit", () => resolve()))
      )
      const code = 128 + (Os.constants.signals[signal] ?? 0)
      const timer = setTimeout(() => process.exit(code), 2000)
      void Promise.all(exited).then(() => {
        clearTimeout(timer)
        process.exit(code)
      })
    })
  }
}

/** A directory under the OS temp dir, removed when the scope closes (or the process exits). */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      installExitHandlers()
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `effect-oci-it-${prefix}-`))
      liveDirs.add(dir)
      return dir
    }),
    (dir) =>
      Effect.sync(() => {
        liveDirs.delete(dir)
        Fs.rmSync(dir, { recursive: true, force: true })
      })
  )

/** A command that exited with a non-zero status (or could not start). */
export class CommandFailed extends Error {
  constructor(readonly command: string, readonly code: number | null, readonly output: string) {
    super(`${command} failed (exit ${code ?? "signal"}):\n${output.slice(-4000)}`)
  }
}

/** What a finished command printed. */
export interface Output {
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a command to completion (killed after `timeout`); fails with {@link CommandFailed} on a
 * non-zero exit. The child is tracked like a server, so an interrupted test does not orphan it.
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Readonly<Record<string, string>> | undefined
    readonly cwd?: string | undefined
    readonly timeout?: Duration.DurationInput | undefined
  } = {}
): Effect.Effect<Output, CommandFailed> =>
  Effect.async<Output, CommandFailed>((resume) => {
    installExitHandlers()
    const child = ChildProcess.execFile(
      command,
      [...args],
      {
        env: { ...process.env, ...options.env },
        cwd: options.cwd,
        timeout: Duration.toMillis(options.timeout ?? Duration.seconds(60)),
        killSignal: "SIGKILL",
        maxBuffer: 32 * 1024 * 1024,
        encoding: "utf8"
      },
      (error, stdout, stderr) => {
        if (child.pid !== undefined) live.delete(child.pid)
        if (error === null) return resume(Effect.succeed({ stdout, stderr }))
        const code = typeof error.code === "number" ? error.code : null
        resume(Effect.fail(new CommandFailed([command, ...args].join(" "), code, `${stdout}\n${stderr}\n${error.message}`)))
      }
    )
    if (child.pid !== undefined) live.set(child.pid, child)
    return Effect.sync(() => {
      if (child.pid !== undefined) {
        killNow(child.pid)
        live.delete(child.pid)
      }
    })
  })

/** A long-running child process started by {@link daemon}. */
export interface Daemon {
  readonly pid: number
  /** Whether the process is still running. */
  readonly alive: () => boolean
  /** Everything it wrote to stdout and stderr so far (its log). */
  readonly log: () => string
}

const waitForExit = (child: ChildProcess.ChildProcess, timeout: Duration.DurationInput) =>
  Effect.async<boolean>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(true))
    const done = () => resume(Effect.succeed(true))
    child.once("exit", done)
    return Effect.sync(() => child.off("exit", done))
  }).pipe(Effect.timeoutTo({ duration: timeout, onSuccess: () => true, onTimeout: () => false }))

/**
 * Starts a server process, stopped by its PID when the scope closes: SIGTERM, then SIGKILL if it
 * has not exited after 5 s. Its output goes to an in-memory log for error messages.
 */
export const daemon = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Readonly<Record<string, string>> | undefined } = {}
): Effect.Effect<Daemon, CommandFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly child: ChildProcess.ChildProcess; readonly daemon: Daemon }, CommandFailed>((resume) => {
      installExitHandlers()
      const chunks: Array<string> = []
      const child = ChildProcess.spawn(command, [...args], {
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      child.stdout.setEncoding("utf8").on("data", (s: string) => chunks.push(s))
      child.stderr.setEncoding("utf8").on("data", (s: string) => chunks.push(s))
      child.once("error", (error) =>
        resume(Effect.fail(new CommandFailed([command, ...args].join(" "), null, String(error)))))
      child.once("spawn", () => {
        const pid = child.pid!
        live.set(pid, child)
        resume(Effect.succeed({
          child,
          daemon: {
            pid,
            alive: () => child.exitCode === null && child.signalCode === null,
            log: () => chunks.join("")
          }
        }))
      })
    }),
    ({ child, daemon }) =>
      Effect.gen(function*() {
        if (daemon.alive()) {
          process.kill(daemon.pid, "SIGTERM")
          const exited = yield* waitForExit(child, Duration.seconds(5))
          if (!exited) killNow(daemon.pid)
        }
        live.delete(daemon.pid)
      }).pipe(Effect.catchAllDefect(() => Effect.sync(() => killNow(daemon.pid))))
  ).pipe(Effect.map(({ daemon }) => daemon))

