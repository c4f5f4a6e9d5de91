/**
 * Politeness toward registries: an `HttpClient` that keeps at most N requests in flight per
 * registry host, and holds every request to a host back while that host has asked for a pause
 * (`Retry-After` on a 429 / 503, or an exhausted `RateLimit-*` window).
 *
 * In one process a semaphore per host and an in-memory "not before" time do it for every fiber;
 * runners sharing a database (see hostLeases.ts) also take a lease on one of the host's slots and
 * honour the not-before time any of them recorded. A request holds its permit from sending until
 * its answer's headers arrive (a streamed request body is sent meanwhile); the answer's body is
 * then read without one. So one copy never waits on itself (a blob read from a registry may be
 * written back to the same one with a limit of 1), and nothing deadlocks.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Reference from "../../Reference.js"
import { waitOf } from "../rateLimit.js"
import type { Store } from "./hostLeases.js"

/** Resolved politeness settings. */
export interface Settings {
  /** Requests in flight at once per registry host when the host has no limit of its own. */
  readonly maxConcurrentRequests: number
  /** Limits of single registries, by registry name as written in mappings (`host[:port]`). */
  readonly registries: ReadonlyMap<string, number>
  /** The longest pause a registry's answer can impose (longer ones are cut to this). */
  readonly maxWait: Duration.Duration
}

/** The default limit per registry host, shared by all runners. */
export const defaultMaxConcurrentRequests = 8

/** The default longest pause honoured (as the Transport's longest `Retry-After`). */
export const defaultMaxWait = Duration.minutes(5)

/** The host (`host[:port]`, lower case) requests to `registry` go to (`docker.io` → `registry-1.docker.io`). */
const apiHostOf = (registry: string) => Reference.apiHost(registry).toLowerCase()

/** One gate per process: waits and permits by host. */
export interface Gate {
  /** Runs `send` once `host` may be sent to, holding one of its permits. */
  readonly around: <A, E, R>(host: string, send: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Records that `host` asked for no request before `until` (ms). */
  readonly hold: (host: string, until: number) => Effect.Effect<void>
}

/**
 * The gate: semaphores and not-before times in memory, and, with a shared `store`, leases and
 * not-before times in the database too. The database failing never fails a request: the gate
 * then keeps to the in-process limits and logs a warning.
 */
export const makeGate = (settings: Settings, store?: Store): Effect.Effect<Gate> =>
  Effect.sync(() => {
    const limits = new Map<string, number>()
    for (const [registry, limit] of settings.registries) limits.set(apiHostOf(registry), limit)
    const limitOf = (host: string) => limits.get(host) ?? settings.maxConcurrentRequests
    const semaphores = new Map<string, Effect.Semaphore>()
    const semaphoreOf = (host: string) => {
      let semaphore = semaphores.get(host)
      if (semaphore === undefined) {
        semaphore = Effect.unsafeMakeSemaphore(limitOf(host))
        semaphores.set(host, semaphore)
      }
      return semaphore
    }
    const notBefore = new Map<string, number>()
    const maxWait = Duration.toMillis(settings.maxWait)

    /** Sleeps until `until` when that is later than now (never longer than `maxWait`). */
    const sleepUntil = (until: number) =>
      Effect.suspend(() => {
        const wait = Math.min(until - Date.now(), maxWait)
        return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
      })

    const waitLocal = (host: string) => Effect.suspend(() => sleepUntil(notBefore.get(host) ?? 0))

    const dbFailed = (what: string) => (error: { readonly message: string }) =>
      Effect.logWarning(`sync: the shared registry limits could not be ${what}; keeping to this process's`).pipe(
        Effect.annotateLogs({ error: error.message })
      )

    /** Waits while the database says another runner was asked to pause (re-read: it may grow). */
    const waitShared = (host: string): Effect.Effect<void> =>
      store === undefined ? Effect.void : Effect.gen(function*() {
        for (let rounds = 0; rounds < 100; rounds++) {
          const until = yield* store.notBefore(host)
          if (until <= Date.now()) return
          notBefore.set(host, Math.max(notBefore.get(host) ?? 0, until))
          yield* sleepUntil(until)
        }
      }).pipe(Effect.catchAll(dbFailed("read")))

    const leaseShared = (host: string) =>
      store === undefined ? Effect.void : store.lease(host, limitOf(host)).pipe(Effect.catchAll(dbFailed("taken")))

    const around: Gate["around"] = (host, send) =>
      Effect.zipRight(
        waitLocal(host),
        semaphoreOf(host).withPermits(1)(Effect.scoped(Effect.gen(function*() {
          yield* waitLocal(host)
          yield* leaseShared(host)
          yield* waitShared(host)
          return yield* send
        })))
      )

    const hold: Gate["hold"] = (host, until) =>
      Effect.suspend(() => {
        const capped = Math.min(until, Date.now() + maxWait)
        if ((notBefore.get(host) ?? 0) < capped) notBefore.set(host, capped)
        return store === undefined ? Effect.void : store.hold(host, capped).pipe(Effect.catchAll(dbFailed("written")))
      })

    return { around, hold }
  })

/** The host a request goes to, as the gate keys it. */
const hostOfRequest = (request: HttpClientRequest.HttpClientRequest): string =>
  Option.match(HttpClientRequest.toUrl(request), {
    onNone: () => request.url,
    onSome: (url) => url.host.toLowerCase()
  })

/**
 * `client` behind the gate: each request waits for its host, holds a permit until its answer's
 * headers arrive, and an answer that asks for a pause holds every request to that host back.
 */
export const wrap = (client: HttpClient.HttpClient, gate: Gate): HttpClient.HttpClient =>
  HttpClient.transform(client, (send, request) => {
    const host = hostOfRequest(request)
    return gate.around(host, send).pipe(
      Effect.tap((response) => {
        const now = Date.now()
        const wait = waitOf(response.status, response.headers, now)
        return wait === undefined ? Effect.void : gate.hold(host, now + wait)
      })
    )
  })
