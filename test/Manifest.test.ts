import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { pipe } from "effect/Function"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as Schema1 from "./support/Schema1.js"

// ---------------------------------------------------------------------------------------------
// realistic samples
// ---------------------------------------------------------------------------------------------

const d = (seed: string) => Digest.compute(seed)

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: d("config"), size: 1469 },
  layers: [
    { mediaType: MediaType.OciLayerGzip, digest: d("layer1"), size: 29124181 },
    {
      mediaType: MediaType.OciLayerZstd,
      digest: d("layer2"),
      size: 512,
      annotations: { "org.opencontainers.image.title": "app.tar.zst" }
    }
  ],
  annotations: { "org.opencontainers.image.created": "2024-05-01T10:00:00Z" }
}

// An OCI 1.1 artifact: empty config with inline data, artifactType, and a subject.
const ociArtifact = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  artifactType: "application/vnd.example.sbom+json",
  config: { mediaType: MediaType.OciEmpty, digest: d("{}"), size: 2, data: "e30=" },
  layers: [{ mediaType: "application/spdx+json", digest: d("sbom"), size: 8812 }],
  subject: { mediaType: MediaType.OciManifest, digest: d("image"), size: 1024 }
}

const entry = (mediaType: string, seed: string, platform: Manifest.Platform, extra: object = {}) => ({
  mediaType,
  digest: d(seed),
  size: 1000 + seed.length,
  ...extra,
  platform
})

const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    entry(MediaType.OciManifest, "amd64", { architecture: "amd64", os: "linux" }),
    entry(MediaType.OciManifest, "arm64", { architecture: "arm64", os: "linux", variant: "v8" }),
    entry(MediaType.OciManifest, "armv7", { architecture: "arm", os: "linux", variant: "v7" }),
    // BuildKit's attestation entry: a platform nobody runs.
    entry(MediaType.OciManifest, "attestation", { architecture: "unknown", os: "unknown" }, {
      annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d("amd64") }
    })
  ],
  annotations: { "org.opencontainers.image.ref.name": "1.0" }
}

const foreignUrl = "https://mcr.microsoft.com/v2/windows/servercore/blobs/" + d("foreign")
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifest,
  config: { mediaType: MediaType.DockerConfig, digest: d("dconfig"), size: 7023 },
  layers: [
    { mediaType: MediaType.DockerLayerGzip, digest: d("dlayer1"), size: 32654 },
    { mediaType: MediaType.DockerForeignLayer, digest: d("foreign"), size: 1024, urls: [foreignUrl] }
  ]
}

const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestList,
  manifests: [
    entry(MediaType.DockerManifest, "win", {
      architecture: "amd64",
      os: "windows",
      "os.version": "10.0.17763.5820",
      "os.features": ["win32k"]
    }),
    entry(MediaType.DockerManifest, "ppc", { architecture: "ppc64le", os: "linux", features: ["sse4"] })
  ]
}

const schema1 = {
  schemaVersion: 1,
  name: "library/hello-world",
  tag: "latest",
  architecture: "amd64",
  fsLayers: [{ blobSum: d("s1layer1") }, { blobSum: d("s1layer2") }],
  history: [{ v1Compatibility: "{\"id\":\"abc\",\"created\":\"2016-01-01T00:00:00Z\"}" }, { v1Compatibility: "{}" }]
}

/** What distribution 2.8.2 answered in `Docker-Content-Digest` for test/fixtures/manifests/schema1-signed-*.json. */
const reportedSchema1Digest = Schema.decodeSync(Digest.Digest)(
  "sha256:89cc0f49e875d44ed2de351ac7b98313e3202acd3a6308ac20d3232cdeee0256"
)

const b64url = (text: string) => Buffer.from(text, "utf8").toString("base64url")

const schema1Signed = Schema1.signed(schema1)

const utf8 = new TextEncoder()
const pretty = (value: unknown) => utf8.encode(JSON.stringify(value, null, 3))
const without = <T extends object>(value: T, key: string) =>
  Object.fromEntries(Object.entries(value).filter(([k]) => k !== key))

// The error, or a small marker on success: a failing assertion must not print a 4 MiB `bytes`.
const failureOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.match(effect, { onFailure: (error) => error, onSuccess: () => ({ _tag: "Succeeded" }) as const })

const decodeFailure = (body: unknown, contentType?: string) =>
  failureOf(Manifest.decode(body instanceof Uint8Array ? body : pretty(body), { contentType }))

const invalidReason = (body: unknown, contentType?: string) =>
  Effect.map(decodeFailure(body, contentType), (error) => {
    expect(error._tag).toBe("InvalidManifest")
    return (error as Manifest.InvalidManifest).reason
  })

const response = (body: ConstructorParameters<typeof Response>[0], headers: Record<string, string>) =>
  HttpClientResponse.fromWeb(
    HttpClientRequest.get("https://registry.example/v2/app/manifests/latest"),
    new Response(body, { headers })
  )

// ---------------------------------------------------------------------------------------------

describe("Manifest.decode", () => {
  const samples = [
    ["OCI image manifest", ociManifest, MediaType.OciManifest],
    ["OCI artifact manifest", ociArtifact, MediaType.OciManifest],
    ["OCI image index", ociIndex, MediaType.OciIndex],
    ["Docker manifest v2", dockerManifest, MediaType.DockerManifest],
    ["Docker manifest list", dockerList, MediaType.DockerManifestList],
    ["Docker schema 1", schema1, MediaType.DockerSchema1],
    ["Docker schema 1 signed", schema1Signed, MediaType.DockerSchema1Signed]
  ] as const

  for (const [name, sample, mediaType] of samples) {
    it.effect(`decodes a ${name}`, () =>
      Effect.gen(function*() {
        const bytes = pretty(sample)
        const decoded = yield* Manifest.decode(bytes, { contentType: mediaType })
        expect(decoded.mediaType).toBe(mediaType)
        // A signed schema 1 is known by the digest of its payload without the signatures.
        expect(decoded.digest).toBe(Digest.compute(mediaType === MediaType.DockerSchema1Signed ? pretty(schema1) : bytes))
        expect(decoded.size).toBe(bytes.byteLength)
        expect(decoded.bytes).toEqual(bytes)
        expect(decoded.manifest).toEqual(sample)
      }))
  }

  it.effect("ignores Content-Type parameters and case", () =>
    Effect.gen(function*() {
      const decoded = yield* Manifest.decode(pretty(ociIndex), {
        contentType: "Application/VND.oci.image.index.v1+json; charset=utf-8"
      })
      expect(decoded.mediaType).toBe(MediaType.OciIndex)
    }))

  it.effect("falls back to the body's mediaType when the Content-Type is missing or generic", () =>
    Effect.gen(function*() {
      const generic = [undefined, "application/json", "application/octet-stream", "text/plain; charset=utf-8"]
      for (const contentType of generic) {
        const list = yield* Manifest.decode(pretty(dockerList), { contentType })
        expect(list.mediaType).toBe(MediaType.DockerManifestList)
        const docker = yield* Manifest.decode(pretty(dockerManifest), { contentType })
        expect(docker.mediaType).toBe(MediaType.DockerManifest)
      }
    }))

  it.effect("tells an OCI manifest from an index by config vs manifests when nothing names the type", () =>
    Effect.gen(function*() {
      const manifest = yield* Manifest.decode(pretty(without(ociManifest, "mediaType")))
      expect(manifest.mediaType).toBe(MediaType.OciManifest)
      expect(Manifest.isImageManifest(manifest.manifest)).toBe(true)
      const index = yield* Manifest.decode(pretty(without(ociIndex, "mediaType")), { contentType: "application/json" })
      expect(index.mediaType).toBe(MediaType.OciIndex)
      expect(Manifest.isImageIndex(index.manifest)).toBe(true)

      expect(yield* invalidReason({ schemaVersion: 2, config: ociManifest.config, manifests: [] })).toContain(
        "both config and manifests"
      )
      expect(yield* invalidReason({ schemaVersion: 2, layers: [] })).toContain("cannot tell")
    }))

  it.effect("accepts an OCI body without mediaType when the Content-Type names it", () =>
    Effect.gen(function*() {
      const decoded = yield* Manifest.decode(pretty(without(ociManifest, "mediaType")), {
        contentType: MediaType.OciManifest
      })
      expect((decoded.manifest as Manifest.ImageManifest).mediaType).toBeUndefined()
      // …but the Content-Type still decides the schema: an index body under a manifest type fails.
      const reason = yield* invalidReason(without(ociIndex, "mediaType"), MediaType.OciManifest)
      expect(reason).toContain("config: is missing")
    }))

  it.effect("a signed schema 1 has the canonical digest distribution reports, however it was signed", () =>
    Effect.gen(function*() {
      // Two GETs of one converted manifest from distribution 2.8.2: re-signed each time.
      const a = new Uint8Array(Fs.readFileSync(new URL("./fixtures/manifests/schema1-signed-a.json", import.meta.url)))
      const b = new Uint8Array(Fs.readFileSync(new URL("./fixtures/manifests/schema1-signed-b.json", import.meta.url)))
      expect(Digest.compute(a)).not.toBe(Digest.compute(b))
      for (const bytes of [a, b]) {
        for (const contentType of [MediaType.DockerSchema1Signed, undefined]) {
          const decoded = yield* Manifest.decode(bytes, { contentType, expectedDigest: reportedSchema1Digest })
          expect(decoded.digest).toBe(reportedSchema1Digest)
          expect(decoded.mediaType).toBe(MediaType.DockerSchema1Signed)
          expect(decoded.size).toBe(bytes.byteLength)
        }
        // The digest of the wire bytes is not one the registry knows: asking for it is a mismatch.
        const wrong = yield* failureOf(Manifest.decode(bytes, { expectedDigest: Digest.compute(bytes) }))
        expect(wrong).toMatchObject({ _tag: "DigestMismatch", actual: reportedSchema1Digest })
      }
      // Other algorithms hash the same canonical bytes.
      const canonical = a.subarray(0, 446)
      const sha512 = Digest.compute(new Uint8Array([...canonical, 0x0a, 0x7d]), "sha512")
      expect((yield* Manifest.decode(a, { expectedDigest: sha512 })).digest).toBe(sha512)
    }))

  it.effect("a signed schema 1 whose protected header does not give a canonical form is invalid", () =>
    Effect.gen(function*() {
      const withProtected = (value: string) => ({ ...schema1Signed, signatures: [{ ...schema1Signed.signatures[0]!, protected: value }] })
      const header = (fields: object) => b64url(JSON.stringify(fields))
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["%%%", "is not base64url"],
        [b64url("not json"), "is not base64url-encoded JSON"],
        [header({ formatTail: b64url("\n}") }), "has no formatLength"],
        [header({ formatLength: -1, formatTail: b64url("\n}") }), "has no formatLength"],
        [header({ formatLength: 10 ** 9, formatTail: b64url("\n}") }), "is past the end"],
        [header({ formatLength: 10 }), "has no formatTail"]
      ]
      for (const [value, reason] of cases) {
        const text = yield* invalidReason(withProtected(value), MediaType.DockerSchema1Signed)
        expect(text).toContain("signatures[0].protected")
        expect(text).toContain(reason)
      }
    }))

  it.effect("tells signed from unsigned schema 1 without a Content-Type", () =>
    Effect.gen(function*() {
      expect((yield* Manifest.decode(pretty(schema1))).mediaType).toBe(MediaType.DockerSchema1)
      expect((yield* Manifest.decode(pretty(schema1Signed))).mediaType).toBe(MediaType.DockerSchema1Signed)
    }))

  it.effect("refuses a Content-Type that disagrees with the body's mediaType", () =>
    Effect.gen(function*() {
      const error = yield* decodeFailure(dockerManifest, MediaType.OciManifest)
      expect(error).toBeInstanceOf(Manifest.InvalidManifest)
      const invalid = error as Manifest.InvalidManifest
      expect(invalid.mediaType).toBe(MediaType.OciManifest)
      expect(invalid.reason).toBe(
        `the Content-Type is ${MediaType.OciManifest} but the body's mediaType is ${MediaType.DockerManifest}`
      )
    }))

  it.effect("refuses unknown media types, from the Content-Type or from the body", () =>
    Effect.gen(function*() {
      const fromHeader = yield* decodeFailure(ociManifest, "application/vnd.oci.artifact.manifest.v1+json")
      expect(fromHeader).toBeInstanceOf(Manifest.UnsupportedMediaType)
      expect((fromHeader as Manifest.UnsupportedMediaType).mediaType).toBe(
        "application/vnd.oci.artifact.manifest.v1+json"
      )
      const fromBody = yield* decodeFailure({ ...ociManifest, mediaType: "application/vnd.example+json" })
      expect(fromBody).toBeInstanceOf(Manifest.UnsupportedMediaType)
      expect((fromBody as Manifest.UnsupportedMediaType).mediaType).toBe("application/vnd.example+json")
      const html = yield* decodeFailure(ociManifest, "text/html")
      expect(html._tag).toBe("UnsupportedMediaType")
    }))

  it.effect("names the missing or mistyped field in the reason", () =>
    Effect.gen(function*() {
      const oci = MediaType.OciManifest
      expect(yield* invalidReason(without(ociManifest, "layers"), oci)).toContain("layers: is missing")
      expect(yield* invalidReason(without(ociManifest, "schemaVersion"), oci)).toContain("schemaVersion: is missing")
      expect(yield* invalidReason({ ...ociManifest, schemaVersion: 3 }, oci)).toContain("schemaVersion: Expected 2")
      expect(yield* invalidReason({ ...ociManifest, schemaVersion: "2" }, oci)).toContain("schemaVersion")

      const layers = ociManifest.layers
      const badDigest = yield* invalidReason(
        { ...ociManifest, layers: [layers[0], { ...layers[1], digest: "sha256:abc" }] },
        oci
      )
      expect(badDigest).toContain("layers[1].digest")
      expect(badDigest).toContain("sha256 needs 64 hex characters")

      const sizes = yield* invalidReason(
        { ...ociManifest, layers: [{ ...layers[0], size: -1 }, { ...layers[1], size: 1.5 }] },
        oci
      )
      expect(sizes).toContain("layers[0].size")
      expect(sizes).toContain("layers[1].size") // every issue is reported, not just the first

      expect(yield* invalidReason({ ...ociManifest, config: { ...ociManifest.config, size: "1469" } }, oci))
        .toContain("config.size: Expected number")
      expect(yield* invalidReason({ ...ociManifest, annotations: { a: 1 } }, oci)).toContain("annotations.a")
      expect(yield* invalidReason({ ...ociArtifact, config: { ...ociArtifact.config, data: "e30" } }, oci))
        .toContain("config.data")
      expect(yield* invalidReason({ ...ociArtifact, subject: { mediaType: oci } }, oci)).toContain(
        "subject.digest: is missing"
      )
      expect(
        yield* invalidReason(
          { ...ociIndex, manifests: [{ ...ociIndex.manifests[0], platform: { os: "linux" } }] },
          MediaType.OciIndex
        )
      ).toContain("manifests[0].platform.architecture: is missing")
      expect(yield* invalidReason(without(dockerManifest, "mediaType"), MediaType.DockerManifest)).toContain(
        "mediaType: is missing"
      )
      expect(yield* invalidReason(without(schema1, "fsLayers"), MediaType.DockerSchema1)).toContain("fsLayers")
      expect(yield* invalidReason({ ...schema1, signatures: [] }, MediaType.DockerSchema1Signed)).toContain(
        "signatures"
      )
      expect(yield* invalidReason({ ...ociManifest, mediaType: 7 })).toContain("mediaType: expected a string")
    }))

  it.effect("refuses bodies that are not a JSON object", () =>
    Effect.gen(function*() {
      expect(yield* invalidReason(utf8.encode("{\"schemaVersion\": 2,"), MediaType.OciManifest)).toContain("not JSON")
      expect(yield* invalidReason(utf8.encode("[1,2]"), MediaType.OciManifest)).toContain("not a JSON object")
      expect(yield* invalidReason(utf8.encode("null"))).toContain("not a JSON object")
      expect(yield* invalidReason(new Uint8Array([0x7b, 0xff, 0x7d]))).toContain("not valid UTF-8")
    }))

  it.effect("refuses a body over 4 MiB and accepts one of exactly 4 MiB", () =>
    Effect.gen(function*() {
      const json = JSON.stringify(ociManifest)
      const padded = utf8.encode(json + " ".repeat(Manifest.maxManifestBytes - json.length))
      expect(padded.byteLength).toBe(Manifest.maxManifestBytes)
      const decoded = yield* Manifest.decode(padded, { contentType: MediaType.OciManifest })
      expect(decoded.size).toBe(Manifest.maxManifestBytes)

      const over = utf8.encode(json + " ".repeat(Manifest.maxManifestBytes - json.length + 1))
      const error = yield* decodeFailure(over, MediaType.OciManifest)
      expect(error._tag).toBe("BodyTooLarge")
      expect(error).toMatchObject({ what: "manifest", limit: 4 * 1024 * 1024, size: Manifest.maxManifestBytes + 1 })
    }))

  it.effect("digests the exact bytes received, odd whitespace and unknown fields included", () =>
    Effect.gen(function*() {
      const text = `\n  {"layers":[ ],  "x-vendor": {"keep": [1, 2]},\t"config":${
        JSON.stringify(ociManifest.config)
      } ,"schemaVersion":2 , "mediaType":"${MediaType.OciManifest}"}  \n`
      const bytes = utf8.encode(text)
      const decoded = yield* Manifest.decode(bytes, { contentType: MediaType.OciManifest })
      expect(decoded.digest).toBe(Digest.compute(text))
      expect(new TextDecoder().decode(decoded.bytes)).toBe(text)
      expect("x-vendor" in decoded.manifest).toBe(false) // the value holds known fields; the bytes hold all
      expect(Manifest.encode(decoded.manifest as Manifest.ImageManifest).digest).not.toBe(decoded.digest)
    }))

  it.effect("keeps its own copy of the bytes", () =>
    Effect.gen(function*() {
      const bytes = pretty(ociManifest)
      const decoded = yield* Manifest.decode(bytes, { contentType: MediaType.OciManifest })
      bytes.fill(0x20)
      expect(Digest.compute(decoded.bytes)).toBe(decoded.digest)
    }))

  it.effect("checks expectedDigest, in its algorithm, before anything else", () =>
    Effect.gen(function*() {
      const bytes = pretty(ociIndex)
      const sha512 = Digest.compute(bytes, "sha512")
      const decoded = yield* Manifest.decode(bytes, { contentType: MediaType.OciIndex, expectedDigest: sha512 })
      expect(decoded.digest).toBe(sha512)

      const wrong = d("something else")
      const mismatch = yield* failureOf(Manifest.decode(bytes, { expectedDigest: wrong }))
      expect(mismatch).toMatchObject({ _tag: "DigestMismatch", expected: wrong, actual: Digest.compute(bytes) })
      // Even a body that is not a manifest at all is reported as the wrong content.
      const garbage = yield* failureOf(Manifest.decode(utf8.encode("<html>"), { expectedDigest: wrong }))
      expect(garbage._tag).toBe("DigestMismatch")
    }))

  it.effect("its errors carry a readable message", () =>
    Effect.gen(function*() {
      const error = yield* decodeFailure(without(ociManifest, "config"), MediaType.OciManifest)
      expect((error as Manifest.InvalidManifest).message).toBe(
        `invalid manifest (${MediaType.OciManifest}): config: is missing`
      )
    }))
})

describe("Manifest.fromResponse", () => {
  it.effect("reads and decodes a response with its Content-Type", () =>
    Effect.gen(function*() {
      const bytes = pretty(ociIndex)
      const decoded = yield* Manifest.fromResponse(
        response(bytes, { "content-type": MediaType.OciIndex }),
        { expectedDigest: Digest.compute(bytes) }
      )
      expect(decoded.mediaType).toBe(MediaType.OciIndex)
      expect(decoded.bytes).toEqual(bytes)
      const generic = yield* Manifest.fromResponse(response(pretty(dockerList), { "content-type": "application/json" }))
      expect(generic.mediaType).toBe(MediaType.DockerManifestList)
    }))

  it.effect("refuses a declared Content-Length over 4 MiB before reading the body", () =>
    Effect.gen(function*() {
      let pulled = false
      const body = new ReadableStream<Uint8Array>({
        pull: () => {
          pulled = true
        }
      }, { highWaterMark: 0 })
      const error = yield* failureOf(
        Manifest.fromResponse(response(body, { "content-type": MediaType.OciManifest, "content-length": "4194305" }))
      )
      expect(error).toMatchObject({ _tag: "BodyTooLarge", what: "manifest", limit: 4194304, size: 4194305 })
      expect(pulled).toBe(false)
    }))

  it.effect("cuts off a body without Content-Length that grows past 4 MiB", () =>
    Effect.gen(function*() {
      let sent = 0
      const chunk = new Uint8Array(1024 * 1024).fill(0x20)
      const body = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          // Bounded, so that a reader without a limit fails the test instead of hanging it.
          if (sent >= 16 * 1024 * 1024) return controller.close()
          sent += chunk.byteLength
          controller.enqueue(chunk)
        }
      })
      const error = yield* failureOf(Manifest.fromResponse(response(body, { "content-type": MediaType.OciManifest })))
      expect(error._tag).toBe("BodyTooLarge")
      expect(sent).toBeLessThanOrEqual(6 * 1024 * 1024)
    }))

  it.effect("reports a body that breaks off as a TransportError", () =>
    Effect.gen(function*() {
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          controller.enqueue(utf8.encode("{\"schemaVersion\""))
          controller.error(new Error("socket hang up"))
        }
      })
      const error = yield* failureOf(Manifest.fromResponse(response(body, { "content-type": MediaType.OciManifest })))
      expect(error._tag).toBe("TransportError")
    }))
})

describe("Manifest.encode", () => {
  type Pushable = Parameters<typeof Manifest.encode>[0]
  const pushables: ReadonlyArray<readonly [string, Pushable]> = [
    ["OCI image manifest", ociManifest as Manifest.ImageManifest],
    ["OCI artifact", ociArtifact as Manifest.ImageManifest],
    ["OCI index", ociIndex as Manifest.ImageIndex],
    ["Docker manifest", dockerManifest as Manifest.DockerManifest],
    ["Docker manifest list", dockerList as Manifest.DockerManifestList]
  ]

  for (const [name, manifest] of pushables) {
    it.effect(`round-trips a ${name} through decode`, () =>
      Effect.gen(function*() {
        const encoded = Manifest.encode(manifest)
        expect(encoded.digest).toBe(Digest.compute(encoded.bytes))
        expect(encoded.size).toBe(encoded.bytes.byteLength)
        const decoded = yield* Manifest.decode(encoded.bytes, {
          contentType: encoded.mediaType,
          expectedDigest: encoded.digest
        })
        expect(decoded.manifest).toEqual(manifest)
        expect(decoded.mediaType).toBe(encoded.mediaType)
        expect(Manifest.encode(decoded.manifest as typeof manifest).bytes).toEqual(encoded.bytes)
      }))
  }

  it("writes compact JSON in spec order, whatever order the object was built in", () => {
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)]))
        : value
    const shuffled = reversed(ociManifest) as Manifest.ImageManifest
    expect(Object.keys(shuffled)[0]).toBe("annotations")
    const a = Manifest.encode(ociManifest as Manifest.ImageManifest)
    const b = Manifest.encode(shuffled)
    expect(b.bytes).toEqual(a.bytes)
    const text = new TextDecoder().decode(a.bytes)
    expect(text.startsWith(`{"schemaVersion":2,"mediaType":"${MediaType.OciManifest}","config":{"mediaType":`)).toBe(
      true
    )
    expect(text).not.toMatch(/\s/)
  })

  // `__proto__` is left out: as a key of a plain object it sets the prototype instead of a property.
  const annotationKey = fc.string().filter((key) => key !== "__proto__")
  it.prop("annotation order never changes the digest", [fc.dictionary(annotationKey, fc.string())], ([annotations]) => {
    const reversed = Object.fromEntries(Object.entries(annotations).reverse())
    const base = ociManifest as Manifest.ImageManifest
    const a = Manifest.encode({ ...base, annotations })
    const b = Manifest.encode({ ...base, annotations: reversed })
    expect(b.digest).toBe(a.digest)
    const decoded = Effect.runSync(Manifest.decode(a.bytes, { contentType: a.mediaType }))
    expect((decoded.manifest as Manifest.ImageManifest).annotations).toEqual(annotations)
  })

  it("adds mediaType to an OCI manifest or index built without one", () => {
    const manifest = Manifest.encode(without(ociManifest, "mediaType") as unknown as Manifest.ImageManifest)
    expect(manifest.mediaType).toBe(MediaType.OciManifest)
    expect((manifest.manifest as Manifest.ImageManifest).mediaType).toBe(MediaType.OciManifest)
    expect(new TextDecoder().decode(manifest.bytes)).toContain(`"mediaType":"${MediaType.OciManifest}"`)
    const index = Manifest.encode(without(ociIndex, "mediaType") as unknown as Manifest.ImageIndex)
    expect(index.mediaType).toBe(MediaType.OciIndex)
  })

  it("throws on a value that breaks its schema", () => {
    const bad = { ...ociManifest, config: { ...ociManifest.config, size: -1 } } as Manifest.ImageManifest
    expect(() => Manifest.encode(bad)).toThrow(/size/)
  })
})

describe("Manifest accessors", () => {
  const decodeSync = (value: unknown) => Effect.runSync(Manifest.decode(pretty(value)))

  it("references: config + layers, index entries, nothing for schema 1", () => {
    expect(Manifest.references(decodeSync(ociManifest).manifest)).toEqual([ociManifest.config, ...ociManifest.layers])
    expect(Manifest.references(decodeSync(dockerManifest).manifest)).toEqual([
      dockerManifest.config,
      ...dockerManifest.layers
    ])
    expect(Manifest.references(decodeSync(ociIndex).manifest)).toEqual(ociIndex.manifests)
    expect(Manifest.references(decodeSync(dockerList).manifest)).toEqual(dockerList.manifests)
    expect(Manifest.references(decodeSync(schema1Signed).manifest)).toEqual([])
  })

  it("subject: only OCI manifests and indexes have one", () => {
    expect(Manifest.subject(decodeSync(ociArtifact).manifest)).toEqual(ociArtifact.subject)
    expect(Manifest.subject(decodeSync(ociManifest).manifest)).toBeUndefined()
    expect(Manifest.subject(decodeSync({ ...ociIndex, subject: ociArtifact.subject }).manifest)).toEqual(
      ociArtifact.subject
    )
    expect(Manifest.subject(decodeSync(dockerManifest).manifest)).toBeUndefined()
  })

  it("descriptorOf: media type, digest, size, and artifactType when there is one", () => {
    const artifact = decodeSync(ociArtifact)
    expect(Manifest.descriptorOf(artifact)).toEqual({
      mediaType: MediaType.OciManifest,
      digest: artifact.digest,
      size: artifact.size,
      artifactType: "application/vnd.example.sbom+json"
    })
    const list = decodeSync(dockerList)
    expect(Manifest.descriptorOf(list)).toEqual({
      mediaType: MediaType.DockerManifestList,
      digest: list.digest,
      size: list.size
    })
  })

  it("guards tell every kind apart", () => {
    const kinds = [ociManifest, ociIndex, dockerManifest, dockerList, schema1].map((m) => decodeSync(m).manifest)
    const guards = [
      Manifest.isImageManifest,
      Manifest.isImageIndex,
      Manifest.isDockerManifest,
      Manifest.isDockerManifestList,
      Manifest.isSchema1
    ]
    expect(kinds.map((m) => guards.map((g) => g(m)))).toEqual(
      kinds.map((_, i) => guards.map((_, j) => i === j))
    )
    expect(kinds.map(Manifest.isIndex)).toEqual([false, true, false, true, false])
  })
})

describe("Manifest platforms", () => {
  const parse = (input: string) => Either.getOrThrow(Manifest.parsePlatformEither(input))
  const reason = (input: string) =>
    Either.match(Manifest.parsePlatformEither(input), {
      onLeft: (e) => e.reason,
      onRight: (p) => `unexpectedly parsed as ${Manifest.formatPlatform(p)}`
    })

  it.effect("parses os/arch[/variant] and os(version)", () =>
    Effect.gen(function*() {
      expect(yield* Manifest.parsePlatform("linux/arm64/v8")).toEqual({
        os: "linux",
        architecture: "arm64",
        variant: "v8"
      })
      expect(parse("Linux/AMD64")).toEqual({ os: "linux", architecture: "amd64" })
      expect(parse("windows(10.0.17763.5820)/amd64")).toEqual({
        os: "windows",
        architecture: "amd64",
        "os.version": "10.0.17763.5820"
      })
    }))

  it("rejects bad platforms with a reason", () => {
    expect(reason("")).toBe("empty platform")
    expect(reason("linux")).toContain("got 1 part")
    expect(reason("linux/arm/v7/extra")).toContain("got 4 part")
    expect(reason("linux//v7")).toBe("the architecture is empty")
    expect(reason("/amd64")).toBe("the os is empty")
    expect(reason("linux/arm/")).toBe("the variant is empty")
    expect(reason("linux/x 86")).toContain("the architecture \"x 86\" may only have")
    expect(reason("windows(10.0/amd64")).toContain("unbalanced")
    expect(reason("windows()/amd64")).toBe("the os version is empty")
    expect(Either.getLeft(Manifest.parsePlatformEither("linux")).pipe(Option.map((e) => e._tag))).toEqual(
      Option.some("InvalidPlatform")
    )
  })

  it.prop(
    "format and parse round-trip",
    [
      fc.record({
        os: fc.stringMatching(/^[a-z0-9_.-]{1,10}$/),
        architecture: fc.stringMatching(/^[a-z0-9_.-]{1,10}$/),
        variant: fc.option(fc.stringMatching(/^[a-z0-9_.-]{1,5}$/), { nil: undefined }),
        osVersion: fc.option(fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/), { nil: undefined })
      })
    ],
    ([{ architecture, os, osVersion, variant }]) => {
      const platform: Manifest.Platform = {
        os,
        architecture,
        ...(variant === undefined ? {} : { variant }),
        ...(osVersion === undefined ? {} : { "os.version": osVersion })
      }
      expect(parse(Manifest.formatPlatform(platform))).toEqual(platform)
    }
  )

  it("formats platforms", () => {
    expect(Manifest.formatPlatform({ os: "linux", architecture: "arm", variant: "v7" })).toBe("linux/arm/v7")
    expect(Manifest.formatPlatform({ os: "windows", architecture: "amd64", "os.version": "10.0.17763" })).toBe(
      "windows(10.0.17763)/amd64"
    )
  })

  const index = Effect.runSync(Manifest.decode(pretty(ociIndex))).manifest as Manifest.ImageIndex
  const pick = (platform: string) =>
    Manifest.matchPlatform(index, parse(platform)).pipe(Option.map((descriptor) => descriptor.digest))

  it("matches os and architecture, with default variants filled in", () => {
    expect(pick("linux/amd64")).toEqual(Option.some(d("amd64")))
    expect(pick("linux/amd64/v1")).toEqual(Option.some(d("amd64")))
    expect(pick("linux/arm64")).toEqual(Option.some(d("arm64"))) // the entry says v8
    expect(pick("linux/arm64/v8")).toEqual(Option.some(d("arm64")))
    expect(pick("linux/arm")).toEqual(Option.some(d("armv7")))
    expect(pick("linux/arm/v7")).toEqual(Option.some(d("armv7")))
    expect(pick("linux/x86_64")).toEqual(Option.some(d("amd64")))
    expect(pick("linux/aarch64")).toEqual(Option.some(d("arm64")))
  })

  it("does not match other variants, other systems, or attestation entries", () => {
    expect(pick("linux/amd64/v3")).toEqual(Option.none())
    expect(pick("linux/arm/v6")).toEqual(Option.none())
    expect(pick("linux/arm64/v9")).toEqual(Option.none())
    expect(pick("windows/amd64")).toEqual(Option.none())
    expect(pick("linux/s390x")).toEqual(Option.none())
    expect(pick("unknown/unknown/v1")).toEqual(Option.none())
  })

  it("an entry without variant matches a wanted default variant, both ways", () => {
    expect(Manifest.platformMatches({ os: "linux", architecture: "arm64" }, parse("linux/arm64/v8"))).toBe(true)
    expect(Manifest.platformMatches(parse("linux/arm64/v8"), { os: "linux", architecture: "arm64" })).toBe(true)
    expect(Manifest.platformMatches({ os: "linux", architecture: "arm64", variant: "8" }, parse("linux/arm64"))).toBe(
      true
    )
    expect(Manifest.platformMatches({ os: "linux", architecture: "riscv64" }, parse("linux/riscv64"))).toBe(true)
    expect(Manifest.platformMatches({ os: "linux", architecture: "riscv64" }, parse("linux/riscv64/rva22"))).toBe(
      false
    )
  })

  it("requires the same os.version only when one is wanted", () => {
    const list = Effect.runSync(Manifest.decode(pretty(dockerList))).manifest as Manifest.DockerManifestList
    expect(Manifest.matchPlatform(list, parse("windows/amd64")).pipe(Option.map((x) => x.digest))).toEqual(
      Option.some(d("win"))
    )
    expect(pipe(list, Manifest.matchPlatform(parse("windows(10.0.17763.5820)/amd64")), Option.isSome)).toBe(true)
    expect(pipe(list, Manifest.matchPlatform(parse("windows(10.0.20348.1)/amd64")), Option.isSome)).toBe(false)
  })

  it("skips entries without a platform and returns the first match", () => {
    const twice: Manifest.ImageIndex = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: d("none"), size: 1 },
        entry(MediaType.OciManifest, "first", { os: "linux", architecture: "amd64" }),
        entry(MediaType.OciManifest, "second", { os: "linux", architecture: "amd64", variant: "v1" })
      ]
    }
    expect(Manifest.matchPlatform(twice, parse("linux/amd64")).pipe(Option.map((x) => x.digest))).toEqual(
      Option.some(d("first"))
    )
  })
})
