/**
 * A private Postgres (Debian's postgresql 15) for the sync cluster tests: `initdb` into a temp
 * dir, the server on a free 127.0.0.1 port with its socket in that dir, stopped by PID when the
 * scope closes. As root, both run as the `postgres` user (initdb refuses root).
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import type * as Scope from "effect/Scope"
import { type CommandFailed, daemon, type Daemon, run, tempDir } from "./processes.js"

/** Where Debian installs the server programs (not on PATH). */
export const binDir = "/usr/lib/postgresql/15/bin"

/** Whether the server programs are installed. */
export const installed = (): boolean => Fs.existsSync(Path.join(binDir, "initdb"))

/** A running server. */
export interface Postgres {
  readonly url: string
  readonly port: number
  readonly process: Daemon
}

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

const asPostgres = (command: string, args: ReadonlyArray<string>): [string, ReadonlyArray<string>] =>
  process.getuid?.() === 0
    ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", command, ...args]]
    : [command, args]

const waitReady = (port: number, dir: string, proc: Daemon) =>
  run(...asPostgres(Path.join(binDir, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)])).pipe(
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100, while: () => proc.alive() }),
    Effect.tapError(() => Effect.sync(() => process.stderr.write(`postgres in ${dir} did not start:\n${proc.log()}\n`)))
  )

/** Starts a fresh server (database `postgres`, user `postgres`, trust auth). */
export const start: Effect.Effect<Postgres, CommandFailed, Scope.Scope> = Effect.gen(function*() {
  const dir = yield* tempDir("postgres")
  const data = Path.join(dir, "data")
  if (process.getuid?.() === 0) Fs.chownSync(dir, uid("postgres"), gid("postgres"))
  yield* run(...asPostgres(Path.join(binDir, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]))
  const port = yield* freePort
  const proc = yield* daemon(...asPostgres(Path.join(binDir, "postgres"), [
    "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
    "-c", "max_connections=200"
  ]))
  yield* waitReady(port, dir, proc)
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, process: proc }
})

const idOf = (name: string, field: 2 | 3): number => {
  const line = Fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${name}:`))
  if (line === undefined) throw new Error(`no user ${name}`)
  return Number(line.split(":")[field])
}
const uid = (name: string) => idOf(name, 2)
const gid = (name: string) => idOf(name, 3)
