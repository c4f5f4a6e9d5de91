import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as MediaType from "../../src/MediaType.js"
import * as TestRegistry from "../../src/testing/index.js"
import { code, imageManifest, live, pushImage, send } from "./helpers.js"

const config = '{"architecture":"amd64","os":"linux"}'
const layers = ["layer one", "layer two"]

layer(live(), { excludeTestServices: true })("manifests", (it) => {
  it.effect("PUT by tag, then GET and HEAD by tag and digest with the stored bytes", () =>
    Effect.gen(function*() {
      const manifest = imageManifest(config, layers)
      const put = yield* pushImage("app/web", "v1", manifest, [config, ...layers])
      expect(put.status).toBe(201)
      expect(put.headers["docker-content-digest"]).toBe(manifest.digest)
      expect(put.headers["location"]).toMatch(new RegExp(`/v2/app/web/manifests/${manifest.digest}$`))
      expect(put.headers["oci-subject"]).toBeUndefined()

      for (const ref of ["v1", manifest.digest]) {
        const get = yield* send("GET", `/v2/app/web/manifests/${ref}`, { headers: { accept: MediaType.OciManifest } })
        expect(get.status).toBe(200)
        expect(get.headers["content-type"]).toBe(MediaType.OciManifest)
        expect(get.headers["docker-content-digest"]).toBe(manifest.digest)
        expect(get.headers["etag"]).toBe(`"${manifest.digest}"`)
        expect(get.body).toEqual(manifest.bytes)
        const head = yield* send("HEAD", `/v2/app/web/manifests/${ref}`)
        expect(head.status).toBe(200)
        expect(head.headers["content-length"]).toBe(String(manifest.size))
        expect(head.body.byteLength).toBe(0)
      }
    }))

  it.effect("If-None-Match with the quoted digest gives 304", () =>
    Effect.gen(function*() {
      const manifest = imageManifest(config, ["etag layer"])
      yield* pushImage("app/etag", "latest", manifest, [config, "etag layer"])
      const cached = yield* send("GET", "/v2/app/etag/manifests/latest", {
        headers: { "if-none-match": `"${manifest.digest}"` }
      })
      expect(cached.status).toBe(304)
      const stale = yield* send("GET", "/v2/app/etag/manifests/latest", {
        headers: { "if-none-match": `"${Digest.compute("old")}"` }
      })
      expect(stale.status).toBe(200)
    }))

  it.effect("PUT checks the Content-Type, the body's mediaType, blobs and the digest in the URL", () =>
    Effect.gen(function*() {
      const manifest = imageManifest(config, ["checked layer"])
      yield* pushImage("app/checks", undefined, manifest, [config, "checked layer"])

      const json = yield* send("PUT", "/v2/app/checks/manifests/a", { body: manifest.bytes, contentType: "application/json" })
      expect(json.status).toBe(400)
      expect(code(json)).toBe("MANIFEST_INVALID")

      const mismatch = yield* send("PUT", "/v2/app/checks/manifests/b", {
        body: manifest.bytes,
        contentType: MediaType.OciIndex
      })
      expect(mismatch.status).toBe(400)
      expect(code(mismatch)).toBe("MANIFEST_INVALID")

      const missing = imageManifest(config, ["never pushed"])
      const blobUnknown = yield* send("PUT", "/v2/app/checks/manifests/c", {
        body: missing.bytes,
        contentType: missing.mediaType
      })
      expect(blobUnknown.status).toBe(400)
      expect(code(blobUnknown)).toBe("MANIFEST_BLOB_UNKNOWN")

      const wrongDigest = yield* send("PUT", `/v2/app/checks/manifests/${Digest.compute("not it")}`, {
        body: manifest.bytes,
        contentType: manifest.mediaType
      })
      expect(wrongDigest.status).toBe(400)
      expect(code(wrongDigest)).toBe("DIGEST_INVALID")

      const garbage = yield* send("PUT", "/v2/app/checks/manifests/d", { body: "{not json", contentType: manifest.mediaType })
      expect(code(garbage)).toBe("MANIFEST_INVALID")

      const badTag = yield* send("PUT", "/v2/app/checks/manifests/-bad", { body: manifest.bytes, contentType: manifest.mediaType })
      expect(code(badTag)).toBe("TAG_INVALID")

      const byDigest = yield* send("PUT", `/v2/app/checks/manifests/${manifest.digest}`, {
        body: manifest.bytes,
        contentType: manifest.mediaType
      })
      expect(byDigest.status).toBe(201)
    }))

  it.effect("an index needs its child manifests in the repository", () =>
    Effect.gen(function*() {
      const child = imageManifest(config, ["index child"])
      const index = Manifest.encode({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [{ ...Manifest.descriptorOf(child), platform: { os: "linux", architecture: "amd64" } }]
      })
      const early = yield* send("PUT", "/v2/app/index/manifests/multi", { body: index.bytes, contentType: index.mediaType })
      expect(code(early)).toBe("MANIFEST_BLOB_UNKNOWN")
      yield* pushImage("app/index", undefined, child, [config, "index child"])
      const put = yield* send("PUT", "/v2/app/index/manifests/multi", { body: index.bytes, contentType: index.mediaType })
      expect(put.status).toBe(201)
      const get = yield* send("GET", "/v2/app/index/manifests/multi")
      expect(get.headers["content-type"]).toBe(MediaType.OciIndex)
    }))

  it.effect("DELETE by tag untags; DELETE by digest removes the manifest and its tags", () =>
    Effect.gen(function*() {
      const manifest = imageManifest(config, ["deleted layer"])
      yield* pushImage("app/delete", "one", manifest, [config, "deleted layer"])
      yield* send("PUT", "/v2/app/delete/manifests/two", { body: manifest.bytes, contentType: manifest.mediaType })

      expect((yield* send("DELETE", "/v2/app/delete/manifests/one")).status).toBe(202)
      expect((yield* send("GET", "/v2/app/delete/manifests/one")).status).toBe(404)
      expect((yield* send("GET", "/v2/app/delete/manifests/two")).status).toBe(200)
      expect((yield* send("GET", "/v2/app/delete/tags/list")).json.tags).toEqual(["two"])

      expect((yield* send("DELETE", `/v2/app/delete/manifests/${manifest.digest}`)).status).toBe(202)
      const gone = yield* send("GET", "/v2/app/delete/manifests/two")
      expect(gone.status).toBe(404)
      expect(code(gone)).toBe("MANIFEST_UNKNOWN")
      const again = yield* send("DELETE", `/v2/app/delete/manifests/${manifest.digest}`)
      expect(code(again)).toBe("MANIFEST_UNKNOWN")
    }))

  it.effect("tag list pagination with n, last and Link", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const manifest = imageManifest(config, [])
      for (const tag of ["c", "a", "e", "b", "d"]) {
        yield* registry.putManifest("app/tags", manifest.bytes, { tag })
      }
      const all = yield* send("GET", "/v2/app/tags/tags/list")
      expect(all.json).toEqual({ name: "app/tags", tags: ["a", "b", "c", "d", "e"] })
      expect(all.headers["link"]).toBeUndefined()

      const first = yield* send("GET", "/v2/app/tags/tags/list?n=2")
      expect(first.json.tags).toEqual(["a", "b"])
      expect(first.headers["link"]).toBe('</v2/app/tags/tags/list?last=b&n=2>; rel="next"')
      const next = first.headers["link"]!.slice(1, first.headers["link"]!.indexOf(">"))
      const second = yield* send("GET", next)
      expect(second.json.tags).toEqual(["c", "d"])
      const third = yield* send("GET", "/v2/app/tags/tags/list?n=2&last=d")
      expect(third.json.tags).toEqual(["e"])
      expect(third.headers["link"]).toBeUndefined()

      const unknown = yield* send("GET", "/v2/app/none/tags/list")
      expect(unknown.status).toBe(404)
      expect(code(unknown)).toBe("NAME_UNKNOWN")
    }))
})

layer(live(), { excludeTestServices: true })("catalog", (it) => {
  it.effect("is sorted, paginated with Link, and refuses n > 1000", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      for (const name of ["zeta/one", "alpha", "mid/dle", "beta"]) yield* registry.putBlob(name, name)
      const all = yield* send("GET", "/v2/_catalog")
      expect(all.json).toEqual({ repositories: ["alpha", "beta", "mid/dle", "zeta/one"] })
      const page = yield* send("GET", "/v2/_catalog?n=2&last=alpha")
      expect(page.json.repositories).toEqual(["beta", "mid/dle"])
      expect(page.headers["link"]).toBe('</v2/_catalog?last=mid%2Fdle&n=2>; rel="next"')
      const zero = yield* send("GET", "/v2/_catalog?n=0")
      expect(zero.json).toEqual({ repositories: [] })
      const tooMany = yield* send("GET", "/v2/_catalog?n=1001")
      expect(tooMany.status).toBe(400)
      expect(code(tooMany)).toBe("PAGINATION_NUMBER_INVALID")
    }))
})

const signature = (subject: Manifest.Decoded, artifactType: string) =>
  imageManifest("{}", [], {
    subject: Manifest.descriptorOf(subject),
    artifactType,
    annotations: { "org.example.kind": artifactType }
  })

describe("referrers", () => {
  layer(live(), { excludeTestServices: true })("on", (it) => {
    it.effect("lists manifests by subject, filters by artifactType, and sends OCI-Subject", () =>
      Effect.gen(function*() {
        const subject = imageManifest(config, ["subject layer"])
        yield* pushImage("app/signed", "v1", subject, [config, "subject layer"])
        const sig = signature(subject, "application/vnd.example.signature")
        const sbom = signature(subject, "application/vnd.example.sbom")
        const put = yield* pushImage("app/signed", undefined, sig, ["{}"])
        expect(put.status).toBe(201)
        expect(put.headers["oci-subject"]).toBe(subject.digest)
        yield* pushImage("app/signed", undefined, sbom, [])

        const all = yield* send("GET", `/v2/app/signed/referrers/${subject.digest}`)
        expect(all.status).toBe(200)
        expect(all.headers["content-type"]).toBe(MediaType.OciIndex)
        expect(all.headers["oci-filters-applied"]).toBeUndefined()
        expect(all.json.mediaType).toBe(MediaType.OciIndex)
        expect(all.json.manifests.map((d: Manifest.Descriptor) => d.digest).sort()).toEqual(
          [sig.digest, sbom.digest].sort()
        )
        const sigEntry = all.json.manifests.find((d: Manifest.Descriptor) => d.digest === sig.digest)
        expect(sigEntry).toEqual({
          mediaType: MediaType.OciManifest,
          digest: sig.digest,
          size: sig.size,
          artifactType: "application/vnd.example.signature",
          annotations: { "org.example.kind": "application/vnd.example.signature" }
        })

        const filtered = yield* send(
          "GET",
          `/v2/app/signed/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`
        )
        expect(filtered.headers["oci-filters-applied"]).toBe("artifactType")
        expect(filtered.json.manifests.map((d: Manifest.Descriptor) => d.digest)).toEqual([sbom.digest])

        const none = yield* send("GET", `/v2/app/signed/referrers/${Digest.compute("no such subject")}`)
        expect(none.status).toBe(200)
        expect(none.json.manifests).toEqual([])
      }))

    it.effect("an image manifest without artifactType reports its config media type", () =>
      Effect.gen(function*() {
        const subject = imageManifest(config, [])
        yield* pushImage("app/plain", "v1", subject, [config])
        const referrer = imageManifest(config, [], { subject: Manifest.descriptorOf(subject) })
        yield* pushImage("app/plain", undefined, referrer, [])
        const list = yield* send("GET", `/v2/app/plain/referrers/${subject.digest}`)
        expect(list.json.manifests[0].artifactType).toBe(MediaType.OciConfig)
      }))
  })

  layer(live({ referrers: false }), { excludeTestServices: true })("off", (it) => {
    it.effect("is the plain-text 404 of distribution 2.8 and PUT sends no OCI-Subject", () =>
      Effect.gen(function*() {
        const subject = imageManifest(config, [])
        yield* pushImage("app/old", "v1", subject, [config])
        const sig = signature(subject, "application/vnd.example.signature")
        const put = yield* pushImage("app/old", undefined, sig, ["{}"])
        expect(put.status).toBe(201)
        expect(put.headers["oci-subject"]).toBeUndefined()
        const reply = yield* send("GET", `/v2/app/old/referrers/${subject.digest}`)
        expect(reply.status).toBe(404)
        expect(reply.headers["content-type"]).toMatch(/^text\/plain/)
        expect(reply.text).toBe("404 page not found\n")
      }))
  })
})
