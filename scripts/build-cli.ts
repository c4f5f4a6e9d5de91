/**
 * Bundles the command line (src/cli/main.ts and everything it imports) into `dist/bin/`:
 * `effect-oci.js` (the package's `bin`: argument parsing, help, the verbs' definitions) and chunks
 * loaded when a verb runs (the library, the HTTP stack). Few files and no library code before a
 * verb runs are what keep `effect-oci --help` under 0.3 s.
 *
 *   tsx scripts/build-cli.ts [OUTDIR]
 */
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const projectRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

/** Where `npm run build` puts the CLI. */
export const defaultOutdir = Path.join(projectRoot, "dist", "bin")

/** Builds the CLI bundle into `outdir`; returns the path of its entry point. */
export const buildCli = async (outdir: string = defaultOutdir): Promise<string> => {
  const pkg = JSON.parse(Fs.readFileSync(Path.join(projectRoot, "package.json"), "utf8")) as { version: string }
  await esbuild.build({
    entryPoints: { "effect-oci": Path.join(projectRoot, "src", "cli", "main.ts") },
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
    define: { EFFECT_OCI_VERSION: JSON.stringify(pkg.version) }
  })
  const entry = Path.join(outdir, "effect-oci.js")
  Fs.chmodSync(entry, 0o755)
  return entry
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildCli(process.argv[2] === undefined ? defaultOutdir : Path.resolve(process.argv[2]))
  process.stdout.write(`built ${Path.relative(process.cwd(), out)}\n`)
}
