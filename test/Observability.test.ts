import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as Metrics from "../src/Metrics.js"
import * as Repository from "../src/Repository.js"
import * as Transport from "../src/Transport.js"
import * as FakeHttp from "./support/FakeHttp.js"
import * as RecordingTracer from "./support/RecordingTracer.js"
import { ref, setup } from "./support/RepositoryFixture.js"

const blobPath = `/v2/team/app/blobs/sha256:${"a".repeat(64)}`

describe("request spans and metrics", () => {
  it.effect("every attempt is a client span with method, host, route template, status and attempt number", () => {
    const fake = FakeHttp.make((_, i) =>
      i === 0 ? new Response("", { status: 503 }) : new Response("hello", { status: 200 })
    )
    const { spans, tracer } = RecordingTracer.make()
    const layer = Transport.layer({ retry: Schedule.recurs(1) }).pipe(Layer.provide(fake.layer))
    return Effect.gen(function*() {
      const before = (yield* Metric.value(Metrics.retries)).count
      const receivedBefore = (yield* Metric.value(Metrics.bytesReceived)).count
      const transport = yield* Transport.Transport
      const response = yield* transport.execute(HttpClientRequest.get(`https://reg.example${blobPath}`))
      yield* Stream.runDrain(response.stream)
      const requests = spans.filter((s) => s.name === "GET /v2/<name>/blobs/<digest>")
      expect(requests.map((s) => s.attributes.get("http.response.status_code"))).toEqual([503, 200])
      expect(requests.map((s) => s.attributes.get("http.request.resend_count"))).toEqual([0, 1])
      for (const span of requests) {
        expect(span.kind).toBe("client")
        expect(span.attributes.get("server.address")).toBe("reg.example")
        expect(span.attributes.get("http.route")).toBe("/v2/<name>/blobs/<digest>")
        expect(span.parentName).toBe("Transport.execute")
      }
      expect((yield* Metric.value(Metrics.retries)).count - before).toBe(1)
      expect((yield* Metric.value(Metrics.bytesReceived)).count - receivedBefore).toBe(5)
      const byStatus = yield* Metric.value(Metrics.requests.pipe(Metric.tagged("status", "503")))
      expect(byStatus.count).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.provide(layer), Effect.withTracer(tracer))
  })

  it.each([
    ["/v2/", "/v2/"],
    ["/v2/_catalog", "/v2/_catalog"],
    ["/v2/library/alpine/manifests/latest", "/v2/<name>/manifests/<tag>"],
    [`/v2/a/b/c/manifests/sha256:${"f".repeat(64)}`, "/v2/<name>/manifests/<digest>"],
    [blobPath, "/v2/<name>/blobs/<digest>"],
    ["/v2/x/blobs/uploads/", "/v2/<name>/blobs/uploads/"],
    ["/v2/x/y/blobs/uploads/0f3c-11", "/v2/<name>/blobs/uploads/<uuid>"],
    ["/v2/x/tags/list", "/v2/<name>/tags/list"],
    [`/v2/x/referrers/sha256:${"0".repeat(64)}`, "/v2/<name>/referrers/<digest>"],
    ["/token", "<external>"]
  ])("route template of %s is %s", (path, template) => {
    expect(Metrics.routeTemplate(path)).toBe(template)
  })
})

describe("Repository spans", () => {
  it.effect("each operation is one span named Repository.<operation>, parent of its authenticated requests", () => {
    const { spans, tracer } = RecordingTracer.make()
    const t = setup((request) =>
      request.url.pathname.endsWith("/tags/list")
        ? FakeHttp.json(200, { name: "team/app", tags: ["v1"] })
        : FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")
    )
    return Effect.gen(function*() {
      const repo = yield* Repository.Repository
      yield* Effect.flip(repo.getManifest(ref(":v1")))
      yield* Stream.runDrain(repo.tags(ref()))
      yield* Effect.flip(repo.statBlob(ref(), Digest.compute("x")))
      const names = spans.map((s) => s.name).filter((n) => n.startsWith("Repository."))
      expect(names).toEqual(["Repository.getManifest", "Repository.tags", "Repository.statBlob"])
      const auth = spans.filter((s) => s.name === "Auth.execute")
      expect(auth.map((s) => s.parentName)).toEqual(["Repository.getManifest", "Repository.tags", "Repository.statBlob"])
    }).pipe(Effect.provide(t.layer), Effect.withTracer(tracer))
  })
})
