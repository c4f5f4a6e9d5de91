/**
 * HTTP helpers shared by the test registry's handlers: error bodies, request bodies, byte ranges
 * and `n`/`last` pagination.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type Code, codes } from "../../RegistryError.js"
import type { Repositories } from "./repositories.js"

/**
 * An OCI error response: `{"errors":[{code,message,detail}]}` with the code's status unless
 * `status` overrides it.
 *
 * @internal
 */
export const error = (
  code: Code,
  options?: {
    readonly status?: number | undefined
    readonly message?: string | undefined
    readonly detail?: unknown
    readonly headers?: Record<string, string> | undefined
  }
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    {
      errors: [{
        code,
        message: options?.message ?? codes[code].message,
        ...(options?.detail === undefined ? {} : { detail: options.detail })
      }]
    },
    { status: options?.status ?? codes[code].status, headers: options?.headers ?? {} }
  )

/**
 * The plain-text 404 distribution 2.8 sends for a route it does not have.
 *
 * @internal
 */
export const pageNotFound = (): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text("404 page not found\n", { status: 404 })

/**
 * A body-less response with explicit headers (`Content-Length: 0` included, so nothing is chunked).
 *
 * @internal
 */
export const empty = (status: number, headers: Record<string, string> = {}): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.empty({ status, headers: { "content-length": "0", ...headers } })

/**
 * A JSON response with an explicit media type.
 *
 * @internal
 */
export const json = (
  body: unknown,
  options: { readonly status?: number; readonly contentType?: string; readonly headers?: Record<string, string> } = {}
): HttpServerResponse.HttpServerResponse => {
  const bytes = new TextEncoder().encode(JSON.stringify(body))
  return HttpServerResponse.uint8Array(bytes, {
    status: options.status ?? 200,
    contentType: options.contentType ?? "application/json",
    headers: { "content-length": String(bytes.byteLength), ...options.headers }
  })
}

/**
 * A byte stream with a known length (set explicitly: the platform omits a zero length).
 *
 * @internal
 */
export const bytes = (
  body: Stream.Stream<Uint8Array>,
  length: number,
  options: { readonly status?: number; readonly contentType: string; readonly headers?: Record<string, string> }
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(body, {
    status: options.status ?? 200,
    contentType: options.contentType,
    headers: { ...options.headers, "content-length": String(length) }
  })

/**
 * A request body that grew past its limit.
 *
 * @internal
 */
export class TooLarge {
  readonly _tag = "TooLarge"
}

/**
 * Reads a whole request body (as parts, not copied), refusing more than `limit` bytes; a body over
 * the limit is still drained so the client is not cut off mid-send.
 *
 * @internal
 */
export const readBody = (
  request: HttpServerRequest.HttpServerRequest,
  limit = Number.POSITIVE_INFINITY
): Effect.Effect<{ readonly parts: ReadonlyArray<Uint8Array>; readonly size: number }, TooLarge> =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    let size = 0
    return request.stream.pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          size += chunk.byteLength
          if (size <= limit) parts.push(chunk)
        })
      ),
      // a broken request body: treat what arrived as the body, the checks downstream will refuse it
      Effect.catchAll(() => Effect.void),
      Effect.flatMap(() => (size > limit ? Effect.fail(new TooLarge()) : Effect.succeed({ parts, size })))
    )
  })

/**
 * The query string of a request as `URLSearchParams`.
 *
 * @internal
 */
export const query = (request: HttpServerRequest.HttpServerRequest): URLSearchParams => {
  const i = request.url.indexOf("?")
  return new URLSearchParams(i === -1 ? "" : request.url.slice(i + 1))
}

/**
 * The path of a request, without the query.
 *
 * @internal
 */
export const path = (request: HttpServerRequest.HttpServerRequest): string => {
  const i = request.url.indexOf("?")
  return i === -1 ? request.url : request.url.slice(0, i)
}

/**
 * Parses a `Range: bytes=…` header against a size: `[start, end)`, `"unsatisfiable"`, or
 * `undefined` when the header is absent or not a single byte range (served as a full 200 then).
 *
 * @internal
 */
export const parseRange = (
  header: string | undefined,
  size: number
): { readonly start: number; readonly end: number } | "unsatisfiable" | undefined => {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === "" && m[2] === "")) return undefined
  if (m[1] === "") {
    const suffix = Number(m[2])
    if (suffix === 0) return "unsatisfiable"
    return { start: Math.max(size - suffix, 0), end: size }
  }
  const start = Number(m[1])
  const end = m[2] === "" ? size : Math.min(Number(m[2]) + 1, size)
  if (start >= size || end <= start) return "unsatisfiable"
  return { start, end }
}

/**
 * Parses an upload `Content-Range` (`<start>-<end>`, inclusive, as OCI writes it; a `bytes ` or
 * `bytes=` prefix is tolerated).
 *
 * @internal
 */
export const parseContentRange = (header: string): { readonly start: number; readonly end: number } | undefined => {
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim())
  return m === null ? undefined : { start: Number(m[1]), end: Number(m[2]) }
}

/**
 * The largest `n` a list request may ask for (distribution's fix for CVE-2023-2253).
 *
 * @internal
 */
export const maxPageSize = 1000

/**
 * One page of a sorted list after `last`, with the `Link` header to the next page when more remain.
 * `defaultSize` applies when the request has no `n`.
 *
 * @internal
 */
export const paginate = (
  items: ReadonlyArray<string>,
  params: URLSearchParams,
  basePath: string,
  defaultSize: number
): { readonly page: ReadonlyArray<string>; readonly link?: string } | HttpServerResponse.HttpServerResponse => {
  const nParam = params.get("n")
  let n = defaultSize
  if (nParam !== null) {
    if (!/^\d+$/.test(nParam) || Number(nParam) > maxPageSize) {
      return error("PAGINATION_NUMBER_INVALID", { detail: { n: nParam, max: maxPageSize } })
    }
    n = Number(nParam)
  }
  const last = params.get("last")
  const after = last === null ? items : items.filter((item) => item > last)
  const page = after.slice(0, n)
  const lastOfPage = page[page.length - 1]
  if (after.length <= n || lastOfPage === undefined) return { page }
  const next = new URLSearchParams({ last: lastOfPage, n: String(n) })
  return { page, link: `<${basePath}?${next.toString()}>; rel="next"` }
}

/**
 * What every handler of one registry shares.
 *
 * @internal
 */
export interface Env {
  readonly repositories: Repositories
  readonly referrers: boolean
  readonly chunkMinLength: number | undefined
  readonly maxManifestBytes: number
  /** The origin blob GETs are redirected to. */
  readonly redirectUrl: string
  /** `http://<host>` as the client addressed the registry, for absolute `Location`s and realms. */
  readonly baseUrl: (request: HttpServerRequest.HttpServerRequest) => string
}

/**
 * Drains a request body that will not be used, so the client can finish sending and read the answer.
 *
 * @internal
 */
export const drain = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<void> =>
  Effect.ignore(readBody(request, 0))
