/**
 * Progress of a copy on stderr. On a terminal: a live bar per blob and a total, redrawn in place
 * (at most every 100 ms, and once at the end). Elsewhere: plain lines, at least one per blob
 * (done, skipped, mounted) however fast it went, and one per manifest. Nothing at all with `-q` or
 * `--json` (the caller then passes no renderer).
 *
 * @internal
 */
import * as Output from "./output.js"

/** The progress events this renderer reads (those of `Copy.ProgressEvent`). */
export type Event =
  | { readonly _tag: "Planned"; readonly manifests: number; readonly blobs: number; readonly bytes: number }
  | { readonly _tag: "BlobStarted"; readonly digest: string; readonly size: number; readonly mediaType: string }
  | { readonly _tag: "BlobBytes"; readonly digest: string; readonly size: number; readonly bytes: number; readonly sent: number }
  | { readonly _tag: "BlobResumed"; readonly digest: string; readonly size: number; readonly offset: number }
  | { readonly _tag: "BlobRetried"; readonly digest: string; readonly size: number; readonly attempt: number }
  | { readonly _tag: "BlobSkipped"; readonly digest: string; readonly size: number }
  | { readonly _tag: "BlobMounted"; readonly digest: string; readonly size: number; readonly from: string }
  | { readonly _tag: "BlobDone"; readonly digest: string; readonly size: number; readonly sent: number }
  | {
    readonly _tag: "ManifestSkipped" | "ManifestDone"
    readonly digest: string
    readonly mediaType: string
    readonly size: number
    readonly tag: string | undefined
  }
  | { readonly _tag: "Totals"; readonly blobs: { readonly done: number; readonly total: number }; readonly bytes: number }

/** A progress display. */
export interface Renderer {
  readonly event: (event: Event) => void
  /** Draws the final state (a terminal's last redraw). */
  readonly finish: () => void
}

/** Where and how to draw. */
export interface Target {
  readonly write: (text: string) => void
  /** A terminal (live bars) or not (plain lines). */
  readonly tty: boolean
  /** The terminal's width. */
  readonly columns?: number | undefined
  /** Milliseconds, for throttling redraws (default `Date.now`). */
  readonly now?: (() => number) | undefined
}

type State = "waiting" | "sending" | "done" | "skipped" | "mounted"

interface Blob {
  readonly digest: string
  readonly size: number
  sent: number
  state: State
  note: string
}

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12)

const size = Output.bytes

const bar = (fraction: number, width: number): string => {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
}

/** Plain lines: one per finished blob and manifest, and for retries and resumes. */
const plain = (target: Target): Renderer => ({
  event: (e) => {
    switch (e._tag) {
      case "Planned":
        return target.write(`copying ${e.blobs} blobs (${size(e.bytes)}) and ${e.manifests} manifests\n`)
      case "BlobDone":
        return target.write(`blob ${short(e.digest)} done (${size(e.size)})\n`)
      case "BlobSkipped":
        return target.write(`blob ${short(e.digest)} skipped: already there (${size(e.size)})\n`)
      case "BlobMounted":
        return target.write(`blob ${short(e.digest)} mounted from ${e.from} (${size(e.size)})\n`)
      case "BlobRetried":
        return target.write(`blob ${short(e.digest)} retrying (attempt ${e.attempt})\n`)
      case "BlobResumed":
        return target.write(`blob ${short(e.digest)} resumed at ${size(e.offset)}\n`)
      case "ManifestDone":
        return target.write(`manifest ${short(e.digest)} done${e.tag === undefined ? "" : ` (tag ${e.tag})`}\n`)
      case "ManifestSkipped":
        return target.write(`manifest ${short(e.digest)} skipped: already there\n`)
      default:
        return
    }
  },
  finish: () => {}
})

/** Live bars redrawn in place: the cursor goes back up over the previous drawing each time. */
const live = (target: Target): Renderer => {
  const now = target.now ?? Date.now
  const columns = Math.max(40, target.columns ?? 80)
  const blobs = new Map<string, Blob>()
  let planned: { blobs: number; bytes: number } | undefined
  let manifests = 0
  let drawn = 0
  let last = -Infinity

  const blobOf = (digest: string, bytes: number): Blob => {
    const existing = blobs.get(digest)
    if (existing !== undefined) return existing
    const blob: Blob = { digest, size: bytes, sent: 0, state: "waiting", note: "" }
    blobs.set(digest, blob)
    return blob
  }

  const line = (text: string) => (text.length >= columns ? text.slice(0, columns - 1) : text)

  const draw = () => {
    const lines: Array<string> = []
    const barWidth = Math.max(10, Math.min(30, columns - 60))
    for (const b of blobs.values()) {
      const fraction = b.state === "sending" || b.state === "waiting" ? (b.size === 0 ? 0 : b.sent / b.size) : 1
      const status = b.state === "sending"
        ? `${size(Math.min(b.sent, b.size))} / ${size(b.size)}${b.note === "" ? "" : ` ${b.note}`}`
        : b.state === "waiting"
        ? "waiting"
        : `${b.state} ${size(b.size)}${b.note === "" ? "" : ` ${b.note}`}`
      lines.push(line(`${short(b.digest)} ${bar(fraction, barWidth)} ${status}`))
    }
    const finished = [...blobs.values()].filter((b) => b.state !== "waiting" && b.state !== "sending")
    const totalBlobs = Math.max(planned?.blobs ?? 0, blobs.size)
    const totalBytes = Math.max(planned?.bytes ?? 0, [...blobs.values()].reduce((n, b) => n + b.size, 0))
    const doneBytes = [...blobs.values()].reduce(
      (n, b) => n + (b.state === "sending" || b.state === "waiting" ? Math.min(b.sent, b.size) : b.size),
      0
    )
    lines.push(line(
      `total        ${bar(totalBytes === 0 ? 1 : doneBytes / totalBytes, barWidth)} ${finished.length}/${totalBlobs} blobs, ${
        size(doneBytes)
      } / ${size(totalBytes)}, ${manifests} manifests`
    ))
    let out = drawn > 0 ? `\x1b[${drawn}A` : ""
    for (const l of lines) out += `\r\x1b[2K${l}\n`
    drawn = lines.length
    last = now()
    target.write(out)
  }

  return {
    event: (e) => {
      switch (e._tag) {
        case "Planned":
          planned = { blobs: e.blobs, bytes: e.bytes }
          break
        case "BlobStarted":
          blobOf(e.digest, e.size).state = "sending"
          break
        case "BlobBytes": {
          const b = blobOf(e.digest, e.size)
          b.state = "sending"
          b.sent = e.sent
          break
        }
        case "BlobResumed": {
          const b = blobOf(e.digest, e.size)
          b.sent = e.offset
          b.note = "(resumed)"
          break
        }
        case "BlobRetried":
          blobOf(e.digest, e.size).note = `(retry ${e.attempt})`
          break
        case "BlobSkipped":
          blobOf(e.digest, e.size).state = "skipped"
          break
        case "BlobMounted": {
          const b = blobOf(e.digest, e.size)
          b.state = "mounted"
          b.note = `from ${e.from}`
          break
        }
        case "BlobDone": {
          const b = blobOf(e.digest, e.size)
          b.state = "done"
          b.note = ""
          break
        }
        case "ManifestDone":
        case "ManifestSkipped":
          manifests++
          break
        case "Totals":
          return
      }
      // a blob's end is always shown; bytes at most every 100 ms
      if (e._tag !== "BlobBytes" || now() - last >= 100) draw()
    },
    finish: () => {
      if (blobs.size > 0 || manifests > 0) draw()
    }
  }
}

/** The renderer for `target`. */
export const make = (target: Target): Renderer => (target.tty ? live(target) : plain(target))
