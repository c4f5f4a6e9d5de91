/**
 * Running the built `effect-oci` as a subprocess in an isolated environment (its own HOME,
 * DOCKER_CONFIG and containers auth file), and seeding images into the embedded registry.
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { inject, vi } from "vitest"
import * as Digest from "../../src/Digest.js"
import * as MediaType from "../../src/MediaType.js"
import type * as TestRegistry from "../../src/testing/index.js"
import { randomBytes } from "../support/RepositoryFixture.js"

// every CLI run is a process start (~0.3 s; several times that on a loaded machine)
vi.setConfig({ testTimeout: 120_000 })

/** What a run of the CLI gave. */
export interface Run {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
  /** stdout as text. */
  readonly out: string
}

/** A private home for one suite: credentials written by `login` land here and nowhere else. */
export interface Sandbox {
  readonly dir: string
  readonly env: Readonly<Record<string, string>>
}

/** A fresh sandbox (removed at process exit). */
export const sandbox = (): Sandbox => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-cli-"))
  process.on("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: dir,
      DOCKER_CONFIG: Path.join(dir, "docker"),
      REGISTRY_AUTH_FILE: Path.join(dir, "containers-auth.json"),
      XDG_RUNTIME_DIR: Path.join(dir, "run"),
      XDG_CONFIG_HOME: Path.join(dir, "config")
    }
  }
}

const defaultSandbox = sandbox()

/** The built CLI (see buildOnce.ts). */
export const cliPath = (): string => inject("cliPath")

/** Runs `effect-oci ARGS…` and collects its output; never fails (the exit code is in the result). */
export const cli = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Readonly<Record<string, string>>; readonly input?: string; readonly sandbox?: Sandbox } = {}
): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [cliPath(), ...args], {
      env: { ...(options.sandbox ?? defaultSandbox).env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out)
      resume(Effect.succeed({
        code: code ?? (signal === null ? -1 : 128),
        stdout,
        stderr: Buffer.concat(err).toString("utf8"),
        out: stdout.toString("utf8")
      }))
    })
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Parses stdout as one JSON document. */
export const json = (run: Run): any => JSON.parse(run.out)

/** A seeded image. */
export interface Image {
  readonly digest: Digest.Digest
  readonly size: number
  readonly bytes: Uint8Array
  readonly config: { readonly digest: Digest.Digest; readonly size: number; readonly bytes: Uint8Array }
  readonly layers: ReadonlyArray<{ readonly digest: Digest.Digest; readonly size: number; readonly bytes: Uint8Array }>
}

const encoder = new TextEncoder()

/** Pseudo-random bytes, deterministic per seed string, so layers differ and don't compress away. */
export const bytesOf = (seed: string, size: number): Uint8Array => {
  let x = 2166136261
  for (const c of seed) x = Math.imul(x ^ c.charCodeAt(0), 16777619)
  return randomBytes(size, x)
}

/** Pushes an OCI image (config + layers) straight into the embedded registry. */
export const seedImage = (
  registry: TestRegistry.TestRegistryService,
  repository: string,
  options: {
    readonly tag?: string
    readonly layers?: ReadonlyArray<number>
    readonly platform?: { readonly os: string; readonly architecture: string }
    readonly labels?: Readonly<Record<string, string>>
    readonly seed?: string
  } = {}
): Effect.Effect<Image> =>
  Effect.gen(function*() {
    const seed = options.seed ?? repository
    const platform = options.platform ?? { os: "linux", architecture: "amd64" }
    const configBytes = encoder.encode(JSON.stringify({
      created: "2026-01-02T03:04:05Z",
      ...platform,
      config: { Labels: options.labels ?? {} },
      rootfs: { type: "layers", diff_ids: [] }
    }))
    const config = { ...(yield* registry.putBlob(repository, configBytes)), bytes: configBytes }
    const layers = yield* Effect.forEach(options.layers ?? [1000, 2000], (size, i) => {
      const bytes = bytesOf(`${seed}-${platform.architecture}-${i}`, size)
      return Effect.map(registry.putBlob(repository, bytes), (d) => ({ ...d, bytes }))
    })
    const manifest = encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.size }))
    }, null, 3))
    const stored = yield* registry.putManifest(repository, manifest, {
      mediaType: MediaType.OciManifest,
      ...(options.tag === undefined ? {} : { tag: options.tag })
    })
    return { digest: stored.digest, size: stored.size, bytes: manifest, config, layers }
  })

/** Pushes an OCI index of images for `platforms` (each image untagged, the index tagged). */
export const seedIndex = (
  registry: TestRegistry.TestRegistryService,
  repository: string,
  tag: string,
  platforms: ReadonlyArray<{ readonly os: string; readonly architecture: string }>
) =>
  Effect.gen(function*() {
    const images = yield* Effect.forEach(platforms, (platform) => seedImage(registry, repository, { platform }))
    const bytes = encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: images.map((image, i) => ({
        mediaType: MediaType.OciManifest,
        digest: image.digest,
        size: image.size,
        platform: platforms[i]
      }))
    }))
    const stored = yield* registry.putManifest(repository, bytes, { tag, mediaType: MediaType.OciIndex })
    return { digest: stored.digest, bytes, images }
  })

/** Digest of bytes, for expectations. */
export const digestOf = (bytes: Uint8Array | string) => Digest.compute(bytes)
