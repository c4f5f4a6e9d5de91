import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Credentials from "../src/Credentials.js"
import { b64, everything, expectBasic, expectFailure, tempDir, withStore } from "./support/CredentialsFixture.js"

const { Credential } = Credentials

const systemPath = process.env["PATH"] ?? "/usr/bin:/bin"

const basic = (username: string, password: string) =>
  Credential.Basic({ username, password: Redacted.make(password) })

const readJson = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
    Effect.map((text): any => JSON.parse(text)),
    Effect.provide(NodeContext.layer)
  )

const fileMode = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(path)).pipe(
    Effect.map((info) => info.mode & 0o777),
    Effect.provide(NodeContext.layer)
  )

const listDir = (dir: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(dir)).pipe(
    Effect.map((names) => [...names].sort()),
    Effect.provide(NodeContext.layer)
  )

/**
 * A credential helper that remembers in its own directory: `store` appends its stdin (JSON) to
 * store.log, `erase` appends the server URL to erase.log, `get` answers the last stored JSON. A
 * server URL containing "broken" makes `store`/`erase` fail like a locked keychain.
 */
const memoHelper = `#!/bin/sh
dir=$(dirname "$0") && [ -n "$dir" ] || exit 9
input=$(cat)
case "$input" in *broken*) echo "keychain is locked" >&2; exit 4 ;; esac
case "$1" in
  store) printf '%s\\n' "$input" >> "$dir/store.log" ;;
  erase) printf '%s\\n' "$input" >> "$dir/erase.log" ;;
  get)
    if [ -f "$dir/store.log" ]; then tail -n 1 "$dir/store.log"; else echo "credentials not found"; exit 1; fi ;;
  *) exit 2 ;;
esac
`

const helperDir = Effect.gen(function*() {
  const dir = yield* tempDir({ "docker-credential-memo": memoHelper })
  yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.chmod(`${dir}/docker-credential-memo`, 0o755)).pipe(
    Effect.provide(NodeContext.layer)
  )
  return dir
})

const readLog = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
    Effect.map((text) => text.trim().split("\n")),
    Effect.provide(NodeContext.layer)
  )

describe("Credentials.layerDockerConfig store / erase", () => {
  const docker = (dir: string) => (use: (store: Credentials.Credentials["Type"]) => Effect.Effect<any, any>) =>
    withStore(Credentials.layerDockerConfig(), use, { DOCKER_CONFIG: dir })

  it.scopedLive("writes what docker login writes, keeping every other key and entry", () =>
    Effect.gen(function*() {
      const original = {
        auths: {
          "quay.io": { auth: b64("q:q-pw"), email: "kept@example.com" },
          "ghcr.io": { auth: b64("old:old-pw") }
        },
        psFormat: "table {{.ID}}",
        HttpHeaders: { "User-Agent": "x" },
        proxies: { default: { httpProxy: "http://proxy:3128" } }
      }
      const dir = yield* tempDir({ "config.json": original })
      const run = docker(dir)
      yield* run((store) => store.store("GHCR.io", basic("me", "pa:ss")))
      yield* run((store) => store.store("registry-1.docker.io", basic("hub", "hub-pw")))
      yield* run((store) =>
        store.store("tokens.example", Credential.IdentityToken({ username: "robot", token: Redacted.make("refresh-1") }))
      )
      yield* run((store) =>
        store.store("bare.example", Credential.IdentityToken({ username: undefined, token: Redacted.make("refresh-2") }))
      )
      yield* run((store) => store.store("rt.example", Credential.RegistryToken({ token: Redacted.make("bearer") })))

      const json = yield* readJson(`${dir}/config.json`)
      expect(json).toEqual({
        ...original,
        auths: {
          "quay.io": original.auths["quay.io"],
          "ghcr.io": { auth: b64("me:pa:ss") },
          "https://index.docker.io/v1/": { auth: b64("hub:hub-pw") },
          "tokens.example": { auth: b64("robot:"), identitytoken: "refresh-1" },
          "bare.example": { identitytoken: "refresh-2" },
          "rt.example": { registrytoken: "bearer" }
        }
      })
      // Every key is where it was: the file is updated, not rebuilt.
      expect(Object.keys(json)).toEqual(Object.keys(original))
      expect(yield* fileMode(`${dir}/config.json`)).toBe(0o600)
      expect(yield* listDir(dir)).toEqual(["config.json"])

      // And it reads back as what was stored.
      expectBasic(yield* run((store) => store.get("ghcr.io")), "me", "pa:ss")
      expectBasic(yield* run((store) => store.get("docker.io")), "hub", "hub-pw")
      const token = yield* run((store) => store.get("tokens.example"))
      expect(token).toMatchObject({ _tag: "IdentityToken", username: "robot" })
      expect(Redacted.value(token.token)).toBe("refresh-1")
    }))

  it.scopedLive("creates the directory and a 0600 file; a symlinked config stays a symlink", () =>
    Effect.gen(function*() {
      const root = yield* tempDir({ "real/config.json": { auths: {}, currentContext: "x" } })
      const fresh = `${root}/not/yet`
      yield* docker(fresh)((store) => store.store("ghcr.io", basic("a", "b")))
      expect(yield* readJson(`${fresh}/config.json`)).toEqual({ auths: { "ghcr.io": { auth: b64("a:b") } } })
      expect(yield* fileMode(`${fresh}/config.json`)).toBe(0o600)

      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      yield* fs.makeDirectory(`${root}/linked`).pipe(Effect.provide(NodeContext.layer))
      yield* fs.symlink(`${root}/real/config.json`, `${root}/linked/config.json`).pipe(Effect.provide(NodeContext.layer))
      yield* docker(`${root}/linked`)((store) => store.store("ghcr.io", basic("c", "d")))
      const link = yield* fs.readLink(`${root}/linked/config.json`).pipe(Effect.provide(NodeContext.layer))
      expect(link).toBe(`${root}/real/config.json`)
      expect(yield* readJson(`${root}/real/config.json`)).toEqual({
        auths: { "ghcr.io": { auth: b64("c:d") } },
        currentContext: "x"
      })
    }))

  it.scopedLive("erase removes every spelling of the host and nothing else; unknown hosts are fine", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "config.json": {
          auths: {
            "localhost:5000": { auth: b64("a:b") },
            "http://localhost:5000/v2/": { auth: b64("c:d") },
            "localhost:5001": { auth: b64("e:f") },
            "https://index.docker.io/v1/": { auth: b64("g:h") }
          },
          credHelpers: { "other.example": "memo" }
        }
      })
      const run = docker(dir)
      yield* run((store) => store.erase("localhost:5000"))
      yield* run((store) => store.erase("index.docker.io"))
      yield* run((store) => store.erase("never.example"))
      expect(yield* readJson(`${dir}/config.json`)).toEqual({
        auths: { "localhost:5001": { auth: b64("e:f") } },
        credHelpers: { "other.example": "memo" }
      })
      expect((yield* run((store) => store.get("localhost:5000")))._tag).toBe("Anonymous")
      // Storing Anonymous is erasing.
      yield* run((store) => store.store("localhost:5001", Credential.Anonymous()))
      expect((yield* readJson(`${dir}/config.json`)).auths).toEqual({})

      // Erasing with no file at all creates none.
      const empty = yield* tempDir({})
      yield* docker(empty)((store) => store.erase("ghcr.io"))
      expect(yield* listDir(empty)).toEqual([])
    }))

  it.scopedLive("a file it cannot parse is refused and left as it was", () =>
    Effect.gen(function*() {
      for (const text of ["{ not json", "[1, 2]", JSON.stringify({ auths: { "ghcr.io": { auth: 42 } } })]) {
        const dir = yield* tempDir({ "config.json": text })
        const exit = yield* Effect.exit(docker(dir)((store) => store.store("quay.io", basic("u", "secret-pw"))))
        const error = expectFailure(exit)
        expect(error.source).toBe(`${dir}/config.json`)
        expect(everything(error)).not.toContain("secret-pw")
        const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
        expect(yield* fs.readFileString(`${dir}/config.json`).pipe(Effect.provide(NodeContext.layer))).toBe(text)
        expect(yield* listDir(dir)).toEqual(["config.json"])
      }
    }))

  it.scopedLive("no location at all is a CredentialsError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        withStore(Credentials.layerDockerConfig(), (store) => store.store("ghcr.io", basic("a", "b")), {})
      )
      expect(expectFailure(exit).reason).toContain("no location")
    }))

  it.scopedLive("with credsStore / credHelpers the helper stores and erases; the file keeps an empty entry", () =>
    Effect.gen(function*() {
      const bin = yield* helperDir
      const dir = yield* tempDir({
        "config.json": {
          auths: { "ghcr.io": { auth: b64("plain:plain-pw") } },
          credHelpers: { "ghcr.io": "memo", "broken.example": "memo" }
        }
      })
      const run = (use: (store: Credentials.Credentials["Type"]) => Effect.Effect<any, any>) =>
        withStore(Credentials.layerDockerConfig({ helperPath: `${bin}:${systemPath}` }), use, { DOCKER_CONFIG: dir })

      yield* run((store) => store.store("ghcr.io", basic("me", "helper-pw")))
      yield* run((store) =>
        store.store("ghcr.io", Credential.IdentityToken({ username: "me", token: Redacted.make("rotated") }))
      )
      expect((yield* readLog(`${bin}/store.log`)).map((line) => JSON.parse(line))).toEqual([
        { ServerURL: "ghcr.io", Username: "me", Secret: "helper-pw" },
        { ServerURL: "ghcr.io", Username: "<token>", Secret: "rotated" }
      ])
      // The plaintext secret is gone from the file: the helper holds it now.
      expect((yield* readJson(`${dir}/config.json`)).auths).toEqual({ "ghcr.io": {} })
      const got = yield* run((store) => store.get("ghcr.io"))
      expect(got._tag).toBe("IdentityToken")
      expect(Redacted.value(got.token)).toBe("rotated")

      // Hosts without a helper still go to the file.
      yield* run((store) => store.store("quay.io", basic("q", "q-pw")))
      expect((yield* readJson(`${dir}/config.json`)).auths["quay.io"]).toEqual({ auth: b64("q:q-pw") })

      yield* run((store) => store.erase("ghcr.io"))
      expect(yield* readLog(`${bin}/erase.log`)).toEqual(["ghcr.io"])
      expect((yield* readJson(`${dir}/config.json`)).auths).toEqual({ "quay.io": { auth: b64("q:q-pw") } })

      // A helper that fails is a typed error naming it, and the file is not touched.
      const before = yield* readJson(`${dir}/config.json`)
      const failed = expectFailure(yield* Effect.exit(run((store) => store.store("broken.example", basic("x", "x-pw")))))
      expect(failed.source).toBe("docker-credential-memo")
      expect(failed.reason).toContain("keychain is locked")
      expect(everything(failed)).not.toContain("x-pw")
      expect(yield* readJson(`${dir}/config.json`)).toEqual(before)
      const erased = expectFailure(yield* Effect.exit(run((store) => store.erase("broken.example"))))
      expect(erased.reason).toContain("exited with code 4")
      // A registry token has no place in a helper.
      const refused = expectFailure(
        yield* Effect.exit(run((store) => store.store("ghcr.io", Credential.RegistryToken({ token: Redacted.make("t") }))))
      )
      expect(refused.reason).toContain("registry token")
    }))

  it.scopedLive("credsStore sends Docker Hub as https://index.docker.io/v1/", () =>
    Effect.gen(function*() {
      const bin = yield* helperDir
      const dir = yield* tempDir({ "config.json": { credsStore: "memo" } })
      yield* withStore(
        Credentials.layerDockerConfig({ helperPath: `${bin}:${systemPath}` }),
        (store) => Effect.zipRight(store.store("docker.io", basic("hub", "pw")), store.erase("registry-1.docker.io")),
        { DOCKER_CONFIG: dir }
      )
      expect(JSON.parse((yield* readLog(`${bin}/store.log`))[0]!).ServerURL).toBe("https://index.docker.io/v1/")
      expect(yield* readLog(`${bin}/erase.log`)).toEqual(["https://index.docker.io/v1/"])
      expect(yield* readJson(`${dir}/config.json`)).toEqual({ credsStore: "memo", auths: {} })
    }))
})

describe("Credentials.layerPodmanAuth store / erase", () => {
  it.scopedLive("stores under the bare host in the first file, erases from all", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "run/containers/auth.json": { auths: { "quay.io/org": { auth: b64("ns:ns-pw") } } },
        "home/.config/containers/auth.json": { auths: { "ghcr.io": { auth: b64("old:old") } } }
      })
      const env = { XDG_RUNTIME_DIR: `${dir}/run`, HOME: `${dir}/home` }
      const run = (use: (store: Credentials.Credentials["Type"]) => Effect.Effect<any, any>) =>
        withStore(Credentials.layerPodmanAuth(), use, env)
      yield* run((store) => store.store("index.docker.io", basic("hub", "pw")))
      yield* run((store) => store.store("ghcr.io", basic("new", "new-pw")))
      expect((yield* readJson(`${dir}/run/containers/auth.json`)).auths).toEqual({
        "quay.io/org": { auth: b64("ns:ns-pw") },
        "docker.io": { auth: b64("hub:pw") },
        "ghcr.io": { auth: b64("new:new-pw") }
      })
      expectBasic(yield* run((store) => store.get("ghcr.io")), "new", "new-pw")
      yield* run((store) => store.erase("ghcr.io"))
      expect((yield* run((store) => store.get("ghcr.io")))._tag).toBe("Anonymous")
      expect((yield* readJson(`${dir}/home/.config/containers/auth.json`)).auths).toEqual({})
      // A namespace key is not the host's: it stays.
      yield* run((store) => store.erase("quay.io"))
      expect((yield* readJson(`${dir}/run/containers/auth.json`)).auths["quay.io/org"]).toBeDefined()
    }))
})

describe("Credentials static, config and chain writes", () => {
  it.effect("a static store keeps writes in memory; each layer build starts afresh", () =>
    Effect.gen(function*() {
      const layer = Credentials.layerStatic({ "ghcr.io": basic("a", "b") })
      const seen = yield* withStore(layer, (store) =>
        Effect.gen(function*() {
          expect(store.writable).toBe(true)
          yield* store.store("https://GHCR.io/v2/", basic("c", "d"))
          const after = yield* store.get("ghcr.io")
          yield* store.erase("ghcr.io")
          return [after, yield* store.get("ghcr.io")] as const
        }))
      expectBasic(seen[0], "c", "d")
      expect(seen[1]._tag).toBe("Anonymous")
      expectBasic(yield* withStore(layer, (store) => store.get("ghcr.io")), "a", "b")
    }))

  it.effect("config and anonymous stores are read-only", () =>
    Effect.gen(function*() {
      for (const layer of [Credentials.layerConfig(), Credentials.layerAnonymous]) {
        const [writable, stored, erased] = yield* withStore(layer, (store) =>
          Effect.all([
            Effect.succeed(store.writable),
            Effect.exit(store.store("ghcr.io", basic("a", "b"))),
            Effect.exit(store.erase("ghcr.io"))
          ]), { REGISTRY_HOST: "ghcr.io", REGISTRY_USERNAME: "u", REGISTRY_PASSWORD: "p" })
        expect(writable).toBe(false)
        expect(expectFailure(stored).reason).toBe("is read-only")
        expect(expectFailure(erased).reason).toBe("is read-only")
      }
    }))

  it.scopedLive("a chain stores to its first writable store and erases from every writable one", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": { auths: { "ghcr.io": { auth: b64("file:file-pw") } } } })
      const chain = Credentials.layerChain(
        Credentials.layerConfig(),
        Credentials.layerStatic({ "ghcr.io": basic("static", "static-pw") }),
        Credentials.layerDockerConfig()
      )
      const env = { DOCKER_CONFIG: dir, REGISTRY_HOST: "quay.io", REGISTRY_TOKEN: "env-token" }
      const [afterStore, afterErase] = yield* withStore(chain, (store) =>
        Effect.gen(function*() {
          yield* store.store("ghcr.io", basic("new", "new-pw"))
          const afterStore = yield* store.get("ghcr.io")
          yield* store.erase("ghcr.io")
          return [afterStore, yield* store.get("ghcr.io")] as const
        }), env)
      // The static store was the first writable one; the file was not written by `store`...
      expectBasic(afterStore, "new", "new-pw")
      // ...but `erase` cleared it too, so nothing in the chain answers any more.
      expect(afterErase._tag).toBe("Anonymous")
      expect((yield* readJson(`${dir}/config.json`)).auths).toEqual({})

      const readOnly = Credentials.layerChain(Credentials.layerConfig(), Credentials.layerAnonymous)
      const exit = yield* Effect.exit(withStore(readOnly, (store) => store.store("ghcr.io", basic("a", "b")), env))
      expect(expectFailure(exit).reason).toBe("has no writable store")
    }))
})
