/**
 * `effect-oci serve` as a subprocess: it listens, serves pushes and pulls, keeps its storage in
 * `--dir` across restarts, requires credentials with `--auth`, and stops on SIGTERM.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { cli, cliPath, json, sandbox } from "./support.js"

/** Starts `effect-oci --json serve ARGS… --port 0` and waits for its `{ url, host }` line. */
const serve = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly host: string; readonly child: ChildProcess.ChildProcess; readonly info: any }, Error>(
      (resume) => {
        const child = ChildProcess.spawn(process.execPath, [cliPath(), "--json", "serve", "--port", "0", ...args], {
          env: sandbox().env,
          stdio: ["ignore", "pipe", "pipe"]
        })
        let out = ""
        let err = ""
        child.stderr.on("data", (b: Buffer) => (err += b.toString()))
        child.stdout.on("data", (b: Buffer) => {
          out += b.toString()
          const newline = out.indexOf("\n")
          if (newline >= 0) {
            const info = JSON.parse(out.slice(0, newline))
            resume(Effect.succeed({ host: info.host, child, info }))
          }
        })
        child.on("exit", (code) => resume(Effect.fail(new Error(`serve exited with ${code}: ${err}`))))
        return Effect.sync(() => child.kill("SIGKILL"))
      }
    ),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null) return resume(Effect.void)
        child.on("exit", () => resume(Effect.void))
        child.kill("SIGTERM")
      })
  )

const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {
    mediaType: "application/vnd.oci.empty.v1+json",
    digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    size: 2
  },
  layers: []
})

describe("effect-oci serve", () => {
  it.scoped("serves in memory: --json gives { url, host, auth, storage }; SIGTERM stops it with exit 0", () =>
    Effect.gen(function*() {
      const { child, host, info } = yield* serve([])
      expect(info).toEqual({ url: `http://${host}`, host, auth: "none", storage: "memory" })
      expect((yield* cli(["--json", "catalog", host])).out).toBe(`{"registry":"${host}","repositories":[]}\n`)
      const code = yield* Effect.async<number | null>((resume) => {
        child.on("exit", (c) => resume(Effect.succeed(c)))
        child.kill("SIGTERM")
      })
      expect(code === 0 || code === 130).toBe(true)
    }))

  it.effect("--dir keeps repositories and blobs across a restart", () =>
    Effect.gen(function*() {
      const dir = Path.join(sandbox().dir, "storage")
      yield* Effect.scoped(Effect.gen(function*() {
        const { host } = yield* serve(["--dir", dir])
        // push through HTTP like any client would
        const send = (path: string, body: string, contentType: string) =>
          Effect.promise(() => fetch(`http://${host}${path}`, { method: "PUT", body, headers: { "content-type": contentType } }))
        const upload = yield* Effect.promise(() => fetch(`http://${host}/v2/keep/me/blobs/uploads/`, { method: "POST" }))
        const location = new URL(upload.headers.get("location")!, `http://${host}`)
        location.searchParams.set("digest", "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        expect((yield* send(location.pathname + location.search, "{}", "application/octet-stream")).status).toBe(201)
        expect((yield* send("/v2/keep/me/manifests/v1", manifest, "application/vnd.oci.image.manifest.v1+json")).status)
          .toBe(201)
      }))
      // a second server on the same directory sees what the first stored
      yield* Effect.scoped(Effect.gen(function*() {
        const again = yield* serve(["--dir", dir])
        const run = yield* cli(["manifest", `${again.host}/keep/me:v1`])
        expect(run.code).toBe(0)
        expect(run.out).toBe(manifest)
        expect(json(yield* cli(["--json", "ls", `${again.host}/keep/me`]))).toEqual({
          repository: `${again.host}/keep/me`,
          tags: ["v1"]
        })
      }))
    }))

  it.scoped("--auth basic --user refuses anonymous reads (exit 4)", () =>
    Effect.gen(function*() {
      const { host, info } = yield* serve(["--auth", "basic", "--user", "ann:pw-1"])
      expect(info.auth).toBe("basic")
      expect((yield* cli(["ls", `${host}/any/repo`])).code).toBe(4)
    }))

  it.scoped("--plain-http: a token realm on plain http is accepted for a host that is not loopback", () =>
    Effect.gen(function*() {
      const { host } = yield* serve(["--auth", "token", "--user", "ann:pw-1"])
      // 0.0.0.0 reaches the server but is no loopback name; its token realm is http://0.0.0.0:…/token
      const other = host.replace("127.0.0.1", "0.0.0.0")
      const box = sandbox()
      const login = yield* cli(["--plain-http", "login", other, "-u", "ann", "--password-stdin"], {
        input: "pw-1",
        sandbox: box
      })
      expect(login.code).toBe(0)
      expect((yield* cli(["--plain-http", "--json", "catalog", other], { sandbox: box })).code).toBe(0)
    }))

  it.effect("--auth without --user is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const run = yield* cli(["serve", "--port", "0", "--auth", "token"])
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/--auth token needs at least one --user/)
    }))
})
