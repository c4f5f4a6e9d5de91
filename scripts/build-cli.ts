/**
 * Bundles the command line (src/cli/main.ts and everything it imports) into `dist/bin/`:
 * `main.js` (argument parsing, help, the verbs' definitions), chunks loaded when a verb runs (the
 * library, the HTTP stack), and `effect-oci.js`, the package's `bin`: a launcher that prints the
 * top-level help it was built with for a bare `--help` / `-h` (rendering it takes Effect's start-up
 * and the help layout, ~0.2 s of CPU) and otherwise imports `main.js`. That keeps
 * `effect-oci --help` well under 0.3 s, and no library code runs before a verb does.
 *
 *   tsx scripts/build-cli.ts [OUTDIR]
 */
import * as esbuild from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const projectRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

/** Where `npm run build` puts the CLI. */
export const defaultOutdir = Path.join(projectRoot, "dist", "bin")

/** Builds the CLI bundle into `outdir`; returns the path of its entry point. */
export const buildCli = async (outdir: string = defaultOutdir): Promise<string> => {
  const pkg = JSON.parse(Fs.readFileSync(Path.join(projectRoot, "package.json"), "utf8")) as { version: string }
  // chunk names carry a hash: the chunks of an earlier build would stay (and be packed) beside the new ones
  Fs.rmSync(Path.join(outdir, "chunks"), { recursive: true, force: true })
  await esbuild.build({
    entryPoints: { main: Path.join(projectRoot, "src", "cli", "main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    // bundled CommonJS dependencies (undici) call require() for Node's own modules
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from \"node:module\";\n" +
        "const require = __createRequire(import.meta.url);"
    },
    define: { EFFECT_OCI_VERSION: JSON.stringify(pkg.version) },
    // native addons (sync's SQLite state) load their .node file relative to themselves: not bundled
    external: ["better-sqlite3"]
  })
  const main = Path.join(outdir, "main.js")
  Fs.chmodSync(main, 0o755)
  const help = ChildProcess.execFileSync(process.execPath, [main, "--help"], { encoding: "utf8" })
  const entry = Path.join(outdir, "effect-oci.js")
  Fs.writeFileSync(
    entry,
    [
      "#!/usr/bin/env node",
      "// effect-oci: the top-level help is printed as built; everything else runs main.js",
      "const args = process.argv.slice(2)",
      "if (args.length === 1 && (args[0] === \"--help\" || args[0] === \"-h\")) {",
      `  process.stdout.write(${JSON.stringify(help)})`,
      "} else {",
      "  await import(\"./main.js\")",
      "}",
      ""
    ].join("\n")
  )
  Fs.chmodSync(entry, 0o755)
  return entry
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildCli(process.argv[2] === undefined ? defaultOutdir : Path.resolve(process.argv[2]))
  process.stdout.write(`built ${Path.relative(process.cwd(), out)}\n`)
}
