/**
 * What a registry's answer says about when to send it the next request: `Retry-After` on a 429 or
 * 503, and the rate-limit headers some registries send on every answer (`RateLimit-*` of the IETF
 * draft, its one-field form `RateLimit: limit=…, remaining=…, reset=…`, and the older
 * `X-RateLimit-*`) once nothing remains of the window.
 *
 * @internal
 */
import { parseRetryAfter } from "./transport.js"

/** Response headers, names in lower case (an `@effect/platform` `Headers` is one). */
export type ResponseHeaders = Readonly<Record<string, string | undefined>>

/** The first number of a header value (`"0;w=60"` → 0); `undefined` when there is none. */
const leadingNumber = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const match = /^\s*(\d+(?:\.\d+)?)/.exec(value)
  return match === null ? undefined : Number(match[1])
}

/** `remaining` and `reset` of the one-field `RateLimit: limit=10, remaining=0, reset=30` (or `r=` / `t=`). */
const structured = (value: string | undefined): { remaining?: number; reset?: number } => {
  if (value === undefined) return {}
  const out: { remaining?: number; reset?: number } = {}
  for (const part of value.split(/[,;]/)) {
    const [key, raw] = part.split("=").map((s) => s.trim().toLowerCase())
    const n = leadingNumber(raw)
    if (n === undefined) continue
    if (key === "remaining" || key === "r") out.remaining = n
    if (key === "reset" || key === "t") out.reset = n
  }
  return out
}

/**
 * Milliseconds until the window resets, when the answer says none of it remains: `RateLimit-Reset`
 * counts seconds from now; `X-RateLimit-Reset` is seconds from now or, when it is that large, a Unix
 * time in seconds.
 */
const exhaustedFor = (headers: ResponseHeaders, now: number): number | undefined => {
  const one = structured(headers["ratelimit"])
  const remaining = leadingNumber(headers["ratelimit-remaining"]) ?? one.remaining ??
    leadingNumber(headers["x-ratelimit-remaining"])
  if (remaining === undefined || remaining > 0) return undefined
  const reset = leadingNumber(headers["ratelimit-reset"]) ?? one.reset
  if (reset !== undefined) return reset * 1000
  const xReset = leadingNumber(headers["x-ratelimit-reset"])
  if (xReset === undefined) return undefined
  return xReset > 1e9 ? Math.max(0, xReset * 1000 - now) : xReset * 1000
}

/** A 429 that names no wait holds its host this long (as the Transport does within one process). */
export const defaultTooManyRequestsWait = 1000

/**
 * How long (milliseconds from `now`) an answer asks every client of its host to wait before the
 * next request, or `undefined` when it asks nothing: the longer of `Retry-After` (on 429 and 503)
 * and an exhausted rate-limit window; a bare 429 asks {@link defaultTooManyRequestsWait}.
 */
export const waitOf = (status: number, headers: ResponseHeaders, now: number): number | undefined => {
  const retryAfter = status === 429 || status === 503 ? parseRetryAfter(headers["retry-after"], now) : undefined
  const exhausted = exhaustedFor(headers, now)
  const asked = retryAfter === undefined ? exhausted : exhausted === undefined ? retryAfter : Math.max(retryAfter, exhausted)
  if (asked !== undefined) return asked
  return status === 429 ? defaultTooManyRequestsWait : undefined
}
