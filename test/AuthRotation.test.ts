/**
 * Rotated refresh tokens: an OAuth2 server that answers every refresh with a new refresh token and
 * revokes the one it was given. The new one is used for this Auth's next token, and written back
 * to the credential store (Docker's config.json: `identitytoken`) for the next process.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Auth from "../src/Auth.js"
import * as Credentials from "../src/Credentials.js"
import { pickRefresh } from "../src/internal/token.js"
import { base, json, registry, type Sent, setup, world } from "./support/AuthFixture.js"
import { b64, tempDir } from "./support/CredentialsFixture.js"

const { Credential } = Credentials

/**
 * A token endpoint that rotates: a POST with the latest refresh token gets an access token and
 * refresh token `rt-(n+1)`; any other refresh token is refused (revoked). `used` records them.
 */
const rotatingServer = (first: string) => {
  let latest = first
  let issued = 0
  const used: Array<string> = []
  const token = (sent: Sent) => {
    const form = new URLSearchParams(sent.body)
    const offered = form.get("refresh_token") ?? ""
    used.push(offered)
    if (sent.method !== "POST" || form.get("grant_type") !== "refresh_token" || offered !== latest) {
      return json(401, { error: "invalid_grant", error_description: "refresh token revoked" })
    }
    issued++
    latest = `rt-${issued}`
    return json(200, { access_token: `tok-${issued}`, refresh_token: latest, expires_in: 300 })
  }
  return { handler: world({ token }), used, latest: () => latest }
}

/** A request needing a scope no earlier request had, so a new token is fetched. */
const request = (n: number) =>
  Effect.flatMap(Auth.Auth, (auth) =>
    auth.execute(registry, HttpClientRequest.get(`${base}/v2/r${n}/tags/list`), [Auth.pullScope(`r${n}`)]))

const identity = (token: string, username?: string) =>
  Credential.IdentityToken({ username, token: Redacted.make(token) })

describe("rotated refresh tokens", () => {
  it.effect("the new one is used for the next token, and replaces the old one in the store", () => {
    const server = rotatingServer("rt-0")
    const store = Credentials.makeStatic({ [registry]: identity("rt-0", "alice") })
    const t = setup({ handler: server.handler, credentials: Layer.succeed(Credentials.Credentials, store) })
    return Effect.gen(function*() {
      for (const n of [1, 2, 3]) expect((yield* request(n)).status).toBe(200)
      expect(server.used).toEqual(["rt-0", "rt-1", "rt-2"])
      const stored = yield* store.get(registry)
      expect(stored).toMatchObject({ _tag: "IdentityToken", username: "alice" })
      expect(Redacted.value((stored as { token: Redacted.Redacted<string> }).token)).toBe("rt-3")
    }).pipe(Effect.provide(t.layer))
  })

  it.scopedLive("Docker's config.json gets the new identitytoken, so the next process starts from it", () =>
    Effect.gen(function*() {
      const original = {
        auths: { [registry]: { auth: b64("alice:"), identitytoken: "rt-0" }, "other.example": { auth: b64("o:p") } },
        psFormat: "table"
      }
      const dir = yield* tempDir({ "config.json": original })
      const server = rotatingServer("rt-0")
      const run = <A, E>(effect: Effect.Effect<A, E, Auth.Auth>) => {
        const t = setup({ handler: server.handler, credentials: Credentials.layerDockerConfig() })
        return effect.pipe(
          Effect.provide(t.layer),
          Effect.provide(NodeContext.layer),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DOCKER_CONFIG", dir]])))
        )
      }
      yield* run(Effect.zipRight(request(1), request(2)))
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const read = Effect.map(fs.readFileString(`${dir}/config.json`), (text): unknown => JSON.parse(text))
      expect(yield* read).toEqual({
        ...original,
        auths: { ...original.auths, [registry]: { auth: b64("alice:"), identitytoken: "rt-2" } }
      })
      // A new process (a new Auth over the same file) goes on from rt-2, which the server still takes.
      expect((yield* run(request(3))).status).toBe(200)
      expect(server.used).toEqual(["rt-0", "rt-1", "rt-2"])
    }))

  it.effect("a read-only store (Config) still has the new one used by this Auth", () => {
    const server = rotatingServer("rt-0")
    const t = setup({ handler: server.handler, credentials: Credentials.layerConfig() })
    return Effect.gen(function*() {
      for (const n of [1, 2]) expect((yield* request(n)).status).toBe(200)
      expect(server.used).toEqual(["rt-0", "rt-1"])
    }).pipe(
      Effect.provide(t.layer),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([
        ["REGISTRY_HOST", registry],
        ["REGISTRY_IDENTITY_TOKEN", "rt-0"]
      ])))
    )
  })

  it.effect("a store that fails to take it costs a warning naming the store, never the token or the request", () => {
    const server = rotatingServer("rt-0")
    const broken = Credentials.Credentials.of({
      ...Credentials.makeStatic({ [registry]: identity("rt-0") }),
      store: () => Effect.fail(new Credentials.CredentialsError({ source: "/x/config.json", reason: "is read-only" }))
    })
    const t = setup({ handler: server.handler, credentials: Layer.succeed(Credentials.Credentials, broken) })
    const logs: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      logs.push(`${String(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
    })
    return Effect.gen(function*() {
      for (const n of [1, 2]) expect((yield* request(n)).status).toBe(200)
      expect(server.used).toEqual(["rt-0", "rt-1"])
      const warnings = logs.filter((line) => line.includes("could not store the rotated refresh token"))
      expect(warnings).toHaveLength(2)
      expect(warnings[0]).toContain("/x/config.json: is read-only")
      expect(logs.join("\n")).not.toMatch(/rt-\d/)
    }).pipe(Effect.provide(t.layer), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })

  it("which refresh token is offered: the stored one, unless the store holds a token it never replaced", () => {
    const stored = { token: Redacted.make("rt-2"), superseded: ["rt-0", "rt-1"] }
    const pick = (credential: Credentials.Credential, kept?: typeof stored) =>
      Option.map(pickRefresh(credential, Option.fromNullable(kept)), Redacted.value)
    // The store still holds a token this Auth replaced (it could not write back): the stored one.
    expect(pick(identity("rt-0"), stored)).toEqual(Option.some("rt-2"))
    expect(pick(identity("rt-1"), stored)).toEqual(Option.some("rt-2"))
    expect(pick(identity("rt-2"), stored)).toEqual(Option.some("rt-2"))
    // A token it never saw is newer (a login since): the store's.
    expect(pick(identity("login-9"), stored)).toEqual(Option.some("login-9"))
    expect(pick(identity("rt-0"))).toEqual(Option.some("rt-0"))
    // Other credentials only ever use what a server gave this Auth.
    expect(pick(Credential.Basic({ username: "a", password: Redacted.make("pw") }), stored)).toEqual(Option.some("rt-2"))
    expect(pick(Credential.Anonymous())).toEqual(Option.none())
  })
})
