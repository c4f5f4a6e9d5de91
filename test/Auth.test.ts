import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Auth from "../src/Auth.js"
import { Credential } from "../src/Credentials.js"
import {
  base,
  basic,
  bearer,
  execute,
  json,
  password,
  realm,
  registry,
  type Sent,
  setup,
  world
} from "./support/AuthFixture.js"

const basicHeader = `Basic ${Buffer.from(`alice:${password}`).toString("base64")}`

describe("Basic", () => {
  it.effect("answers a Basic challenge, then authorises up front", () => {
    const t = setup({
      credential: basic,
      handler: world({
        challenge: () => `Basic realm="registry"`,
        accepts: (authorization) => authorization === basicHeader
      })
    })
    return Effect.gen(function*() {
      const first = yield* execute()
      expect(first.status).toBe(200)
      expect(t.requests.map((r) => r.headers["authorization"])).toEqual([undefined, basicHeader])
      const second = yield* execute()
      expect(second.status).toBe(200)
      expect(t.requests).toHaveLength(3)
      expect(t.requests[2]!.headers["authorization"]).toBe(basicHeader)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("wrong credentials: one resend at most, then Unauthorized", () => {
    const t = setup({ credential: basic, handler: world({ challenge: () => `Basic realm="r"`, accepts: () => false }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("Unauthorized")
      expect(t.requests).toHaveLength(2)
      // and now known: the next call sends Basic at once and does not resend the same header
      yield* Effect.flip(execute())
      expect(t.requests).toHaveLength(3)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("anonymous against Basic fails Unauthorized without resending", () => {
    const t = setup({ handler: world({ challenge: () => `Basic realm="r"` }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("Unauthorized")
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })
})

describe("Bearer token GET", () => {
  it.effect("sends service, one scope per scope and account, with Basic auth", () => {
    const t = setup({ credential: basic, handler: world() })
    return Effect.gen(function*() {
      const response = yield* execute(undefined, [Auth.pullScope("a/b"), Auth.pullScope("c/d")])
      expect(response.status).toBe(200)
      const [token] = t.tokenRequests()
      expect(token!.method).toBe("GET")
      expect(`${token!.url.origin}${token!.url.pathname}`).toBe(realm)
      expect([...token!.url.searchParams]).toEqual([
        ["service", registry],
        ["scope", "repository:a/b:pull"],
        ["scope", "repository:c/d:pull"],
        ["account", "alice"]
      ])
      expect(token!.headers["authorization"]).toBe(basicHeader)
      expect(t.registryRequests().map((r) => r.headers["authorization"])).toEqual([undefined, "Bearer tok-1"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("anonymous: no account, no Authorization; realm query kept", () => {
    const t = setup({
      handler: world({ challenge: () => `Bearer realm="${realm}?x=1",service="${registry}"` })
    })
    return Effect.gen(function*() {
      yield* execute()
      const [token] = t.tokenRequests()
      expect([...token!.url.searchParams]).toEqual([
        ["x", "1"],
        ["service", registry],
        ["scope", "repository:a/b:pull"]
      ])
      expect(token!.headers["authorization"]).toBeUndefined()
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("offline tokens: offline_token=true and client_id", () => {
    const t = setup({ credential: basic, auth: { offlineToken: true, clientId: "my-tool" }, handler: world() })
    return Effect.gen(function*() {
      yield* execute()
      const params = t.tokenRequests()[0]!.url.searchParams
      expect(params.get("offline_token")).toBe("true")
      expect(params.get("client_id")).toBe("my-tool")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("merges the challenge's scope with the requested one, whatever its action order", () => {
    const t = setup({ handler: world({ challenge: () => bearer("repository:a/b:push,pull") }) })
    return Effect.gen(function*() {
      yield* execute(undefined, [Auth.pullScope("a/b")])
      expect(t.tokenRequests()[0]!.url.searchParams.getAll("scope")).toEqual(["repository:a/b:pull,push"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("adds the mount source's pull scope", () => {
    const t = setup({ handler: world({ challenge: () => bearer("repository:a/b:pull,push") }) })
    const request = HttpClientRequest.post(`${base}/v2/a/b/blobs/uploads/`).pipe(
      HttpClientRequest.setUrlParams({ mount: "sha256:00", from: "src/repo" })
    )
    return Effect.gen(function*() {
      yield* execute(request, [Auth.pushScope("a/b")])
      expect(t.tokenRequests()[0]!.url.searchParams.getAll("scope")).toEqual([
        "repository:a/b:pull,push",
        "repository:src/repo:pull"
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("authorises up front once the endpoint's challenge is known", () => {
    const t = setup({ handler: world() })
    return Effect.gen(function*() {
      yield* execute()
      expect(t.requests).toHaveLength(3) // 401, token, 200
      yield* execute(HttpClientRequest.head(`${base}/v2/a/b/blobs/sha256:1`))
      expect(t.requests).toHaveLength(4) // cached token, no 401
      expect(t.requests[3]!.headers["authorization"]).toBe("Bearer tok-1")
      // other scopes: a new token, still no 401
      yield* execute(HttpClientRequest.get(`${base}/v2/x/y/tags/list`), [Auth.pullScope("x/y")])
      expect(t.requests.map((r) => `${r.url.host} ${r.headers["authorization"] ?? "-"}`).slice(4)).toEqual([
        "auth.example -",
        `${registry} Bearer tok-2`
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a request with a body learns the challenge with GET /v2/ first, so the body goes once", () => {
    const t = setup({ handler: world({ ok: () => new Response(null, { status: 201 }) }) })
    const put = HttpClientRequest.put(`${base}/v2/a/b/manifests/v1`).pipe(
      HttpClientRequest.bodyText("{}", "application/vnd.oci.image.manifest.v1+json")
    )
    return Effect.gen(function*() {
      const response = yield* execute(put, [Auth.pushScope("a/b")])
      expect(response.status).toBe(201)
      expect(t.requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
        "GET /v2/",
        "GET /token",
        "PUT /v2/a/b/manifests/v1"
      ])
      expect(t.requests[2]!.body).toBe("{}")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a registry token is sent as it is, with no token fetch", () => {
    const t = setup({
      credential: Credential.RegistryToken({ token: Redacted.make("reg-tok") }),
      handler: world({ accepts: (a) => a === "Bearer reg-tok" })
    })
    return Effect.gen(function*() {
      expect((yield* execute()).status).toBe(200)
      expect(t.tokenRequests()).toHaveLength(0)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("403 fails Denied; other statuses come back as they are", () => {
    let status = 403
    const t = setup({
      handler: world({
        ok: () =>
          status === 403
            ? json(403, { errors: [{ code: "DENIED", message: "nope" }] })
            : new Response("", { status })
      })
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("Denied")
      expect(error.message).toBe("nope")
      status = 404
      expect((yield* execute()).status).toBe(404)
    }).pipe(Effect.provide(t.layer))
  })
})

describe("OAuth2 POST", () => {
  const identity = Credential.IdentityToken({ username: "alice", token: Redacted.make("refresh-XYZ-secret") })
  const form = (sent: Sent) => Object.fromEntries(new URLSearchParams(sent.body))

  it.effect("exchanges an identity token with grant_type=refresh_token", () => {
    const t = setup({
      credential: identity,
      handler: world({ token: () => json(200, { access_token: "tok-oauth" }) })
    })
    return Effect.gen(function*() {
      yield* execute(undefined, [Auth.pullScope("a/b"), Auth.pullScope("c")])
      const [token] = t.tokenRequests()
      expect(token!.method).toBe("POST")
      expect(token!.headers["content-type"]).toBe("application/x-www-form-urlencoded")
      expect(form(token!)).toEqual({
        grant_type: "refresh_token",
        refresh_token: "refresh-XYZ-secret",
        service: registry,
        client_id: "effect-oci",
        scope: "repository:a/b:pull repository:c:pull"
      })
      expect(t.registryRequests()[1]!.headers["authorization"]).toBe("Bearer tok-oauth")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([400, 401, 404, 405])("falls back to GET when the POST gets %i", (status) => {
    const t = setup({
      credential: identity,
      handler: world({
        token: (sent, n) => sent.method === "POST" ? new Response("", { status }) : json(200, { token: `tok-${n}` })
      })
    })
    return Effect.gen(function*() {
      expect((yield* execute()).status).toBe(200)
      expect(t.tokenRequests().map((r) => r.method)).toEqual(["POST", "GET"])
      const get = t.tokenRequests()[1]!
      expect(get.url.searchParams.get("account")).toBe("alice")
      expect(get.headers["authorization"]).toBe(`Basic ${Buffer.from("alice:refresh-XYZ-secret").toString("base64")}`)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a POST refused with 500 is an error, not a fallback", () => {
    const t = setup({ credential: identity, handler: world({ token: () => new Response("", { status: 500 }) }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("TokenError")
      expect(t.tokenRequests()).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("forceOAuth uses the password grant with Basic credentials", () => {
    const t = setup({ credential: basic, auth: { forceOAuth: true }, handler: world() })
    return Effect.gen(function*() {
      yield* execute()
      const [token] = t.tokenRequests()
      expect(form(token!)).toEqual({
        grant_type: "password",
        username: "alice",
        password,
        access_type: "offline",
        service: registry,
        client_id: "effect-oci",
        scope: "repository:a/b:pull"
      })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a refresh token returned by the server is used for the next token", () => {
    const t = setup({
      credential: basic,
      auth: { offlineToken: true },
      handler: world({ token: (_, n) => json(200, { token: `tok-${n}`, refresh_token: "server-refresh-1" }) })
    })
    return Effect.gen(function*() {
      yield* execute()
      yield* execute(HttpClientRequest.get(`${base}/v2/x/tags/list`), [Auth.pullScope("x")])
      const [first, second] = t.tokenRequests()
      expect(first!.method).toBe("GET")
      expect(second!.method).toBe("POST")
      expect(form(second!)).toMatchObject({ grant_type: "refresh_token", refresh_token: "server-refresh-1" })
    }).pipe(Effect.provide(t.layer))
  })
})

describe("token cache", () => {
  it.effect("20 concurrent requests share one token fetch", () => {
    const t = setup({
      handler: world({
        token: (_, n) => Effect.as(Effect.sleep("1 second"), json(200, { token: `tok-${n}` }))
      })
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 20 }, () => execute()), { concurrency: 20 }))
      yield* TestClock.adjust("1 second")
      const responses = yield* Fiber.join(fiber)
      expect(responses.every((r) => r.status === 200)).toBe(true)
      expect(t.tokenRequests()).toHaveLength(1)
      expect(new Set(t.registryRequests().slice(20).map((r) => r.headers["authorization"]))).toEqual(
        new Set(["Bearer tok-1"])
      )
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an interrupted caller does not break the shared fetch", () => {
    const t = setup({
      handler: world({ token: (_, n) => Effect.as(Effect.sleep("1 second"), json(200, { token: `tok-${n}` })) })
    })
    return Effect.gen(function*() {
      const leader = yield* Effect.fork(execute())
      yield* TestClock.adjust("100 millis")
      const follower = yield* Effect.fork(execute())
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(leader)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(follower)).status).toBe(200)
      expect(t.tokenRequests()).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("insufficient_scope on a held token: one re-authorisation, then Unauthorized", () => {
    let refuse = false
    const t = setup({
      handler: world({
        challenge: () => refuse ? bearer("repository:a/b:pull", `,error="insufficient_scope"`) : bearer(),
        accepts: (a) => !refuse && (a?.startsWith("Bearer tok-") ?? false)
      })
    })
    return Effect.gen(function*() {
      yield* execute()
      expect(t.tokenRequests()).toHaveLength(1)
      refuse = true
      const before = t.requests.length
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("Unauthorized")
      expect(t.requests.slice(before).map((r) => `${r.url.host} ${r.headers["authorization"] ?? "-"}`)).toEqual([
        `${registry} Bearer tok-1`,
        "auth.example -",
        `${registry} Bearer tok-2`
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("invalid_token on a held token: the cached token is dropped and a new one works", () => {
    const revoked = new Set<string>()
    const t = setup({
      handler: world({
        challenge: () => bearer("repository:a/b:pull", `,error="invalid_token"`),
        accepts: (a) => a !== undefined && a.startsWith("Bearer tok-") && !revoked.has(a)
      })
    })
    return Effect.gen(function*() {
      yield* execute()
      revoked.add("Bearer tok-1")
      expect((yield* execute()).status).toBe(200)
      expect(t.tokenRequests()).toHaveLength(2)
      // tok-2 is now the cached one
      yield* execute()
      expect(t.tokenRequests()).toHaveLength(2)
      expect(t.requests.at(-1)!.headers["authorization"]).toBe("Bearer tok-2")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a fresh token refused for the same scopes is not fetched again", () => {
    const t = setup({ handler: world({ accepts: () => false }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("Unauthorized")
      expect(t.tokenRequests()).toHaveLength(1)
      expect(t.registryRequests()).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 401 without any challenge fails Unauthorized", () => {
    const t = setup({ handler: () => json(401, { errors: [{ code: "UNAUTHORIZED", message: "who?" }] }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("Unauthorized")
      expect(error.message).toBe("who?")
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a challenge learned later replaces an unusable one", () => {
    let challenge = `Negotiate`
    const t = setup({ handler: world({ challenge: () => challenge }) })
    return Effect.gen(function*() {
      expect((yield* Effect.flip(execute()))._tag).toBe("Unauthorized")
      challenge = bearer()
      expect((yield* execute()).status).toBe(200)
      expect(t.requests.map((r) => r.url.host)).toEqual([registry, registry, "auth.example", registry])
    }).pipe(Effect.provide(t.layer))
  })
})

describe("the /v2/ ping before a request with a body", () => {
  it.live("concurrent requests share one ping; a later one needs none", () => {
    const t = setup({
      credential: basic,
      handler: world({ token: (_, n) => Effect.as(Effect.sleep("20 millis"), json(200, { token: `tok-${n}` })) })
    })
    const upload = (n: number) =>
      execute(
        HttpClientRequest.post(`${base}/v2/a/b/blobs/uploads/`).pipe(HttpClientRequest.bodyText(`chunk ${n}`)),
        [Auth.pushScope("a/b")]
      )
    return Effect.gen(function*() {
      const results = yield* Effect.all(Array.from({ length: 10 }, (_, n) => upload(n)), { concurrency: "unbounded" })
      expect(results.every((r) => r.status === 200)).toBe(true)
      yield* upload(10)
      const pings = t.registryRequests().filter((r) => r.method === "GET" && r.url.pathname === "/v2/")
      expect(pings).toHaveLength(1)
      // Every upload went out once, with the token: the ping spared them a refused first attempt.
      expect(t.registryRequests().filter((r) => r.method === "POST")).toHaveLength(11)
    }).pipe(Effect.provide(t.layer))
  })
})

describe("a malformed challenge", () => {
  it.effect("fails at once with a TokenError saying what is wrong, without a token fetch or another attempt", () => {
    const t = setup({
      credential: basic,
      handler: () =>
        new Response(null, { status: 401, headers: { "www-authenticate": "Bearer realm=\"https://auth.example/token, ,=" } })
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error).toMatchObject({ _tag: "TokenError", reason: "the Bearer challenge has no realm" })
      expect(t.requests.map((r) => `${r.method} ${r.url.host}`)).toEqual([`GET ${registry}`])
    }).pipe(Effect.provide(t.layer))
  })
})
