/**
 * Fault injection: matching the active scenarios against each request, and applying their actions
 * around the real handler. Actions that concern a later step (redirecting a blob GET after auth,
 * capping an upload chunk, expiring a token) are passed down as {@link Directives}.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Code } from "../../RegistryError.js"
import type { Fault } from "../index.js"
import * as Http from "./http.js"

/**
 * What faults ask of the handlers below them, for the current request.
 *
 * @internal
 */
export class Directives extends Context.Reference<Directives>()("effect-oci/testing/Directives", {
  defaultValue: (): {
    readonly redirectBlob: boolean
    readonly chunkCap: number | undefined
    readonly tokenMaxUses: number | undefined
    /** Keep this many bytes of an upload body, then `abort` the connection. */
    readonly cutRequest: { readonly afterBytes: number; readonly abort: Effect.Effect<void> } | undefined
    readonly refusePartialChunk: boolean
  } => ({
    redirectBlob: false,
    chunkCap: undefined,
    tokenMaxUses: undefined,
    cutRequest: undefined,
    refusePartialChunk: false
  })
}) {}

/**
 * The active scenarios with their occurrence counters.
 *
 * @internal
 */
export interface Faults {
  readonly set: (faults: ReadonlyArray<Fault>) => void
  /** The scenarios that apply to a request (counting the occurrence for each one that matches). */
  readonly match: (origin: "registry" | "redirect", method: string, url: string) => ReadonlyArray<Fault>
}

/** @internal */
export const make = (initial: ReadonlyArray<Fault>): Faults => {
  let active: ReadonlyArray<{ readonly fault: Fault; readonly path: RegExp | undefined; count: number }> = []
  const set = (faults: ReadonlyArray<Fault>) => {
    active = faults.map((fault) => ({
      fault,
      path: fault.path === undefined ? undefined : typeof fault.path === "string" ? new RegExp(fault.path) : fault.path,
      count: 0
    }))
  }
  set(initial)
  return {
    set,
    match: (origin, method, url) => {
      const fired: Array<Fault> = []
      for (const entry of active) {
        const { fault } = entry
        if (fault.origin !== undefined && fault.origin !== origin) continue
        const methods = fault.method === undefined ? undefined : typeof fault.method === "string" ? [fault.method] : fault.method
        if (methods !== undefined && !methods.some((m) => m.toUpperCase() === method)) continue
        if (entry.path !== undefined) {
          entry.path.lastIndex = 0
          if (!entry.path.test(url)) continue
        }
        const n = ++entry.count
        const nth = fault.nth === undefined ? undefined : typeof fault.nth === "number" ? [fault.nth] : fault.nth
        if (nth !== undefined && !nth.includes(n)) continue
        if (fault.first !== undefined && n > fault.first) continue
        fired.push(fault)
      }
      return fired
    }
  }
}

/**
 * The name a fault is logged under.
 *
 * @internal
 */
export const nameOf = (fault: Fault): string => fault.name ?? fault.action._tag

const defaultCode = (status: number): Code =>
  status === 429 ? "TOOMANYREQUESTS" : status === 503 ? "UNAVAILABLE" : status === 401 ? "UNAUTHORIZED" : "UNKNOWN"

/**
 * Splits the pieces of a body so that one piece ends exactly at `offset`, then emits one piece per
 * chunk: the server writes each chunk before pulling the next, so whatever runs between pieces
 * happens after the bytes before it were handed to the socket.
 */
const splitAt = (offset: number) => <E>(body: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    let seen = 0
    return body.pipe(
      Stream.mapConcat((chunk) => {
        const start = seen
        seen += chunk.byteLength
        return start < offset && seen > offset
          ? [chunk.subarray(0, offset - start), chunk.subarray(offset - start)]
          : [chunk]
      }),
      Stream.rechunk(1)
    )
  })

/** Runs `effect` when the body reaches `offset` bytes (before any byte past it is sent). */
const atOffset = (offset: number, effect: Effect.Effect<void>) => <E>(body: Stream.Stream<Uint8Array, E>) =>
  Stream.suspend(() => {
    let seen = 0
    let done = false
    return splitAt(offset)(body).pipe(
      Stream.mapEffect((piece) => {
        const before = seen
        seen += piece.byteLength
        if (done || before < offset) return Effect.succeed(piece)
        done = true
        return Effect.as(effect, piece)
      })
    )
  })

const bodyStream = (response: HttpServerResponse.HttpServerResponse): Stream.Stream<Uint8Array, unknown> | undefined => {
  const body = response.body
  switch (body._tag) {
    case "Stream":
      return body.stream
    case "Uint8Array":
      return body.body.byteLength === 0 ? undefined : Stream.make(body.body)
    default:
      return undefined
  }
}

const withBody = (
  response: HttpServerResponse.HttpServerResponse,
  f: (body: Stream.Stream<Uint8Array, unknown>) => Stream.Stream<Uint8Array, unknown>
): HttpServerResponse.HttpServerResponse => {
  const body = bodyStream(response)
  if (body === undefined) return response
  return HttpServerResponse.stream(f(body), {
    status: response.status,
    headers: response.headers,
    contentType: response.headers["content-type"],
    contentLength: response.body.contentLength
  })
}

/**
 * Applies the matched faults around a handler. `abort` closes the request's connection once the
 * bytes already written are flushed; the body stream then never completes (the server ends the
 * response when the connection closes).
 *
 * @internal
 */
export const apply = <E, R>(
  request: HttpServerRequest.HttpServerRequest,
  faults: ReadonlyArray<Fault>,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  abort: Effect.Effect<void>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
  const smallest = (values: ReadonlyArray<number>) => (values.length === 0 ? undefined : Math.min(...values))
  const directives = {
    redirectBlob: faults.some((f) => f.action._tag === "RedirectBlob"),
    chunkCap: smallest(faults.flatMap((f) => (f.action._tag === "CapChunkSize" ? [f.action.maxBytes] : []))),
    tokenMaxUses: smallest(faults.flatMap((f) => (f.action._tag === "ExpireTokens" ? [f.action.afterUses] : []))),
    cutRequest: ((afterBytes) => (afterBytes === undefined ? undefined : { afterBytes, abort }))(
      smallest(faults.flatMap((f) => (f.action._tag === "CutRequest" ? [f.action.afterBytes] : [])))
    ),
    refusePartialChunk: faults.some((f) => f.action._tag === "RefusePartialChunk")
  }
  const respond = faults.find((f) => f.action._tag === "Respond")?.action
  // a canned answer leaves the request body unread: a throttling proxy does not read it either
  const base = respond !== undefined && respond._tag === "Respond"
    ? Effect.succeed(
      Http.error(respond.code ?? defaultCode(respond.status), {
        status: respond.status,
        headers: {
          ...(respond.retryAfter === undefined ? {} : {
            "retry-after": typeof respond.retryAfter === "number"
              ? String(respond.retryAfter)
              : respond.retryAfter.toUTCString()
          }),
          ...respond.headers
        }
      })
    )
    : Effect.provideService(handler, Directives, directives)
  return base.pipe(
    Effect.flatMap((response) =>
      Effect.gen(function*() {
        let out = response
        for (const { action } of faults) {
          switch (action._tag) {
            case "AddHeaders":
              out = HttpServerResponse.setHeaders(out, action.headers)
              break
            case "DelayHeaders":
              yield* Effect.sleep(action.millis)
              break
            case "StallBody":
              if (request.method !== "HEAD") {
                out = withBody(out, atOffset(action.afterBytes, Effect.sleep(action.millis)))
              }
              break
            case "CutBody":
              if (request.method !== "HEAD") {
                // a body no longer than the cut is sent whole
                out = withBody(out, atOffset(action.afterBytes, Effect.zipRight(abort, Effect.never)))
              }
              break
          }
        }
        return out
      })
    )
  )
}
