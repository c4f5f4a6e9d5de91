import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as Reference from "../src/Reference.js"
import * as FakeHttp from "./support/FakeHttp.js"
import * as Schema1 from "./support/Schema1.js"
import {
  failureOf,
  headerValues,
  headResponse,
  jsonBytes,
  manifestResponse,
  manifestStore,
  ref,
  registry,
  repository,
  setup,
  withRepo
} from "./support/RepositoryFixture.js"

const d = (seed: string) => Digest.compute(seed)

// Indented like some registries store them: a client that re-serialised would get another digest.
const image = jsonBytes({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: d("config"), size: 1469 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: d("layer"), size: 29124181 }]
}, 3)
const imageDigest = Digest.compute(image)

const child = (arch: string, variant?: string) =>
  jsonBytes({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: d(`config-${arch}${variant ?? ""}`), size: 10 },
    layers: []
  })
const amd64 = child("amd64")
const arm64 = child("arm64", "v8")
const armv7 = child("arm", "v7")

const entry = (bytes: Uint8Array, mediaType: string, platform: Manifest.Platform) => ({
  mediaType,
  digest: Digest.compute(bytes),
  size: bytes.byteLength,
  platform
})

const index = jsonBytes({
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    entry(amd64, MediaType.OciManifest, { os: "linux", architecture: "amd64" }),
    entry(arm64, MediaType.OciManifest, { os: "linux", architecture: "arm64", variant: "v8" }),
    entry(armv7, MediaType.OciManifest, { os: "linux", architecture: "arm", variant: "v7" })
  ]
})

const dockerChild = (arch: string, variant?: string) =>
  jsonBytes({
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: d(`dconfig-${arch}${variant ?? ""}`), size: 10 },
    layers: [{ mediaType: MediaType.DockerLayerGzip, digest: d(`dlayer-${arch}`), size: 5 }]
  })
const dockerArmV6 = dockerChild("arm", "v6")
const dockerArmV7 = dockerChild("arm", "v7")
const dockerAmd64 = dockerChild("amd64")
const manifestList = jsonBytes({
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestList,
  manifests: [
    entry(dockerAmd64, MediaType.DockerManifest, { os: "linux", architecture: "amd64" }),
    entry(dockerArmV6, MediaType.DockerManifest, { os: "linux", architecture: "arm", variant: "v6" }),
    entry(dockerArmV7, MediaType.DockerManifest, { os: "linux", architecture: "arm", variant: "v7" })
  ]
})

const schema1 = jsonBytes({
  schemaVersion: 1,
  name: "demo/app",
  tag: "old",
  architecture: "amd64",
  fsLayers: [{ blobSum: d("old-layer") }],
  history: [{ v1Compatibility: "{}" }]
})
// An index whose linux/amd64 entry is itself an index: not an image manifest at the end.
const nested = jsonBytes({
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [entry(index, MediaType.OciIndex, { os: "linux", architecture: "amd64" })]
})

const store = manifestStore([
  { bytes: schema1, mediaType: MediaType.DockerSchema1, tags: ["old"] },
  { bytes: nested, mediaType: MediaType.OciIndex, tags: ["nested"] },
  { bytes: image, mediaType: MediaType.OciManifest, tags: ["v1"] },
  { bytes: index, mediaType: MediaType.OciIndex, tags: ["multi"] },
  { bytes: amd64, mediaType: MediaType.OciManifest },
  { bytes: arm64, mediaType: MediaType.OciManifest },
  { bytes: armv7, mediaType: MediaType.OciManifest },
  { bytes: manifestList, mediaType: MediaType.DockerManifestList, tags: ["list"] },
  { bytes: dockerAmd64, mediaType: MediaType.DockerManifest },
  { bytes: dockerArmV6, mediaType: MediaType.DockerManifest },
  { bytes: dockerArmV7, mediaType: MediaType.DockerManifest }
])

const path = (id: string) => `/v2/${repository}/manifests/${id}`

describe("manifestExists", () => {
  it.effect("HEADs the manifest with the full Accept list and answers true", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      expect(yield* withRepo((r) => r.manifestExists(ref(":v1")))).toBe(true)
      expect(t.requests).toHaveLength(1)
      const [head] = t.requests
      expect(head!.method).toBe("HEAD")
      expect(head!.url.toString()).toBe(`https://${registry}${path("v1")}`)
      expect(headerValues(head!.headers["accept"])).toEqual(MediaType.defaultAccept)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("answers false on a 404, by tag and by digest", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      expect(yield* withRepo((r) => r.manifestExists(ref(":nope")))).toBe(false)
      expect(yield* withRepo((r) => r.manifestExists(ref(`@${d("missing")}`)))).toBe(false)
      expect(yield* withRepo((r) => r.manifestExists(ref(`@${imageDigest}`)))).toBe(true)
      expect(t.lines()).toEqual([
        `HEAD ${path("nope")}`,
        `HEAD ${path(d("missing"))}`,
        `HEAD ${path(imageDigest)}`
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 403 is Denied, not 'does not exist'", () => {
    const t = setup(() => headResponse(403))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.manifestExists(ref())))
      expect(error._tag).toBe("Denied")
    }).pipe(Effect.provide(t.layer))
  })
})

describe("getManifest", () => {
  it.effect("by tag: exact bytes, digest, media type, decoded manifest and ETag", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => r.getManifest(ref(":v1")))
      expect(fetched.bytes).toEqual(image)
      expect(fetched.digest).toBe(imageDigest)
      expect(fetched.size).toBe(image.byteLength)
      expect(fetched.mediaType).toBe(MediaType.OciManifest)
      expect(Manifest.isImageManifest(fetched.manifest)).toBe(true)
      expect(fetched.etag).toBe(`"${imageDigest}"`)
      const [get] = t.requests
      expect(get!.method).toBe("GET")
      expect(get!.url.pathname).toBe(path("v1"))
      // every default type offered, one media type per value (a registry refuses OCI content otherwise)
      const accept = headerValues(get!.headers["accept"])
      for (const type of MediaType.defaultAccept) expect(accept).toContain(type)
      expect(accept).toHaveLength(MediaType.defaultAccept.length)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("by digest: the digest names the manifest, even when the reference has a tag too", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => r.getManifest(ref(`:ignored@${imageDigest}`)))
      expect(fetched.digest).toBe(imageDigest)
      expect(fetched.bytes).toEqual(image)
      expect(t.lines()).toEqual([`GET ${path(imageDigest)}`])
      expect(headerValues(t.requests[0]!.headers["accept"])).toEqual(MediaType.defaultAccept)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a reference without tag or digest reads `latest`", () => {
    const t = setup(() => FakeHttp.errorBody(404, "MANIFEST_UNKNOWN"))
    return Effect.gen(function*() {
      yield* failureOf(withRepo((r) => r.getManifest(ref(""))))
      expect(t.lines()).toEqual([`GET ${path("latest")}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("sends the caller's Accept list verbatim and in order", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const accept = [MediaType.DockerManifest, MediaType.OciManifest]
      yield* withRepo((r) => r.getManifest(ref(":v1"), { accept }))
      yield* withRepo((r) => r.manifestExists(ref(":v1"), { accept: [MediaType.OciIndex] }))
      expect(headerValues(t.requests[0]!.headers["accept"])).toEqual(accept)
      expect(headerValues(t.requests[1]!.headers["accept"])).toEqual([MediaType.OciIndex])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("bytes that do not hash to the digest asked for are a DigestMismatch", () => {
    const wanted = d("what we asked for")
    // the registry even claims the right digest in its header: the bytes decide
    const t = setup(() => manifestResponse(image, MediaType.OciManifest, { digest: wanted }))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(`@${wanted}`))))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: wanted, actual: imageDigest })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("bytes that do not match Docker-Content-Digest are a DigestMismatch (by tag)", () => {
    const claimed = d("something else")
    const t = setup(() => manifestResponse(image, MediaType.OciManifest, { digest: claimed }))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: claimed, actual: imageDigest })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("Docker-Content-Digest in another algorithm is checked in that algorithm", () => {
    const sha512 = Digest.compute(image, "sha512")
    const good = setup(() => manifestResponse(image, MediaType.OciManifest, { digest: sha512 }))
    const bad = setup(() =>
      manifestResponse(image, MediaType.OciManifest, { digest: Digest.compute("other", "sha512") })
    )
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => r.getManifest(ref(":v1"))).pipe(Effect.provide(good.layer))
      expect(fetched.digest).toBe(imageDigest)
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1")))).pipe(Effect.provide(bad.layer))
      expect(error).toMatchObject({ _tag: "DigestMismatch", actual: sha512 })
    })
  })

  it.effect("a signed schema 1 is checked against Docker-Content-Digest by its canonical form, in any algorithm", () => {
    const signed = Schema1.sign(Schema1.payload("team/app", "v1", [d("layer")]))
    const canonical = JSON.stringify(Schema1.payload("team/app", "v1", [d("layer")]), null, 3)
    const sha512 = Digest.compute(canonical, "sha512")
    const good = setup(() => manifestResponse(signed.bytes, MediaType.DockerSchema1Signed, { digest: sha512 }))
    const wire = setup(() =>
      manifestResponse(signed.bytes, MediaType.DockerSchema1Signed, { digest: Digest.compute(signed.bytes, "sha512") })
    )
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => r.getManifest(ref(":v1"))).pipe(Effect.provide(good.layer))
      expect(fetched.digest).toBe(signed.digest)
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1")))).pipe(Effect.provide(wire.layer))
      expect(error).toMatchObject({ _tag: "DigestMismatch", actual: sha512 })
    })
  })

  it.effect("a missing or unparseable Docker-Content-Digest is not an error", () => {
    const t = setup((_, i) =>
      manifestResponse(image, MediaType.OciManifest, { digest: i === 0 ? null : "sha256:not-a-digest" })
    )
    return Effect.gen(function*() {
      expect((yield* withRepo((r) => r.getManifest(ref(":v1")))).digest).toBe(imageDigest)
      expect((yield* withRepo((r) => r.getManifest(ref(":v1")))).digest).toBe(imageDigest)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([
    ["a MANIFEST_UNKNOWN body", () => FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown"), "ManifestUnknown"],
    ["no body", () => new Response(null, { status: 404 }), "ManifestUnknown"],
    ["a text/plain body", () => new Response("404 page not found", { status: 404 }), "ManifestUnknown"],
    ["a NAME_UNKNOWN body", () => FakeHttp.errorBody(404, "NAME_UNKNOWN", "repository name not known"), "NameUnknown"]
  ] as const)("a 404 with %s is %s", ([, answer, tag]) => {
    const t = setup(answer)
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(error._tag).toBe(tag)
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 404 without an error body keeps a short excerpt of what it said, for manifests and blobs", () => {
    const page = `<html><body><h1>Not Found</h1><p>${"nothing here ".repeat(40)}</p></body></html>`
    const t = setup(() => new Response(page, { status: 404, headers: { "content-type": "text/html" } }))
    return Effect.gen(function*() {
      const manifest = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(manifest).toMatchObject({ _tag: "ManifestUnknown", status: 404 })
      expect(manifest.message.startsWith("manifest unknown: Not Found nothing here nothing here")).toBe(true)
      expect(manifest.message.length).toBeLessThan(260)
      const blob = yield* failureOf(withRepo((r) => Stream.runDrain(r.getBlob(ref(), d("layer")))))
      expect(blob).toMatchObject({ _tag: "BlobUnknown", message: expect.stringContaining("blob unknown to registry: Not Found") })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 401 after the token was sent is Unauthorized (one token fetch, one resend)", () => {
    const challenge = `Bearer realm="https://auth.example/token",service="${registry}",scope="repository:${repository}:pull"`
    const t = setup((request) =>
      request.url.host === "auth.example"
        ? FakeHttp.json(200, { token: "tok" })
        : FakeHttp.errorBody(401, "UNAUTHORIZED", "authentication required", { "www-authenticate": challenge })
    )
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(error._tag).toBe("Unauthorized")
      expect(t.requests.map((r) => `${r.method} ${r.url.host}${r.url.pathname}`)).toEqual([
        `GET ${registry}${path("v1")}`,
        "GET auth.example/token",
        `GET ${registry}${path("v1")}`
      ])
      expect(t.requests[1]!.url.searchParams.getAll("scope")).toEqual([`repository:${repository}:pull`])
      expect(t.requests[0]!.headers["authorization"]).toBeUndefined()
      expect(t.requests[2]!.headers["authorization"]).toBe("Bearer tok")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 401 without a challenge is Unauthorized at once, with the registry's message", () => {
    const t = setup(() => FakeHttp.errorBody(401, "UNAUTHORIZED", "access to the requested resource is not authorized"))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
      expect(error).toMatchObject({ _tag: "Unauthorized", message: "access to the requested resource is not authorized" })
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  describe("the 4 MiB limit", () => {
    const limit = 4 * 1024 * 1024
    /** A valid OCI manifest of exactly `size` bytes (padded in an annotation). */
    const manifestOfSize = (size: number) => {
      const skeleton = (pad: string) =>
        jsonBytes({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: d("c"), size: 1 },
          layers: [],
          annotations: { pad }
        })
      const bytes = skeleton("x".repeat(size - skeleton("").byteLength))
      expect(bytes.byteLength).toBe(size)
      return bytes
    }

    it.effect("exactly 4 MiB is accepted", () => {
      const bytes = manifestOfSize(limit)
      const t = setup(() => manifestResponse(bytes, MediaType.OciManifest))
      return Effect.gen(function*() {
        const fetched = yield* withRepo((r) => r.getManifest(ref(":v1")))
        expect(fetched.size).toBe(limit)
        expect(fetched.digest).toBe(Digest.compute(bytes))
      }).pipe(Effect.provide(t.layer))
    })

    it.effect("a Content-Length over 4 MiB is refused with BodyTooLarge", () => {
      const bytes = manifestOfSize(limit + 1)
      const t = setup(() => manifestResponse(bytes, MediaType.OciManifest))
      return Effect.gen(function*() {
        const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
        expect(error).toMatchObject({ _tag: "BodyTooLarge", limit, size: limit + 1 })
      }).pipe(Effect.provide(t.layer))
    })

    it.effect("a body without Content-Length is cut off once it passes 4 MiB", () => {
      const bytes = manifestOfSize(limit + 1)
      let delivered = 0
      const t = setup(() =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              if (delivered >= bytes.byteLength) return controller.close()
              const end = Math.min(bytes.byteLength, delivered + 65536)
              controller.enqueue(bytes.slice(delivered, end))
              delivered = end
            }
          }, { highWaterMark: 0 }),
          { status: 200, headers: { "content-type": MediaType.OciManifest } }
        )
      )
      return Effect.gen(function*() {
        const error = yield* failureOf(withRepo((r) => r.getManifest(ref(":v1"))))
        expect(error).toMatchObject({ _tag: "BodyTooLarge", limit })
      }).pipe(Effect.provide(t.layer))
    })
  })

  it.effect("a body that is not a manifest of its Content-Type is InvalidManifest; an unknown type UnsupportedMediaType", () => {
    const t = setup((_, i) =>
      i === 0
        ? manifestResponse(jsonBytes({ schemaVersion: 2, layers: "nope" }), MediaType.OciManifest)
        : manifestResponse(jsonBytes({ schemaVersion: 2 }), "application/vnd.example.thing+json")
    )
    return Effect.gen(function*() {
      expect((yield* failureOf(withRepo((r) => r.getManifest(ref(":v1")))))._tag).toBe("InvalidManifest")
      expect((yield* failureOf(withRepo((r) => r.getManifest(ref(":v1")))))._tag).toBe("UnsupportedMediaType")
    }).pipe(Effect.provide(t.layer))
  })
})

describe("getManifestIfChanged", () => {
  it.effect("sends If-None-Match quoted; 304 is NotModified", () => {
    const t = setup(() => new Response(null, { status: 304, headers: { etag: `"${imageDigest}"` } }))
    return Effect.gen(function*() {
      const result = yield* withRepo((r) => r.getManifestIfChanged(ref(":v1"), imageDigest))
      expect(result).toEqual({ _tag: "NotModified", etag: imageDigest })
      expect(t.requests[0]!.headers["if-none-match"]).toBe(`"${imageDigest}"`)
      expect(headerValues(t.requests[0]!.headers["accept"])).toEqual(MediaType.defaultAccept)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an ETag as the registry sent it (quoted, or weak) is sent unchanged", () => {
    const t = setup(() => new Response(null, { status: 304 }))
    return Effect.gen(function*() {
      yield* withRepo((r) => r.getManifestIfChanged(ref(":v1"), `"abc"`))
      yield* withRepo((r) => r.getManifestIfChanged(ref(":v1"), `W/"abc"`))
      expect(t.requests.map((r) => r.headers["if-none-match"])).toEqual([`"abc"`, `W/"abc"`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the ETag of a GET round-trips: changed → Modified with the new manifest", () => {
    let current = image
    const t = setup((request) => {
      const etag = `"${Digest.compute(current)}"`
      return request.headers["if-none-match"] === etag
        ? new Response(null, { status: 304, headers: { etag } })
        : manifestResponse(current, MediaType.OciManifest, { headers: { etag } })
    })
    return Effect.gen(function*() {
      const first = yield* withRepo((r) => r.getManifest(ref(":v1")))
      const same = yield* withRepo((r) => r.getManifestIfChanged(ref(":v1"), first.etag!))
      expect(same._tag).toBe("NotModified")
      current = amd64
      const changed = yield* withRepo((r) => r.getManifestIfChanged(ref(":v1"), first.etag!))
      expect(changed._tag).toBe("Modified")
      if (changed._tag === "Modified") {
        expect(changed.manifest.bytes).toEqual(amd64)
        expect(changed.manifest.etag).toBe(`"${Digest.compute(amd64)}"`)
      }
      expect(t.requests[1]!.headers["if-none-match"]).toBe(`"${imageDigest}"`)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 404 is still ManifestUnknown", () => {
    const t = setup(() => new Response(null, { status: 404 }))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.getManifestIfChanged(ref(":v1"), "x")))
      expect(error._tag).toBe("ManifestUnknown")
    }).pipe(Effect.provide(t.layer))
  })
})

describe("getManifestForPlatform", () => {
  const platform = (s: string) => Effect.orDie(Manifest.parsePlatform(s))

  it.effect.each([
    ["linux/arm64", arm64],
    ["linux/arm64/v8", arm64],
    ["linux/amd64", amd64],
    ["linux/arm/v7", armv7],
    ["linux/arm", armv7]
  ] as const)("OCI index, %s → the child fetched by digest", ([wanted, expected]) => {
    const t = setup(store)
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => Effect.flatMap(platform(wanted), (p) => r.getManifestForPlatform(ref(":multi"), p)))
      expect(fetched.bytes).toEqual(expected)
      expect(fetched.digest).toBe(Digest.compute(expected))
      expect(t.lines()).toEqual([`GET ${path("multi")}`, `GET ${path(Digest.compute(expected))}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([
    ["linux/arm/v6", dockerArmV6],
    ["linux/arm/v7", dockerArmV7],
    ["linux/amd64", dockerAmd64]
  ] as const)("Docker manifest list, %s → its entry (variants told apart)", ([wanted, expected]) => {
    const t = setup(store)
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => Effect.flatMap(platform(wanted), (p) => r.getManifestForPlatform(ref(":list"), p)))
      expect(fetched.bytes).toEqual(expected)
      expect(fetched.mediaType).toBe(MediaType.DockerManifest)
      expect(t.lines()).toEqual([`GET ${path("list")}`, `GET ${path(Digest.compute(expected))}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("no matching entry: PlatformNotFound listing what the index offers, and no second request", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const error = yield* failureOf(
        withRepo((r) => Effect.flatMap(platform("windows/amd64"), (p) => r.getManifestForPlatform(ref(":multi"), p)))
      )
      expect(error).toMatchObject({
        _tag: "PlatformNotFound",
        platform: "windows/amd64",
        index: Digest.compute(index),
        available: ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
      })
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a single-platform manifest is returned as it is", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => Effect.flatMap(platform("linux/amd64"), (p) => r.getManifestForPlatform(ref(":v1"), p)))
      expect(fetched.bytes).toEqual(image)
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the result is typed as an image manifest: config and layers are there", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const fetched = yield* withRepo((r) => Effect.flatMap(platform("linux/amd64"), (p) => r.getManifestForPlatform(ref(":list"), p)))
      // No narrowing needed: a compile error here means the signature widened again.
      const layers: ReadonlyArray<Manifest.Descriptor> = fetched.manifest.layers
      expect(layers.map((l) => l.digest)).toEqual([d("dlayer-amd64")])
      expect(fetched.manifest.config.mediaType).toBe(MediaType.DockerConfig)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([
    ["a schema 1 manifest", ":old", MediaType.DockerSchema1, 1],
    ["an index nested in the index", ":nested", MediaType.OciIndex, 2]
  ] as const)("%s is UnsupportedMediaType (getManifest reads it)", ([_, target, mediaType, requests]) => {
    const t = setup(store)
    return Effect.gen(function*() {
      const error = yield* failureOf(
        withRepo((r) => Effect.flatMap(platform("linux/amd64"), (p) => r.getManifestForPlatform(ref(target), p)))
      )
      expect(error).toMatchObject({ _tag: "UnsupportedMediaType", mediaType })
      expect(t.requests).toHaveLength(requests)
      const read = yield* withRepo((r) => r.getManifest(ref(target)))
      expect(read.mediaType).toBe(mediaType)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a child whose bytes do not match the index entry's digest is a DigestMismatch", () => {
    const t = setup((request, i) =>
      i === 0 ? store(request, i) : manifestResponse(amd64, MediaType.OciManifest, { digest: null })
    )
    return Effect.gen(function*() {
      const error = yield* failureOf(
        withRepo((r) => Effect.flatMap(platform("linux/arm64"), (p) => r.getManifestForPlatform(ref(":multi"), p)))
      )
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: Digest.compute(arm64) })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the child keeps the repository and registry of the index, and is fetched by digest alone", () => {
    const t = setup(store)
    return Effect.gen(function*() {
      const target = Reference.pin(ref(":multi"), Digest.compute(index))
      yield* withRepo((r) => Effect.flatMap(platform("linux/amd64"), (p) => r.getManifestForPlatform(target, p)))
      expect(t.requests.map((r) => r.url.host)).toEqual([registry, registry])
      expect(t.lines()).toEqual([`GET ${path(Digest.compute(index))}`, `GET ${path(Digest.compute(amd64))}`])
    }).pipe(Effect.provide(t.layer))
  })
})
