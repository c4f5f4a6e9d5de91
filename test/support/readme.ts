/**
 * The TypeScript blocks of README.md, and a type check of all of them (one `tsc` run) as programs
 * of an app that has the packed package installed (see packed.ts).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { exec, root } from "./packed.js"

export interface Block {
  /** The README line of the block's first code line (1-based). */
  readonly line: number
  readonly code: string
}

/** Every ```ts / ```typescript block of a Markdown text. */
export const tsBlocks = (markdown: string): ReadonlyArray<Block> => {
  const blocks: Array<Block> = []
  const lines = markdown.split("\n")
  let start: number | undefined
  let body: Array<string> = []
  lines.forEach((text, i) => {
    if (start === undefined) {
      if (/^```(ts|typescript)\s*$/.test(text)) {
        start = i + 2
        body = []
      }
    } else if (/^```\s*$/.test(text)) {
      blocks.push({ line: start, code: body.join("\n") + "\n" })
      start = undefined
    } else {
      body.push(text)
    }
  })
  return blocks
}

export const readmeBlocks = (): ReadonlyArray<Block> => tsBlocks(Fs.readFileSync(Path.join(root, "README.md"), "utf8"))

/** A `README.md:<line>:<col> <message>` per error; empty when every block type-checks. */
export const typeCheck = async (appDir: string, blocks: ReadonlyArray<Block>): Promise<ReadonlyArray<string>> => {
  const dir = Path.join(appDir, "readme")
  Fs.rmSync(dir, { recursive: true, force: true })
  Fs.mkdirSync(dir, { recursive: true })
  const byFile = new Map<string, Block>()
  for (const block of blocks) {
    const file = `block-${block.line}.ts`
    byFile.set(file, block)
    Fs.writeFileSync(Path.join(dir, file), block.code)
  }
  // What a user's strict Node project would have: no project-specific flags of ours.
  Fs.writeFileSync(
    Path.join(appDir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2022"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: ["node"],
        strict: true,
        skipLibCheck: true,
        noEmit: true
      },
      include: ["readme/*.ts"]
    })
  )
  const tsc = Path.join(root, "node_modules/typescript/bin/tsc")
  const result = await exec(process.execPath, [tsc, "-p", appDir, "--pretty", "false"], { cwd: appDir })
  if (result.status === 0) return []
  const errors = result.stdout.split("\n").filter((l) => l.trim() !== "")
  return errors.map((error) => {
    const match = /^readme\/(block-\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(error)
    const block = match === null ? undefined : byFile.get(match[1]!)
    return block === undefined ? error : `README.md:${block.line + Number(match![2]) - 1}:${match![3]} ${match![4]}`
  })
}
