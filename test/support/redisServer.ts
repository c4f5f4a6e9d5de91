/**
 * A throw-away `redis-server` for integration tests: on 127.0.0.1 at a free port, without
 * persistence (`--save "" --appendonly no`), in a temporary directory; stopped by its PID when the
 * scope closes (also when a test fails), and by a last-resort exit hook if the test process dies.
 * Tests can stop, restart (same port), pause and resume it to simulate outages.
 */
import { afterAll, beforeAll, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"

/** `redis-server` could not be started. */
export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

/** Whether `redis-server` can be run here. */
export const installed = (): boolean => ChildProcess.spawnSync("redis-server", ["--version"]).status === 0

/**
 * Declares a suite that needs `redis-server`: run when it is installed; otherwise one failing test
 * that says so (`.ci/run` installs it), so no machine passes the suite without running it.
 */
export const describeWithRedis = (name: string, body: () => void): void => {
  if (installed()) return void describe(name, body)
  describe(name, () => {
    it("has redis-server", () => {
      throw new Error("redis-server is not installed (Debian package redis-server): install it, or run the tests through .ci/run")
    })
  })
}

/** A running (or deliberately stopped) `redis-server`. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** The PID of the current process, if it runs. */
  readonly pid: () => number | undefined
  /** Stops the server by PID (SIGTERM, SIGKILL after 5 s) and waits until it has exited. */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port (no data survives: there is no persistence). */
  readonly start: Effect.Effect<void, RedisServerError>
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. */
  readonly pause: Effect.Effect<void>
  /** Unfreezes it (SIGCONT). */
  readonly resume: Effect.Effect<void>
}

const live = new Set<number>()
let exitHookInstalled = false
const killNow = (pid: number) => {
  try {
    process.kill(pid, "SIGCONT")
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on("exit", () => live.forEach(killNow))
}

const freePort = Effect.async<number, RedisServerError>((resume) => {
  const server = Net.createServer()
  server.once("error", (error) => resume(Effect.fail(new RedisServerError({ message: String(error) }))))
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** One PING over a raw socket: succeeds once the server answers `+PONG`. */
const ping = (port: number) =>
  Effect.async<void, RedisServerError>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    let answer = ""
    const fail = (message: string) => {
      socket.destroy()
      resume(Effect.fail(new RedisServerError({ message })))
    }
    socket.setTimeout(500, () => fail("no answer"))
    socket.once("error", (error) => fail(String(error)))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.on("data", (data) => {
      answer += data.toString("utf8")
      if (answer.includes("\r\n")) {
        socket.destroy()
        if (answer.startsWith("+PONG")) resume(Effect.void)
        else fail(`unexpected answer ${JSON.stringify(answer)}`)
      }
    })
    return Effect.sync(() => socket.destroy())
  })

const waitForExit = (child: ChildProcess.ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const done = () => resume(Effect.void)
    child.once("exit", done)
    return Effect.sync(() => child.off("exit", done))
  })

/**
 * Starts `redis-server`; it is stopped by PID and its directory removed when the scope closes.
 */
export const make = (): Effect.Effect<RedisServer, RedisServerError, Scope.Scope> =>
  Effect.gen(function*() {
    installExitHook()
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-redis-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const port = yield* freePort
    let child: ChildProcess.ChildProcess | undefined
    let output = ""

    const stop = Effect.suspend(() => {
      const current = child
      child = undefined
      if (current?.pid === undefined) return Effect.void
      const pid = current.pid
      return Effect.sync(() => {
        // A paused process only acts on SIGTERM once it runs again.
        current.kill("SIGCONT")
        current.kill("SIGTERM")
      }).pipe(
        Effect.zipRight(waitForExit(current).pipe(
          Effect.timeoutTo({
            duration: "5 seconds",
            onSuccess: () => Effect.void,
            onTimeout: () => Effect.sync(() => killNow(pid))
          }),
          Effect.flatten
        )),
        Effect.ensuring(Effect.sync(() => live.delete(pid)))
      )
    })

    const start = Effect.gen(function*() {
      if (child !== undefined) return
      output = ""
      const spawned = ChildProcess.spawn("redis-server", [
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", dir,
        "--daemonize", "no"
      ], { stdio: ["ignore", "pipe", "pipe"] })
      child = spawned
      if (spawned.pid !== undefined) live.add(spawned.pid)
      spawned.stdout?.setEncoding("utf8").on("data", (s: string) => output += s)
      spawned.stderr?.setEncoding("utf8").on("data", (s: string) => output += s)
      spawned.once("error", (error) => output += String(error))
      yield* ping(port).pipe(
        Effect.retry({
          schedule: Schedule.spaced("20 millis").pipe(Schedule.upTo(Duration.seconds(10))),
          // e.g. the port is taken: give up at once
          while: () => spawned.exitCode === null && spawned.signalCode === null
        }),
        Effect.catchAll(() =>
          Effect.zipRight(
            stop,
            Effect.fail(new RedisServerError({ message: `redis-server did not start:\n${output}` }))
          )
        )
      )
    })

    yield* Effect.acquireRelease(start, () => stop)
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      pid: () => child?.pid,
      stop,
      start,
      pause: Effect.sync(() => child?.kill("SIGSTOP")),
      resume: Effect.sync(() => child?.kill("SIGCONT"))
    }
  })

/**
 * One server for a whole suite, started in `beforeAll` and stopped in `afterAll`; call the returned
 * function inside tests to reach it.
 */
export const shared = (): () => RedisServer => {
  let scope: Scope.CloseableScope | undefined
  let server: RedisServer | undefined
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    server = await Effect.runPromise(Scope.extend(make(), scope))
  })
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  })
  return () => {
    if (server === undefined) throw new Error("the Redis server has not started")
    return server
  }
}
