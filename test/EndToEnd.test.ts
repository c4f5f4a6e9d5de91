/**
 * The whole Node stack (undici → Transport → Auth → Repository) against the embedded registry on a
 * real port, in each auth mode and under injected faults.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"

/** Seeds a two-layer image into the registry and returns its pieces. */
const seedImage = (registry: Testing.TestRegistryService, repository: string, tag: string) =>
  Effect.gen(function*() {
    const layerBytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 251)
    const config = JSON.stringify({ architecture: "amd64", os: "linux" })
    const c = yield* registry.putBlob(repository, config)
    const l = yield* registry.putBlob(repository, layerBytes)
    const manifest = Manifest.encode({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: c.digest, size: c.size },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.size }]
    })
    yield* registry.putManifest(repository, manifest.bytes, { tag, mediaType: manifest.mediaType })
    return { manifest, layerBytes, layerDigest: l.digest }
  })

const stack = (credentials: Layer.Layer<Credentials.Credentials> = Credentials.layerAnonymous) =>
  node.layer({
    credentials,
    transport: { retry: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(3))) },
    repository: { resume: Schedule.recurs(5) }
  })

const pullAll = (host: string, repository: string, tag: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    const ref = yield* Reference.parse(`${host}/${repository}:${tag}`)
    const fetched = yield* repo.getManifest(ref)
    const blobs = yield* Effect.forEach(Manifest.references(fetched.manifest), (d) =>
      Stream.runCollect(repo.getBlob(ref, d.digest, { size: d.size })).pipe(
        Effect.map((chunks) => Digest.compute(Buffer.concat(Chunk.toReadonlyArray(chunks))))
      ))
    const tags = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.tags(ref)))
    return { fetched, blobs, tags }
  })

describe("end to end against the embedded registry", () => {
  it.live("pulls an image anonymously and verifies everything", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const image = yield* seedImage(registry, "demo/app", "v1")
      const { blobs, fetched, tags } = yield* pullAll(registry.host, "demo/app", "v1").pipe(Effect.provide(stack()))
      expect(fetched.digest).toBe(image.manifest.digest)
      expect(blobs[1]).toBe(image.layerDigest)
      expect(tags).toEqual(["v1"])
    }).pipe(Effect.provide(Testing.layer())))

  it.live("pulls through bearer-token auth with one token fetch per scope", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      yield* seedImage(registry, "private/app", "v1")
      const creds = Credentials.layerStatic({
        [registry.host]: Credentials.Credential.Basic({ username: "alice", password: Redacted.make("wonderland") })
      })
      yield* pullAll(registry.host, "private/app", "v1").pipe(Effect.provide(stack(creds)))
      const log = yield* registry.requests
      expect(log.filter((r) => r.path === "/token").length).toBe(1)
      expect(log.filter((r) => r.path.includes("/blobs/")).every((r) => r.authorization === "bearer")).toBe(true)
    }).pipe(Effect.provide(Testing.layer({ auth: { mode: "token", users: { alice: "wonderland" } } }))))

  it.live.each([
    ["basic", "Unauthorized"],
    ["token", "TokenError"]
  ] as const)("a wrong password under %s auth fails with %s, and never shows the password", ([mode, tag]) =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      yield* seedImage(registry, "private/app", "v1")
      const creds = Credentials.layerStatic({
        [registry.host]: Credentials.Credential.Basic({ username: "alice", password: Redacted.make("nope") })
      })
      const error = yield* Effect.flip(pullAll(registry.host, "private/app", "v1").pipe(Effect.provide(stack(creds))))
      expect(error._tag).toBe(tag)
      if (error._tag === "TokenError") expect(error).toMatchObject({ status: 401 })
      expect(JSON.stringify(error) + String(error)).not.toContain("nope")
      // the wrong password was really sent (and refused), not skipped
      const log = yield* registry.requests
      expect(log.some((r) => r.authorization === "basic" && r.status === 401)).toBe(true)
    }).pipe(Effect.provide(Testing.layer({ auth: { mode, users: { alice: "wonderland" } } }))))

  it.live("survives 429s with Retry-After, 503s and bodies cut part-way", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const image = yield* seedImage(registry, "flaky/app", "v1")
      yield* registry.setFaults([
        { path: /manifests/, nth: 1, action: Testing.FaultAction.tooManyRequests(0) },
        { path: /tags/, first: 2, action: Testing.FaultAction.unavailable() },
        { method: "GET", path: new RegExp(image.layerDigest), nth: [1, 2], action: Testing.FaultAction.cutBody(70_000) }
      ])
      const { blobs } = yield* pullAll(registry.host, "flaky/app", "v1").pipe(Effect.provide(stack()))
      expect(blobs[1]).toBe(image.layerDigest)
      const log = yield* registry.requests
      const layerGets = log.filter((r) => r.method === "GET" && r.path.endsWith(image.layerDigest))
      expect(layerGets.length).toBe(3)
      expect(layerGets[1]?.headers["range"]).toBe("bytes=70000-")
    }).pipe(Effect.provide(Testing.layer())))

  it.live("never sends Authorization to the origin a blob GET is redirected to", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const image = yield* seedImage(registry, "redirected/app", "v1")
      yield* registry.setFaults([{ path: /\/blobs\//, action: Testing.FaultAction.redirectBlob() }])
      const creds = Credentials.layerStatic({
        [registry.host]: Credentials.Credential.Basic({ username: "alice", password: Redacted.make("wonderland") })
      })
      const { blobs } = yield* pullAll(registry.host, "redirected/app", "v1").pipe(Effect.provide(stack(creds)))
      expect(blobs[1]).toBe(image.layerDigest)
      const redirected = (yield* registry.requests).filter((r) => r.origin === "redirect")
      expect(redirected.length).toBeGreaterThan(0)
      expect(redirected.every((r) => r.authorization === "none")).toBe(true)
    }).pipe(Effect.provide(Testing.layer({ auth: { mode: "basic", users: { alice: "wonderland" } } }))))
})
