/**
 * One HTTP/1.1 GET over a `net`/`tls` socket of our own (kept alive between requests, see
 * `http1Pool.ts`), the socket read into buffers of our own (`onread`): body pieces are views into a
 * {@link Ring} when the head asks for one (a large blob read by a releasing consumer), else copies
 * out of the connection's reused 64 KiB buffer.
 *
 * Only what a GET needs: the status line and headers (1xx answers skipped, the head's size
 * limited as Node's parser limits it), and a body framed by `Content-Length`, chunked
 * (extensions and trailers skipped) or ended by the close. Redirects, auth and errors are the
 * Transport's, as with any client.
 *
 * @internal
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import { BodyStalled, Ring } from "./bodyRing.js"
import { type Connection, failure, type Pool, type Reader, type TlsOptions } from "./http1Pool.js"

export type { TlsOptions }

/** A response's status line and headers (names lowercased; `set-cookie` a list, other repeats joined). @internal */
export interface Head {
  /** The minor version: `HTTP/1.0` or `HTTP/1.1`. */
  readonly minor: number
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
}

/** Copied pieces queued for the consumer before the socket waits (the ring has its own limit). */
const queuedLimit = 1024 * 1024
/** The longest chunk-size line accepted (size, extensions). */
const maxChunkLine = 4096

/** Headers whose repeats Node's `IncomingMessage` drops (the first one counts). */
const single = new Set([
  "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host", "if-modified-since",
  "if-unmodified-since", "last-modified", "location", "max-forwards", "proxy-authorization", "referer", "retry-after",
  "server", "user-agent"
])
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Parses a response head (without its final empty line). Throws on anything malformed.
 *
 * @internal
 */
export const parseHead = (text: string): Head => {
  const lines = text.split(/\r?\n/)
  const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? "")
  if (status === null) throw failure("invalid HTTP status line", "HPE_INVALID_CONSTANT")
  const headers: Record<string, string | Array<string>> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":")
    const name = line.slice(0, colon).toLowerCase()
    if (colon <= 0 || !token.test(name)) throw failure("invalid header line", "HPE_INVALID_HEADER_TOKEN")
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")
    const before = headers[name]
    if (name === "set-cookie") headers[name] = [...(before ?? []), value]
    else if (before === undefined) headers[name] = value
    else if (name === "content-length" && before !== value) throw failure("conflicting Content-Length", "HPE_UNEXPECTED_CONTENT_LENGTH")
    else if (!single.has(name)) headers[name] = `${before}, ${value}`
  }
  return { minor: Number(status[1]), status: Number(status[2]), headers }
}

/** How a body ends. */
type Framing =
  | { readonly kind: "none" }
  | { readonly kind: "close" }
  | { readonly kind: "length"; remaining: number }
  | { readonly kind: "chunked"; state: ChunkState; size: number; digits: number; line: number }

const enum ChunkState {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  EndLf
}

/** The framing of a GET's response body (RFC 9112 §6.3). @internal */
export const framingOf = (head: Head): Framing => {
  if (head.status === 204 || head.status === 304) return { kind: "none" }
  const te = head.headers["transfer-encoding"]
  if (te !== undefined) {
    const codings = String(te).split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "")
    return codings[codings.length - 1] === "chunked"
      ? { kind: "chunked", state: ChunkState.Size, size: 0, digits: 0, line: 0 }
      : { kind: "close" }
  }
  const length = head.headers["content-length"]
  if (length === undefined) return { kind: "close" }
  if (!/^\d+$/.test(String(length))) throw failure("invalid Content-Length", "HPE_INVALID_CONTENT_LENGTH")
  const remaining = Number(length)
  return remaining === 0 ? { kind: "none" } : { kind: "length", remaining }
}

const hexValue = (byte: number): number =>
  byte >= 0x30 && byte <= 0x39 ? byte - 0x30 : byte >= 0x61 && byte <= 0x66 ? byte - 0x57 : byte >= 0x41 && byte <= 0x46 ? byte - 0x37 : -1

/**
 * One GET on its own connection. `onHead` gets the head (or `onHeadFailure` what went wrong
 * before it); then the body is taken piece by piece with {@link take} and {@link wait}.
 *
 * @internal
 */
export class Exchange implements Reader {
  private readonly connection: Connection
  private phase: "head" | "body" | "done" = "head"
  private headBytes: Buffer = Buffer.alloc(0)
  private framing: Framing = { kind: "none" }
  /** Whether the connection may serve another request once this answer ended. */
  private reusable = false
  private ring: Ring | undefined = undefined
  /** Whether the buffer the socket reads into now is ring memory. */
  private intoRing = false
  private queued: Array<Uint8Array> = []
  private queuedBytes = 0
  private failed: Error | undefined = undefined
  private paused = false
  private waiter: (() => void) | undefined = undefined
  private stallTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** When the last byte came, or the socket last went on after waiting for room. */
  private lastProgress = Date.now()

  constructor(
    private readonly pool: Pool,
    url: URL,
    tls: TlsOptions | undefined,
    requestHead: string,
    private readonly useRing: (head: Head) => boolean,
    private readonly onHead: (head: Head) => void,
    private readonly onHeadFailure: (error: Error) => void
  ) {
    this.connection = pool.take(url, tls, this)
    this.connection.socket.write(requestHead, "latin1")
  }

  get socket(): Net.Socket {
    return this.connection.socket
  }

  /** Closes the connection; a body not yet complete fails (with `cause` when given). */
  destroy(cause: Error = failure("the request was closed", "ECONNRESET")): void {
    this.fail(cause)
  }

  /** What the consumer may take now: pieces, the end (`true`), a failure, or nothing yet (`undefined`). */
  take(): Array<Uint8Array> | true | Error | undefined {
    if (this.queued.length > 0) {
      const pieces = this.queued
      this.queued = []
      this.queuedBytes = 0
      if (this.paused && this.ring === undefined) this.goOn()
      return pieces
    }
    if (this.failed !== undefined) return this.failed
    return this.phase === "done" ? true : undefined
  }

  /**
   * Calls `wake` once there is something to {@link take}. With `stallMillis`, a body that brings
   * no byte for that long while there is room to read into fails with {@link BodyStalled}.
   */
  wait(wake: () => void, stallMillis: number | undefined): () => void {
    this.waiter = wake
    if (stallMillis !== undefined) this.watch(stallMillis)
    return () => {
      this.waiter = undefined
      this.clearStallTimer()
    }
  }

  private watch(millis: number): void {
    this.clearStallTimer()
    const left = this.lastProgress + millis - Date.now()
    if (left <= 0) return this.fail(new BodyStalled(millis))
    this.stallTimer = setTimeout(() => this.waiter !== undefined && this.watch(millis), left)
  }

  private clearStallTimer(): void {
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer)
    this.stallTimer = undefined
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    this.clearStallTimer()
    waiter?.()
  }

  private goOn(): void {
    this.paused = false
    this.lastProgress = Date.now()
    if (this.phase !== "done") this.socket.resume()
  }

  readonly nextBuffer = (): Uint8Array | undefined => {
    const room = this.phase === "body" && this.ring !== undefined ? this.ring.room() : undefined
    this.intoRing = room !== undefined
    return room
  }

  readonly onError = (error: Error): void => this.fail(error)

  readonly onRead = (n: number, buffer: Uint8Array): boolean => {
    this.lastProgress = Date.now()
    const intoRing = this.intoRing
    try {
      if (this.phase === "head") this.readHead(buffer.subarray(0, n))
      else if (intoRing) this.readBody(buffer, 0, n, true)
      else this.readCopied(buffer.subarray(0, n))
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)))
    }
    if (intoRing) this.ring!.filled(n)
    if (this.phase === "done" || (this.ring !== undefined ? this.ring.hasRoom() : this.queuedBytes < queuedLimit)) return true
    this.paused = true
    return false
  }

  /** Bytes read outside the ring: moved into it when it has room, else copied out. */
  private readCopied(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return
    const room = this.ring?.room()
    if (room !== undefined && room.byteLength >= bytes.byteLength) {
      room.set(bytes)
      this.readBody(room, 0, bytes.byteLength, true)
      this.ring!.filled(bytes.byteLength)
    } else {
      this.readBody(bytes, 0, bytes.byteLength, false)
    }
  }

  private readHead(bytes: Uint8Array): void {
    this.headBytes = Buffer.concat([this.headBytes, bytes])
    for (;;) {
      const end = this.headBytes.indexOf("\r\n\r\n", 0, "latin1")
      const bare = this.headBytes.indexOf("\n\n", 0, "latin1")
      const stop = end !== -1 && (bare === -1 || end < bare) ? end : bare
      if (stop === -1) {
        if (this.headBytes.byteLength > Http.maxHeaderSize) throw failure("response headers too large", "HPE_HEADER_OVERFLOW")
        return
      }
      const bodyStart = stop + (stop === end ? 4 : 2)
      if (stop > Http.maxHeaderSize) throw failure("response headers too large", "HPE_HEADER_OVERFLOW")
      const head = parseHead(this.headBytes.toString("latin1", 0, stop))
      const rest = this.headBytes.subarray(bodyStart)
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) throw failure("unexpected protocol switch", "HPE_INVALID_CONSTANT")
        this.headBytes = Buffer.from(rest)
        continue
      }
      this.headBytes = Buffer.alloc(0)
      this.framing = framingOf(head)
      const connection = head.headers["connection"]
      this.reusable = head.minor === 1 && this.framing.kind !== "close" &&
        !(connection !== undefined && /(^|,)\s*close\s*(,|$)/i.test(String(connection)))
      this.phase = "body"
      if (this.framing.kind !== "none" && this.useRing(head)) {
        this.ring = new Ring()
        this.ring.onRelease = () => {
          if (this.paused && this.ring!.hasRoom()) this.goOn()
        }
      }
      this.onHead(head)
      if (this.framing.kind === "none") {
        if (rest.byteLength > 0) this.reusable = false
        return this.finish()
      }
      return this.readCopied(rest)
    }
  }

  /** Body bytes `buffer[from, to)`, framing included; `inRing`: pieces are views, else copies. */
  private readBody(buffer: Uint8Array, from: number, to: number, inRing: boolean): void {
    const framing = this.framing
    const piece = (start: number, end: number) => {
      if (end <= start) return
      const last = this.queued[this.queued.length - 1]
      const at = buffer.byteOffset + start
      if (inRing && last !== undefined && last.buffer === buffer.buffer && last.byteOffset + last.byteLength === at) {
        // right after the last piece in the same slab: one piece (one write) instead of one per read
        this.queued[this.queued.length - 1] = new Uint8Array(buffer.buffer, last.byteOffset, last.byteLength + end - start)
      } else {
        this.queued.push(inRing ? buffer.subarray(start, end) : buffer.slice(start, end))
      }
      this.queuedBytes += end - start
      this.wake()
    }
    if (framing.kind === "close") return piece(from, to)
    if (framing.kind === "length") {
      const end = Math.min(to, from + framing.remaining)
      // bytes after the body: nothing was asked for them, the connection is not reused
      if (end < to) this.reusable = false
      piece(from, end)
      framing.remaining -= end - from
      if (framing.remaining === 0) this.finish()
      return
    }
    if (framing.kind !== "chunked") return
    let i = from
    while (i < to && this.phase === "body") {
      if (framing.state === ChunkState.Data) {
        const end = Math.min(to, i + framing.size)
        piece(i, end)
        framing.size -= end - i
        i = end
        if (framing.size === 0) framing.state = ChunkState.DataCr
        continue
      }
      const byte = buffer[i++]!
      switch (framing.state) {
        case ChunkState.Size: {
          const digit = hexValue(byte)
          if (digit !== -1 && framing.digits < 13) {
            framing.size = framing.size * 16 + digit
            framing.digits++
          } else if (framing.digits > 0 && (byte === 0x3b || byte === 0x20 || byte === 0x09)) {
            framing.state = ChunkState.Extension
          } else if (framing.digits > 0 && byte === 0x0d) {
            framing.state = ChunkState.SizeLf
          } else if (framing.digits > 0 && byte === 0x0a) {
            this.chunkSizeRead(framing)
          } else {
            throw failure("invalid chunk size", "HPE_INVALID_CHUNK_SIZE")
          }
          break
        }
        case ChunkState.Extension:
          if (byte === 0x0a) this.chunkSizeRead(framing)
          else if (++framing.line > maxChunkLine) throw failure("chunk extension too long", "HPE_CHUNK_EXTENSIONS_OVERFLOW")
          break
        case ChunkState.SizeLf:
          if (byte !== 0x0a) throw failure("invalid chunk size line", "HPE_STRICT")
          this.chunkSizeRead(framing)
          break
        case ChunkState.DataCr:
          if (byte === 0x0d) framing.state = ChunkState.DataLf
          else if (byte === 0x0a) framing.state = ChunkState.Size
          else throw failure("chunk data longer than its size", "HPE_STRICT")
          break
        case ChunkState.DataLf:
          if (byte !== 0x0a) throw failure("chunk data longer than its size", "HPE_STRICT")
          framing.state = ChunkState.Size
          break
        case ChunkState.TrailerStart:
          if (byte === 0x0a) this.chunkedEnd(i < to)
          else framing.state = byte === 0x0d ? ChunkState.EndLf : ChunkState.Trailer
          break
        case ChunkState.EndLf:
          if (byte === 0x0a) this.chunkedEnd(i < to)
          else framing.state = ChunkState.Trailer
          break
        case ChunkState.Trailer:
          if (byte === 0x0a) framing.state = ChunkState.TrailerStart
          break
      }
      if (framing.state === ChunkState.Trailer || framing.state === ChunkState.TrailerStart) {
        if (++framing.line > Http.maxHeaderSize) throw failure("trailers too large", "HPE_HEADER_OVERFLOW")
      }
    }
  }

  /** The end of a chunked body; bytes after it (`more`): nothing was asked for them, the connection is not reused. */
  private chunkedEnd(more: boolean): void {
    if (more) this.reusable = false
    this.finish()
  }

  private chunkSizeRead(framing: Extract<Framing, { kind: "chunked" }>): void {
    framing.digits = 0
    framing.line = 0
    framing.state = framing.size === 0 ? ChunkState.TrailerStart : ChunkState.Data
  }

  readonly onEnd = (): void => {
    if (this.phase === "body" && this.framing.kind === "close") this.finish()
    else if (this.phase !== "done") {
      this.fail(
        this.phase === "head"
          ? failure("socket hang up", "ECONNRESET")
          : failure("aborted: the connection closed before the end of the body", "ECONNRESET")
      )
    }
  }

  private finish(): void {
    if (this.phase === "done") return
    this.phase = "done"
    // the answer ended cleanly: its connection may serve the next request (nothing reads into
    // this body's ring any more, the next reads go to the connection's own buffer)
    if (this.reusable && !this.paused) this.pool.put(this.connection)
    else this.socket.destroy()
    this.wake()
  }

  private fail(error: Error): void {
    if (this.phase === "done") return
    const wasHead = this.phase === "head"
    this.phase = "done"
    this.failed = error
    this.socket.destroy()
    if (wasHead) this.onHeadFailure(error)
    else this.wake()
  }
}
