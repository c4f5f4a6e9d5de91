/**
 * Registry 2.8 with bearer-token auth (`auth.token`), tokens from our own token server: ES256 JWTs
 * with an `x5c` header, `access` built from the requested scopes.
 */
import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Credential } from "../../src/Credentials.js"
import * as Repository from "../../src/Repository.js"
import { integrationSuite } from "./support/binaries.js"
import * as Client from "./support/client.js"
import * as Environment from "./support/environment.js"
import { Fixture, skopeoPush } from "./support/environment.js"
import { admin, adminRefreshToken, reader } from "./support/registry.js"
import * as Scenarios from "./support/scenarios.js"
import type { TokenRequestLog } from "./support/tokenServer.js"

/** The token server's log entries from index `from` on. */
const tokenRequestsSince = (from: number) =>
  Effect.map(Fixture, ({ registry }) => registry.tokenServer!.requests.slice(from))

const tokenRequestCount = Effect.map(Fixture, ({ registry }) => registry.tokenServer!.requests.length)

/** Reads a manifest with a client built from `options`. */
const readWith = (repository: string, tag: string, options: Client.ClientOptions) =>
  Effect.gen(function*() {
    const { registry } = yield* Fixture
    return yield* Effect.flatMap(Repository.Repository, (repo) => repo.getManifest(Client.ref(registry, repository, tag))).pipe(
      Effect.provide(Client.layer(registry, options))
    )
  })

const grants = (log: ReadonlyArray<TokenRequestLog>) => log.map((r) => `${r.method} ${r.grant} ${r.status}`)

integrationSuite("registry 2.8 with bearer tokens", ["docker-registry", "skopeo", "openssl"], () => {
  layer(Environment.layer("token"), Environment.layerOptions)((it) => {
    Scenarios.skopeoToClient(it)
    Scenarios.clientToSkopeo(it)

    it.effect("gets pull tokens with GET and Basic credentials, scoped to the repository", () =>
      Effect.gen(function*() {
        const image = yield* skopeoPush("it/token-get", "v1")
        const before = yield* tokenRequestCount
        const manifest = yield* readWith("it/token-get", "v1", {})
        expect(manifest.digest).toBe(image.manifest.digest)
        const log = yield* tokenRequestsSince(before)
        expect(log.length).toBeGreaterThan(0)
        expect(log.every((r) => r.method === "GET" && r.user === admin.username && r.status === 200)).toBe(true)
        expect(log.flatMap((r) => r.scopes)).toContain("repository:it/token-get:pull")
      }))

    it.effect("the OAuth2 POST flow: password grant, then the refresh token it returned", () =>
      Effect.gen(function*() {
        const image = yield* skopeoPush("it/token-post", "v1")
        const before = yield* tokenRequestCount
        const { registry } = yield* Fixture
        const program = Effect.gen(function*() {
          const repo = yield* Repository.Repository
          const first = yield* repo.getManifest(Client.ref(registry, "it/token-post", "v1"))
          // another repository needs another scope, hence another token: from the refresh token
          const names = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.catalog(registry.host)))
          return { first, names }
        })
        const { first, names } = yield* Effect.provide(program, Client.layer(registry, { auth: { forceOAuth: true } }))
        expect(first.digest).toBe(image.manifest.digest)
        expect(names).toContain("it/token-post")
        const log = yield* tokenRequestsSince(before)
        expect(grants(log)).toEqual(["POST password 200", "POST refresh_token 200"])
        expect(log.every((r) => r.clientId === "effect-oci" && r.user === admin.username)).toBe(true)
        expect(log[0]!.scopes).toEqual(["repository:it/token-post:pull"])
        expect(log[1]!.scopes).toEqual(["registry:catalog:*"])
      }))

    it.effect("an identity token (OAuth2 refresh token) is exchanged with the POST form", () =>
      Effect.gen(function*() {
        const image = yield* skopeoPush("it/token-identity", "v1")
        const before = yield* tokenRequestCount
        const manifest = yield* readWith("it/token-identity", "v1", {
          credential: Credential.IdentityToken({ username: admin.username, token: Redacted.make(adminRefreshToken) })
        })
        expect(manifest.digest).toBe(image.manifest.digest)
        expect(grants(yield* tokenRequestsSince(before))).toEqual(["POST refresh_token 200"])
      }))

    it.effect("a wrong password: the token server refuses (TokenError 401), in both flows", () =>
      Effect.gen(function*() {
        yield* skopeoPush("it/token-wrong", "v1")
        const credential = Credential.Basic({ username: admin.username, password: Redacted.make("wrong-password") })
        const viaGet = yield* Effect.flip(readWith("it/token-wrong", "v1", { credential }))
        expect(viaGet).toMatchObject({ _tag: "TokenError", status: 401 })
        const before = yield* tokenRequestCount
        const viaPost = yield* Effect.flip(readWith("it/token-wrong", "v1", { credential, auth: { forceOAuth: true } }))
        expect(viaPost).toMatchObject({ _tag: "TokenError", status: 401 })
        // the refused POST falls back to GET, which is refused too
        expect(grants(yield* tokenRequestsSince(before))).toEqual(["POST password 401", "GET get 401"])
        expect(JSON.stringify([viaGet, viaPost])).not.toContain("wrong-password")
      }))

    it.effect("a token without the access asked for is refused by the registry: Unauthorized", () =>
      Effect.gen(function*() {
        yield* skopeoPush("it/token-scope", "v1")
        const anonymous = yield* Effect.flip(readWith("it/token-scope", "v1", { credential: Credential.Anonymous() }))
        expect(anonymous._tag).toBe("Unauthorized")
        // the pull-only user reads, but may not list the catalog (registry:catalog:* is not granted)
        const { registry } = yield* Fixture
        const readerOptions = { credential: Client.basic(reader) }
        expect((yield* readWith("it/token-scope", "v1", readerOptions)).mediaType).toBeDefined()
        const catalog = yield* Effect.flatMap(Repository.Repository, (repo) => Stream.runCollect(repo.catalog(registry.host)))
          .pipe(Effect.provide(Client.layer(registry, readerOptions)), Effect.flip)
        expect(catalog._tag).toBe("Unauthorized")
      }))

    it.effect("a registry token (sent as it is) works when the registry trusts it, else Unauthorized", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const image = yield* skopeoPush("it/token-static", "v1")
        const server = registry.tokenServer!
        const scopes = ["repository:it/token-static:pull"]
        const token = (claims: Record<string, unknown> = {}) =>
          Credential.RegistryToken({ token: Redacted.make(server.issue(admin.username, scopes, claims)) })
        const ok = yield* readWith("it/token-static", "v1", { credential: token() })
        expect(ok.digest).toBe(image.manifest.digest)
        // 2.8 wants `aud` as a string and checks the issuer
        for (const claims of [{ aud: [server.service] }, { iss: "someone-else" }]) {
          const refused = yield* Effect.flip(readWith("it/token-static", "v1", { credential: token(claims) }))
          expect(refused._tag).toBe("Unauthorized")
        }
      }))
  })
})
