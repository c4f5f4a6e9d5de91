/**
 * Politeness test support: a counting HTTP server that can answer 429s and rate-limit headers, and
 * "runners" — client stacks that share limits through a database, each with its own connection.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import { expect } from "vitest"
import type * as Net from "node:net"
import * as node from "../../src/node.js"
import * as Sync from "../../src/Sync.js"
import * as Transport from "../../src/Transport.js"

/** What the counting server saw. */
export interface Seen {
  inFlight: number
  maxInFlight: number
  /** Each request: when it arrived, the status it got, and when that was sent. */
  readonly arrivals: Array<{ readonly at: number; readonly path: string; readonly status: number; answeredAt?: number }>
}

/**
 * A server on 127.0.0.1 that answers every request after `delay` ms and counts the requests in
 * flight; `answer(n)` picks the status and headers of the n-th request (1-based).
 */
export const countingServer = (
  delay: number,
  answer: (n: number) => { readonly status: number; readonly headers?: Record<string, string> } = () => ({ status: 200 })
): Effect.Effect<{ readonly host: string; readonly seen: Seen }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly host: string; readonly seen: Seen; readonly server: Http.Server }>((resume) => {
      const seen: Seen = { inFlight: 0, maxInFlight: 0, arrivals: [] }
      const server = Http.createServer((request, response) => {
        const { status, headers } = answer(seen.arrivals.length + 1)
        const arrival: Seen["arrivals"][number] = { at: Date.now(), path: request.url ?? "", status }
        seen.arrivals.push(arrival)
        seen.inFlight++
        seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight)
        request.resume()
        setTimeout(() => {
          seen.inFlight--
          response.writeHead(status, { "content-type": "application/json", ...headers })
          response.end("{}")
          arrival.answeredAt = Date.now()
        }, delay)
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({ host: `127.0.0.1:${port}`, seen, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** One runner: a Transport over a polite client sharing the database `state` gives (a connection of its own). */
export const runner = <E>(state: Layer.Layer<SqlClient.SqlClient, E>, politeness: Sync.Politeness, name: string) =>
  Layer.effect(Transport.Transport, Transport.make({ retry: Schedule.recurs(3) })).pipe(
    Layer.provide(Sync.layerPoliteShared({ ...politeness, runner: name })),
    Layer.provide(Layer.merge(node.layerHttpClient({ connections: 64 }), state))
  )

/** Sends `count` GETs at once through a runner, each to `http://host/n`; the statuses they got. */
export const burst = (host: string, count: number) =>
  Effect.flatMap(Transport.Transport, (transport) =>
    Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      transport.execute(HttpClientRequest.get(`http://${host}/v2/r${i}`)).pipe(
        Effect.tap((response) => response.text),
        Effect.map((response) => response.status)
      ), { concurrency: "unbounded" }))


/**
 * Two runners on the database `state` gives, built first and then sending one request after
 * another each (8 apiece) to a server that refuses the 6th request of all with 429 and
 * `Retry-After: 2`. Returns what the server saw, the refused request, and the other runner's name.
 */
export const pausedTogether = <E>(state: () => Layer.Layer<SqlClient.SqlClient, E>) =>
  Effect.gen(function*() {
    const { host, seen } = yield* countingServer(
      15,
      (n) => (n === 6 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 })
    )
    const politeness: Sync.Politeness = { maxConcurrentRequests: 2 }
    const [a, b] = yield* Effect.all(
      [Layer.build(runner(state(), politeness, "a")), Layer.build(runner(state(), politeness, "b"))],
      { concurrency: 2 }
    )
    const steady = (name: string) =>
      Effect.flatMap(Transport.Transport, (transport) =>
        Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) =>
          transport.execute(HttpClientRequest.get(`http://${host}/v2/${name}/${i}`)).pipe(
            Effect.flatMap((response) => response.text)
          )))
    yield* Effect.all([Effect.provide(steady("a"), a), Effect.provide(steady("b"), b)], { concurrency: 2 })
    const refused = seen.arrivals.find((arrival) => arrival.status === 429)
    const other = refused?.path.startsWith("/v2/a/") ? "b" : "a"
    return { seen, refused, other }
  })

/**
 * What {@link pausedTogether} must show: after the refusal, nothing reached the server until the
 * 2 s were up, every request was answered in the end, and the other runner was held back too.
 */
export const expectHeldBack = ({ other, refused, seen }: Effect.Effect.Success<ReturnType<typeof pausedTogether>>) => {
  expect(refused).toBeDefined()
  // Requests sent before the refusal was known may still arrive just after it (on a loaded
  // machine, a few hundred milliseconds); after that, nothing until the 2 s are up.
  const quiet = (a: { readonly at: number }) => a.at > refused!.answeredAt! + 500 && a.at < refused!.at + 1950
  expect(seen.arrivals.filter(quiet)).toEqual([])
  // every request was answered in the end: 16, and the one refused sent again after the wait;
  // the other runner was still sending, so it was held back too
  expect(seen.arrivals).toHaveLength(17)
  expect(seen.arrivals.filter((a) => a.at >= refused!.at + 1950 && a.path.startsWith(`/v2/${other}/`)).length)
    .toBeGreaterThan(0)
}
