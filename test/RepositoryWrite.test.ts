import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as FakeHttp from "./support/FakeHttp.js"
import { base, manifestResponse, ref, repository, setup, withRepo } from "./support/RepositoryFixture.js"

const config: Manifest.Descriptor = { mediaType: MediaType.OciConfig, digest: Digest.compute("{}"), size: 2 }
const layer: Manifest.Descriptor = { mediaType: MediaType.OciLayerGzip, digest: Digest.compute("layer"), size: 5 }
const image = Manifest.encode({ schemaVersion: 2, config, layers: [layer] })
const subject = Manifest.descriptorOf(image)

/** A signature-like artifact referring to `image`. */
const artifact = (name: string) =>
  Manifest.encode({
    schemaVersion: 2,
    artifactType: "application/vnd.example.signature",
    config: { mediaType: MediaType.OciEmpty, digest: Digest.compute("{}"), size: 2 },
    layers: [{ mediaType: "application/vnd.example.sig", digest: Digest.compute(name), size: name.length }],
    subject,
    annotations: { "org.example.name": name }
  })

const manifestPath = (reference: string) => `/v2/${repository}/manifests/${reference}`
const fallbackPath = manifestPath(`sha256-${Digest.hex(subject.digest)}`)

const created = (digest: string, headers: Record<string, string> = {}) =>
  new Response(null, { status: 201, headers: { "docker-content-digest": digest, ...headers } })

/** A registry whose manifest PUTs succeed (echoing the digest of the body) unless `route` answers. */
const registry = (route: (request: FakeHttp.Recorded) => FakeHttp.Answer | undefined = () => undefined) => {
  const t = setup((request) => {
    if (request.url.pathname === "/v2/") return new Response(null, { status: 200 })
    const answer = route(request)
    if (answer !== undefined) return answer
    if (request.method === "PUT") return created(Digest.compute(request.body ?? new Uint8Array()))
    return FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")
  })
  const sent = () => t.requests.filter((r) => r.url.pathname !== "/v2/")
  const summary = () => sent().map((r) => `${r.method} ${r.url.pathname}`)
  return { ...t, sent, summary }
}

const decodeIndex = (bytes: Uint8Array) =>
  Effect.map(Manifest.decode(bytes, { contentType: MediaType.OciIndex }), (d) => d.manifest as Manifest.ImageIndex)

describe("putManifest", () => {
  it.effect("by tag: PUT the exact bytes with the exact Content-Type, returning the digest", () => {
    const r = registry()
    return Effect.gen(function*() {
      const digest = yield* withRepo((repo) => repo.putManifest(ref(":v1"), image))
      expect(digest).toBe(image.digest)
      const [put] = r.sent()
      expect(put!.method).toBe("PUT")
      expect(put!.url.pathname).toBe(manifestPath("v1"))
      expect(put!.headers["content-type"]).toBe(MediaType.OciManifest)
      expect(put!.headers["content-length"]).toBe(String(image.size))
      expect(put!.body).toEqual(image.bytes)
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("by digest: a reference without a tag is put under the manifest's digest", () => {
    const r = registry()
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(""), image))
      yield* withRepo((repo) => repo.putManifest(ref(`@${image.digest}`), image))
      expect(r.summary()).toEqual([`PUT ${manifestPath(image.digest)}`, `PUT ${manifestPath(image.digest)}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("raw bytes go out as they are, with their own media type", () => {
    const r = registry()
    const bytes = new TextEncoder().encode(
      `{\n  "schemaVersion": 2,\n  "mediaType": "${MediaType.DockerManifest}",\n  "config": ${
        JSON.stringify({ ...config, mediaType: MediaType.DockerConfig })
      },\n  "layers": []\n}`
    )
    return Effect.gen(function*() {
      const digest = yield* withRepo((repo) => repo.putManifest(ref(":v1"), { bytes, mediaType: MediaType.DockerManifest }))
      expect(digest).toBe(Digest.compute(bytes))
      expect(r.sent()[0]!.headers["content-type"]).toBe(MediaType.DockerManifest)
      expect(r.sent()[0]!.body).toEqual(bytes)
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("a reference digest that does not match the bytes is refused before sending", () => {
    const r = registry()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.putManifest(ref(`:v1@${Digest.compute("x")}`), image)))
      expect(error).toMatchObject({ _tag: "DigestMismatch", actual: image.digest })
      expect(r.sent()).toEqual([])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("the registry's Docker-Content-Digest is checked against ours", () => {
    const other = Digest.compute("other")
    const r = registry((request) => (request.method === "PUT" ? created(other) : undefined))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.putManifest(ref(":v1"), image)))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: image.digest, actual: other })
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("registry refusals are typed (MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN)", () => {
    let n = 0
    const r = registry(() =>
      n++ === 0
        ? FakeHttp.errorBody(400, "MANIFEST_INVALID", "bad content type")
        : FakeHttp.errorBody(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown")
    )
    return Effect.gen(function*() {
      const first = yield* Effect.flip(withRepo((repo) => repo.putManifest(ref(":v1"), image)))
      const second = yield* Effect.flip(withRepo((repo) => repo.putManifest(ref(":v1"), image)))
      expect([first._tag, second._tag]).toEqual(["ManifestInvalid", "ManifestBlobUnknown"])
    }).pipe(Effect.provide(r.layer))
  })
})

describe("referrers on push", () => {
  const sig = artifact("alice")
  const entry = {
    mediaType: MediaType.OciManifest,
    digest: sig.digest,
    size: sig.size,
    artifactType: "application/vnd.example.signature",
    annotations: { "org.example.name": "alice" }
  }

  it.effect("OCI-Subject in the answer: the registry indexed it, nothing more is sent", () => {
    const r = registry((request) =>
      request.method === "PUT" ? created(sig.digest, { "oci-subject": subject.digest }) : undefined
    )
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(""), sig))
      expect(r.summary()).toEqual([`PUT ${manifestPath(sig.digest)}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("no OCI-Subject and no index yet: a new sha256-<hex> index with the descriptor", () => {
    const r = registry()
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(""), sig))
      expect(r.summary()).toEqual([`PUT ${manifestPath(sig.digest)}`, `GET ${fallbackPath}`, `PUT ${fallbackPath}`])
      const get = r.sent()[1]!
      expect(get.headers["accept"]).toBe(MediaType.OciIndex)
      const put = r.sent()[2]!
      expect(put.headers["content-type"]).toBe(MediaType.OciIndex)
      expect(put.headers["if-match"]).toBeUndefined()
      const index = yield* decodeIndex(put.body!)
      expect(index.manifests).toEqual([entry])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("an existing index: the new entry is added, the others kept, with If-Match: <ETag>", () => {
    const bob = artifact("bob")
    const existing = Manifest.encode({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.OciManifest, digest: bob.digest, size: bob.size }],
      annotations: { kept: "yes" }
    })
    const r = registry((request) =>
      request.method === "GET" && request.url.pathname === fallbackPath
        ? manifestResponse(existing.bytes, MediaType.OciIndex, { headers: { etag: `"${existing.digest}"` } })
        : undefined
    )
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(""), sig))
      const put = r.sent()[2]!
      expect(put.headers["if-match"]).toBe(`"${existing.digest}"`)
      const index = yield* decodeIndex(put.body!)
      expect(index.manifests.map((d) => d.digest)).toEqual([bob.digest, sig.digest])
      expect(index.annotations).toEqual({ kept: "yes" })
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("412: the index changed meanwhile — read it again and retry", () => {
    const bob = artifact("bob")
    const carol = artifact("carol")
    const v1 = Manifest.encode({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.OciManifest, digest: bob.digest, size: bob.size }]
    })
    const v2 = Manifest.encode({
      schemaVersion: 2,
      manifests: [...(v1.manifest as Manifest.ImageIndex).manifests, {
        mediaType: MediaType.OciManifest,
        digest: carol.digest,
        size: carol.size
      }]
    })
    let gets = 0
    let puts = 0
    const r = registry((request) => {
      if (request.url.pathname !== fallbackPath) return undefined
      if (request.method === "GET") {
        const current = gets++ === 0 ? v1 : v2
        return manifestResponse(current.bytes, MediaType.OciIndex, { headers: { etag: `"${current.digest}"` } })
      }
      return puts++ === 0 ? new Response(null, { status: 412 }) : undefined
    })
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(""), sig))
      const puts = r.sent().filter((x) => x.method === "PUT" && x.url.pathname === fallbackPath)
      expect(puts.map((p) => p.headers["if-match"])).toEqual([`"${v1.digest}"`, `"${v2.digest}"`])
      const index = yield* decodeIndex(puts[1]!.body!)
      expect(index.manifests.map((d) => d.digest)).toEqual([bob.digest, carol.digest, sig.digest])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("412 every time: fails after the configured retries", () => {
    const r = registry((request) =>
      request.method === "PUT" && request.url.pathname === fallbackPath ? new Response(null, { status: 412 }) : undefined
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.putManifest(ref(""), sig)))
      expect(error).toMatchObject({ _tag: "UnexpectedStatus", status: 412 })
      // the default: 5 retries after the first attempt
      expect(r.sent().filter((x) => x.method === "PUT" && x.url.pathname === fallbackPath)).toHaveLength(6)
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("a descriptor already listed is not added twice", () => {
    const existing = Manifest.encode({ schemaVersion: 2, manifests: [entry] })
    const r = registry((request) =>
      request.method === "GET" && request.url.pathname === fallbackPath
        ? manifestResponse(existing.bytes, MediaType.OciIndex)
        : undefined
    )
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(""), sig))
      expect(r.summary()).toEqual([`PUT ${manifestPath(sig.digest)}`, `GET ${fallbackPath}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("a fallback tag holding something else than an index is never overwritten", () => {
    const r = registry((request) =>
      request.method === "GET" && request.url.pathname === fallbackPath
        ? manifestResponse(image.bytes, MediaType.OciManifest)
        : undefined
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.putManifest(ref(""), sig)))
      expect(error._tag).toBe("InvalidResponse")
      expect(r.summary()).toEqual([`PUT ${manifestPath(sig.digest)}`, `GET ${fallbackPath}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("raw bytes with a subject are indexed too; an image manifest lists its config type", () => {
    const plain = Manifest.encode({ schemaVersion: 2, config, layers: [], subject })
    const r = registry()
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.putManifest(ref(":att"), { bytes: plain.bytes, mediaType: plain.mediaType }))
      const index = yield* decodeIndex(r.sent()[2]!.body!)
      expect(index.manifests).toEqual([{
        mediaType: MediaType.OciManifest,
        digest: plain.digest,
        size: plain.size,
        artifactType: MediaType.OciConfig
      }])
    }).pipe(Effect.provide(r.layer))
  })
})

describe("delete", () => {
  it.effect("deleteManifest: DELETE by digest", () => {
    const r = registry(() => new Response(null, { status: 202 }))
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.deleteManifest(ref(`:v1@${image.digest}`)))
      expect(r.summary()).toEqual([`DELETE ${manifestPath(image.digest)}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("deleteManifest without a digest is refused without a request; 404 is ManifestUnknown", () => {
    const r = registry(() => FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown"))
    return Effect.gen(function*() {
      const noDigest = yield* Effect.flip(withRepo((repo) => repo.deleteManifest(ref(":v1"))))
      expect(noDigest._tag).toBe("InvalidReference")
      expect(r.sent()).toEqual([])
      const unknown = yield* Effect.flip(withRepo((repo) => repo.deleteManifest(ref(`@${image.digest}`))))
      expect(unknown._tag).toBe("ManifestUnknown")
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("deleteBlob: DELETE, and the BlobCache forgets the blob", () => {
    const digest = Digest.compute("blob")
    const r = registry((request) =>
      request.method === "HEAD"
        ? new Response(null, { status: 200, headers: { "content-length": "4" } })
        : request.method === "DELETE"
        ? new Response(null, { status: 202 })
        : undefined
    )
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.statBlob(ref(""), digest))
      yield* withRepo((repo) => repo.statBlob(ref(""), digest))
      yield* withRepo((repo) => repo.deleteBlob(ref(""), digest))
      yield* withRepo((repo) => repo.statBlob(ref(""), digest))
      const blobPath = `/v2/${repository}/blobs/${digest}`
      expect(r.summary()).toEqual([`HEAD ${blobPath}`, `DELETE ${blobPath}`, `HEAD ${blobPath}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("deleteBlob of an unknown blob is BlobUnknown", () => {
    const r = registry(() => new Response(null, { status: 404 }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.deleteBlob(ref(""), Digest.compute("x"))))
      expect(error._tag).toBe("BlobUnknown")
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("deletes ask for the delete action", () => {
    const scopes: Array<ReadonlyArray<string>> = []
    const t = setup((request) => {
      if (request.url.host === "auth.example") {
        scopes.push(request.url.searchParams.getAll("scope"))
        return FakeHttp.json(200, { token: "tok" })
      }
      if (request.headers["authorization"] !== "Bearer tok") {
        return FakeHttp.errorBody(401, "UNAUTHORIZED", "", {
          "www-authenticate": `Bearer realm="https://auth.example/token",service="registry.example"`
        })
      }
      return new Response(null, { status: 202 })
    })
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.deleteManifest(ref(`@${image.digest}`)))
      expect(scopes).toEqual([[`repository:${repository}:delete`]])
    }).pipe(Effect.provide(t.layer))
  })
})

describe("tag and untag", () => {
  it.effect("tag: GET the exact bytes of the source, PUT them under the new tag with the same Content-Type", () => {
    // a Docker manifest with its own formatting: re-serialising it would change its digest
    const bytes = new TextEncoder().encode(
      `{"schemaVersion":2,  "mediaType":"${MediaType.DockerManifest}","config":${
        JSON.stringify({ ...config, mediaType: MediaType.DockerConfig })
      },"layers":[]}`
    )
    const digest = Digest.compute(bytes)
    const r = registry((request) =>
      request.method === "GET" && request.url.pathname === manifestPath("v1")
        ? manifestResponse(bytes, MediaType.DockerManifest)
        : undefined
    )
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((repo) => repo.tag(ref(":v1"), "stable"))
      expect(descriptor).toEqual({ mediaType: MediaType.DockerManifest, digest, size: bytes.byteLength })
      expect(r.summary()).toEqual([`GET ${manifestPath("v1")}`, `PUT ${manifestPath("stable")}`])
      const put = r.sent()[1]!
      expect(put.headers["content-type"]).toBe(MediaType.DockerManifest)
      expect(put.body).toEqual(bytes)
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("tag with an invalid tag name fails before any request", () => {
    const r = registry()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(withRepo((repo) => repo.tag(ref(":v1"), "-bad")))
      expect(error._tag).toBe("InvalidReference")
      expect(r.sent()).toEqual([])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("untag: DELETE by tag", () => {
    const r = registry(() => new Response(null, { status: 202 }))
    return Effect.gen(function*() {
      yield* withRepo((repo) => repo.untag(ref(":old")))
      expect(r.summary()).toEqual([`DELETE ${manifestPath("old")}`])
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("untag where the registry refuses (400 as distribution 2.8 sends it, 405, UNSUPPORTED): Unsupported", () => {
    const answers = [
      FakeHttp.errorBody(400, "DIGEST_INVALID", "provided digest did not match uploaded content"),
      new Response("method not allowed", { status: 405 }),
      FakeHttp.errorBody(400, "UNSUPPORTED", "no")
    ]
    let n = 0
    const r = registry(() => answers[n++])
    return Effect.gen(function*() {
      for (const _ of answers) {
        const error = yield* Effect.flip(withRepo((repo) => repo.untag(ref(":old"))))
        expect(error._tag).toBe("Unsupported")
      }
    }).pipe(Effect.provide(r.layer))
  })

  it.effect("untag of an unknown tag is ManifestUnknown; without a tag, InvalidReference", () => {
    const r = registry(() => FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", ""))
    return Effect.gen(function*() {
      const unknown = yield* Effect.flip(withRepo((repo) => repo.untag(ref(":gone"))))
      expect(unknown._tag).toBe("ManifestUnknown")
      const noTag = yield* Effect.flip(withRepo((repo) => repo.untag(ref(`@${image.digest}`))))
      expect(noTag._tag).toBe("InvalidReference")
    }).pipe(Effect.provide(r.layer))
  })
})

describe("the Go client's manifest write scenarios", () => {
  it.effect("put by tag then by digest, then delete by digest", () => {
    const r = registry((request) => (request.method === "DELETE" ? new Response(null, { status: 202 }) : undefined))
    return Effect.gen(function*() {
      const byTag = yield* withRepo((repo) => repo.putManifest(ref(":latest"), image))
      const byDigest = yield* withRepo((repo) => repo.putManifest(ref(""), image))
      expect(byTag).toBe(byDigest)
      yield* withRepo((repo) => repo.deleteManifest(ref(`@${byDigest}`)))
      expect(r.sent().map((x) => `${x.method} ${x.url.toString()}`)).toEqual([
        `PUT ${base}${manifestPath("latest")}`,
        `PUT ${base}${manifestPath(image.digest)}`,
        `DELETE ${base}${manifestPath(image.digest)}`
      ])
    }).pipe(Effect.provide(r.layer))
  })
})
