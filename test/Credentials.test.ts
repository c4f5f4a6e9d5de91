import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import { fileURLToPath } from "node:url"
import * as Credentials from "../src/Credentials.js"
import * as node from "../src/node.js"
import { b64, everything, expectBasic, expectFailure, lookup, tempDir } from "./support/CredentialsFixture.js"

const { Credential } = Credentials

const helperBin = fileURLToPath(new URL("./fixtures/credentials/bin", import.meta.url))
const systemPath = process.env["PATH"] ?? "/usr/bin:/bin"

describe("Credentials.layerStatic / layerAnonymous", () => {
  it.effect("answers by registry host and is Anonymous elsewhere", () =>
    Effect.gen(function*() {
      const layer = Credentials.layerStatic({
        "ghcr.io": Credential.Basic({ username: "me", password: Redacted.make("pw") }),
        "https://index.docker.io/v1/": Credential.RegistryToken({ token: Redacted.make("hub-token") })
      })
      expectBasic(yield* lookup(layer, "ghcr.io"), "me", "pw")
      expectBasic(yield* lookup(layer, "GHCR.io"), "me", "pw")
      for (const hub of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
        const credential = yield* lookup(layer, hub)
        expect(credential._tag).toBe("RegistryToken")
      }
      expect((yield* lookup(layer, "quay.io"))._tag).toBe("Anonymous")
      expect((yield* lookup(Credentials.layerAnonymous, "ghcr.io"))._tag).toBe("Anonymous")
    }))

  it.prop(
    "a key written as a URL finds the bare host",
    [FastCheck.domain(), FastCheck.option(FastCheck.integer({ min: 1, max: 65535 }), { nil: undefined })],
    ([domain, port]) => {
      const host = port === undefined ? domain : `${domain}:${port}`
      const store = Credentials.makeStatic({
        [`https://${host.toUpperCase()}/v2/`]: Credential.Basic({ username: "u", password: Redacted.make("p") })
      })
      const credential = Effect.runSync(store.get(host))
      expect(credential._tag).toBe("Basic")
    }
  )

  it("keeps secrets out of printed credentials", () => {
    const credential = Credential.Basic({ username: "me", password: Redacted.make("do-not-print") })
    expect(JSON.stringify(credential)).not.toContain("do-not-print")
    expect(String(credential)).not.toContain("do-not-print")
  })
})

describe("Credentials.layerDockerConfig", () => {
  const config = {
    auths: {
      "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass:word") },
      "http://localhost:5000/v2/": { username: "local", password: "local-pw" },
      "https://Registry.Example.com": { auth: b64("00000000-0000:"), identitytoken: "refresh-abc" },
      "tokens.example": { registrytoken: "bearer-xyz" },
      "placeholder.example": {},
      "quay.io": { auth: b64("q:qpw"), email: "ignored@example.com" }
    },
    HttpHeaders: { "User-Agent": "ignored" },
    currentContext: "default"
  }

  it.scopedLive("reads every kind of auths entry, with keys normalised", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": config })
      const layer = Credentials.layerDockerConfig()
      const get = (registry: string) => lookup(layer, registry, { DOCKER_CONFIG: dir })

      for (const hub of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
        expectBasic(yield* get(hub), "hubuser", "hub:pass:word")
      }
      expectBasic(yield* get("localhost:5000"), "local", "local-pw")
      expectBasic(yield* get("quay.io"), "q", "qpw")

      const identity = yield* get("registry.example.com")
      expect(identity._tag).toBe("IdentityToken")
      if (identity._tag === "IdentityToken") {
        expect(identity.username).toBe("00000000-0000")
        expect(Redacted.value(identity.token)).toBe("refresh-abc")
      }
      const token = yield* get("tokens.example")
      expect(token._tag).toBe("RegistryToken")
      if (token._tag === "RegistryToken") expect(Redacted.value(token.token)).toBe("bearer-xyz")

      expect((yield* get("placeholder.example"))._tag).toBe("Anonymous")
      expect((yield* get("ghcr.io"))._tag).toBe("Anonymous")
    }))

  it.scopedLive("prefers Docker's own Docker Hub key over other spellings", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "config.json": {
          auths: {
            "docker.io": { auth: b64("alias:alias-pw") },
            "https://index.docker.io/v1/": { auth: b64("canonical:canonical-pw") }
          }
        }
      })
      expectBasic(yield* lookup(Credentials.layerDockerConfig(), "docker.io", { DOCKER_CONFIG: dir }), "canonical", "canonical-pw")
    }))

  it.scopedLive("finds ~/.docker/config.json without DOCKER_CONFIG, and honours an explicit path", () =>
    Effect.gen(function*() {
      const home = yield* tempDir({ ".docker/config.json": { auths: { "ghcr.io": { auth: b64("home:home-pw") } } } })
      const other = yield* tempDir({ "elsewhere.json": { auths: { "ghcr.io": { auth: b64("explicit:x-pw") } } } })
      expectBasic(yield* lookup(Credentials.layerDockerConfig(), "ghcr.io", { HOME: home }), "home", "home-pw")
      expectBasic(
        yield* lookup(Credentials.layerDockerConfig({ path: `${other}/elsewhere.json` }), "ghcr.io", { HOME: home }),
        "explicit",
        "x-pw"
      )
    }))

  it.scopedLive("a missing config file (or no HOME at all) is Anonymous", () =>
    Effect.gen(function*() {
      const empty = yield* tempDir({})
      expect((yield* lookup(Credentials.layerDockerConfig(), "ghcr.io", { DOCKER_CONFIG: empty }))._tag).toBe("Anonymous")
      expect((yield* lookup(Credentials.layerDockerConfig(), "ghcr.io", {}))._tag).toBe("Anonymous")
    }))

  it.scopedLive("malformed JSON fails naming the file, without quoting it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": `{"auths": {"ghcr.io": {"password": "leaky-secret" ` })
      const exit = yield* Effect.exit(lookup(Credentials.layerDockerConfig(), "ghcr.io", { DOCKER_CONFIG: dir }))
      const error = expectFailure(exit)
      expect(error.source).toBe(`${dir}/config.json`)
      expect(error.reason).toContain("not valid JSON")
      expect(everything(error)).not.toContain("leaky-secret")
    }))

  it.scopedLive("bad entries fail naming the file and key, never the secret", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "config.json": {
          auths: {
            "bad-base64.example": { auth: "c2VjcmV0!!!cGFzcw==" },
            "no-colon.example": { auth: b64("user-and-secret-password") }
          }
        },
        "typed/config.json": { auths: { "wrong-type.example": { username: "u", password: 987654321 } } }
      })
      const get = (registry: string, configDir = dir) =>
        Effect.exit(lookup(Credentials.layerDockerConfig(), registry, { DOCKER_CONFIG: configDir }))

      const badBase64 = expectFailure(yield* get("bad-base64.example"))
      expect(badBase64.source).toBe(`${dir}/config.json`)
      expect(badBase64.reason).toContain("bad-base64.example")
      expect(badBase64.reason).toContain("base64")
      expect(everything(badBase64)).not.toContain("c2VjcmV0")

      const noColon = expectFailure(yield* get("no-colon.example"))
      expect(noColon.reason).toContain("username:password")
      expect(everything(noColon)).not.toContain("secret-password")
      expect(everything(noColon)).not.toContain(b64("user-and-secret-password"))

      // A value of the wrong type makes the whole file invalid, for every host.
      const wrongType = expectFailure(yield* get("ghcr.io", `${dir}/typed`))
      expect(wrongType.source).toBe(`${dir}/typed/config.json`)
      expect(wrongType.reason).toContain("wrong-type.example")
      expect(wrongType.reason).toContain("password")
      expect(everything(wrongType)).not.toContain("987654321")
    }))

  it.scopedLive("an incomplete entry fails only its own host", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "config.json": { auths: { "half.example": { username: "u" }, "ghcr.io": { auth: b64("fine:fine-pw") } } }
      })
      const half = expectFailure(
        yield* Effect.exit(lookup(Credentials.layerDockerConfig(), "half.example", { DOCKER_CONFIG: dir }))
      )
      expect(half.reason).toContain("username but no password")
      expectBasic(yield* lookup(Credentials.layerDockerConfig(), "ghcr.io", { DOCKER_CONFIG: dir }), "fine", "fine-pw")
    }))
})

describe("Credentials credential helpers", () => {
  const helperEnv = (dir: string) => ({ DOCKER_CONFIG: dir, PATH: `${helperBin}:${systemPath}` })

  it.scopedLive("credsStore: runs docker-credential-NAME get with the server URL on stdin", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "config.json": {
          credsStore: "fake",
          auths: {
            "https://index.docker.io/v1/": {},
            "ghcr.io": { auth: b64("stale:stale-pw") },
            "fallback.example": { auth: b64("file:file-pw") }
          }
        }
      })
      const get = (registry: string) => lookup(Credentials.layerDockerConfig(), registry, helperEnv(dir))

      // The helper holds the secret; the file's entry for the same host is only a fallback.
      expectBasic(yield* get("ghcr.io"), "helper-user", "helper:secret")
      // The fake only answers Docker Hub when sent exactly https://index.docker.io/v1/.
      expectBasic(yield* get("registry-1.docker.io"), "hub-user", "hub-secret")

      const token = yield* get("token.example")
      expect(token._tag).toBe("IdentityToken")
      if (token._tag === "IdentityToken") {
        expect(token.username).toBeUndefined()
        expect(Redacted.value(token.token)).toBe("refresh-me")
      }
      // "credentials not found" is no error: the auths entry answers, else Anonymous.
      expect((yield* get("unknown.example"))._tag).toBe("Anonymous")
      expect((yield* get("empty.example"))._tag).toBe("Anonymous")
      expectBasic(yield* get("fallback.example"), "file", "file-pw")
    }))

  it.scopedLive("node.layer()'s default store runs them (its command executor loads on first use)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": { credsStore: "fake" } })
      const credential = yield* Effect.flatMap(Credentials.Credentials, (store) => store.get("ghcr.io")).pipe(
        Effect.provide(node.layer({ transport: {} })),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(helperEnv(dir)))))
      )
      expectBasic(credential, "helper-user", "helper:secret")
    }))

  it.scopedLive("credHelpers win over credsStore, per host, with keys normalised", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "config.json": {
          credsStore: "fake",
          credHelpers: { "https://index.docker.io/v1/": "alt", "Private.Example:5000": "alt" }
        }
      })
      const get = (registry: string) => lookup(Credentials.layerDockerConfig(), registry, helperEnv(dir))
      expectBasic(yield* get("docker.io"), "alt-user@https://index.docker.io/v1/", "alt-secret")
      expectBasic(yield* get("private.example:5000"), "alt-user@private.example:5000", "alt-secret")
      expectBasic(yield* get("ghcr.io"), "helper-user", "helper:secret")
    }))

  it.scopedLive("helperPath finds helpers without touching PATH", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": { credsStore: "fake" } })
      const layer = Credentials.layerDockerConfig({ helperPath: `${helperBin}:${systemPath}` })
      expectBasic(yield* lookup(layer, "ghcr.io", { DOCKER_CONFIG: dir }), "helper-user", "helper:secret")
    }))

  it.scopedLive("a missing helper fails naming it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": { credsStore: "does-not-exist" } })
      const error = expectFailure(
        yield* Effect.exit(lookup(Credentials.layerDockerConfig(), "ghcr.io", helperEnv(dir)))
      )
      expect(error.source).toBe("docker-credential-does-not-exist")
      expect(error.reason).toContain("not found")
    }))

  it.scopedLive("a helper name that is a path is refused", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": { credHelpers: { "ghcr.io": "../../bin/sh" } } })
      const error = expectFailure(
        yield* Effect.exit(lookup(Credentials.layerDockerConfig(), "ghcr.io", helperEnv(dir)))
      )
      expect(error.source).toBe("docker-credential-../../bin/sh")
      expect(error.reason).toContain("not a valid")
    }))

  it.scopedLive("malformed output, a failing exit and a hang are errors naming the helper", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": { credsStore: "fake" } })
      const layer = Credentials.layerDockerConfig({ helperTimeout: "300 millis" })
      const get = (registry: string) => Effect.exit(lookup(layer, registry, helperEnv(dir)))

      const garbage = expectFailure(yield* get("garbage.example"))
      expect(garbage.source).toBe("docker-credential-fake")
      expect(garbage.reason).toContain("ServerURL, Username, Secret")
      expect(everything(garbage)).not.toContain("helper-secret-garbage")

      const crash = expectFailure(yield* get("crash.example"))
      expect(crash.source).toBe("docker-credential-fake")
      expect(crash.reason).toBe("exited with code 3: the keychain is locked")

      const started = Date.now()
      const slow = expectFailure(yield* get("slow.example"))
      expect(slow.reason).toContain("did not answer within")
      expect(Date.now() - started).toBeLessThan(10_000)
    }))

  it.scopedLive("a helper that is not executable is reported", () =>
    Effect.gen(function*() {
      const bin = yield* tempDir({ "docker-credential-locked": "#!/bin/sh\necho '{}'\n" })
      const dir = yield* tempDir({ "config.json": { credsStore: "locked" } })
      const error = expectFailure(
        yield* Effect.exit(
          lookup(Credentials.layerDockerConfig({ helperPath: bin }), "ghcr.io", { DOCKER_CONFIG: dir })
        )
      )
      expect(error.source).toBe("docker-credential-locked")
      expect(error.reason).toBe("is not executable")
    }))
})

describe("Credentials.layerPodmanAuth", () => {
  it.scopedLive("REGISTRY_AUTH_FILE: host keys match, namespace keys do not", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({
        "auth.json": {
          auths: {
            "quay.io/org": { auth: b64("org-robot:org-pw") },
            "registry.example.com/team/app": { auth: b64("app:app-pw") },
            "registry.example.com": { auth: b64("host:host-pw") },
            "docker.io": { auth: b64("hub:hub-pw") },
            "https://legacy.example/v1/": { auth: b64("legacy:legacy-pw") }
          }
        }
      })
      const get = (registry: string) =>
        lookup(Credentials.layerPodmanAuth(), registry, { REGISTRY_AUTH_FILE: `${dir}/auth.json` })
      expect((yield* get("quay.io"))._tag).toBe("Anonymous")
      expectBasic(yield* get("registry.example.com"), "host", "host-pw")
      expectBasic(yield* get("index.docker.io"), "hub", "hub-pw")
      expectBasic(yield* get("legacy.example"), "legacy", "legacy-pw")
    }))

  it.scopedLive("tries $XDG_RUNTIME_DIR first, then ~/.config", () =>
    Effect.gen(function*() {
      const runtime = yield* tempDir({
        "containers/auth.json": { auths: { "ghcr.io": { auth: b64("runtime:runtime-pw") } } }
      })
      const home = yield* tempDir({
        ".config/containers/auth.json": {
          auths: { "ghcr.io": { auth: b64("config:config-pw") }, "quay.io": { auth: b64("cfg:cfg-pw") } }
        }
      })
      const env = { XDG_RUNTIME_DIR: runtime, HOME: home }
      expectBasic(yield* lookup(Credentials.layerPodmanAuth(), "ghcr.io", env), "runtime", "runtime-pw")
      expectBasic(yield* lookup(Credentials.layerPodmanAuth(), "quay.io", env), "cfg", "cfg-pw")
      // Without a runtime dir the config file alone answers.
      expectBasic(yield* lookup(Credentials.layerPodmanAuth(), "ghcr.io", { HOME: home }), "config", "config-pw")
    }))

  it.scopedLive("credHelpers in auth.json get the bare host, Docker Hub as docker.io", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "auth.json": { credHelpers: { "docker.io": "alt" } } })
      const credential = yield* lookup(Credentials.layerPodmanAuth({ path: `${dir}/auth.json` }), "docker.io", {
        PATH: `${helperBin}:${systemPath}`
      })
      expectBasic(credential, "alt-user@docker.io", "alt-secret")
    }))
})

describe("Credentials.layerChain", () => {
  const basic = (username: string) => Credential.Basic({ username, password: Redacted.make(`${username}-pw`) })

  it.effect("tries stores in order; the first non-Anonymous answer wins", () =>
    Effect.gen(function*() {
      const layer = Credentials.layerChain(
        Credentials.layerAnonymous,
        Credentials.layerStatic({ "ghcr.io": basic("first") }),
        Credentials.layerStatic({ "ghcr.io": basic("second"), "docker.io": basic("hub") })
      )
      expectBasic(yield* lookup(layer, "ghcr.io"), "first", "first-pw")
      expectBasic(yield* lookup(layer, "docker.io"), "hub", "hub-pw")
      expect((yield* lookup(layer, "quay.io"))._tag).toBe("Anonymous")
    }))

  it.scopedLive("an error in an earlier store ends the lookup", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir({ "config.json": "not json" })
      const layer = Credentials.layerChain(
        Credentials.layerDockerConfig({ path: `${dir}/config.json` }),
        Credentials.layerStatic({ "ghcr.io": basic("later") })
      )
      const error = expectFailure(yield* Effect.exit(lookup(layer, "ghcr.io")))
      expect(error.source).toBe(`${dir}/config.json`)
      // A store that answers first is not affected by a broken one after it.
      const reversed = Credentials.layerChain(
        Credentials.layerStatic({ "ghcr.io": basic("earlier") }),
        Credentials.layerDockerConfig({ path: `${dir}/config.json` })
      )
      expectBasic(yield* lookup(reversed, "ghcr.io"), "earlier", "earlier-pw")
    }))
})

describe("Credentials.layerConfig", () => {
  const fromEnv = (env: Record<string, string>, options?: Credentials.ConfigOptions) =>
    (registry: string) => lookup(Credentials.layerConfig(options), registry, env)

  it.effect("username and password for one host", () =>
    Effect.gen(function*() {
      const get = fromEnv({ REGISTRY_HOST: "ghcr.io", REGISTRY_USERNAME: "ci", REGISTRY_PASSWORD: "ci-pw" })
      expectBasic(yield* get("ghcr.io"), "ci", "ci-pw")
      expect((yield* get("docker.io"))._tag).toBe("Anonymous")
    }))

  it.effect("tokens, a custom prefix, and nothing set", () =>
    Effect.gen(function*() {
      const token = yield* fromEnv({ REGISTRY_HOST: "ghcr.io", REGISTRY_TOKEN: "t0k" })("ghcr.io")
      expect(token._tag).toBe("RegistryToken")
      if (token._tag === "RegistryToken") expect(Redacted.value(token.token)).toBe("t0k")

      const identity = yield* fromEnv({ OCI_HOST: "docker.io", OCI_IDENTITY_TOKEN: "refresh" }, { prefix: "OCI" })(
        "index.docker.io"
      )
      expect(identity._tag).toBe("IdentityToken")

      expect((yield* fromEnv({})("ghcr.io"))._tag).toBe("Anonymous")
    }))

  it.effect("a secret without a host, or half a password pair, is a ConfigError", () =>
    Effect.gen(function*() {
      const noHost = yield* Effect.exit(fromEnv({ REGISTRY_USERNAME: "u", REGISTRY_PASSWORD: "never-shown" })("x"))
      expect(Exit.isFailure(noHost)).toBe(true)
      expect(String(noHost)).toContain("REGISTRY_HOST")
      expect(String(noHost)).not.toContain("never-shown")

      const half = yield* Effect.exit(fromEnv({ REGISTRY_HOST: "ghcr.io", REGISTRY_USERNAME: "u" })("ghcr.io"))
      expect(Exit.isFailure(half)).toBe(true)
      expect(String(half)).toContain("REGISTRY_PASSWORD")
    }))
})
