import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Digest from "../src/Digest.js"
import type * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as FakeHttp from "./support/FakeHttp.js"
import {
  failureOf,
  headerValues,
  jsonBytes,
  manifestResponse,
  ref,
  registry,
  repository,
  setup,
  withRepo
} from "./support/RepositoryFixture.js"

const subject = Digest.compute("the image")
const referrersPath = `/v2/${repository}/referrers/${subject}`
const fallbackPath = `/v2/${repository}/manifests/sha256-${Digest.hex(subject)}`

const sbomType = "application/vnd.example.sbom+json"
const sigType = "application/vnd.example.signature"
const referrer = (seed: string, artifactType: string): Manifest.Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: Digest.compute(seed),
  size: 500 + seed.length,
  artifactType,
  annotations: { "org.example.seed": seed }
})
const sbom = referrer("sbom", sbomType)
const sig = referrer("sig", sigType)
const sbom2 = referrer("sbom-2", sbomType)

const indexOf = (manifests: ReadonlyArray<Manifest.Descriptor>) =>
  jsonBytes({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })

const indexResponse = (manifests: ReadonlyArray<Manifest.Descriptor>, headers: Record<string, string> = {}) =>
  manifestResponse(indexOf(manifests), MediaType.OciIndex, { digest: null, headers })

const notFound = () => new Response("404 page not found\n", { status: 404, headers: { "content-type": "text/plain" } })

const list = (artifactType?: string, target = ref("")) =>
  withRepo((r) => r.referrers(target, subject, artifactType === undefined ? {} : { artifactType }))

describe("referrers API", () => {
  it.effect("GET /v2/<name>/referrers/<digest> with Accept of the OCI index → its entries", () => {
    const t = setup(() => indexResponse([sbom, sig]))
    return Effect.gen(function*() {
      expect(yield* list()).toEqual([sbom, sig])
      expect(t.lines()).toEqual([`GET ${referrersPath}`])
      expect(headerValues(t.requests[0]!.headers["accept"])).toEqual([MediaType.OciIndex])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an empty index is no referrers (and the API is known to exist)", () => {
    const t = setup(() => indexResponse([]))
    return Effect.gen(function*() {
      expect(yield* list()).toEqual([])
      expect(yield* list()).toEqual([])
      expect(t.lines()).toEqual([`GET ${referrersPath}`, `GET ${referrersPath}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("artifactType is sent; a registry that says it filtered (OCI-Filters-Applied) is taken at its word", () => {
    const t = setup((request) =>
      indexResponse(
        [sbom, sbom2].filter((d) => d.artifactType === request.url.searchParams.get("artifactType")),
        { "oci-filters-applied": "artifactType" }
      )
    )
    return Effect.gen(function*() {
      expect(yield* list(sbomType)).toEqual([sbom, sbom2])
      expect(t.requests[0]!.url.searchParams.get("artifactType")).toBe(sbomType)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a registry that did not filter (no OCI-Filters-Applied) is filtered client-side", () => {
    const t = setup(() => indexResponse([sbom, sig, sbom2]))
    return Effect.gen(function*() {
      expect(yield* list(sbomType)).toEqual([sbom, sbom2])
      expect(yield* list(sigType)).toEqual([sig])
      expect(yield* list("application/vnd.none")).toEqual([])
      expect(t.requests.map((r) => r.url.searchParams.get("artifactType"))).toEqual([
        sbomType,
        sigType,
        "application/vnd.none"
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("follows Link pagination across pages", () => {
    const t = setup((request) =>
      request.url.searchParams.get("page") === "2"
        ? indexResponse([sbom2])
        : indexResponse([sbom, sig], { link: `<${referrersPath}?page=2>; rel="next"` })
    )
    return Effect.gen(function*() {
      expect(yield* list()).toEqual([sbom, sig, sbom2])
      expect(t.lines()).toEqual([`GET ${referrersPath}`, `GET ${referrersPath}?page=2`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a referrers response that is not an index is InvalidResponse", () => {
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciEmpty, digest: Digest.compute("{}"), size: 2 },
      layers: []
    })
    const t = setup(() => manifestResponse(manifest, MediaType.OciManifest))
    return Effect.gen(function*() {
      expect((yield* failureOf(list()))._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a refusal other than 404 is an error, not 'no API'", () => {
    const t = setup((_, i) => (i === 0 ? FakeHttp.errorBody(403, "DENIED", "no") : indexResponse([sbom])))
    return Effect.gen(function*() {
      expect((yield* failureOf(list()))._tag).toBe("Denied")
      // the API is still tried the next time
      expect(yield* list()).toEqual([sbom])
      expect(t.lines()).toEqual([`GET ${referrersPath}`, `GET ${referrersPath}`])
    }).pipe(Effect.provide(t.layer))
  })
})

describe("referrers without the API (tag schema fallback)", () => {
  const registryWithoutApi = (fallback: () => Response) => (request: FakeHttp.Recorded) =>
    request.url.pathname.startsWith(`/v2/${repository}/referrers/`)
      ? notFound()
      : request.url.pathname === fallbackPath
      ? fallback()
      : FakeHttp.errorBody(404, "MANIFEST_UNKNOWN")

  it.effect("a 404 falls back to the sha256-<hex> tag, asking only for an OCI index", () => {
    const t = setup(registryWithoutApi(() => indexResponse([sbom, sig])))
    return Effect.gen(function*() {
      expect(yield* list()).toEqual([sbom, sig])
      expect(t.lines()).toEqual([`GET ${referrersPath}`, `GET ${fallbackPath}`])
      expect(headerValues(t.requests[1]!.headers["accept"])).toEqual([MediaType.OciIndex])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the fallback index is filtered by artifactType client-side", () => {
    const t = setup(registryWithoutApi(() => indexResponse([sbom, sig, sbom2])))
    return Effect.gen(function*() {
      expect(yield* list(sigType)).toEqual([sig])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("no such tag: no referrers", () => {
    const t = setup(registryWithoutApi(() => FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")))
    return Effect.gen(function*() {
      expect(yield* list()).toEqual([])
      expect(t.lines()).toEqual([`GET ${referrersPath}`, `GET ${fallbackPath}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a tag that does not point at an index is InvalidResponse", () => {
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciEmpty, digest: Digest.compute("{}"), size: 2 },
      layers: []
    })
    const list2 = jsonBytes({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [{ mediaType: MediaType.DockerManifest, digest: Digest.compute("x"), size: 3 }]
    })
    const t = setup((request, i) =>
      registryWithoutApi(() =>
        i < 2
          ? manifestResponse(manifest, MediaType.OciManifest)
          : manifestResponse(list2, MediaType.DockerManifestList)
      )(request)
    )
    return Effect.gen(function*() {
      expect((yield* failureOf(list()))._tag).toBe("InvalidResponse")
      expect((yield* failureOf(list()))._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the fallback index's bytes are checked against its Docker-Content-Digest", () => {
    const t = setup(registryWithoutApi(() =>
      manifestResponse(indexOf([sbom]), MediaType.OciIndex, { digest: Digest.compute("another index") })
    ))
    return Effect.gen(function*() {
      expect((yield* failureOf(list()))._tag).toBe("DigestMismatch")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the absence is remembered per registry: later queries go straight to the tag", () => {
    const t = setup(registryWithoutApi(() => indexResponse([sbom])))
    return Effect.gen(function*() {
      yield* list()
      yield* list(sbomType)
      yield* list(undefined, ref("", "team/other"))
      expect(t.lines()).toEqual([
        `GET ${referrersPath}`,
        `GET ${fallbackPath}`,
        `GET ${fallbackPath}`,
        // same registry, other repository: still no API
        `GET /v2/team/other/manifests/sha256-${Digest.hex(subject)}`
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("another registry's API is probed on its own", () => {
    const t = setup((request) =>
      request.url.host === registry ? registryWithoutApi(() => indexResponse([sbom]))(request) : indexResponse([sig])
    )
    return Effect.gen(function*() {
      expect(yield* list()).toEqual([sbom])
      expect(yield* list(undefined, ref("", repository, "other.example"))).toEqual([sig])
      expect(t.requests.map((r) => `${r.url.host}${r.url.pathname}`)).toEqual([
        `${registry}${referrersPath}`,
        `${registry}${fallbackPath}`,
        `other.example${referrersPath}`
      ])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 404 NAME_UNKNOWN is not taken as 'no API': the tag is asked this time, the API again next time", () => {
    // a registry with the API, asked about a repository it does not know, then about one it knows
    const t = setup((request) =>
      request.url.pathname.startsWith("/v2/team/gone/")
        ? FakeHttp.errorBody(404, "NAME_UNKNOWN", "repository name not known to registry")
        : indexResponse([sbom])
    )
    return Effect.gen(function*() {
      expect(yield* list(undefined, ref("", "team/gone"))).toEqual([])
      expect(yield* list()).toEqual([sbom])
      expect(t.lines()).toEqual([
        `GET /v2/team/gone/referrers/${subject}`,
        `GET /v2/team/gone/manifests/sha256-${Digest.hex(subject)}`,
        `GET ${referrersPath}`
      ])
    }).pipe(Effect.provide(t.layer))
  })
})

