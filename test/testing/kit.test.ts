/**
 * The test kit as users import it: `FakeHttp` from effect-oci/testing, and a registry whose
 * redirect origin listens on a port chosen in advance.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import { FakeHttp } from "../../src/testing/index.js"
import * as TestRegistry from "../../src/testing/index.js"

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("FakeHttp", () => {
  it.effect("answers each request from the handler, with its index, and records what was sent", () =>
    Effect.gen(function*() {
      const fake = FakeHttp.make((request, index) =>
        index === 0 ? FakeHttp.json(201, { seen: request.url.pathname }) : FakeHttp.errorBody(404, "BLOB_UNKNOWN", "gone")
      )
      const client = fake.client
      const first = yield* client.execute(
        HttpClientRequest.post("https://r.test/v2/a/blobs/uploads/").pipe(
          HttpClientRequest.setHeader("x-test", "1"),
          HttpClientRequest.bodyUint8Array(new Uint8Array([1, 2, 3]))
        )
      )
      expect(first.status).toBe(201)
      expect(yield* first.json).toEqual({ seen: "/v2/a/blobs/uploads/" })
      const second = yield* client.get("https://r.test/v2/a/blobs/sha256:x")
      expect(second.status).toBe(404)
      expect(yield* second.json).toEqual({ errors: [{ code: "BLOB_UNKNOWN", message: "gone" }] })
      expect(fake.requests.map((r) => [r.method, r.url.toString(), r.headers["x-test"], r.body])).toEqual([
        ["POST", "https://r.test/v2/a/blobs/uploads/", "1", new Uint8Array([1, 2, 3])],
        ["GET", "https://r.test/v2/a/blobs/sha256:x", undefined, undefined]
      ])
    }))

  it.effect("\"network-error\" fails the request as a broken connection does; an Effect answer is awaited", () => {
    const fake = FakeHttp.make((_, index) => index === 0 ? "network-error" : Effect.succeed(new Response("late")))
    return Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const error = yield* Effect.flip(client.get("https://r.test/v2/"))
      expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
      const response = yield* client.get("https://r.test/v2/")
      expect(yield* response.text).toBe("late")
      expect(fake.requests).toHaveLength(2)
    }).pipe(Effect.provide(fake.layer))
  })
})

describe("TestRegistry redirectPort", () => {
  it.live("pins the redirect origin's port; redirected blob GETs go there", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const registry = yield* TestRegistry.make({ redirectPort: port })
      expect(registry.redirectUrl).toBe(`http://127.0.0.1:${port}`)
      const { digest } = yield* registry.putBlob("kit/app", "redirected")
      yield* registry.setFaults([{ method: "GET", path: "/blobs/", action: TestRegistry.FaultAction.redirectBlob() }])
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.followRedirects(1))
      const response = yield* client.get(`${registry.url}/v2/kit/app/blobs/${digest}`)
      expect(yield* response.text).toBe("redirected")
      const log = yield* registry.requests
      expect(log.map((r) => r.origin)).toEqual(["registry", "redirect"])
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
})
