import * as HttpClient from "@effect/platform/HttpClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Digest from "../../src/Digest.js"
import * as TestRegistry from "../../src/testing/index.js"
import { FaultAction } from "../../src/testing/index.js"
import { basic, bearer, code, live, parseChallenge, pushBlob, send } from "./helpers.js"

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + 5) % 253)

/** Runs a test body with faults set, clearing them afterwards. */
const withFaults = <A, E, R>(faults: ReadonlyArray<TestRegistry.Fault>, body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const registry = yield* TestRegistry.TestRegistry
    yield* registry.setFaults(faults)
    return yield* body.pipe(Effect.ensuring(registry.setFaults([])))
  })

/** Streams a GET body, noting when each chunk arrived; fails if the body breaks. */
const timedGet = (url: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const started = Date.now()
    const response = yield* client.get(url)
    const arrivals: Array<{ readonly at: number; readonly total: number }> = []
    let total = 0
    const hash = Digest.hasher()
    const outcome = yield* response.stream.pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          total += chunk.byteLength
          hash.update(chunk)
          arrivals.push({ at: Date.now() - started, total })
        })
      ),
      Effect.either
    )
    return { status: response.status, outcome, arrivals, total, digest: hash.digest() }
  })

layer(live(), { excludeTestServices: true })("faults", (it) => {
  it.effect("429 with Retry-After in seconds for the first K matching requests", () =>
    withFaults(
      [
        { name: "throttle", method: "GET", path: "^/v2/$", first: 2, action: FaultAction.tooManyRequests(3) },
        { method: "GET", path: "^/v2/$", first: 1, action: FaultAction.rateLimit({ limit: 10, remaining: 0 }) }
      ],
      Effect.gen(function*() {
        const first = yield* send("GET", "/v2/")
        expect(first.status).toBe(429)
        expect(first.headers["retry-after"]).toBe("3")
        expect(first.headers["ratelimit-remaining"]).toBe("0")
        expect(code(first)).toBe("TOOMANYREQUESTS")
        expect((yield* send("GET", "/v2/")).status).toBe(429)
        expect((yield* send("GET", "/v2/")).status).toBe(200)
        // other requests do not match and do not count
        expect((yield* send("GET", "/v2/_catalog")).status).toBe(200)
      })
    ))

  it.effect("503 with an HTTP-date Retry-After, and a 5xx on the n-th occurrence only", () =>
    Effect.gen(function*() {
      const when = new Date(Date.UTC(2030, 0, 2, 3, 4, 5))
      yield* withFaults(
        [
          { method: "GET", path: "/tags/list", nth: 1, action: FaultAction.unavailable(when) },
          { method: "GET", path: "/tags/list", nth: [3], action: FaultAction.serverError(502) }
        ],
        Effect.gen(function*() {
          const registry = yield* TestRegistry.TestRegistry
          yield* registry.putManifest("fault/tags", { schemaVersion: 2, manifests: [] }, { tag: "x" })
          const first = yield* send("GET", "/v2/fault/tags/tags/list")
          expect(first.status).toBe(503)
          expect(first.headers["retry-after"]).toBe("Wed, 02 Jan 2030 03:04:05 GMT")
          expect(code(first)).toBe("UNAVAILABLE")
          expect((yield* send("GET", "/v2/fault/tags/tags/list")).status).toBe(200)
          const third = yield* send("GET", "/v2/fault/tags/tags/list")
          expect(third.status).toBe(502)
          expect(code(third)).toBe("UNKNOWN")
          expect((yield* send("GET", "/v2/fault/tags/tags/list")).status).toBe(200)
        })
      )
    }))

  it.effect("cut body: the client gets exactly N bytes, then a broken body", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const content = pattern(200_000)
      const { digest } = yield* registry.putBlob("fault/cut", content)
      yield* withFaults(
        [{ method: "GET", path: "/blobs/sha256:", first: 1, action: FaultAction.cutBody(70_000) }],
        Effect.gen(function*() {
          const cut = yield* timedGet(`${registry.url}/v2/fault/cut/blobs/${digest}`)
          expect(cut.status).toBe(200)
          expect(Either.isLeft(cut.outcome)).toBe(true)
          expect(cut.total).toBe(70_000)
          const whole = yield* timedGet(`${registry.url}/v2/fault/cut/blobs/${digest}`)
          expect(Either.isRight(whole.outcome)).toBe(true)
          expect(whole.digest).toBe(digest)
        })
      )
    }))

  it.effect("cut body applies to manifests (JSON bodies) too", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      yield* registry.putManifest("fault/cutm", { schemaVersion: 2, manifests: [] }, { tag: "v1" })
      yield* withFaults(
        [{ path: "/manifests/", action: FaultAction.cutBody(10) }],
        Effect.gen(function*() {
          const cut = yield* timedGet(`${registry.url}/v2/fault/cutm/manifests/v1`)
          expect(Either.isLeft(cut.outcome)).toBe(true)
          expect(cut.total).toBe(10)
        })
      )
    }))

  it.effect("delayed headers", () =>
    withFaults(
      [{ method: "GET", path: "^/v2/$", action: FaultAction.delayHeaders(300) }],
      Effect.gen(function*() {
        const started = Date.now()
        expect((yield* send("GET", "/v2/")).status).toBe(200)
        expect(Date.now() - started).toBeGreaterThanOrEqual(290)
      })
    ))

  it.effect("stalled body: N bytes arrive at once, the rest after the pause", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const content = pattern(50_000)
      const { digest } = yield* registry.putBlob("fault/stall", content)
      yield* withFaults(
        [{ method: "GET", path: "/blobs/", action: FaultAction.stallBody(20_000, 500) }],
        Effect.gen(function*() {
          const got = yield* timedGet(`${registry.url}/v2/fault/stall/blobs/${digest}`)
          expect(Either.isRight(got.outcome)).toBe(true)
          expect(got.digest).toBe(digest)
          const before = got.arrivals.filter((a) => a.total <= 20_000)
          expect(before[before.length - 1]!.total).toBe(20_000)
          expect(before[before.length - 1]!.at).toBeLessThan(400)
          expect(got.arrivals[got.arrivals.length - 1]!.at).toBeGreaterThanOrEqual(490)
        })
      )
    }))

  it.effect("redirected blob GETs go to the second origin, which records Authorization", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const { digest } = yield* pushBlob("fault/redirect", "redirected content")
      yield* withFaults(
        [{ method: "GET", path: "/blobs/", action: FaultAction.redirectBlob() }],
        Effect.gen(function*() {
          yield* registry.clearRequests
          const first = yield* send("GET", `/v2/fault/redirect/blobs/${digest}`, { headers: bearer("secret-token") })
          expect(first.status).toBe(307)
          const location = first.headers["location"]!
          expect(location).toBe(`${registry.redirectUrl}/blobs/${digest}`)
          const followed = yield* send("GET", location)
          expect(followed.text).toBe("redirected content")
          const ranged = yield* send("GET", location, { headers: { range: "bytes=0-9" } })
          expect(ranged.status).toBe(206)
          yield* send("GET", location, { headers: bearer("leaked") })
          const log = yield* registry.requests
          expect(log.map((e) => [e.origin, e.authorization, e.status])).toEqual([
            ["registry", "bearer", 307],
            ["redirect", "none", 200],
            ["redirect", "none", 206],
            ["redirect", "bearer", 200]
          ])
          // HEAD is not redirected
          expect((yield* send("HEAD", `/v2/fault/redirect/blobs/${digest}`)).status).toBe(200)
          expect(JSON.stringify(log)).not.toContain("leaked")
        })
      )
    }))

  it.effect("faults can target one origin: a cut body at the redirect origin only", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const content = pattern(100_000)
      const { digest } = yield* registry.putBlob("fault/origin", content)
      yield* withFaults(
        [
          { origin: "registry", method: "GET", path: "/blobs/", first: 1, action: FaultAction.redirectBlob() },
          { origin: "redirect", action: FaultAction.cutBody(1000) }
        ],
        Effect.gen(function*() {
          const redirected = yield* send("GET", `/v2/fault/origin/blobs/${digest}`)
          expect(redirected.status).toBe(307)
          const cut = yield* timedGet(redirected.headers["location"]!)
          expect(Either.isLeft(cut.outcome)).toBe(true)
          expect(cut.total).toBe(1000)
          const direct = yield* timedGet(`${registry.url}/v2/fault/origin/blobs/${digest}`)
          expect(direct.digest).toBe(digest)
        })
      )
    }))

  it.effect("capped chunk size: larger PATCH bodies get 416, smaller ones are accepted", () =>
    withFaults(
      [{ method: "PATCH", action: FaultAction.capChunkSize(1000) }],
      Effect.gen(function*() {
        const content = pattern(1800)
        const start = yield* send("POST", "/v2/fault/cap/blobs/uploads/")
        const location = start.headers["location"]!
        const big = yield* send("PATCH", location, { body: content, headers: { "content-range": "0-1799" } })
        expect(big.status).toBe(416)
        expect(big.headers["range"]).toBe("0-0")
        const streamed = yield* send("PATCH", location, { stream: Stream.make(content.subarray(0, 600), content.subarray(600, 1200)) })
        expect(streamed.status).toBe(416)
        expect((yield* send("PATCH", location, { body: content.subarray(0, 1000) })).headers["range"]).toBe("0-999")
        expect((yield* send("PATCH", location, { body: content.subarray(1000) })).headers["range"]).toBe("0-1799")
        const put = yield* send("PUT", `${location}?digest=${Digest.compute(content)}`)
        expect(put.status).toBe(201)
      })
    ))

  it.effect("Warning and RateLimit headers, set and replaced at run time", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      yield* registry.setFaults([
        { name: "deprecation", action: FaultAction.warning("this repository is deprecated") },
        { action: FaultAction.rateLimit({ limit: 100, remaining: 42, windowSeconds: 21600, resetSeconds: 60 }) }
      ])
      const reply = yield* send("GET", "/v2/")
      expect(reply.headers["warning"]).toBe('299 - "this repository is deprecated"')
      expect(reply.headers["ratelimit-limit"]).toBe("100;w=21600")
      expect(reply.headers["ratelimit-remaining"]).toBe("42;w=21600")
      expect(reply.headers["ratelimit-reset"]).toBe("60")
      yield* registry.clearRequests
      yield* registry.setFaults([{ action: FaultAction.addHeaders({ "x-extra": "1" }) }])
      const replaced = yield* send("GET", "/v2/")
      expect(replaced.headers["warning"]).toBeUndefined()
      expect(replaced.headers["x-extra"]).toBe("1")
      yield* registry.setFaults([])
      expect((yield* send("GET", "/v2/")).headers["x-extra"]).toBeUndefined()
      const log = yield* registry.requests
      expect(log.map((e) => e.faults)).toEqual([["AddHeaders"], []])
    }))

  it.effect("the request log has method, path, query, headers and status", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      yield* registry.clearRequests
      yield* send("GET", "/v2/fault/log/tags/list?n=5&last=a", { headers: { "x-trace": "t1", ...basic("u", "p") } })
      const [entry] = yield* registry.requests
      expect(entry).toMatchObject({
        origin: "registry",
        method: "GET",
        path: "/v2/fault/log/tags/list",
        query: { n: "5", last: "a" },
        authorization: "basic",
        status: 404,
        faults: []
      })
      expect(entry!.headers["x-trace"]).toBe("t1")
      expect(entry!.headers["authorization"]).toBeUndefined()
      expect(entry!.at).toBeLessThanOrEqual(Date.now())
      yield* registry.clearRequests
      expect(yield* registry.requests).toEqual([])
    }))
})

layer(live({ auth: { mode: "token", users: { ci: "pw" } } }), { excludeTestServices: true })("token faults", (it) => {
  it.effect("tokens expire after N uses", () =>
    withFaults(
      [{ action: FaultAction.expireTokens(2) }],
      Effect.gen(function*() {
        const issued = yield* send("GET", "/token?service=x&scope=repository:ci/app:pull", { headers: basic("ci", "pw") })
        const auth = bearer(issued.json.token)
        expect((yield* send("GET", "/v2/ci/app/tags/list", { headers: auth })).status).toBe(404)
        expect((yield* send("GET", "/v2/ci/app/tags/list", { headers: auth })).status).toBe(404)
        const third = yield* send("GET", "/v2/ci/app/tags/list", { headers: auth })
        expect(third.status).toBe(401)
        expect(parseChallenge(third.headers["www-authenticate"]).error).toBe("invalid_token")
        const again = yield* send("GET", "/token?service=x&scope=repository:ci/app:pull", { headers: basic("ci", "pw") })
        expect((yield* send("GET", "/v2/ci/app/tags/list", { headers: bearer(again.json.token) })).status).toBe(404)
      })
    ))
})
