/**
 * The package as a user installs it: built (`tsc -p tsconfig.build.json`), packed (`npm pack`),
 * and unpacked into `node_modules/effect-oci` of a fresh directory outside the repository. Its
 * dependencies are symlinks to this repository's `node_modules` (no network, no npm install), so
 * the tests exercise the tarball's files and its `exports` map, not our sources.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { buildCli } from "../../scripts/build-cli.js"

/** The repository root (where package.json is). */
export const root = Path.resolve(import.meta.dirname, "../..")

export interface PackedApp {
  /** The fresh app directory: `node_modules/effect-oci` is the unpacked tarball. */
  readonly dir: string
  /** The unpacked package (`<dir>/node_modules/effect-oci`). */
  readonly packageDir: string
  /** The tarball's file list, relative to the package (`package.json`, `dist/index.js`, …). */
  readonly files: ReadonlyArray<string>
  /** The repository's package.json. */
  readonly manifest: PackageJson
  /** Removes the directory. */
  readonly remove: () => void
}

export interface PackageJson {
  readonly name: string
  readonly version: string
  readonly exports: Record<string, { readonly types: string; readonly default: string }>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly devDependencies?: Record<string, string>
  readonly files?: ReadonlyArray<string>
  readonly bin?: string | Record<string, string>
}

/** The `bin` map of a package.json (a string `bin` is named after the package). */
export const binsOf = (manifest: PackageJson): Record<string, string> =>
  manifest.bin === undefined ? {} : typeof manifest.bin === "string" ? { [manifest.name]: manifest.bin } : manifest.bin

export const readManifest = (): PackageJson =>
  JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as PackageJson

const run = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const result = await exec(command, args, { cwd })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

/**
 * Builds into a staging copy (never touching the repository's `dist/`, so concurrent runs cannot
 * collide), packs it, and unpacks the tarball into a fresh app directory.
 */
export const packApp = async (): Promise<PackedApp> => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-pack-"))
  const stage = Path.join(base, "stage")
  Fs.mkdirSync(stage)
  const manifest = readManifest()
  await run(process.execPath, [
    Path.join(root, "node_modules/typescript/bin/tsc"),
    "-p",
    Path.join(root, "tsconfig.build.json"),
    "--outDir",
    Path.join(stage, "dist")
  ], root)
  // the command line's bundle, as `npm run build` makes it
  await buildCli(Path.join(stage, "dist", "bin"))
  for (const file of ["package.json", "README.md", "LICENSE"]) {
    if (Fs.existsSync(Path.join(root, file))) Fs.copyFileSync(Path.join(root, file), Path.join(stage, file))
  }
  // --ignore-scripts: a pack must not run lifecycle scripts; --offline: nothing is fetched.
  const packed = JSON.parse(
    await run("npm", ["pack", "--json", "--ignore-scripts", "--offline", "--pack-destination", base], stage)
  ) as ReadonlyArray<{ readonly filename: string; readonly files: ReadonlyArray<{ readonly path: string }> }>
  const tarball = Path.join(base, packed[0]!.filename)

  const dir = Path.join(base, "app")
  const packageDir = Path.join(dir, "node_modules", manifest.name)
  Fs.mkdirSync(packageDir, { recursive: true })
  await run("tar", ["-xzf", tarball, "-C", packageDir, "--strip-components=1"], base)
  // what npm does for a `bin` on install
  Fs.mkdirSync(Path.join(dir, "node_modules", ".bin"))
  for (const [name, target] of Object.entries(binsOf(manifest))) {
    Fs.symlinkSync(Path.join("..", manifest.name, target), Path.join(dir, "node_modules", ".bin", name))
  }
  Fs.writeFileSync(Path.join(dir, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  // Everything else the app resolves comes from the repository's node_modules, entry by entry.
  const modules = Path.join(root, "node_modules")
  for (const entry of Fs.readdirSync(modules)) {
    if (entry === manifest.name || entry === ".bin" || entry.startsWith(".")) continue
    Fs.symlinkSync(Path.join(modules, entry), Path.join(dir, "node_modules", entry))
  }
  return {
    dir,
    packageDir,
    files: packed[0]!.files.map((f) => f.path),
    manifest,
    remove: () => Fs.rmSync(base, { recursive: true, force: true })
  }
}

/**
 * Runs a program (asynchronously: a blocked test worker misses vitest's heartbeats); its exit
 * status, stdout and stderr. Killed after `timeout` ms (status null then).
 */
export const exec = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv; readonly timeout?: number }
): Promise<{ readonly status: number | null; readonly stdout: string; readonly stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeout ?? 120_000
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })
