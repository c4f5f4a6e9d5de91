/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a registry: it forwards every request
 * (keeping its `Host`, so the registry's `Location`s point back at the proxy) and, for the
 * requests a rule picks, either cuts the connection after a number of request-body bytes have
 * reached the registry — both the client's and the registry's side close, as when a network
 * drops — or answers 503 itself without forwarding anything.
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** What a rule does to the request it picks. */
export type Action =
  | { readonly _tag: "Cut"; readonly afterBodyBytes: number }
  | { readonly _tag: "Unavailable" }

/** A rule: the `nth` (1-based) request with `method` whose path matches `path`. */
export interface Rule {
  readonly method: string
  readonly path: RegExp
  readonly nth: number
  readonly action: Action
}

/** A request the proxy saw, and the fault it applied. */
export interface Seen {
  readonly method: string
  readonly path: string
  fault: Action["_tag"] | undefined
  status: number | undefined
}

/** A running proxy. */
export interface CutProxy {
  /** `127.0.0.1:PORT`, the registry part of references through the proxy. */
  readonly host: string
  /** Replaces the rules (and restarts their counts). */
  readonly setRules: (rules: ReadonlyArray<Rule>) => void
  /** Every request so far, oldest first. */
  readonly seen: () => ReadonlyArray<Seen>
}

const unavailable = JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "the proxy refused this request" }] })

/** Starts a proxy to `upstream` (`127.0.0.1:PORT`); it stops when the scope closes. */
export const start = (upstream: string): Effect.Effect<CutProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly proxy: CutProxy; readonly server: Http.Server; readonly sockets: Set<Net.Socket> }>(
      (resume) => {
        const [upstreamHost, upstreamPort] = upstream.split(":")
        let rules: Array<{ readonly rule: Rule; count: number }> = []
        const seen: Array<Seen> = []
        const sockets = new Set<Net.Socket>()

        const server = Http.createServer((req, res) => {
          const entry: Seen = { method: req.method ?? "", path: req.url ?? "", fault: undefined, status: undefined }
          seen.push(entry)
          let action: Action | undefined
          for (const r of rules) {
            if (r.rule.method !== entry.method || !r.rule.path.test(entry.path)) continue
            if (++r.count === r.rule.nth) action = r.rule.action
          }
          entry.fault = action?._tag
          if (action?._tag === "Unavailable") {
            req.resume()
            entry.status = 503
            res.writeHead(503, { "content-type": "application/json", "content-length": Buffer.byteLength(unavailable) })
            res.end(unavailable)
            return
          }
          const up = Http.request({
            host: upstreamHost,
            port: Number(upstreamPort),
            method: req.method,
            path: req.url,
            headers: req.headers
          })
          const cutBoth = () => {
            up.destroy()
            req.socket.destroy()
          }
          up.on("response", (upRes) => {
            entry.status = upRes.statusCode
            res.writeHead(upRes.statusCode ?? 502, upRes.headers)
            upRes.pipe(res)
          })
          up.on("error", () => req.socket.destroy())
          req.on("error", () => up.destroy())
          if (action?._tag !== "Cut") {
            req.pipe(up)
            return
          }
          // forward the first bytes of the body, let them reach the registry, then drop both sides
          let forwarded = 0
          let cut = false
          const limit = action.afterBodyBytes
          const cutNow = () => {
            cut = true
            req.pause()
            up.write(Buffer.alloc(0), () => setTimeout(cutBoth, 100))
          }
          if (limit === 0) cutNow()
          req.on("data", (chunk: Buffer) => {
            if (cut) return
            const part = chunk.subarray(0, Math.max(0, limit - forwarded))
            forwarded += part.byteLength
            if (part.byteLength > 0) up.write(part)
            if (forwarded >= limit) cutNow()
          })
          req.on("end", () => {
            // a body no longer than the cut: it is sent whole, and the answer dropped
            if (!cut) cutNow()
          })
        })
        server.on("connection", (socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          resume(Effect.succeed({
            server,
            sockets,
            proxy: {
              host: `127.0.0.1:${port}`,
              setRules: (next) => {
                rules = next.map((rule) => ({ rule, count: 0 }))
              },
              seen: () => seen
            }
          }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))
