/**
 * The package as users get it: `npm pack`ed, unpacked into a fresh directory, imported through its
 * `exports`, and the README's TypeScript blocks type-checked against it.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Digest from "../src/Digest.js"
import * as Testing from "../src/testing/index.js"
import { exec, packApp, type PackedApp, readManifest, root } from "./support/packed.js"
import { readmeBlocks, tsBlocks, typeCheck } from "./support/readme.js"

let app: PackedApp

beforeAll(async () => {
  app = await packApp()
}, 240_000)

afterAll(() => app?.remove())

/** The module specifiers a built file imports: static imports and re-exports, and `import("…")`. */
const specifiers = (source: string): ReadonlyArray<string> => [
  ...[...source.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!)
]

/** The bare module specifiers (`effect/Effect`, `redis`, `node:fs`) a built file imports. */
const bareImports = (source: string): ReadonlyArray<string> => specifiers(source).filter((s) => !s.startsWith("."))

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageName = (specifier: string): string =>
  specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

/** The built files reachable from `entry` through relative imports, `entry` included. */
const reachable = (packageDir: string, entry: string): ReadonlySet<string> => {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const source = Fs.readFileSync(file, "utf8")
    for (const s of specifiers(source)) if (s.startsWith(".")) visit(Path.resolve(Path.dirname(file), s))
  }
  visit(Path.join(packageDir, entry))
  return seen
}

describe("the packed package", () => {
  it("holds the built entry points of every export, and no sources or tests", () => {
    for (const [subpath, target] of Object.entries(app.manifest.exports)) {
      expect(app.files, subpath).toContain(target.default.replace(/^\.\//, ""))
      expect(app.files, subpath).toContain(target.types.replace(/^\.\//, ""))
    }
    expect(app.files).toContain("package.json")
    expect(app.files.filter((f) => f.startsWith("src/") || f.startsWith("test/"))).toEqual([])
  })

  it("imports every export listed in package.json, from a fresh directory", async () => {
    const subpaths = Object.keys(app.manifest.exports)
    const script = `
      const names = ${JSON.stringify(subpaths.map((s) => Path.posix.join(app.manifest.name, s)))}
      const out = {}
      for (const name of names) out[name] = Object.keys(await import(name)).sort()
      console.log(JSON.stringify(out))`
    const result = await exec(process.execPath, ["--input-type=module", "-e", script], { cwd: app.dir })
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
    const loaded = JSON.parse(result.stdout) as Record<string, ReadonlyArray<string>>
    expect(Object.keys(loaded)).toHaveLength(subpaths.length)
    for (const [name, keys] of Object.entries(loaded)) expect(keys.length, name).toBeGreaterThan(0)
    // Resolved from the tarball, not from this repository's sources.
    expect(loaded["effect-oci"]).toEqual(expect.arrayContaining(["Reference", "Repository", "Transport"]))
    expect(loaded["effect-oci/node"]).toEqual(expect.arrayContaining(["layer", "layerHttpClient"]))
    const where = await exec(process.execPath, ["--input-type=module", "-e", "console.log(import.meta.resolve('effect-oci'))"], {
      cwd: app.dir
    })
    expect(where.stdout.trim()).toBe(`file://${Path.join(app.packageDir, "dist/index.js")}`)
  })

  it("declares every package its built code imports, as a dependency or a peer", () => {
    const declared = new Set([
      ...Object.keys(app.manifest.dependencies ?? {}),
      ...Object.keys(app.manifest.peerDependencies ?? {})
    ])
    const undeclared = new Set<string>()
    for (const file of app.files.filter((f) => f.endsWith(".js"))) {
      for (const specifier of bareImports(Fs.readFileSync(Path.join(app.packageDir, file), "utf8"))) {
        const name = packageName(specifier)
        if (!name.startsWith("node:") && !declared.has(name)) undeclared.add(`${name} (${file})`)
      }
    }
    expect([...undeclared]).toEqual([])
  })

  it("keeps effect and @effect/platform as peers, and redis an optional peer only effect-oci/BlobCacheRedis loads", () => {
    const peers = app.manifest.peerDependencies ?? {}
    for (const name of ["effect", "@effect/platform", "@effect/platform-node", "redis"]) {
      expect(Object.keys(peers), name).toContain(name)
      expect(Object.keys(app.manifest.dependencies ?? {}), name).not.toContain(name)
    }
    expect(app.manifest.peerDependenciesMeta?.["redis"]?.optional).toBe(true)
    for (const [subpath, target] of Object.entries(app.manifest.exports)) {
      const loadsRedis = [...reachable(app.packageDir, target.default)].some((file) =>
        bareImports(Fs.readFileSync(file, "utf8")).some((s) => packageName(s) === "redis")
      )
      expect(loadsRedis, subpath).toBe(subpath === "./BlobCacheRedis")
    }
  })
})

describe("what effect-oci/node loads", () => {
  /** Packages and modules a pull or a push never needs. */
  const unused = [
    /\/node_modules\/(redis|@redis\/[^/]+|@effect\/(cluster|sql|sql-pg|sql-sqlite-node|workflow|rpc|cli|experimental)|yaml|semver)\//,
    /\/node_modules\/@effect\/platform(-node)?(-shared)?\/dist\/esm\/(NodeCommandExecutor|FetchHttpClient|NodeContext|NodeTerminal|NodeWorker)\.js$/,
    /\/node_modules\/effect-oci\/dist\/(testing\/|cli\/|bin\/|Copy\.js|OciLayout\.js|Sync\.js|BlobCacheRedis\.js)/
  ]
  const undici = /\/node_modules\/(undici\/index\.js|@effect\/platform-node\/dist\/esm\/NodeHttpClient\.js)$/

  it("the default stack loads nothing a pull does not use, and never undici (it sends with node:http)", async () => {
    const home = Fs.mkdtempSync(Path.join(app.dir, "home-"))
    const log = Path.join(app.dir, "load.log")
    for (const file of ["startup.mjs", "loadLog.mjs", "loadLogHooks.mjs"]) {
      Fs.copyFileSync(Path.join(root, "test/runtime", file), Path.join(app.dir, file))
    }
    const result = await exec(process.execPath, ["--import", "./loadLog.mjs", "startup.mjs"], {
      cwd: app.dir,
      env: { ...process.env, LOAD_LOG: log, HOME: home, DOCKER_CONFIG: home, XDG_RUNTIME_DIR: home }
    })
    expect(result.stderr).toBe("")
    expect(JSON.parse(result.stdout)).toEqual({ failure: "ManifestUnknown", requests: 1 })
    const lines = Fs.readFileSync(log, "utf8").trim().split("\n")
    const built = lines.indexOf("-- built")
    const requested = lines.indexOf("-- requested")
    expect(built).toBeGreaterThan(0)
    expect(requested).toBeGreaterThan(built)
    // the stack itself was loaded: it is what this test looks at
    expect(lines.slice(0, built).some((url) => url.endsWith("/effect-oci/dist/Repository.js"))).toBe(true)
    const loaded = lines.filter((line) => !line.startsWith("-- "))
    expect(loaded.filter((url) => unused.some((pattern) => pattern.test(url)))).toEqual([])
    expect(loaded.filter((url) => undici.test(url))).toEqual([])
    // the request went out through Node's own client
    expect(loaded).toContain("node:http")
  }, 60_000)
})

describe("the packed command line", () => {
  it("npx effect-oci runs the bin from the installed package (help, version, an exit code)", async () => {
    expect(app.manifest.bin).toEqual({ "effect-oci": "dist/bin/effect-oci.js" })
    expect(app.files).toContain("dist/bin/effect-oci.js")
    const env = { ...process.env, npm_config_offline: "true", npm_config_update_notifier: "false" }
    const version = await exec("npx", ["--offline", "effect-oci", "version"], { cwd: app.dir, env })
    expect(version).toMatchObject({ status: 0, stdout: `${readManifest().version}\n` })
    const help = await exec("npx", ["--offline", "effect-oci", "--help"], { cwd: app.dir, env })
    expect(help.status).toBe(0)
    expect(help.stdout).toContain("effect-oci")
    const bad = await exec("npx", ["--offline", "effect-oci", "manifest", "not a reference"], { cwd: app.dir, env })
    expect(bad.status).toBe(2)
  }, 60_000)
})

describe("README.md", () => {
  it("finds the TypeScript blocks of a Markdown text", () => {
    const blocks = tsBlocks("text\n```ts\nconst a = 1\n```\n```sh\nls\n```\n\n```typescript\nlet b\nlet c\n```\n")
    expect(blocks).toEqual([{ line: 3, code: "const a = 1\n" }, { line: 10, code: "let b\nlet c\n" }])
  })

  it("every TypeScript block is a whole program: it imports what it uses", () => {
    const blocks = readmeBlocks()
    expect(blocks.length).toBeGreaterThanOrEqual(4)
    for (const block of blocks) expect(block.code, `README.md:${block.line}`).toMatch(/^import /m)
  })

  it("every TypeScript block type-checks against the packed package (one tsc run)", async () => {
    expect(await typeCheck(app.dir, readmeBlocks())).toEqual([])
  }, 120_000)

  it("a block that does not type-check is reported at its README line", async () => {
    const errors = await typeCheck(app.dir, [
      { line: 40, code: "import { Reference } from \"effect-oci\"\n\nconst n: number = Reference.format\n" }
    ])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^README\.md:42:7 error TS2322/)
  }, 120_000)
})

describe("on any runtime: a push and a pull through fetch (Stack.layerFetch), with the packed package", () => {
  const bin = (name: string) => Path.join(root, "node_modules", ".bin", name)
  const layerBytes = new Uint8Array(200_000).map((_, i) => (i * 13) % 251)
  const runtimes = [
    ["node", process.execPath, []],
    ["bun", bin("bun"), ["run"]],
    // Only the network to loopback and the variables asked for: the library needs nothing more.
    ["deno", bin("deno"), ["run", "--no-config", "--node-modules-dir=manual", "--allow-net=127.0.0.1", "--allow-env", "--allow-read"]]
  ] as const

  it.live.each(runtimes)("%s", ([runtime, command, args]) =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      // Blob GETs answer 307 to the second origin: fetch must hand the redirect back, the Transport follows it.
      yield* registry.setFaults([{ origin: "registry", method: "GET", path: "/blobs/", action: Testing.FaultAction.redirectBlob() }])
      const script = Path.join(app.dir, "roundtrip.mjs")
      Fs.copyFileSync(Path.join(root, "test/runtime/roundtrip.mjs"), script)
      const result = yield* Effect.promise(() =>
        exec(command, [...args, script], { cwd: app.dir, env: { ...process.env, REGISTRY: registry.host } })
      )
      expect(result.stderr).toBe("")
      expect(result.status).toBe(0)
      const out = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>
      expect(out["runtime"]).toBe(runtime)
      expect(out["layer"]).toBe(Digest.compute(layerBytes))
      expect(out["pulled"]).toEqual([Digest.compute(layerBytes)])
      expect(out["tags"]).toEqual(["v1"])
      expect(yield* registry.hasManifest(`runtime/${runtime}`, "v1")).toBe(true)
      const log = yield* registry.requests
      expect(log.filter((r) => r.method === "PATCH").length).toBeGreaterThanOrEqual(1)
      expect(log.filter((r) => r.path === "/token").length).toBeGreaterThanOrEqual(1)
      const redirected = log.filter((r) => r.origin === "redirect")
      expect(redirected.length).toBeGreaterThanOrEqual(1)
      expect(redirected.every((r) => r.authorization === "none")).toBe(true)
    }).pipe(Effect.provide(Testing.layer({ auth: { mode: "token", users: { alice: "wonderland" } } }))), 120_000)
})
