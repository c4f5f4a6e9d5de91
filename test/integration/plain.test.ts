/**
 * Registry 2.8 over plain http, no auth: skopeo ↔ effect-oci round trips, catalog pagination,
 * Accept negotiation, deletes.
 */
import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as MediaType from "../../src/MediaType.js"
import * as Repository from "../../src/Repository.js"
import { integrationSuite } from "./support/binaries.js"
import * as Client from "./support/client.js"
import * as Environment from "./support/environment.js"
import { Fixture, skopeoPush } from "./support/environment.js"
import * as OciLayout from "./support/ociLayout.js"
import { get as rawGet } from "./support/registry.js"
import * as Scenarios from "./support/scenarios.js"
import * as Skopeo from "./support/skopeo.js"

const signatureType = "application/vnd.example.signature.v1"
const sbomType = "application/vnd.example.sbom.v1"

/** Pushes an artifact (empty config, one small layer) whose `subject` is `subject`. */
const pushArtifact = (repository: string, subject: OciLayout.Blob, artifactType: string, payload: string) =>
  Effect.gen(function*() {
    const { registry } = yield* Fixture
    const repo = yield* Repository.Repository
    const target = Client.ref(registry, repository)
    const empty = yield* repo.putBlob(target, new TextEncoder().encode("{}"), { mediaType: MediaType.OciEmpty })
    const layer = yield* repo.putBlob(target, new TextEncoder().encode(payload), { mediaType: artifactType })
    const bytes = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType,
      config: { mediaType: MediaType.OciEmpty, digest: empty.digest, size: empty.size },
      layers: [{ mediaType: artifactType, digest: layer.digest, size: layer.size }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.length }
    }))
    const digest = yield* repo.putManifest(Client.ref(registry, repository, OciLayout.sha256(bytes)), {
      bytes,
      mediaType: MediaType.OciManifest
    })
    return { digest, size: bytes.length }
  })

/** Tags an existing image again (registry to registry, blobs already there). */
const retag = (repository: string, from: string, to: string) =>
  Effect.gen(function*() {
    const { registry, skopeo } = yield* Fixture
    yield* skopeo.run([
      "copy",
      "--quiet",
      ...Skopeo.flags(registry, "src"),
      ...Skopeo.flags(registry, "dest"),
      Skopeo.dockerRef(registry, from.split(":")[0]!, from.split(":")[1]!),
      Skopeo.dockerRef(registry, repository, to)
    ])
  })

integrationSuite("registry 2.8 over plain http", ["docker-registry", "skopeo"], () => {
  layer(Environment.layer("plain"), Environment.layerOptions)((it) => {
    Scenarios.skopeoToClient(it)
    Scenarios.clientToSkopeo(it)

    it.effect("pages through the catalog with n, following the relative Link header", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        yield* skopeoPush("catalog/a", "v1")
        for (const name of ["catalog/b", "catalog/c", "catalog/d", "catalog/e"]) yield* retag(name, "catalog/a:v1", "v1")

        const first = yield* repo.catalogPage(registry.host, { n: 2 })
        expect(first.items).toHaveLength(2)
        // 2.8 sends `</v2/_catalog?last=…&n=2>; rel="next"`: resolved against the registry's URL
        expect(first.next).toBeDefined()
        const next = new URL(first.next!)
        expect(next.origin).toBe(registry.url)
        expect(next.pathname).toBe("/v2/_catalog")
        expect(next.searchParams.get("last")).toBe(first.items[1])
        expect(next.searchParams.get("n")).toBe("2")

        const all = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.catalog(registry.host, { pageSize: 2 })))
        const unpaged = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.catalog(registry.host)))
        expect(all).toEqual(unpaged)
        expect(all).toEqual([...all].sort())
        expect(all.filter((n) => n.startsWith("catalog/"))).toEqual([
          "catalog/a",
          "catalog/b",
          "catalog/c",
          "catalog/d",
          "catalog/e"
        ])

        const after = yield* repo.catalogPage(registry.host, { n: 2, last: "catalog/c" })
        expect(after.items).toEqual(["catalog/d", "catalog/e"])
        expect((yield* repo.catalogPage(registry.host, { n: 0 })).items).toEqual([])
      }))

    it.effect("a page size above 1000 is refused with PAGINATION_NUMBER_INVALID", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        const error = yield* Effect.flip(repo.catalogPage(registry.host, { n: 1001 }))
        expect(error._tag).toBe("PaginationNumberInvalid")
      }))

    it.effect("tag listing copes with a registry that ignores n (no Link, every tag at once)", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        yield* skopeoPush("it/many-tags", "t1")
        for (const tag of ["t2", "t3", "t4"]) yield* retag("it/many-tags", "it/many-tags:t1", tag)
        const page = yield* repo.tagsPage(Client.ref(registry, "it/many-tags"), { n: 1 })
        expect([...page.items].sort()).toEqual(["t1", "t2", "t3", "t4"])
        expect(page.next).toBeUndefined()
        const all = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.tags(Client.ref(registry, "it/many-tags"), { pageSize: 1 })))
        expect([...all].sort()).toEqual(["t1", "t2", "t3", "t4"])
      }))

    it.effect("an unknown repository's tags fail with NAME_UNKNOWN", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        const error = yield* Effect.flip(Stream.runCollect(repo.tags(Client.ref(registry, "it/never-pushed"))))
        expect(error._tag).toBe("NameUnknown")
      }))

    it.effect("Accept negotiation: an OCI manifest needs an OCI type in Accept; the default list has it", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        const image = yield* skopeoPush("it/accept", "oci")
        const ref = Client.ref(registry, "it/accept", "oci")
        // 2.8 answers 404 MANIFEST_UNKNOWN ("OCI manifest found, but accept header does not support OCI manifests")
        const refused = yield* Effect.flip(repo.getManifest(ref, { accept: [MediaType.DockerManifest] }))
        expect(refused._tag).toBe("ManifestUnknown")
        const byDigest = Client.ref(registry, "it/accept", image.manifest.digest)
        expect((yield* Effect.flip(repo.getManifest(byDigest, { accept: [MediaType.DockerManifest] })))._tag)
          .toBe("ManifestUnknown")
        expect((yield* repo.getManifest(ref)).digest).toBe(image.manifest.digest)
        expect((yield* repo.getManifest(ref, { accept: [MediaType.OciManifest] })).digest).toBe(image.manifest.digest)
      }))

    it.effect("a Docker schema 2 manifest comes back unconverted, with skopeo's digest", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const repo = yield* Repository.Repository
        const image = OciLayout.makeImage("docker-v2s2")
        const dir = yield* OciLayout.writeLayout(yield* Environment.scratch("v2s2"), image, "v1")
        const digestFile = Path.join(dir, "pushed-digest")
        yield* skopeo.run([
          "copy",
          "--quiet",
          "--format",
          "v2s2",
          "--digestfile",
          digestFile,
          ...Skopeo.flags(registry, "dest"),
          `oci:${dir}:v1`,
          Skopeo.dockerRef(registry, "it/docker", "v1")
        ])
        const pushed = Fs.readFileSync(digestFile, "utf8").trim()
        const manifest = yield* repo.getManifest(Client.ref(registry, "it/docker", "v1"))
        expect(manifest.mediaType).toBe(MediaType.DockerManifest)
        expect(manifest.digest).toBe(pushed)
        // the layers are the same bytes; only the manifest and config were rewritten
        const raw = yield* Skopeo.inspectRaw(skopeo, registry, "it/docker", "v1")
        expect(Buffer.from(raw).equals(Buffer.from(manifest.bytes))).toBe(true)
        const layers = (JSON.parse(raw) as { layers: ReadonlyArray<{ digest: string }> }).layers.map((l) => l.digest)
        expect(layers).toEqual(image.layers.map((l) => l.digest))
      }))

    it.effect("signed schema 1: read under the digest 2.8 reports, however it re-signs it, and pushed again", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        const target = Client.ref(registry, "it/schema1")
        const encoder = new TextEncoder()
        const layer = yield* repo.putBlob(target, encoder.encode("schema 1 layer"), { mediaType: MediaType.DockerLayerGzip })
        const config = yield* repo.putBlob(target, encoder.encode(JSON.stringify({
          architecture: "amd64",
          os: "linux",
          rootfs: { type: "layers", diff_ids: [layer.digest] },
          history: [{ created: "2020-01-01T00:00:00Z", created_by: "ADD layer /" }]
        })), { mediaType: MediaType.DockerConfig })
        const v2 = Manifest.encode({
          schemaVersion: 2,
          mediaType: MediaType.DockerManifest,
          config: { mediaType: MediaType.DockerConfig, digest: config.digest, size: config.size },
          layers: [{ mediaType: MediaType.DockerLayerGzip, digest: layer.digest, size: layer.size }]
        })
        yield* repo.putManifest(Client.ref(registry, "it/schema1", "v2"), v2)

        // Without schema 2 in Accept, 2.8 converts to schema 1 and signs it anew on every GET;
        // getManifest checks each against Docker-Content-Digest.
        const accept = { accept: [MediaType.DockerSchema1Signed] }
        const first = yield* repo.getManifest(Client.ref(registry, "it/schema1", "v2"), accept)
        const second = yield* repo.getManifest(Client.ref(registry, "it/schema1", "v2"), accept)
        expect(first.mediaType).toBe(MediaType.DockerSchema1Signed)
        expect(Buffer.from(first.bytes).equals(Buffer.from(second.bytes))).toBe(false)
        expect(second.digest).toBe(first.digest)

        // Pushed again (2.8 takes schema 1 with its compatibility switch on), by tag and by digest.
        const legacy = Client.ref(registry, "it/schema1", "legacy")
        expect(yield* repo.putManifest(legacy, first)).toBe(first.digest)
        expect(yield* repo.putManifest(Client.ref(registry, "it/schema1", first.digest), second)).toBe(first.digest)
        expect((yield* repo.resolve(legacy)).digest).toBe(first.digest)
        const stored = yield* repo.getManifest(Client.ref(registry, "it/schema1", first.digest))
        expect(stored.mediaType).toBe(MediaType.DockerSchema1Signed)
        expect(stored.digest).toBe(first.digest)
        // The default Accept still prefers schema 2: the original is served unconverted.
        expect((yield* repo.getManifest(Client.ref(registry, "it/schema1", "v2"))).digest).toBe(v2.digest)
      }))

    it.effect("a manifest skopeo deleted is gone for our client", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const repo = yield* Repository.Repository
        const image = yield* skopeoPush("it/skopeo-deleted", "v1")
        yield* skopeo.run([
          "delete",
          ...Skopeo.flags(registry, undefined),
          Skopeo.dockerRef(registry, "it/skopeo-deleted", image.manifest.digest)
        ])
        const byDigest = Client.ref(registry, "it/skopeo-deleted", image.manifest.digest)
        expect(yield* repo.manifestExists(byDigest)).toBe(false)
        expect((yield* Effect.flip(repo.getManifest(byDigest)))._tag).toBe("ManifestUnknown")
        expect((yield* Effect.flip(repo.getManifest(Client.ref(registry, "it/skopeo-deleted", "v1"))))._tag)
          .toBe("ManifestUnknown")
      }))

    it.effect("referrers: 2.8 has no referrers API, so the client keeps and reads the sha256-<hex> tag index", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const repo = yield* Repository.Repository
        const image = yield* Scenarios.clientPush("it/referrers", "v1")
        const subject = Client.digest(image.manifest.digest)

        // the server itself: a plain-text 404, not even an OCI error body
        const api = yield* rawGet(registry, `/v2/it/referrers/referrers/${subject}`)
        expect(api.status).toBe(404)
        expect(api.headers["content-type"]).toMatch(/^text\/plain/)

        const target = Client.ref(registry, "it/referrers")
        expect(yield* repo.referrers(target, subject)).toEqual([])
        const signature = yield* pushArtifact("it/referrers", image.manifest, signatureType, "signed!")
        const sbom = yield* pushArtifact("it/referrers", image.manifest, sbomType, "{\"sbom\":true}")

        const all = yield* repo.referrers(target, subject)
        expect(all.map((d) => d.digest).sort()).toEqual([signature.digest, sbom.digest].sort())
        expect(all.find((d) => d.digest === signature.digest)).toMatchObject({
          mediaType: MediaType.OciManifest,
          size: signature.size,
          artifactType: signatureType
        })
        const onlySboms = yield* repo.referrers(target, subject, { artifactType: sbomType })
        expect(onlySboms.map((d) => d.digest)).toEqual([sbom.digest])

        // the fallback index is an ordinary tag: skopeo sees the same index
        const fallbackTag = `sha256-${Digest.hex(subject)}`
        const raw = JSON.parse(yield* Skopeo.inspectRaw(skopeo, registry, "it/referrers", fallbackTag)) as {
          mediaType: string
          manifests: ReadonlyArray<{ digest: string; artifactType?: string }>
        }
        expect(raw.mediaType).toBe(MediaType.OciIndex)
        expect(raw.manifests.map((m) => m.digest).sort()).toEqual([signature.digest, sbom.digest].sort())
        expect(raw.manifests.map((m) => m.artifactType).sort()).toEqual([sbomType, signatureType].sort())
      }))

    it.effect("untag is refused by 2.8 (DELETE by tag): Unsupported, and the tag stays", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        const image = yield* Scenarios.clientPush("it/untag", "v1")
        const error = yield* Effect.flip(repo.untag(Client.ref(registry, "it/untag", "v1")))
        expect(error._tag).toBe("Unsupported")
        expect((yield* repo.resolve(Client.ref(registry, "it/untag", "v1"))).digest).toBe(image.manifest.digest)
      }))
  })
})
