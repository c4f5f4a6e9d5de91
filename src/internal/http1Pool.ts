/**
 * The connections of `http1.ts`'s GETs, kept alive between requests as an agent keeps its own: a
 * download's registry GET, its redirect's GET to a CDN and the next blob's reuse a connection
 * (and its TLS session) instead of opening a new one each. Each connection reads its socket into
 * buffers the request it serves gives (`onread`), into its own small scratch buffer otherwise.
 *
 * @internal
 */
import * as Net from "node:net"
import * as Tls from "node:tls"

/** TLS options, as the client's https agent has them. @internal */
export interface TlsOptions {
  readonly ca?: ReadonlyArray<string> | undefined
  readonly rejectUnauthorized?: boolean | undefined
}

/** What reads a connection while it serves a request. @internal */
export interface Reader {
  /** Where the next read goes; `undefined`: the connection's scratch buffer. */
  readonly nextBuffer: () => Uint8Array | undefined
  /** `n` bytes were read into `buffer`; false pauses the socket. */
  readonly onRead: (n: number, buffer: Uint8Array) => boolean
  readonly onEnd: () => void
  readonly onError: (error: Error) => void
}

const scratchSize = 64 * 1024

/** An error with a code, as Node's own HTTP errors have. @internal */
export const failure = (message: string, code: string): Error => Object.assign(new Error(message), { code })

/** One socket, serving one request at a time. @internal */
export class Connection {
  readonly socket: Net.Socket
  /** Where reads go while no request gives a buffer (heads, copied bodies). */
  readonly scratch = new Uint8Array(scratchSize)
  reader: Reader | undefined = undefined
  idleTimer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(readonly key: string, url: URL, tls: TlsOptions | undefined, pool: Pool) {
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
    const onread: Net.OnReadOpts = {
      buffer: () => this.reader?.nextBuffer() ?? this.scratch,
      // bytes while no request is served: nothing a server may send, the connection is not reused
      callback: (n, buffer) => (this.reader === undefined ? (this.socket.destroy(), false) : this.reader.onRead(n, buffer))
    }
    if (tls === undefined) {
      this.socket = Net.connect({ host, port: Number(url.port || 80), onread })
    } else {
      // `tls.connect` takes `onread` as `net.connect` does (its types do not say so)
      const options: Tls.ConnectionOptions & { readonly onread: Net.OnReadOpts } = {
        host,
        port: Number(url.port || 443),
        ...(Net.isIP(host) === 0 ? { servername: host } : {}),
        ...(tls.ca === undefined ? {} : { ca: [...tls.ca] }),
        ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
        onread
      }
      this.socket = Tls.connect(options)
    }
    // a request's head goes out at once, as Node's agents send theirs
    this.socket.setNoDelay(true)
    this.socket.on("error", (error) => this.reader?.onError(error))
    this.socket.on("end", () => (this.reader === undefined ? this.socket.destroy() : this.reader.onEnd()))
    this.socket.on("close", () => {
      pool.forget(this)
      this.reader?.onError(failure("socket hang up", "ECONNRESET"))
    })
  }
}

/**
 * Connections by origin: a request takes an idle one or opens one; one whose answer ended
 * cleanly comes back (up to `maxIdle` per origin), and is closed after `idleMillis` unused.
 *
 * @internal
 */
export class Pool {
  private readonly idle = new Map<string, Array<Connection>>()
  private readonly all = new Set<Connection>()
  private closed = false

  constructor(private readonly maxIdle: number, private readonly idleMillis: number) {}

  /** A connection to `url`'s origin for `reader`: an idle one, else a new one. */
  take(url: URL, tls: TlsOptions | undefined, reader: Reader): Connection {
    const key = `${url.protocol}//${url.host}`
    const idle = this.idle.get(key)
    let connection = idle?.pop()
    while (connection !== undefined && connection.socket.destroyed) connection = idle?.pop()
    if (connection === undefined) {
      connection = new Connection(key, url, tls, this)
      this.all.add(connection)
    } else {
      clearTimeout(connection.idleTimer)
      connection.socket.ref()
    }
    connection.reader = reader
    return connection
  }

  /** A connection whose request is done, and which may serve another. */
  put(connection: Connection): void {
    connection.reader = undefined
    const idle = this.idle.get(connection.key) ?? []
    if (this.closed || connection.socket.destroyed || idle.length >= this.maxIdle) return void connection.socket.destroy()
    idle.push(connection)
    this.idle.set(connection.key, idle)
    // an idle connection keeps no process alive, and is closed when unused for long
    connection.socket.unref()
    connection.idleTimer = setTimeout(() => connection.socket.destroy(), this.idleMillis)
    connection.idleTimer.unref()
  }

  /** A closed connection leaves the pool. */
  forget(connection: Connection): void {
    this.all.delete(connection)
    clearTimeout(connection.idleTimer)
    const idle = this.idle.get(connection.key)
    const at = idle?.indexOf(connection) ?? -1
    if (at !== -1) idle!.splice(at, 1)
  }

  /** Closes every connection, idle or in use; no connection is kept after this. */
  close(): void {
    this.closed = true
    for (const connection of [...this.all]) connection.socket.destroy()
  }
}
