/**
 * The Node HTTP client keeps its connections: existence checks (HEAD) and the requests after them
 * reuse their connections instead of opening a new one each (undici closes after a HEAD by default).
 * undici is loaded on the first request, then one connection pool serves every request until the
 * Layer closes.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as node from "../src/node.js"

/** A loopback server answering every request with a small JSON body (none for HEAD); counts connections. */
const countingServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly connections: { n: number } }>((resume) => {
    const connections = { n: 0 }
    const server = Http.createServer((request, response) => {
      const body = JSON.stringify({ path: request.url })
      response.writeHead(request.url?.includes("missing") === true ? 404 : 200, {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "docker-content-digest": "sha256:" + "0".repeat(64)
      })
      response.end(request.method === "HEAD" ? undefined : body)
    })
    server.on("connection", () => connections.n++)
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, connections })))
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const text = (client: HttpClient.HttpClient, url: string) =>
  Effect.flatMap(client.get(url), (response) => response.text)

const counted = Effect.map(countingServer, ({ connections, server }) => ({
  url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ok`,
  connections: () => connections.n
}))
const ok = JSON.stringify({ path: "/ok" })

describe("node.layerHttpClient", () => {
  it.scopedLive("one pool serves every request, concurrent first ones included: connections are kept alive", () =>
    Effect.gen(function*() {
      const { url, connections } = yield* counted
      const client = Context.get(yield* Layer.build(node.layerHttpClient({ connections: 1 })), HttpClient.HttpClient)
      // two first requests at once: both wait for undici, then share the one pool (one connection)
      expect(yield* Effect.all([text(client, url), text(client, url)], { concurrency: 2 })).toEqual([ok, ok])
      for (let i = 0; i < 3; i++) expect(yield* text(client, url)).toBe(ok)
      expect(connections()).toBe(1)
    }))

  it.scopedLive("after its Layer closed, a request fails with a RequestError (and opens no new pool)", () =>
    Effect.gen(function*() {
      const { url, connections } = yield* counted
      const closedAfter = (use: (client: HttpClient.HttpClient) => Effect.Effect<void, unknown>) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const client = Context.get(yield* Layer.buildWithScope(node.layerHttpClient(), scope), HttpClient.HttpClient)
          yield* use(client)
          yield* Scope.close(scope, Exit.void)
          return client
        })
      const used = yield* closedAfter((client) => Effect.map(text(client, url), (body) => expect(body).toBe(ok)))
      expect((yield* Effect.flip(text(used, url)))._tag).toBe("RequestError")
      const unused = yield* closedAfter(() => Effect.void)
      expect((yield* Effect.flip(text(unused, url)))._tag).toBe("RequestError")
      expect(connections()).toBe(1)
    }))

  it.scoped("HEAD requests (found or not) and the GET after them reuse the connections", () =>
    Effect.gen(function*() {
      const { connections, server } = yield* countingServer
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const client = yield* HttpClient.HttpClient
      const statuses: Array<number> = []
      const paths = ["/blob/a", "/blob/missing", "/blob/b", "/blob/missing-too"]
      for (const path of [...paths, ...paths]) {
        const head = yield* client.execute(HttpClientRequest.head(`${base}${path}`))
        statuses.push(head.status)
        expect(head.headers["docker-content-digest"]).toBe("sha256:" + "0".repeat(64))
      }
      const get = yield* client.execute(HttpClientRequest.get(`${base}/after`))
      expect(yield* get.json).toEqual({ path: "/after" })
      expect(statuses).toEqual([200, 404, 200, 404, 200, 404, 200, 404])
      // a response is handed over as its headers arrive, a moment before undici frees its
      // connection: the next request may take a second one, never a new one per request
      expect(connections.n).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(node.layerHttpClient())))
})
