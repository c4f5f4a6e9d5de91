/**
 * `npm run build`'s bundle of the command line: a rebuild leaves only its own chunks (their names
 * carry a hash, so an earlier build's would otherwise stay and be packed with the new ones).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { buildCli } from "../../scripts/build-cli.js"

describe("the CLI build", () => {
  it("a rebuild removes the chunks of the build before", async () => {
    const outdir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-oci-build-"))
    try {
      await buildCli(outdir)
      const stale = Path.join(outdir, "chunks", "library-STALE000.js")
      Fs.writeFileSync(stale, "export {}\n")
      const entry = await buildCli(outdir)
      expect(Fs.existsSync(entry)).toBe(true)
      expect(Fs.existsSync(stale)).toBe(false)
      // the build's own chunks are there (the library a verb loads among them)
      expect(Fs.readdirSync(Path.join(outdir, "chunks")).some((f) => /^library-\w+\.js$/.test(f))).toBe(true)
    } finally {
      Fs.rmSync(outdir, { recursive: true, force: true })
    }
  }, 60_000)
})
