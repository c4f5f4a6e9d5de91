/**
 * What tracing and logging see of requests: through the OpenTelemetry SDK's own in-memory exporter
 * (every span the stack makes, the HTTP client's included, with its attributes and events) and a
 * logger that records every line at every level. A pull with a token fetch, a refresh-token grant
 * and a blob redirected to a pre-signed URL with user-info must leave no query string, user-info,
 * token or password in any of it.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as MediaType from "../src/MediaType.js"
import * as FakeHttp from "./support/FakeHttp.js"
import { jsonBytes, manifestResponse, ref, registry, setup, withRepo } from "./support/RepositoryFixture.js"

const password = "pw-5ecret-hunter2"
const accessToken = "access-t0ken-SECRET"
const refreshToken = "refresh-t0ken-SECRET"
const signature = "Sig-SECRET-abc123"
const cdnUser = "cdnuser"
const cdnPassword = "cdn-pa55-SECRET"
const secrets = [password, accessToken, refreshToken, signature, cdnPassword, `${cdnUser}:`]

const blob = new TextEncoder().encode("a layer's bytes")
const blobDigest = Digest.compute(blob)
const manifest = jsonBytes({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: blobDigest, size: blob.byteLength },
  layers: []
})
const challenge = `Bearer realm="https://auth.example/token?tenant=t1",service="${registry}"`

/** A registry behind a token server; blobs redirect to a pre-signed URL with user-info. */
const handler: FakeHttp.Handler = (request) => {
  const { url } = request
  if (url.host === "auth.example") {
    return FakeHttp.json(200, { token: accessToken, refresh_token: refreshToken, expires_in: 300 })
  }
  if (url.host === "cdn.example") return new Response(blob, { headers: { "content-length": String(blob.byteLength) } })
  if (request.headers["authorization"] !== `Bearer ${accessToken}`) {
    return FakeHttp.errorBody(401, "UNAUTHORIZED", "authentication required", { "www-authenticate": challenge })
  }
  if (url.pathname === "/v2/_catalog") return FakeHttp.json(200, { repositories: ["team/app"] })
  if (url.pathname.includes("/blobs/")) {
    return new Response(null, {
      status: 307,
      headers: {
        location: `https://${cdnUser}:${cdnPassword}@cdn.example/blob?X-Amz-Signature=${signature}&X-Amz-Expires=60`
      }
    })
  }
  return manifestResponse(manifest, MediaType.OciManifest)
}

describe("trace and log hygiene", () => {
  it.live("no span attribute, event or log line carries a query string, user-info, token or password", () => {
    const exporter = new InMemorySpanExporter()
    const telemetry = NodeSdk.layer(() => ({
      resource: { serviceName: "effect-oci-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(JSON.stringify({
        message: options.message,
        annotations: Object.fromEntries(options.annotations),
        spans: [...options.spans].map((s) => s.label),
        cause: String(options.cause)
      }))
    })
    const credentials = Credentials.layerStatic({
      [registry]: Credentials.Credential.Basic({ username: "alice", password: Redacted.make(password) })
    })
    const t = setup(handler, { credentials })
    const pull = Effect.gen(function*() {
      yield* withRepo((r) => r.getManifest(ref(":v1")))
      // Another repository: a new token, this time by the refresh-token grant.
      yield* withRepo((r) => r.getManifest(ref(":v1", "team/other")))
      const bytes = yield* withRepo((r) => Stream.runCollect(r.getBlob(ref(), blobDigest)))
      // A request with a query of its own (`?n=`): no query goes into spans whatever it holds.
      yield* withRepo((r) => r.catalogPage(registry, { n: 1 }))
      expect(bytes.length).toBeGreaterThan(0)
      // The scenario happened: a token fetch, a refresh grant, a redirect to the signed URL.
      expect(t.fake.requests.map((r) => `${r.method} ${r.url.host}`)).toContain("POST auth.example")
      expect(t.fake.requests.some((r) => r.url.searchParams.get("X-Amz-Signature") === signature)).toBe(true)
    }).pipe(Effect.provide(t.layer), Effect.withSpan("test"))
    return Effect.gen(function*() {
      yield* pull
      // Read before the SDK's layer closes: its shutdown empties the exporter.
      const spans = exporter.getFinishedSpans()
      expect(spans.length).toBeGreaterThan(5)
      const seen: Array<string> = []
      for (const span of spans) {
        seen.push(span.name)
        for (const [key, value] of Object.entries(span.attributes)) seen.push(`${span.name} ${key}=${String(value)}`)
        for (const event of span.events) {
          seen.push(`${span.name} event ${event.name}`)
          for (const [key, value] of Object.entries(event.attributes ?? {})) {
            seen.push(`${span.name} event ${key}=${String(value)}`)
          }
        }
      }
      expect(lines.length).toBeGreaterThan(0)
      for (const line of [...seen, ...lines]) {
        for (const secret of secrets) expect(line).not.toContain(secret)
        // a query string: `?name=` anywhere (safe URLs end in `?…`)
        expect(line).not.toMatch(/\?[A-Za-z0-9_.-]+=/)
        // user-info: `user:password@host`
        expect(line).not.toMatch(/[a-z0-9]+:[^/@\s"]+@[a-z0-9.-]+/i)
      }
      // The client spans are ours: one per request, with the URL made safe.
      const urls = spans.map((s) => s.attributes["url.full"]).filter((u) => u !== undefined).map(String)
      expect(urls).toContain("https://cdn.example/blob?…")
      expect(urls).toContain("https://auth.example/token?…")
    }).pipe(
      Effect.provide(Layer.merge(telemetry, Logger.replace(Logger.defaultLogger, logger))),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })
})

