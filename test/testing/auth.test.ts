import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Digest from "../../src/Digest.js"
import * as TestRegistry from "../../src/testing/index.js"
import { basic, bearer, code, live, parseChallenge, pushBlob, send } from "./helpers.js"

const users = { alice: "wonderland", bob: "builder" }

layer(live({ auth: { mode: "basic", users, realm: "test" } }), { excludeTestServices: true })("basic auth", (it) => {
  it.effect("challenges without credentials and with a wrong password, accepts the right one", () =>
    Effect.gen(function*() {
      const anonymous = yield* send("GET", "/v2/")
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers["www-authenticate"]).toBe('Basic realm="test"')
      expect(code(anonymous)).toBe("UNAUTHORIZED")
      expect((yield* send("GET", "/v2/", { headers: basic("alice", "nope") })).status).toBe(401)
      expect((yield* send("GET", "/v2/", { headers: basic("mallory", "wonderland") })).status).toBe(401)
      expect((yield* send("GET", "/v2/", { headers: basic("alice", "wonderland") })).status).toBe(200)
      const { reply } = yield* pushBlob("basic/repo", "content", basic("bob", "builder"))
      expect(reply.status).toBe(201)
    }))
})

layer(
  live({
    auth: {
      mode: "basic",
      users,
      access: ({ user, access }) => (user === "alice" ? access.actions : access.actions.filter((a) => a === "pull"))
    }
  }),
  { excludeTestServices: true }
)("basic auth with a policy", (it) => {
  it.effect("refuses what the policy does not grant with 403 DENIED", () =>
    Effect.gen(function*() {
      const denied = yield* pushBlob("policy/repo", "content", basic("bob", "builder"))
      expect(denied.reply.status).toBe(403)
      expect(code(denied.reply)).toBe("DENIED")
      const { digest, reply } = yield* pushBlob("policy/repo", "content", basic("alice", "wonderland"))
      expect(reply.status).toBe(201)
      expect((yield* send("GET", `/v2/policy/repo/blobs/${digest}`, { headers: basic("bob", "builder") })).status)
        .toBe(200)
    }))
})

const tokenAuth: TestRegistry.AuthOptions = {
  mode: "token",
  users,
  service: "test-registry",
  access: ({ user, access }) =>
    user === undefined
      ? access.actions.filter((a) => a === "pull" && access.name.startsWith("public/"))
      : user === "bob"
      ? access.actions.filter((a) => a !== "delete" && a !== "*")
      : access.actions
}

const getToken = (query: string, headers: Record<string, string> = {}) =>
  Effect.map(send("GET", `/token?${query}`, { headers }), (reply) => reply)

const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  contentType: "application/x-www-form-urlencoded"
})

layer(live({ auth: tokenAuth }), { excludeTestServices: true })("token auth", (it) => {
  it.effect("challenges like distribution: realm, service, scope", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const base = yield* send("GET", "/v2/")
      expect(base.status).toBe(401)
      expect(parseChallenge(base.headers["www-authenticate"])).toEqual({
        realm: `${registry.url}/token`,
        service: "test-registry"
      })
      const pull = yield* send("GET", `/v2/private/app/manifests/latest`)
      expect(parseChallenge(pull.headers["www-authenticate"]).scope).toBe("repository:private/app:pull")
      const push = yield* send("POST", "/v2/private/app/blobs/uploads/")
      expect(parseChallenge(push.headers["www-authenticate"]).scope).toBe("repository:private/app:pull,push")
      const mount = yield* send("POST", `/v2/private/app/blobs/uploads/?mount=${Digest.compute("x")}&from=other/repo`)
      expect(parseChallenge(mount.headers["www-authenticate"]).scope).toBe(
        "repository:private/app:pull,push repository:other/repo:pull"
      )
      const catalog = yield* send("GET", "/v2/_catalog")
      expect(parseChallenge(catalog.headers["www-authenticate"]).scope).toBe("registry:catalog:*")
    }))

  it.effect("GET /token with basic auth grants what the policy allows; scopes are enforced", () =>
    Effect.gen(function*() {
      const issued = yield* getToken(
        "service=test-registry&scope=repository:bob/app:pull,push,delete",
        basic("bob", "builder")
      )
      expect(issued.status).toBe(200)
      expect(issued.json.token).toBe(issued.json.access_token)
      expect(issued.json.expires_in).toBe(300)
      expect(issued.json.scope).toBe("repository:bob/app:pull,push")
      expect(typeof issued.json.issued_at).toBe("string")
      const auth = bearer(issued.json.token)

      const { digest, reply } = yield* pushBlob("bob/app", "bob's layer", auth)
      expect(reply.status).toBe(201)
      expect((yield* send("GET", `/v2/bob/app/blobs/${digest}`, { headers: auth })).status).toBe(200)

      const del = yield* send("DELETE", `/v2/bob/app/blobs/${digest}`, { headers: auth })
      expect(del.status).toBe(401)
      const challenge = parseChallenge(del.headers["www-authenticate"])
      expect(challenge.error).toBe("insufficient_scope")
      expect(challenge.scope).toBe("repository:bob/app:delete")

      const other = yield* send("GET", `/v2/alice/app/blobs/${digest}`, { headers: auth })
      expect(parseChallenge(other.headers["www-authenticate"]).error).toBe("insufficient_scope")

      const garbage = yield* send("GET", `/v2/bob/app/blobs/${digest}`, { headers: bearer("not-a-token") })
      expect(garbage.status).toBe(401)
      expect(parseChallenge(garbage.headers["www-authenticate"]).error).toBe("invalid_token")

      const wrongPassword = yield* getToken("service=test-registry&scope=repository:bob/app:pull", basic("bob", "x"))
      expect(wrongPassword.status).toBe(401)
    }))

  it.effect("anonymous tokens carry only what the policy gives anonymous users", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const { digest } = yield* registry.putBlob("public/lib", "public layer")
      const anon = yield* getToken("service=test-registry&scope=repository:public/lib:pull,push")
      expect(anon.json.scope).toBe("repository:public/lib:pull")
      const auth = bearer(anon.json.token)
      expect((yield* send("GET", `/v2/public/lib/blobs/${digest}`, { headers: auth })).status).toBe(200)
      expect((yield* send("POST", "/v2/public/lib/blobs/uploads/", { headers: auth })).status).toBe(401)
      expect((yield* send("GET", "/v2/", { headers: auth })).status).toBe(200)
    }))

  it.effect("the catalog needs registry:catalog:*", () =>
    Effect.gen(function*() {
      const token = (yield* getToken("service=test-registry&scope=registry:catalog:*", basic("alice", "wonderland")))
        .json.token
      const catalog = yield* send("GET", "/v2/_catalog", { headers: bearer(token) })
      expect(catalog.status).toBe(200)
      const bobs = (yield* getToken("service=test-registry&scope=registry:catalog:*", basic("bob", "builder"))).json
      expect(bobs.scope).toBe("")
      expect((yield* send("GET", "/v2/_catalog", { headers: bearer(bobs.token) })).status).toBe(401)
    }))

  it.effect("POST /token: password grant with a refresh token, then the refresh_token grant", () =>
    Effect.gen(function*() {
      const first = yield* send(
        "POST",
        "/token",
        form({
          grant_type: "password",
          username: "alice",
          password: "wonderland",
          service: "test-registry",
          scope: "repository:alice/app:pull,push repository:alice/other:pull",
          client_id: "effect-oci-test",
          access_type: "offline"
        })
      )
      expect(first.status).toBe(200)
      expect(first.json.scope).toBe("repository:alice/app:pull,push repository:alice/other:pull")
      expect(typeof first.json.refresh_token).toBe("string")
      const { reply } = yield* pushBlob("alice/app", "alice's layer", bearer(first.json.access_token))
      expect(reply.status).toBe(201)

      const refreshed = yield* send(
        "POST",
        "/token",
        form({
          grant_type: "refresh_token",
          refresh_token: first.json.refresh_token,
          service: "test-registry",
          scope: "repository:alice/app:delete",
          client_id: "effect-oci-test"
        })
      )
      expect(refreshed.status).toBe(200)
      expect(refreshed.json.scope).toBe("repository:alice/app:delete")
      expect(refreshed.json.access_token).not.toBe(first.json.access_token)

      const noRefresh = yield* send(
        "POST",
        "/token",
        form({ grant_type: "password", username: "alice", password: "wonderland", service: "test-registry" })
      )
      expect(noRefresh.json.refresh_token).toBeUndefined()

      const badPassword = yield* send(
        "POST",
        "/token",
        form({ grant_type: "password", username: "alice", password: "x", service: "test-registry" })
      )
      expect(badPassword.status).toBe(401)
      expect(badPassword.json.error).toBe("invalid_grant")
      const badRefresh = yield* send("POST", "/token", form({ grant_type: "refresh_token", refresh_token: "nope" }))
      expect(badRefresh.json.error).toBe("invalid_grant")
      const badGrant = yield* send("POST", "/token", form({ grant_type: "client_credentials" }))
      expect(badGrant.status).toBe(400)
      expect(badGrant.json.error).toBe("unsupported_grant_type")
    }))

  it.effect("the request log records the scheme, never the credential", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      yield* registry.clearRequests
      const issued = yield* getToken("service=test-registry&scope=repository:alice/log:pull", basic("alice", "wonderland"))
      yield* send("GET", "/v2/alice/log/tags/list", { headers: bearer(issued.json.token) })
      const log = yield* registry.requests
      expect(log.map((e) => [e.method, e.path, e.authorization])).toEqual([
        ["GET", "/token", "basic"],
        ["GET", "/v2/alice/log/tags/list", "bearer"]
      ])
      expect(log[0]!.query).toEqual({ service: "test-registry", scope: "repository:alice/log:pull" })
      const dump = JSON.stringify(log)
      expect(dump).not.toContain(issued.json.token)
      expect(dump).not.toContain(Buffer.from("alice:wonderland").toString("base64"))
      expect(log[0]!.headers["authorization"]).toBeUndefined()
    }))
})

describe("token lifetime", () => {
  it.live("tokens expire after the configured lifetime", () =>
    Effect.gen(function*() {
      const issued = yield* getToken("service=s&scope=repository:alice/app:pull", basic("alice", "wonderland"))
      expect(issued.json.expires_in).toBe(0)
      const auth = bearer(issued.json.token)
      expect((yield* send("GET", "/v2/", { headers: auth })).status).toBe(200)
      yield* Effect.sleep("400 millis")
      const expired = yield* send("GET", "/v2/", { headers: auth })
      expect(expired.status).toBe(401)
      expect(parseChallenge(expired.headers["www-authenticate"]).error).toBe("invalid_token")
    }).pipe(Effect.provide(live({ auth: { mode: "token", users, tokenLifetime: "300 millis" } }))))
})
