import { describe, expect, it } from "@effect/vitest"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Transport from "../src/Transport.js"
import * as FakeHttp from "./support/FakeHttp.js"

const ok = () => new Response("ok", { status: 200 })
const url = "https://registry.example/v2/"

/** Provides a transport over a scripted fake client. */
const withTransport = (handler: FakeHttp.Handler, options: Transport.Options = {}) => {
  const fake = FakeHttp.make(handler)
  const layer = Transport.layer(options).pipe(Layer.provide(fake.layer))
  return { fake, layer }
}

const send = (request = HttpClientRequest.get(url)) =>
  Effect.flatMap(Transport.Transport, (t) => t.execute(request))

/** A schedule without jitter so delays are exact: 100, 200, 400 ms. */
const exact = Schedule.exponential("100 millis", 2).pipe(Schedule.intersect(Schedule.recurs(3)))

describe("Transport retries", () => {
  it.effect("retries 503 on the schedule's delays, then succeeds", () => {
    const { fake, layer } = withTransport((_, i) => (i < 2 ? new Response("", { status: 503 }) : ok()), {
      retry: exact
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(send())
      yield* TestClock.adjust("99 millis")
      expect(fake.requests.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(fake.requests.length).toBe(2)
      yield* TestClock.adjust("199 millis")
      expect(fake.requests.length).toBe(2)
      yield* TestClock.adjust("1 millis")
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(200)
      expect(fake.requests.length).toBe(3)
    }).pipe(Effect.provide(layer))
  })

  it.effect.each([400, 401, 403, 404, 405, 409, 416])("never retries %i", (status) => {
    const { fake, layer } = withTransport(() => new Response("", { status }))
    return Effect.gen(function*() {
      const response = yield* send()
      expect(response.status).toBe(status)
      expect(fake.requests.length).toBe(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect.each([408, 429, 500, 502, 503, 504])("retries %i", (status) => {
    const { fake, layer } = withTransport((_, i) => (i === 0 ? new Response("", { status }) : ok()), {
      retry: exact
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(send())
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(fake.requests.length).toBe(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("honours Retry-After in seconds exactly", () => {
    const { fake, layer } = withTransport(
      (_, i) => (i === 0 ? new Response("", { status: 429, headers: { "retry-after": "5" } }) : ok()),
      { retry: exact }
    )
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(send())
      yield* TestClock.adjust("4999 millis")
      expect(fake.requests.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(fake.requests.length).toBe(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("honours Retry-After as an HTTP-date", () => {
    // TestClock starts at the epoch, so the date is 7 s after "now".
    const date = new Date(7000).toUTCString()
    const { fake, layer } = withTransport(
      (_, i) => (i === 0 ? new Response("", { status: 503, headers: { "retry-after": date } }) : ok()),
      { retry: exact }
    )
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(send())
      yield* TestClock.adjust("6 seconds")
      expect(fake.requests.length).toBe(1)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }).pipe(Effect.provide(layer))
  })

  it.effect("fails at once with TooManyRequests when Retry-After exceeds the maximum wait", () => {
    const { fake, layer } = withTransport(
      () =>
        FakeHttp.errorBody(429, "TOOMANYREQUESTS", "slow down", { "retry-after": "3600" }),
      { retry: exact, maxRetryAfter: "1 minute" }
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip(send())
      expect(error._tag).toBe("TooManyRequests")
      if (error._tag === "TooManyRequests") {
        expect(error.retryAfterMillis).toBe(3_600_000)
        expect(error.message).toBe("slow down")
      }
      expect(fake.requests.length).toBe(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("turns exhausted retries into typed errors", () =>
    Effect.gen(function*() {
      const cases: Array<[Response | (() => Response), string]> = [
        [() => new Response("", { status: 503 }), "Unavailable"],
        [() => FakeHttp.errorBody(500, "UNKNOWN", "boom"), "UnknownError"],
        [() => new Response("<html>bad gateway</html>", { status: 502 }), "UnexpectedStatus"],
        [() => new Response("", { status: 429 }), "TooManyRequests"]
      ]
      for (const [answer, tag] of cases) {
        const { fake, layer } = withTransport(() => (answer as () => Response)(), {
          retry: Schedule.recurs(2)
        })
        const fiber = yield* Effect.fork(Effect.flip(send()).pipe(Effect.provide(layer)))
        yield* TestClock.adjust("10 seconds")
        const error = yield* Fiber.join(fiber)
        expect(error._tag).toBe(tag)
        expect(fake.requests.length).toBe(3)
      }
    }))

  it.effect("retries connection failures and reports a TransportError when they persist", () => {
    const { fake, layer } = withTransport(() => "network-error", { retry: Schedule.recurs(1) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(send())
      expect(error._tag).toBe("TransportError")
      expect(fake.requests.length).toBe(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("never resends a PATCH, nor a streamed body after a broken connection", () =>
    Effect.gen(function*() {
      const patch = withTransport(() => new Response("", { status: 503 }), { retry: Schedule.recurs(3) })
      const patchError = yield* Effect.flip(
        send(HttpClientRequest.patch(url).pipe(HttpClientRequest.bodyText("chunk"))).pipe(Effect.provide(patch.layer))
      )
      expect(patchError._tag).toBe("Unavailable")
      expect(patch.fake.requests.length).toBe(1)

      const streamed = withTransport((_, i) => (i === 0 ? "network-error" : ok()), { retry: Schedule.recurs(3) })
      const body = Stream.make(new Uint8Array([1, 2, 3]))
      const streamError = yield* Effect.flip(
        send(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyStream(body))).pipe(Effect.provide(streamed.layer))
      )
      expect(streamError._tag).toBe("TransportError")
      expect(streamed.fake.requests.length).toBe(1)

      // but a streamed body the registry refused with a retryable status is sent again
      const refused = withTransport((_, i) => (i === 0 ? new Response("", { status: 503 }) : ok()), {
        retry: Schedule.recurs(3)
      })
      const response = yield* send(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyStream(body))).pipe(
        Effect.provide(refused.layer)
      )
      expect(response.status).toBe(200)
      expect(refused.fake.requests.length).toBe(2)
    }))

  it.effect("sends a raw body (an upload's bytes) again only after a refusal, an in-memory one after a broken connection too", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array([1, 2, 3])
      const raw = () => HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw(bytes, { contentLength: 3 })))
      const cut = withTransport((_, i) => (i === 0 ? "network-error" : ok()), { retry: Schedule.recurs(3) })
      const rawError = yield* Effect.flip(send(raw()).pipe(Effect.provide(cut.layer)))
      expect(rawError._tag).toBe("TransportError")
      expect(cut.fake.requests.length).toBe(1)

      const refused = withTransport((_, i) => (i === 0 ? new Response("", { status: 503 }) : ok()), {
        retry: Schedule.recurs(3)
      })
      expect((yield* send(raw()).pipe(Effect.provide(refused.layer))).status).toBe(200)
      expect(refused.fake.requests.length).toBe(2)

      // a manifest's bytes (a whole document, put again as a whole) are resent after a cut
      const manifest = withTransport((_, i) => (i === 0 ? "network-error" : ok()), { retry: Schedule.recurs(3) })
      const response = yield* send(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUint8Array(bytes))).pipe(
        Effect.provide(manifest.layer)
      )
      expect(response.status).toBe(200)
      expect(manifest.fake.requests.length).toBe(2)
    }))

  it.effect("a 429 seen by one fiber holds back every fiber talking to that host", () => {
    const { fake, layer } = withTransport(
      (_, i) => (i === 0 ? new Response("", { status: 429, headers: { "retry-after": "10" } }) : ok()),
      { retry: exact }
    )
    return Effect.gen(function*() {
      const first = yield* Effect.fork(send())
      yield* TestClock.adjust("1 second")
      expect(fake.requests.length).toBe(1)
      const second = yield* Effect.fork(send(HttpClientRequest.get("https://registry.example/v2/other")))
      yield* TestClock.adjust("8 seconds")
      // the second fiber has not sent anything yet: the host is held for 10 s
      expect(fake.requests.length).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(fake.requests.length).toBe(3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("reads its options from Config", () => {
    const fake = FakeHttp.make(() => new Response("", { status: 503 }))
    const layer = Transport.layerConfig.pipe(
      Layer.provide(fake.layer),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
        ["OCI_RETRY_TIMES", "1"],
        ["OCI_RETRY_BASE", "10 millis"],
        ["OCI_INSECURE_REGISTRIES", "reg.internal:5000,other"]
      ]))))
    )
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(send()))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(fake.requests.length).toBe(2)
      const transport = yield* Transport.Transport
      expect(transport.baseUrl("reg.internal:5000")).toBe("http://reg.internal:5000")
      expect(transport.baseUrl("other")).toBe("http://other")
    }).pipe(Effect.provide(layer))
  })
})

describe("Transport timeouts", () => {
  it.effect("fails with a headers timeout when the response is late", () => {
    const { layer } = withTransport(() => Effect.as(Effect.sleep("1 minute"), ok()), {
      retry: Schedule.recurs(0),
      headersTimeout: "5 seconds"
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(send()))
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "RequestTimeout", phase: "headers", millis: 5000 })
    }).pipe(Effect.provide(layer))
  })

  it.live("fails a body that stalls, but not one that keeps delivering", () => {
    // Both bodies take longer than the stall timeout in total; only the first pauses that long.
    const stalled = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new Uint8Array([1, 2, 3]))
          }
        }),
        { status: 200 }
      )
    const trickling = () => {
      let sent = 0
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 100))
            if (sent === 12) return controller.close()
            controller.enqueue(new Uint8Array(100).fill(++sent))
          }
        }),
        { status: 200 }
      )
    }
    // Wide margins (a pause 10x shorter than the timeout): a loaded machine must not stall the steady body.
    const { layer } = withTransport((request) => request.url.pathname.endsWith("/stalled") ? stalled() : trickling(), {
      bodyStallTimeout: "1 second"
    })
    return Effect.gen(function*() {
      const response = yield* send(HttpClientRequest.get("https://registry.example/v2/stalled"))
      const result = yield* Effect.either(Stream.runCollect(response.stream))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left).toMatchObject({ _tag: "RequestTimeout", phase: "body" })

      const started = Date.now()
      const steady = yield* send(HttpClientRequest.get("https://registry.example/v2/trickling"))
      const bytes = Chunk.toReadonlyArray(yield* Stream.runCollect(steady.stream)).flatMap((c) => [...c])
      expect(Date.now() - started).toBeGreaterThan(1000) // longer than the timeout in total
      expect(bytes).toEqual(Array.from({ length: 12 }, (_, i) => new Array<number>(100).fill(i + 1)).flat())
    }).pipe(Effect.provide(layer))
  })
})

describe("Transport bodies", () => {
  it.live("a body read part-way inside a finalizer (uninterruptible) still lets go of its fibers", () => {
    const endless = () =>
      new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(1024)) }), { status: 200 })
    const { layer } = withTransport(endless)
    return Effect.gen(function*() {
      const response = yield* send()
      const first = yield* Effect.uninterruptible(Stream.runCollect(Stream.take(response.stream, 2)))
      expect(first.length).toBe(2)
    }).pipe(Effect.provide(layer), Effect.timeout("5 seconds"))
  })

  it.live("a slow consumer is not a stalled body", () => {
    // 4 MiB, all there at once — more than the transport reads ahead, so the reader waits for the
    // consumer: only the consumer is slow, and that is not a stall.
    let sent = 0
    const { layer } = withTransport(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent === 4) return controller.close()
            controller.enqueue(new Uint8Array(1024 * 1024).fill(++sent))
          }
        }),
        { status: 200 }
      ), { bodyStallTimeout: "50 millis" })
    return Effect.gen(function*() {
      const response = yield* send()
      const chunks = yield* Stream.runCollect(response.stream.pipe(Stream.tap(() => Effect.sleep("150 millis"))))
      const bytes = Chunk.toReadonlyArray(chunks)
      expect(bytes.reduce((n, c) => n + c.byteLength, 0)).toBe(4 * 1024 * 1024)
      const firsts = bytes.map((c) => c[0]!)
      expect(firsts).toEqual([...firsts].sort((a, b) => a - b)) // in order
      expect(bytes.at(-1)?.at(-1)).toBe(4)
    }).pipe(Effect.provide(layer))
  })
})

describe("Transport redirects", () => {
  const redirect = (location: string, status = 307) => new Response("", { status, headers: { location } })

  it.effect("keeps credentials on the same origin and drops them on another, keeping Accept and Range", () => {
    const { fake, layer } = withTransport((req) =>
      req.url.pathname === "/v2/a/blobs/x"
        ? redirect("/v2/a/blobs/y")
        : req.url.pathname === "/v2/a/blobs/y"
        ? redirect("https://storage.example/object?sig=abc")
        : ok()
    )
    return Effect.gen(function*() {
      const request = HttpClientRequest.get("https://registry.example/v2/a/blobs/x").pipe(
        HttpClientRequest.setHeaders({
          authorization: "Bearer secret",
          cookie: "session=1",
          accept: "application/octet-stream",
          range: "bytes=10-"
        })
      )
      const response = yield* send(request)
      expect(response.status).toBe(200)
      const [first, second, third] = fake.requests
      expect(first?.headers["authorization"]).toBe("Bearer secret")
      expect(second?.headers["authorization"]).toBe("Bearer secret")
      expect(third?.url.host).toBe("storage.example")
      expect(third?.headers["authorization"]).toBeUndefined()
      expect(third?.headers["cookie"]).toBeUndefined()
      expect(third?.headers["accept"]).toBe("application/octet-stream")
      expect(third?.headers["range"]).toBe("bytes=10-")
    }).pipe(Effect.provide(layer))
  })

  it.effect("stops after the maximum number of redirects", () => {
    const { fake, layer } = withTransport((req) => redirect(`/loop/${req.url.pathname.length}`), { maxRedirects: 3 })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(send())
      expect(error._tag).toBe("InvalidResponse")
      expect(fake.requests.length).toBe(4)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a 303 becomes a GET without body; a 307 keeps method and body", () => {
    const { fake, layer } = withTransport((req) =>
      req.url.pathname === "/a" ? redirect("/b", 303) : req.url.pathname === "/c" ? redirect("/d", 307) : ok()
    )
    return Effect.gen(function*() {
      yield* send(HttpClientRequest.post("https://r.example/a").pipe(HttpClientRequest.bodyText("x")))
      yield* send(HttpClientRequest.put("https://r.example/c").pipe(HttpClientRequest.bodyText("payload")))
      expect(fake.requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
        "POST /a",
        "GET /b",
        "PUT /c",
        "PUT /d"
      ])
      expect(fake.requests[1]?.body).toBeUndefined()
      expect(new TextDecoder().decode(fake.requests[3]?.body)).toBe("payload")
    }).pipe(Effect.provide(layer))
  })

  it.effect("refuses a downgrade from https to http on a non-loopback host", () => {
    const { layer } = withTransport(() => redirect("http://evil.example/x"))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(send())
      expect(error).toMatchObject({ _tag: "InvalidResponse" })
    }).pipe(Effect.provide(layer))
  })
})

describe("Transport basics", () => {
  it.effect("chooses https, or http for loopback and insecure hosts; Docker Hub's API host", () => {
    const { layer } = withTransport(ok, { insecure: ["reg.lan:5000"], secure: ["localhost:5443"] })
    return Effect.gen(function*() {
      const t = yield* Transport.Transport
      expect(t.baseUrl("ghcr.io")).toBe("https://ghcr.io")
      expect(t.baseUrl("docker.io")).toBe("https://registry-1.docker.io")
      expect(t.baseUrl("localhost:5000")).toBe("http://localhost:5000")
      expect(t.baseUrl("127.0.0.2")).toBe("http://127.0.0.2")
      expect(t.baseUrl("[::1]:5000")).toBe("http://[::1]:5000")
      expect(t.baseUrl("reg.lan:5000")).toBe("http://reg.lan:5000")
      expect(t.baseUrl("reg.lan:5001")).toBe("https://reg.lan:5001")
      expect(t.allowsPlainHttp("10.0.0.1")).toBe(false)
      // a TLS registry on loopback, marked secure
      expect(t.baseUrl("localhost:5443")).toBe("https://localhost:5443")
      expect(t.allowsPlainHttp("localhost:5443")).toBe(false)
    }).pipe(Effect.provide(layer))
  })

  it.effect("sends a User-Agent and logs registry Warning headers", () => {
    const { fake, layer } = withTransport(() =>
      new Response("", { status: 200, headers: { warning: "299 - \"this repository is deprecated\"" } })
    )
    const logs: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      logs.push(`${String(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
    })
    return Effect.gen(function*() {
      yield* send()
      expect(fake.requests[0]?.headers["user-agent"]).toMatch(/^effect-oci\//)
      expect(logs.some((l) => l.includes("this repository is deprecated"))).toBe(true)
    }).pipe(Effect.provide(Layer.merge(layer, Logger.replace(Logger.defaultLogger, logger))))
  })

  it.effect("pings a registry: API version, challenge, and a non-v2 server refused", () =>
    Effect.gen(function*() {
      const open = withTransport(() =>
        new Response("{}", { status: 200, headers: { "docker-distribution-api-version": "registry/2.0" } })
      )
      const ping = yield* Transport.ping("localhost:5000").pipe(Effect.provide(open.layer))
      expect(ping).toEqual({ status: 200, apiVersion: "registry/2.0", authenticate: undefined })
      expect(open.fake.requests[0]?.url.toString()).toBe("http://localhost:5000/v2/")

      const locked = withTransport(() =>
        new Response("", { status: 401, headers: { "www-authenticate": "Basic realm=\"registry\"" } })
      )
      const challenged = yield* Transport.ping("ghcr.io").pipe(Effect.provide(locked.layer))
      expect(challenged).toMatchObject({ status: 401, authenticate: "Basic realm=\"registry\"" })
      expect(locked.fake.requests[0]?.url.toString()).toBe("https://ghcr.io/v2/")

      const notV2 = withTransport(() => new Response("not here", { status: 404 }))
      const error = yield* Effect.flip(Transport.ping("example.com").pipe(Effect.provide(notV2.layer)))
      expect(error._tag).toBe("InvalidResponse")
    }))

  it("parses Retry-After", () => {
    expect(Transport.parseRetryAfter("120", 0)).toBe(120_000)
    expect(Transport.parseRetryAfter(" 0 ", 0)).toBe(0)
    expect(Transport.parseRetryAfter(new Date(5000).toUTCString(), 1000)).toBe(4000)
    expect(Transport.parseRetryAfter(new Date(0).toUTCString(), 9000)).toBe(0)
    expect(Transport.parseRetryAfter("soon", 0)).toBeUndefined()
    expect(Transport.parseRetryAfter(undefined, 0)).toBeUndefined()
  })
})
