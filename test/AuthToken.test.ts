import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import * as Auth from "../src/Auth.js"
import { Credential } from "../src/Credentials.js"
import { expiry } from "../src/internal/token.js"
import { base, basic, execute, json, password, registry, setup, world } from "./support/AuthFixture.js"

const tokenWith = (body: Record<string, unknown>) => (_: unknown, n: number) =>
  json(200, { token: `tok-${n}`, ...body })

/** The same request and scopes again: only the token cache decides whether a fetch happens. */
const again = execute

describe("token expiry", () => {
  it.effect("is cached until shortly before expires_in, then renewed", () => {
    const t = setup({ handler: world({ token: tokenWith({ expires_in: 300 }) }) })
    return Effect.gen(function*() {
      yield* execute()
      yield* TestClock.adjust("269 seconds")
      yield* again()
      expect(t.tokenRequests()).toHaveLength(1)
      // 300 s lifetime renews 30 s early
      yield* TestClock.adjust("2 seconds")
      yield* again()
      expect(t.tokenRequests()).toHaveLength(2)
      expect(t.requests.at(-1)!.headers["authorization"]).toBe("Bearer tok-2")
      // no 401 was needed for the renewal
      expect(t.registryRequests().filter((r) => r.headers["authorization"] === undefined)).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("lasts 60 s when the server gives no lifetime", () => {
    const t = setup({ handler: world() })
    return Effect.gen(function*() {
      yield* execute()
      yield* TestClock.adjust("53 seconds")
      yield* again()
      expect(t.tokenRequests()).toHaveLength(1)
      yield* TestClock.adjust("2 seconds") // 60 s renews 6 s early
      yield* again()
      expect(t.tokenRequests()).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("counts from issued_at", () => {
    const t = setup({
      handler: world({
        token: tokenWith({ expires_in: 600, issued_at: new Date(1_000_000 - 400_000).toISOString() })
      })
    })
    return Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      yield* execute()
      yield* TestClock.adjust("169 seconds") // expires 200 s after now, renews 30 s early
      yield* again()
      expect(t.tokenRequests()).toHaveLength(1)
      yield* TestClock.adjust("2 seconds")
      yield* again()
      expect(t.tokenRequests()).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it("ignores an issued_at in the future or one that makes the token dead on arrival", () => {
    const now = 10_000_000
    expect(expiry(now, 100, new Date(now + 50_000).toISOString()).expiresAt).toBe(now + 100_000)
    expect(expiry(now, 100, new Date(now - 500_000).toISOString()).expiresAt).toBe(now + 100_000)
    expect(expiry(now, 100, "garbage").expiresAt).toBe(now + 100_000)
    expect(expiry(now, undefined, undefined)).toEqual({ expiresAt: now + 60_000, renewAt: now + 54_000 })
    expect(expiry(now, 3600, undefined).renewAt).toBe(now + 3_570_000)
    expect(expiry(now, -5, undefined).expiresAt).toBe(now + 60_000)
  })

  it.effect("accepts expires_in as a numeric string", () => {
    const t = setup({ handler: world({ token: tokenWith({ expires_in: "1000" }) }) })
    return Effect.gen(function*() {
      yield* execute()
      yield* TestClock.adjust("900 seconds")
      yield* again()
      expect(t.tokenRequests()).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })
})

describe("token responses", () => {
  it.effect("not JSON → TokenError", () => {
    const t = setup({ handler: world({ token: () => new Response("<html>oops</html>", { status: 200 }) }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("TokenError")
      expect(error.message).toContain("not JSON")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("wrong shape → TokenError", () => {
    const t = setup({ handler: world({ token: () => json(200, { token: 42 }) }) })
    return Effect.gen(function*() {
      expect((yield* Effect.flip(execute()))._tag).toBe("TokenError")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([{}, { token: "" }, { access_token: "", token: "" }, { token: null }])(
    "no token in %j → TokenError",
    (body) => {
      const t = setup({ handler: world({ token: () => json(200, body) }) })
      return Effect.gen(function*() {
        const error = yield* Effect.flip(execute())
        expect(error._tag).toBe("TokenError")
        expect(error.message).toContain("no token")
      }).pipe(Effect.provide(t.layer))
    }
  )

  it.effect("access_token wins over token", () => {
    const t = setup({
      handler: world({
        token: () => json(200, { token: "tok-old", access_token: "tok-new" }),
        accepts: (a) => a === "Bearer tok-new"
      })
    })
    return Effect.gen(function*() {
      expect((yield* execute()).status).toBe(200)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([
    ["declared", { "content-length": String(65 * 1024) }],
    ["streamed", {}]
  ] as const)("over 64 KiB (%s) → BodyTooLarge", ([, headers]) => {
    const big = JSON.stringify({ token: "x".repeat(65 * 1024) })
    const t = setup({ handler: world({ token: () => new Response(big, { status: 200, headers }) }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("BodyTooLarge")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a refusal by the token endpoint is a TokenError with its status", () => {
    const t = setup({
      credential: basic,
      handler: world({ token: () => json(401, { details: "incorrect username or password" }) })
    })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error).toMatchObject({ _tag: "TokenError", status: 401, realm: "https://auth.example/token" })
      expect(error.message).toContain("incorrect username or password")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a token endpoint's plain-text or HTML refusal is quoted, without the password", () => {
    const t = setup({
      credential: basic,
      handler: world({
        token: (_, n) =>
          n === 1
            ? new Response(`Forbidden for user with password ${password}\n`, { status: 403 })
            : new Response("<html><body><h1>401 Authorization Required</h1></body></html>", { status: 401 })
      })
    })
    return Effect.gen(function*() {
      const first = yield* Effect.flip(execute())
      expect(first).toMatchObject({ _tag: "TokenError", status: 403 })
      expect(first.message).toContain("Forbidden for user with password <redacted>")
      expect(first.message).not.toContain(password)
      const second = yield* Effect.flip(execute())
      expect(second.message).toContain("the token endpoint answered 401: 401 Authorization Required")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a failed fetch is not cached", () => {
    let fail = true
    const t = setup({
      handler: world({ token: (_, n) => fail ? new Response("", { status: 500 }) : json(200, { token: `tok-${n}` }) })
    })
    return Effect.gen(function*() {
      expect((yield* Effect.flip(execute()))._tag).toBe("TokenError")
      fail = false
      expect((yield* execute()).status).toBe(200)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a Bearer challenge without realm → TokenError", () => {
    const t = setup({ handler: world({ challenge: () => `Bearer service="x"` }) })
    return Effect.gen(function*() {
      expect((yield* Effect.flip(execute()))._tag).toBe("TokenError")
    }).pipe(Effect.provide(t.layer))
  })
})

describe("realm safety", () => {
  const withRealm = (realm: string, credential?: Credential) =>
    setup({
      ...(credential ? { credential } : {}),
      handler: (sent) =>
        sent.url.host === registry
          ? (sent.headers["authorization"] ? new Response("ok") : json(401, {}, {
            "www-authenticate": `Bearer realm="${realm}",service="s"`
          }))
          : json(200, { token: "tok-1" })
    })

  it.effect.each(["ftp://auth.example/token", "file:///etc/passwd", "javascript:alert(1)", "not a url"])(
    "refuses the realm %s",
    (realm) => {
      const t = withRealm(realm)
      return Effect.gen(function*() {
        expect((yield* Effect.flip(execute()))._tag).toBe("InsecureRealm")
        expect(t.requests).toHaveLength(1)
      }).pipe(Effect.provide(t.layer))
    }
  )

  it.effect("refuses plain http carrying credentials to a non-loopback host", () => {
    const t = withRealm("http://auth.example/token", basic)
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      expect(error._tag).toBe("InsecureRealm")
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("refuses an OAuth2 POST over plain http too", () => {
    const t = withRealm(
      "http://auth.example/token",
      Credential.IdentityToken({ username: undefined, token: Redacted.make("idt-secret") })
    )
    return Effect.gen(function*() {
      expect((yield* Effect.flip(execute()))._tag).toBe("InsecureRealm")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("allows plain http without credentials, or to a loopback / insecure host", () => {
    const anonymous = withRealm("http://auth.example/token")
    const loopback = withRealm("http://127.0.0.1:5001/token", basic)
    return Effect.gen(function*() {
      expect((yield* execute().pipe(Effect.provide(anonymous.layer))).status).toBe(200)
      expect((yield* execute().pipe(Effect.provide(loopback.layer))).status).toBe(200)
      expect(loopback.requests[1]!.url.host).toBe("127.0.0.1:5001")
    })
  })
})

describe("secrets", () => {
  const identitySecret = "identity-refresh-secret"
  const registrySecret = "registry-bearer-secret"
  const secrets = [password, identitySecret, registrySecret, "tok-"]

  const failures = [
    // the token endpoint echoes the password back in its complaint
    () =>
      setup({ credential: basic, handler: world({ token: () => json(401, { details: `bad password ${password}` }) }) }),
    () =>
      setup({
        credential: Credential.IdentityToken({ username: "u", token: Redacted.make(identitySecret) }),
        handler: world({ token: () => json(400, { error_description: `refresh token ${identitySecret} revoked` }) })
      }),
    () => setup({ credential: basic, handler: world({ accepts: () => false }) }),
    () => setup({ credential: basic, handler: world({ challenge: () => `Basic realm="r"`, accepts: () => false }) }),
    () =>
      setup({
        credential: Credential.RegistryToken({ token: Redacted.make(registrySecret) }),
        handler: world({ accepts: () => false })
      }),
    () => setup({ credential: basic, handler: world({ token: () => new Response(`{"token": "tok-${password}`) }) }),
    () =>
      setup({
        credential: basic,
        handler: world({ challenge: () => `Bearer realm="http://user:${password}@auth.example/t?pw=${password}"` })
      })
  ]

  it.effect.each(failures.map((f, i) => [i, f] as const))("no secret in error %i", ([, make]) => {
    const t = make()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(execute())
      const texts = [String(error), error.message, JSON.stringify(error), JSON.stringify(error.toJSON())]
      for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("logs (debug included) carry no secret", () => {
    const lines: Array<string> = []
    const capture = Logger.make(({ annotations, message }) => {
      lines.push(JSON.stringify([message, Array.from(annotations)]))
    })
    const identity = Credential.IdentityToken({ username: "u", token: Redacted.make(identitySecret) })
    const flows = [
      setup({
        credential: basic,
        auth: { offlineToken: true },
        handler: world({ token: tokenWith({ refresh_token: "rt-secret-1" }) })
      }),
      setup({
        credential: identity,
        handler: world({
          token: (sent, n) =>
            sent.method === "POST" ? new Response("", { status: 405 }) : json(200, { token: `tok-${n}` })
        })
      })
    ]
    return Effect.gen(function*() {
      for (const flow of flows) {
        yield* execute().pipe(Effect.provide(flow.layer))
        yield* execute(HttpClientRequest.get(`${base}/v2/x/tags/list`), [Auth.pullScope("x")]).pipe(
          Effect.provide(flow.layer)
        )
      }
      expect(lines.length).toBeGreaterThan(3)
      for (const line of lines) for (const secret of [...secrets, "rt-secret-1"]) expect(line).not.toContain(secret)
    }).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })

  it.effect("token fetches are spans with realm, service and scopes, and no token", () => {
    const t = setup({ credential: basic, handler: world() })
    return Effect.gen(function*() {
      const native = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
      yield* execute(HttpClientRequest.get(`${base}/v2/a/b/manifests/x`), [Auth.pushScope("a/b")]).pipe(
        Effect.withTracer(tracer)
      )
      const fetch = spans.find((s) => s.name === "Auth.fetchToken")
      expect(fetch).toBeDefined()
      expect(Object.fromEntries(fetch!.attributes)).toMatchObject({
        "oci.auth.realm": "https://auth.example/token",
        "oci.auth.service": registry,
        "oci.auth.scopes": "repository:a/b:pull,push",
        "oci.auth.grant": "get"
      })
      expect(spans.some((s) => s.name === "Auth.execute")).toBe(true)
      const all = JSON.stringify(spans.map((s) => Object.fromEntries(s.attributes)))
      expect(all).not.toContain("tok-1")
      expect(all).not.toContain(password)
    }).pipe(Effect.provide(t.layer))
  })
})
