/**
 * The request log: one entry per request, written when it arrives and completed with the status.
 * Credentials never enter it.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type { RequestLogEntry } from "../index.js"
import * as Http from "./http.js"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const secretHeaders = new Set(["authorization", "proxy-authorization", "cookie"])

/**
 * The log of one registry (both origins).
 *
 * @internal
 */
export interface Log {
  /** Records a request; set `status` on the returned entry once answered. */
  readonly start: (
    request: HttpServerRequest.HttpServerRequest,
    origin: RequestLogEntry["origin"],
    faults: ReadonlyArray<string>
  ) => Mutable<RequestLogEntry>
  /** Copies of the entries, oldest first. */
  readonly snapshot: () => ReadonlyArray<RequestLogEntry>
  readonly clear: () => void
}

const schemeOf = (header: string | undefined): RequestLogEntry["authorization"] => {
  if (header === undefined) return "none"
  const scheme = header.split(" ", 1)[0]!.toLowerCase()
  return scheme === "basic" || scheme === "bearer" ? scheme : "other"
}

/** @internal */
export const make = (): Log => {
  let entries: Array<Mutable<RequestLogEntry>> = []
  return {
    start: (request, origin, faults) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(request.headers)) {
        if (!secretHeaders.has(name)) headers[name] = value
      }
      const query: Record<string, string> = {}
      for (const [key, value] of Http.query(request)) {
        query[key] = query[key] === undefined ? value : `${query[key]} ${value}`
      }
      const entry: Mutable<RequestLogEntry> = {
        origin,
        method: request.method,
        path: Http.path(request),
        query,
        headers,
        authorization: schemeOf(request.headers["authorization"]),
        status: undefined,
        faults,
        at: Date.now()
      }
      entries.push(entry)
      return entry
    },
    snapshot: () => entries.map((entry) => ({ ...entry })),
    clear: () => {
      entries = []
    }
  }
}
