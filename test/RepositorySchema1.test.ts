/**
 * Signed schema 1 manifests through the whole Node stack against the embedded registry: read by
 * tag and by digest, resolved, pushed again by tag and by digest — all under the canonical digest
 * registries know them by, never the digest of the signed bytes.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Credentials from "../src/Credentials.js"
import * as Digest from "../src/Digest.js"
import * as MediaType from "../src/MediaType.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"
import * as Schema1 from "./support/Schema1.js"

const stack = node.layer({
  credentials: Credentials.layerAnonymous,
  transport: { retry: Schedule.recurs(0) },
  repository: { resume: Schedule.recurs(0) }
})

const inRepo = (repository: string, suffix = "") =>
  Effect.flatMap(Testing.TestRegistry, (registry) => Reference.parse(`${registry.host}/${repository}${suffix}`))

describe("signed schema 1 against the embedded registry", () => {
  it.live("is read, resolved and pushed again under its canonical digest", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const repo = yield* Repository.Repository
      const layer = yield* registry.putBlob("legacy/app", "a layer")
      const { bytes, digest } = Schema1.sign(Schema1.payload("legacy/app", "old", [layer.digest]))
      expect(Digest.compute(bytes)).not.toBe(digest)
      yield* registry.putManifest("legacy/app", bytes, { tag: "old", mediaType: MediaType.DockerSchema1Signed })

      // The default Accept lists schema 1, last.
      const fetched = yield* repo.getManifest(yield* inRepo("legacy/app", ":old"))
      expect(fetched.mediaType).toBe(MediaType.DockerSchema1Signed)
      expect(fetched.digest).toBe(digest)
      expect(new Uint8Array(fetched.bytes)).toEqual(bytes)
      const accept = (yield* registry.requests).at(-1)!.headers["accept"]!.split(",").map((s) => s.trim())
      expect(accept.at(-2)).toBe(MediaType.DockerSchema1Signed)
      expect(accept.at(-1)).toBe(MediaType.DockerSchema1)
      expect(accept.indexOf(MediaType.DockerManifest)).toBeLessThan(accept.indexOf(MediaType.DockerSchema1Signed))

      expect((yield* repo.resolve(yield* inRepo("legacy/app", ":old"))).digest).toBe(digest)
      const byDigest = yield* repo.getManifest(yield* inRepo("legacy/app", `@${digest}`))
      expect(byDigest.digest).toBe(digest)

      // Pushed again as it came: by tag, by digest, and elsewhere with `tag`.
      yield* registry.putBlob("legacy/copy", "a layer")
      expect(yield* repo.putManifest(yield* inRepo("legacy/copy", ":again"), fetched)).toBe(digest)
      expect(yield* repo.putManifest(yield* inRepo("legacy/copy", `@${digest}`), {
        bytes: fetched.bytes,
        mediaType: fetched.mediaType
      })).toBe(digest)
      const put = (yield* registry.requests).filter((r) => r.method === "PUT" && r.path.includes("/manifests/"))
      expect(put.map((r) => `${r.path} ${r.status}`)).toEqual([
        "/v2/legacy/copy/manifests/again 201",
        `/v2/legacy/copy/manifests/${digest} 201`
      ])
      expect((yield* repo.tag(yield* inRepo("legacy/copy", ":again"), "third")).digest).toBe(digest)
      expect(new Uint8Array((yield* repo.getManifest(yield* inRepo("legacy/copy", ":third"))).bytes)).toEqual(bytes)
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))
})
