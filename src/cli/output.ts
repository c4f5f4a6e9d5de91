/**
 * Writing results: text or one JSON document on stdout, status lines on stderr (not with `-q` or
 * `--json`). Writes wait for the stream to take the bytes, so large outputs keep their order and
 * nothing is lost when the process ends.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { globals } from "./global.js"

const write = (stream: NodeJS.WriteStream, data: string | Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    // EPIPE (the reader went away, e.g. `| head`) is not our failure: stop quietly.
    stream.write(data, () => resume(Effect.void))
  })

/** Writes bytes or text to stdout as they are. */
export const stdout = (data: string | Uint8Array): Effect.Effect<void> => write(process.stdout, data)

/** Writes one line to stderr (whatever the options: for `-v` logs and failures). */
export const stderrLine = (line: string): Effect.Effect<void> => write(process.stderr, `${line}\n`)

/**
 * A verb's result: with `--json` the JSON document (one line), otherwise `text` (lines, each ended
 * by a newline; nothing when empty).
 */
export const result = (json: unknown, text: ReadonlyArray<string> | (() => ReadonlyArray<string>)) =>
  Effect.flatMap(globals, (g) => {
    if (g.json) return stdout(`${JSON.stringify(json)}\n`)
    const lines = typeof text === "function" ? text() : text
    return lines.length === 0 ? Effect.void : stdout(lines.map((l) => `${l}\n`).join(""))
  })

/** A status message on stderr, unless `-q` or `--json`. */
export const status = (line: string) =>
  Effect.flatMap(globals, (g) => (g.quiet || g.json ? Effect.void : stderrLine(line)))

/** `1536` → `1.5 KiB`. */
export const bytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`
}
