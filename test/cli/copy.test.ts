/**
 * `cp`, `pull` and `push` against the embedded registry and OCI layouts: endpoints in skopeo's
 * syntax (a bare reference is docker://), digests preserved, `--platform`, the `--json` shape, the
 * exit codes of a bad endpoint and a missing image; and progress on a non-terminal stderr (a line
 * per blob at least), nothing with `-q` or `--json`. The live bars are in tty.test.ts.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as TestRegistry from "../../src/testing/index.js"
import { cli, json, sandbox, seedImage, seedIndex } from "./support.js"

const short = (digest: string) => digest.slice("sha256:".length, "sha256:".length + 12)

layer(TestRegistry.layer(), { excludeTestServices: true })("cp, pull, push", (it) => {
  it.effect("pull into a layout, push it back elsewhere, cp between layouts: the same digest everywhere", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const image = yield* seedImage(registry, "copy/src", { tag: "v1", layers: [3000, 4000] })
      const dir = Path.join(sandbox().dir, "layout")
      const pulled = yield* cli(["--json", "pull", `${registry.host}/copy/src:v1`, dir])
      expect(pulled.code).toBe(0)
      expect(json(pulled)).toMatchObject({ digest: image.digest, blobs: { copied: 3, skipped: 0, mounted: 0 } })
      const index = JSON.parse(Fs.readFileSync(Path.join(dir, "index.json"), "utf8"))
      expect(index.manifests).toEqual([
        expect.objectContaining({ digest: image.digest, annotations: { "org.opencontainers.image.ref.name": "v1" } })
      ])
      for (const blob of [image.config, ...image.layers]) {
        expect(Fs.existsSync(Path.join(dir, "blobs", "sha256", blob.digest.slice(7)))).toBe(true)
      }

      const pushed = yield* cli(["push", `${dir}:v1`, `${registry.host}/copy/pushed:v2`])
      expect(pushed).toMatchObject({ code: 0, out: `${image.digest}\n` })
      expect((yield* cli(["digest", `${registry.host}/copy/pushed:v2`])).out).toBe(`${image.digest}\n`)

      const other = Path.join(sandbox().dir, "other")
      const copied = yield* cli(["cp", `oci:${dir}:v1`, `oci:${other}:copy`])
      expect(copied).toMatchObject({ code: 0, out: `${image.digest}\n` })
      const again = yield* cli(["--json", "cp", `oci:${other}:copy`, `docker://${registry.host}/copy/from-layout:v3`])
      expect(json(again).digest).toBe(image.digest)
    }))

  it.effect("--platform copies one image of an index", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const index = yield* seedIndex(registry, "copy/multi", "v1", [
        { os: "linux", architecture: "arm64" },
        { os: "linux", architecture: "amd64" }
      ])
      const run = yield* cli([
        "--json",
        "cp",
        "--platform",
        "linux/arm64",
        `${registry.host}/copy/multi:v1`,
        `${registry.host}/copy/arm:v1`
      ])
      expect(json(run).digest).toBe(index.images[0]!.digest)
      expect((yield* cli(["digest", `${registry.host}/copy/arm:v1`])).out).toBe(`${index.images[0]!.digest}\n`)
    }))

  it.effect("a bad endpoint exits 2; a missing image 3; a layout that is not one fails with one line", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const bad = yield* cli(["cp", "ftp://nowhere", `${registry.host}/copy/x:v1`])
      expect(bad.code).toBe(2)
      const missing = yield* cli(["cp", `${registry.host}/copy/none:v1`, `${registry.host}/copy/x:v1`])
      expect(missing.code).toBe(3)
      expect(missing.stderr.trim().split("\n")).toHaveLength(1)
      const notLayout = yield* cli(["push", sandbox().dir, `${registry.host}/copy/x:v1`])
      expect(notLayout.code).not.toBe(0)
      expect(notLayout.stderr.trim().split("\n")).toHaveLength(1)
      expect(notLayout.stderr).not.toMatch(/\n\s+at /)
    }))

  it.effect("a tag a layout does not hold exits 3 (not found), like a missing image in a registry", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      yield* seedImage(registry, "copy/tagless", { tag: "v1", layers: [100] })
      const dir = Path.join(sandbox().dir, "layout")
      expect((yield* cli(["pull", `${registry.host}/copy/tagless:v1`, dir])).code).toBe(0)
      const missing = yield* cli(["push", `${dir}:v9`, `${registry.host}/copy/tagless:v9`])
      expect(missing.code).toBe(3)
      expect(missing.stderr.trim().split("\n")).toHaveLength(1)
      const noDirectory = yield* cli(["push", `${dir}-nowhere:v1`, `${registry.host}/copy/tagless:v1`])
      expect(noDirectory.code).toBe(3)
      expect(noDirectory.stderr).toContain(`no OCI layout at ${dir}-nowhere: no such directory`)
    }))

  it.effect("not a terminal: a line per blob and per manifest on stderr; the digest on stdout", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const image = yield* seedImage(registry, "progress/src", { tag: "v1", layers: [10, 20, 30, 40] })
      const dir = Path.join(sandbox().dir, "progress")
      const pulled = yield* cli(["pull", `${registry.host}/progress/src:v1`, dir])
      expect(pulled.code).toBe(0)
      expect(pulled.out).toBe(`${image.digest}\n`)
      for (const blob of [image.config, ...image.layers]) {
        expect(pulled.stderr).toMatch(new RegExp(`^blob ${short(blob.digest)} done \\(${blob.size} B\\)$`, "m"))
      }
      expect(pulled.stderr).toMatch(new RegExp(`^manifest ${short(image.digest)} done \\(tag v1\\)$`, "m"))
      // within one registry every blob is mounted, and says so
      const copied = yield* cli(["cp", `${registry.host}/progress/src:v1`, `docker://${registry.host}/progress/dst:v1`])
      expect(copied.out).toBe(`${image.digest}\n`)
      for (const blob of [image.config, ...image.layers]) {
        expect(copied.stderr).toMatch(new RegExp(`^blob ${short(blob.digest)} mounted from progress/src`, "m"))
      }
    }))

  it.effect("-q and --json: nothing on stderr", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const image = yield* seedImage(registry, "progress/quiet", { tag: "v1", layers: [10, 20] })
      const quiet = yield* cli(["-q", "cp", `${registry.host}/progress/quiet:v1`, `${registry.host}/progress/quiet2:v1`])
      expect(quiet).toMatchObject({ code: 0, stderr: "", out: `${image.digest}\n` })
      const doc = yield* cli(["--json", "cp", `${registry.host}/progress/quiet:v1`, `${registry.host}/progress/quiet3:v1`])
      expect(doc.stderr).toBe("")
      expect(json(doc)).toEqual({
        digest: image.digest,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        size: image.size,
        blobs: { copied: expect.any(Number), skipped: expect.any(Number), mounted: expect.any(Number) },
        bytes: expect.any(Number)
      })
    }))

  it.effect("cp loads neither sync (its cluster, SQL and SQLite modules) nor the embedded registry", () =>
    Effect.gen(function*() {
      const registry = yield* TestRegistry.TestRegistry
      const image = yield* seedImage(registry, "chunks/src", { tag: "v1", layers: [10] })
      const log = Path.join(sandbox().dir, "load.log")
      const hooks = Path.resolve("test/runtime/loadLog.mjs")
      const run = yield* cli(["cp", `${registry.host}/chunks/src:v1`, `${registry.host}/chunks/dst:v1`], {
        env: { NODE_OPTIONS: `--import ${hooks}`, LOAD_LOG: log }
      })
      expect(run).toMatchObject({ code: 0, out: `${image.digest}\n` })
      const loaded = Fs.readFileSync(log, "utf8").trim().split("\n")
      // the library chunk was loaded (what this test looks at), and nothing of sync or serve
      expect(loaded.some((url) => /\/library-[^/]+\.js$/.test(url))).toBe(true)
      expect(loaded.filter((url) => /\/library(Sync|Serve)-[^/]+\.js$|\/(better-sqlite3|bindings)\//.test(url))).toEqual([])
    }))
})
