/**
 * The built `effect-oci` against Debian's registry 2.8 with htpasswd basic auth and with bearer
 * tokens: `login` (a wrong password is refused and nothing stored; the right one lands in
 * `$DOCKER_CONFIG/config.json`), the read and write verbs with the stored credentials, the
 * exit codes for unauthorized and denied, `logout`; and the TLS options against a TLS registry.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli, json, sandbox } from "../cli/support.js"
import { integrationSuite } from "./support/binaries.js"
import * as Environment from "./support/environment.js"
import { Fixture, skopeoPush } from "./support/environment.js"
import { admin, reader } from "./support/registry.js"

/** Each CLI run starts a process (~0.3 s, more on a loaded machine): give the longer tests room. */
const timeout = 120_000

const loginAs = (
  host: string,
  user: { readonly username: string; readonly password: string },
  box: ReturnType<typeof sandbox>
) => cli(["login", host, "-u", user.username, "--password-stdin"], { input: `${user.password}\n`, sandbox: box })

const authSuite = (mode: "basic" | "token") =>
  layer(Environment.layer(mode), Environment.layerOptions)((it) => {
    // one user's home for the suite: login writes there, the later tests read what it wrote
    const box = sandbox()
    const configFile = Path.join(box.env["DOCKER_CONFIG"]!, "config.json")

    it.effect(`${mode}: login refuses a wrong password (4, nothing stored), stores the right one (0600)`, () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        yield* skopeoPush(`cli/${mode}`, "v1")
        expect((yield* cli(["ls", `${registry.host}/cli/${mode}`], { sandbox: box })).code).toBe(4)

        const wrong = yield* loginAs(registry.host, { username: admin.username, password: "not-it" }, box)
        expect(wrong.code).toBe(4)
        expect(wrong.stderr).not.toContain("not-it")
        expect(Fs.existsSync(configFile)).toBe(false)

        const ok = yield* cli(["--json", "login", registry.host, "-u", admin.username, "--password-stdin"], {
          input: admin.password,
          sandbox: box
        })
        expect(ok.code).toBe(0)
        expect(json(ok)).toEqual({ registry: registry.host, username: admin.username })
        const stored = JSON.parse(Fs.readFileSync(configFile, "utf8"))
        expect(Buffer.from(stored.auths[registry.host].auth, "base64").toString()).toBe(`${admin.username}:${admin.password}`)
        expect(Fs.statSync(configFile).mode & 0o777).toBe(0o600)
      }), timeout)

    it.effect(`${mode}: the verbs read with the stored credentials`, () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const image = yield* skopeoPush(`cli/${mode}-read`, "v1")
        const repo = `${registry.host}/cli/${mode}-read`
        expect(json(yield* cli(["--json", "ls", repo], { sandbox: box })).tags).toEqual(["v1"])
        const manifest = yield* cli(["manifest", `${repo}:v1`], { sandbox: box })
        expect(Buffer.compare(manifest.stdout, Buffer.from(image.manifest.bytes))).toBe(0)
        const inspect = json(yield* cli(["--json", "inspect", `${repo}:v1`], { sandbox: box }))
        expect(inspect.digest).toBe(image.manifest.digest)
        expect(inspect.image.layers.map((l: { digest: string }) => l.digest)).toEqual(image.layers.map((l) => l.digest))
        const config = yield* cli(["config", `${repo}:v1`], { sandbox: box })
        expect(Buffer.compare(config.stdout, Buffer.from(image.config.bytes))).toBe(0)
        expect(json(yield* cli(["--json", "catalog", registry.host], { sandbox: box })).repositories).toContain(
          `cli/${mode}-read`
        )
      }), timeout)

    it.effect(`${mode}: tag, rm (by digest only on 2.8), then logout forgets the credentials`, () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const image = yield* skopeoPush(`cli/${mode}-write`, "v1")
        const repo = `${registry.host}/cli/${mode}-write`
        expect((yield* cli(["tag", `${repo}:v1`, "v2"], { sandbox: box })).code).toBe(0)
        expect((yield* cli(["digest", `${repo}:v2`], { sandbox: box })).out).toBe(`${image.manifest.digest}\n`)
        const byTag = yield* cli(["rm", `${repo}:v2`], { sandbox: box })
        expect(byTag.code).toBe(1)
        expect(byTag.stderr).toMatch(/does not delete by tag/)
        expect((yield* cli(["rm", `${repo}@${image.manifest.digest}`], { sandbox: box })).code).toBe(0)
        expect((yield* cli(["manifest", `${repo}:v1`], { sandbox: box })).code).toBe(3)

        expect((yield* cli(["logout", registry.host], { sandbox: box })).code).toBe(0)
        expect(JSON.parse(Fs.readFileSync(configFile, "utf8")).auths[registry.host]).toBeUndefined()
        expect((yield* cli(["ls", repo], { sandbox: box })).code).toBe(4)
      }), timeout)

    if (mode === "token") {
      it.effect("token: a pull-only user reads, and is denied a tag (exit 4)", () =>
        Effect.gen(function*() {
          const { registry } = yield* Fixture
          yield* skopeoPush("cli/readonly", "v1")
          const box = sandbox()
          expect((yield* loginAs(registry.host, reader, box)).code).toBe(0)
          expect((yield* cli(["digest", `${registry.host}/cli/readonly:v1`], { sandbox: box })).code).toBe(0)
          const denied = yield* cli(["tag", `${registry.host}/cli/readonly:v1`, "nope"], { sandbox: box })
          expect(denied.code).toBe(4)
          expect(denied.stderr.trim().split("\n")).toHaveLength(1)
        }), timeout)
    }
  })

integrationSuite("effect-oci CLI: registry 2.8 with htpasswd basic auth", ["docker-registry", "skopeo", "htpasswd"], () =>
  authSuite("basic"))

integrationSuite("effect-oci CLI: registry 2.8 with bearer tokens", ["docker-registry", "skopeo", "openssl"], () =>
  authSuite("token"))

integrationSuite("effect-oci CLI: registry 2.8 over TLS", ["docker-registry", "skopeo", "openssl"], () =>
  layer(Environment.layer("tls"), Environment.layerOptions)((it) => {
    it.effect("--ca-file trusts the registry's CA; without it verification fails (5); --tls-verify=false skips it", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const image = yield* skopeoPush("cli/tls", "v1")
        // a TLS registry on loopback: tell the transport to use https there
        const env = { OCI_SECURE_REGISTRIES: registry.host }
        const ref = `${registry.host}/cli/tls:v1`
        const trusted = yield* cli(["--ca-file", registry.ca!.certPath, "digest", ref], { env })
        expect(trusted).toMatchObject({ code: 0, out: `${image.manifest.digest}\n` })
        const untrusted = yield* cli(["--retry-times", "0", "digest", ref], { env })
        expect(untrusted.code).toBe(5)
        expect(untrusted.stderr).toMatch(/certificate/i)
        const skipped = yield* cli(["--tls-verify=false", "digest", ref], { env })
        expect(skipped).toMatchObject({ code: 0, out: `${image.manifest.digest}\n` })
      }), timeout)
  }))
