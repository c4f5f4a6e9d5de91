/**
 * The built `effect-oci` against the embedded registry: every registry verb, its text and `--json`
 * output, and the exit codes of its failures.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as MediaType from "../../src/MediaType.js"
import * as TestRegistry from "../../src/testing/index.js"
import { cli, cliPath, digestOf, json, sandbox, seedImage, seedIndex } from "./support.js"

const pkg = JSON.parse(Fs.readFileSync(Path.join(__dirname, "../../package.json"), "utf8")) as { version: string }

describe("effect-oci without a registry", () => {
  layer(TestRegistry.layer(), { excludeTestServices: true })((it) => {
    it.effect("--help lists every verb and exits 0", () =>
      Effect.gen(function*() {
        const run = yield* cli(["--help"])
        expect(run.code).toBe(0)
        for (
          const verb of [
            "cp",
            "pull",
            "push",
            "ls",
            "catalog",
            "manifest",
            "config",
            "inspect",
            "digest",
            "blob",
            "tag",
            "rm",
            "referrers",
            "login",
            "logout",
            "serve",
            "version"
          ]
        ) {
          expect(run.out).toMatch(new RegExp(`- ${verb}\\b`))
        }
        // the bin prints the help it was built with: exactly what the parser renders
        const rendered = ChildProcess.spawnSync(process.execPath, [Path.join(Path.dirname(cliPath()), "main.js"), "--help"], {
          encoding: "utf8"
        })
        expect(rendered.status).toBe(0)
        expect(run.out).toBe(rendered.stdout)
        expect((yield* cli(["-h"])).out).toBe(rendered.stdout)
      }))

    it.effect("version prints package.json's version; --json as { version }", () =>
      Effect.gen(function*() {
        const text = yield* cli(["version"])
        expect(text).toMatchObject({ code: 0, out: `${pkg.version}\n` })
        const doc = yield* cli(["--json", "version"])
        expect(json(doc)).toEqual({ version: pkg.version })
      }))

    it.effect("usage errors exit 2: missing argument, unknown verb, bad reference, bad option value", () =>
      Effect.gen(function*() {
        for (
          const args of [["ls"], ["frobnicate"], ["manifest", "cli/x:bad tag!"], ["--concurrency", "many", "ls", "a/b"], [
            "blob",
            "127.0.0.1:1/a:tag"
          ]]
        ) {
          const run = yield* cli(args)
          expect(run.code, args.join(" ")).toBe(2)
          expect(run.stderr).not.toMatch(/\n\s+at /)
        }
        const bad = yield* cli(["manifest", "cli/x:bad tag!"])
        expect(bad.stderr.trim().split("\n")).toEqual([
          expect.stringMatching(/^effect-oci: manifest cli\/x:bad tag!: invalid reference "cli\/x:bad tag!": /)
        ])
      }))

    it.effect("a closed port is a network failure (exit 5), after --retry-times retries", () =>
      Effect.gen(function*() {
        const run = yield* cli(["--retry-times", "0", "ls", "127.0.0.1:1/app"])
        expect(run.code).toBe(5)
        expect(run.stderr).toMatch(/^effect-oci: ls 127\.0\.0\.1:1\/app: GET http:\/\/127\.0\.0\.1:1\/v2\/app\/tags\/list: .*ECONNREFUSED/)
        expect(run.stderr.trim().split("\n")).toHaveLength(1)
      }))
  })
})

describe("effect-oci against the embedded registry", () => {
  layer(TestRegistry.layer(), { excludeTestServices: true })((it) => {
    it.effect("ls lists tags; catalog lists repositories (text and --json)", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        for (const tag of ["v1", "v2", "latest"]) yield* seedImage(registry, "cli/ls", { tag })
        const text = yield* cli(["ls", `${registry.host}/cli/ls`])
        expect(text.code).toBe(0)
        expect(text.out.trim().split("\n").sort()).toEqual(["latest", "v1", "v2"])
        const doc = json(yield* cli(["--json", "ls", `${registry.host}/cli/ls`]))
        expect(doc.repository).toBe(`${registry.host}/cli/ls`)
        expect([...doc.tags].sort()).toEqual(["latest", "v1", "v2"])

        const catalog = yield* cli(["catalog", registry.host])
        expect(catalog.out.split("\n")).toContain("cli/ls")
        const catalogDoc = json(yield* cli(["--json", "catalog", registry.host]))
        expect(catalogDoc).toEqual({ registry: registry.host, repositories: expect.arrayContaining(["cli/ls"]) })
      }))

    it.effect("manifest prints the stored bytes exactly (no newline added); --json wraps them", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/manifest", { tag: "v1" })
        const run = yield* cli(["manifest", `${registry.host}/cli/manifest:v1`])
        expect(run.code).toBe(0)
        expect(Buffer.compare(run.stdout, Buffer.from(image.bytes))).toBe(0)
        const doc = json(yield* cli(["--json", "manifest", `${registry.host}/cli/manifest:v1`]))
        expect(doc).toEqual({
          digest: image.digest,
          mediaType: MediaType.OciManifest,
          size: image.size,
          manifest: JSON.parse(new TextDecoder().decode(image.bytes))
        })
      }))

    it.effect("an index: manifest --platform, config and digest pick the platform's image", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const index = yield* seedIndex(registry, "cli/multi", "v1", [
          { os: "linux", architecture: "arm64" },
          { os: "linux", architecture: "amd64" }
        ])
        const ref = `${registry.host}/cli/multi:v1`
        const top = yield* cli(["manifest", ref])
        expect(Buffer.compare(top.stdout, Buffer.from(index.bytes))).toBe(0)
        const arm = yield* cli(["manifest", "--platform", "linux/arm64", ref])
        expect(Buffer.compare(arm.stdout, Buffer.from(index.images[0]!.bytes))).toBe(0)
        const config = yield* cli(["config", "--platform", "linux/arm64", ref])
        expect(Buffer.compare(config.stdout, Buffer.from(index.images[0]!.config.bytes))).toBe(0)
        const configDoc = json(yield* cli(["--json", "config", "--platform", "linux/amd64", ref]))
        expect(configDoc).toMatchObject({
          digest: index.images[1]!.config.digest,
          mediaType: MediaType.OciConfig,
          size: index.images[1]!.config.size,
          config: { architecture: "amd64", os: "linux" }
        })
        expect((yield* cli(["digest", ref])).out).toBe(`${index.digest}\n`)
        expect((yield* cli(["digest", "--platform", "linux/amd64", ref])).out).toBe(`${index.images[1]!.digest}\n`)
        expect(json(yield* cli(["--json", "digest", ref]))).toEqual({
          digest: index.digest,
          mediaType: MediaType.OciIndex,
          size: index.bytes.byteLength
        })
        const missing = yield* cli(["manifest", "--platform", "windows/amd64", ref])
        expect(missing.code).toBe(3)
        expect(missing.stderr).toMatch(/no manifest for platform windows\/amd64.*available: linux\/arm64, linux\/amd64/)
      }))

    it.effect("inspect: digest, media type, platforms, layers with sizes, created, labels", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/inspect", {
          tag: "v1",
          layers: [1234, 5678, 42],
          labels: { "org.opencontainers.image.title": "demo", team: "blue" }
        })
        const ref = `${registry.host}/cli/inspect:v1`
        const doc = json(yield* cli(["--json", "inspect", ref]))
        expect(doc).toEqual({
          reference: ref,
          digest: image.digest,
          mediaType: MediaType.OciManifest,
          size: image.size,
          platforms: ["linux/amd64"],
          image: {
            digest: image.digest,
            mediaType: MediaType.OciManifest,
            platform: "linux/amd64",
            created: "2026-01-02T03:04:05Z",
            labels: { "org.opencontainers.image.title": "demo", team: "blue" },
            config: { digest: image.config.digest, size: image.config.size },
            layers: image.layers.map((l) => ({ digest: l.digest, mediaType: MediaType.OciLayerGzip, size: l.size })),
            layersSize: 1234 + 5678 + 42
          }
        })
        const text = (yield* cli(["inspect", ref])).out
        expect(text).toContain(`Digest:     ${image.digest}`)
        expect(text).toContain("team=blue")
        expect(text).toContain(`${image.layers[0]!.digest}`)
        expect(text).toContain("Created:    2026-01-02T03:04:05Z")

        const index = yield* seedIndex(registry, "cli/inspect-multi", "v1", [
          { os: "linux", architecture: "arm64" },
          { os: "linux", architecture: "amd64" }
        ])
        const multi = json(yield* cli(["--json", "inspect", "--platform", "linux/arm64", `${registry.host}/cli/inspect-multi:v1`]))
        expect(multi).toMatchObject({
          digest: index.digest,
          mediaType: MediaType.OciIndex,
          platforms: ["linux/arm64", "linux/amd64"],
          image: { digest: index.images[0]!.digest, platform: "linux/arm64" }
        })
      }))

    it.effect("blob: verified bytes to stdout, or into -o FILE with --json { digest, size, file }", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/blob", { tag: "v1", layers: [100_000] })
        const layer = image.layers[0]!
        const ref = `${registry.host}/cli/blob@${layer.digest}`
        const run = yield* cli(["blob", ref])
        expect(run.code).toBe(0)
        expect(digestOf(run.stdout)).toBe(layer.digest)
        const file = Path.join(sandbox().dir, "layer.bin")
        const doc = json(yield* cli(["--json", "blob", ref, "-o", file]))
        expect(doc).toEqual({ digest: layer.digest, size: 100_000, file })
        expect(digestOf(Fs.readFileSync(file))).toBe(layer.digest)
        const unknown = yield* cli(["blob", `${registry.host}/cli/blob@${digestOf("nothing")}`])
        expect(unknown.code).toBe(3)
      }))

    it.effect("tag adds tags to the same manifest; rm deletes a tag, then the manifest by digest", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/tag", { tag: "v1" })
        const base = `${registry.host}/cli/tag`
        const tagged = json(yield* cli(["--json", "tag", `${base}:v1`, "v1.0", "stable"]))
        expect(tagged).toEqual({
          digest: image.digest,
          mediaType: MediaType.OciManifest,
          size: image.size,
          tags: [`${base}:v1.0`, `${base}:stable`]
        })
        expect((yield* cli(["digest", `${base}:stable`])).out).toBe(`${image.digest}\n`)
        const textTag = yield* cli(["tag", `${base}:v1`, "again"])
        expect(textTag.out).toBe(`${base}:again@${image.digest}\n`)
        expect((yield* cli(["tag", `${base}:v1`, "bad tag!"])).code).toBe(2)

        expect(json(yield* cli(["--json", "rm", `${base}:stable`]))).toEqual({ deleted: `${base}:stable`, kind: "tag" })
        expect((yield* cli(["digest", `${base}:stable`])).code).toBe(3)
        expect((yield* cli(["digest", `${base}:v1`])).code).toBe(0)
        const rm = yield* cli(["rm", `${base}@${image.digest}`])
        expect(rm).toMatchObject({ code: 0, out: "" })
        expect(rm.stderr).toBe(`deleted manifest ${base}@${image.digest}\n`)
        expect((yield* cli(["-q", "manifest", `${base}@${image.digest}`])).code).toBe(3)
      }))

    it.effect("referrers lists artifacts whose subject is the image (--artifact-type filters)", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/referrers", { tag: "v1" })
        const empty = yield* registry.putBlob("cli/referrers", "{}")
        const artifact = (artifactType: string) =>
          registry.putManifest("cli/referrers", {
            schemaVersion: 2,
            mediaType: MediaType.OciManifest,
            artifactType,
            config: { mediaType: MediaType.OciEmpty, digest: empty.digest, size: empty.size },
            layers: [{ mediaType: MediaType.OciEmpty, digest: empty.digest, size: empty.size }],
            subject: { mediaType: MediaType.OciManifest, digest: image.digest, size: image.size },
            annotations: { kind: artifactType }
          })
        const sbom = yield* artifact("application/vnd.example.sbom")
        const sig = yield* artifact("application/vnd.example.sig")
        const doc = json(yield* cli(["--json", "referrers", `${registry.host}/cli/referrers:v1`]))
        expect(doc.subject).toBe(image.digest)
        expect(doc.referrers).toHaveLength(2)
        expect(doc.referrers).toEqual(expect.arrayContaining([{
          digest: sbom.digest,
          mediaType: MediaType.OciManifest,
          artifactType: "application/vnd.example.sbom",
          size: sbom.size,
          annotations: { kind: "application/vnd.example.sbom" }
        }]))
        const filtered = yield* cli([
          "referrers",
          "--artifact-type",
          "application/vnd.example.sig",
          `${registry.host}/cli/referrers@${image.digest}`
        ])
        expect(filtered.out).toBe(`${sig.digest} application/vnd.example.sig ${sig.size}\n`)
      }))

    it.effect("-v logs each request (method, URL without query, status, time) on stderr", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/verbose", { tag: "v1" })
        const run = yield* cli([
          "-v",
          "--json",
          "referrers",
          "--artifact-type",
          "application/x-secret-filter",
          `${registry.host}/cli/verbose@${image.digest}`
        ])
        expect(run.code).toBe(0)
        const host = registry.host.replace(/\./g, "\\.")
        expect(run.stderr.trim().split("\n")).toEqual([
          expect.stringMatching(new RegExp(`^GET http://${host}/v2/cli/verbose/referrers/sha256:[0-9a-f]{64} 200 \\d+ms$`))
        ])
        const requests = yield* registry.requests
        // the client did send a query, the log left it out
        expect(requests.some((r) => r.query["artifactType"] === "application/x-secret-filter")).toBe(true)
      }))

    it.effect("--plain-http and --insecure-registry HOST speak http to a host that is not loopback", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        yield* seedImage(registry, "cli/plain", { tag: "v1" })
        // 0.0.0.0 reaches the registry on 127.0.0.1, but is no loopback name: https unless told
        const host = registry.host.replace("127.0.0.1", "0.0.0.0")
        const https = yield* cli(["--retry-times", "0", "ls", `${host}/cli/plain`])
        expect(https.code).toBe(5)
        expect(https.stderr).toContain(`https://${host}/v2/`)
        const plain = yield* cli(["--plain-http", "ls", `${host}/cli/plain`])
        expect(plain).toMatchObject({ code: 0, out: "v1\n" })
        const insecure = yield* cli(["--insecure-registry", host, "ls", `${host}/cli/plain`])
        expect(insecure).toMatchObject({ code: 0, out: "v1\n" })
      }))

    it.effect("not found exits 3; unauthorized 4; a 503 after retries 5; a server error 1", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        yield* seedImage(registry, "cli/codes", { tag: "v1" })
        const ref = `${registry.host}/cli/codes:v1`
        expect((yield* cli(["manifest", `${registry.host}/cli/codes:nope`])).code).toBe(3)
        yield* registry.setFaults([{ path: "/manifests/", action: TestRegistry.FaultAction.respond(401) }])
        const unauthorized = yield* cli(["manifest", ref])
        expect(unauthorized.code).toBe(4)
        yield* registry.setFaults([{ path: "/manifests/", action: TestRegistry.FaultAction.respond(403) }])
        expect((yield* cli(["manifest", ref])).code).toBe(4)
        yield* registry.setFaults([{ path: "/manifests/", action: TestRegistry.FaultAction.unavailable() }])
        const unavailable = yield* cli(["--retry-times", "1", "manifest", ref])
        expect(unavailable.code).toBe(5)
        expect(unavailable.stderr).toMatch(/^effect-oci: manifest .*: service unavailable/)
        yield* registry.setFaults([{ path: "/manifests/", action: TestRegistry.FaultAction.respond(400, { code: "MANIFEST_INVALID" }) }])
        expect((yield* cli(["manifest", ref])).code).toBe(1)
        yield* registry.setFaults([])
        expect((yield* cli(["manifest", ref])).code).toBe(0)
      }))
  })
})

describe("a blob that does not match its digest", () => {
  const dir = sandbox().dir
  layer(TestRegistry.layer({ storageDirectory: dir }), { excludeTestServices: true })((it) => {
    it.effect("exits 6 and leaves no -o file", () =>
      Effect.gen(function*() {
        const registry = yield* TestRegistry.TestRegistry
        const image = yield* seedImage(registry, "cli/corrupt", { tag: "v1", layers: [5000] })
        const layer = image.layers[0]!
        // same size, other bytes: only the digest check can notice
        const stored = Path.join(dir, "blobs", "sha256", layer.digest.slice("sha256:".length))
        Fs.writeFileSync(stored, Buffer.alloc(5000, 7))
        const file = Path.join(dir, "out.bin")
        const run = yield* cli(["blob", `${registry.host}/cli/corrupt@${layer.digest}`, "-o", file])
        expect(run.code).toBe(6)
        expect(run.stderr).toMatch(/digest mismatch: expected sha256:/)
        expect(Fs.existsSync(file)).toBe(false)
        expect(Fs.readdirSync(dir).filter((f) => f.startsWith("out.bin"))).toEqual([])
      }))
  })
})
