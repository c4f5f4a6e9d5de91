/**
 * What every Repository operation shares: URLs, sending through Auth, turning a refusal into its
 * typed error, and following `Link` pagination.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../../Transport.js"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { Auth, AuthFailure, Scope } from "../../Auth.js"
import type { BlobCache } from "../../BlobCache.js"
import {
  BlobUnknown,
  codes,
  InvalidResponse,
  ManifestUnknown,
  NameUnknown,
  safeUrl,
  serverText,
  withServerText,
  type UnexpectedStatus,
  type WireError
} from "../../RegistryError.js"
import type { Transport, TransportFailure } from "../../Transport.js"
import { readFailure } from "../body.js"

/** Any failure of sending a request. @internal */
export type RequestFailure = TransportFailure | AuthFailure

/** The services and settings an operation needs. @internal */
export interface Context {
  readonly auth: Auth["Type"]
  readonly transport: Transport["Type"]
  readonly cache: BlobCache["Type"]
  readonly resume: Schedule.Schedule<unknown, unknown>
  /** No blob read resumes once this much time has passed since it began (no limit when absent). */
  readonly resumeTimeLimit?: Duration.Duration | undefined
  /** Per registry: whether the referrers API exists (learned on first use). */
  readonly referrersApi: Map<string, boolean>
}

/** A repository on a registry. @internal */
export interface Target {
  readonly registry: string
  readonly repository: string
}

/** `/v2/<name>/<rest>` on the registry's base URL. @internal */
export const repoUrl = (ctx: Context, target: Target, rest: string): string =>
  `${ctx.transport.baseUrl(target.registry)}/v2/${target.repository}/${rest}`

/** Sends a request through Auth. @internal */
export const send = (
  ctx: Context,
  registry: string,
  request: HttpClientRequest.HttpClientRequest,
  scopes: ReadonlyArray<Scope>
): Effect.Effect<TransportResponse, RequestFailure> => ctx.auth.execute(registry, request, scopes)

/**
 * The typed error of a refused request: the error body's code when there is one; otherwise
 * `onNotFound` for a 404 (HEAD responses have no body), or what the status implies.
 *
 * @internal
 */
export const refusal = (
  response: TransportResponse,
  onNotFound?: () => WireError
): Effect.Effect<never, WireError | UnexpectedStatus> =>
  // a HEAD's 404 has no body to read: it is the not-found error itself (what a copy meets per blob
  // it sends), without first decoding an error that is then replaced
  response.status === 404 && onNotFound !== undefined && response.request.method === "HEAD"
    ? Effect.fail(onNotFound())
    : Effect.flatMap(readFailure(response), (decoded) =>
      Effect.fail(
        // A 404 without an error body still means "not found" here; what it said is kept.
        response.status === 404 && onNotFound !== undefined && decoded._tag === "UnexpectedStatus"
          ? withServerText(onNotFound(), serverText(decoded.body))
          : decoded
      ))

/** The error of a 404 that came without an error body: the registry's usual message. @internal */
export const manifestUnknown = (): ManifestUnknown =>
  new ManifestUnknown({ status: 404, message: codes.MANIFEST_UNKNOWN.message, errors: [] })
/** @internal */
export const blobUnknown = (): BlobUnknown =>
  new BlobUnknown({ status: 404, message: codes.BLOB_UNKNOWN.message, errors: [] })
/** @internal */
export const nameUnknown = (): NameUnknown =>
  new NameUnknown({ status: 404, message: codes.NAME_UNKNOWN.message, errors: [] })

/** Whether a status is a success (2xx). @internal */
export const isSuccess = (status: number): boolean => status >= 200 && status < 300

/**
 * Finds the `rel="next"` target of a `Link` header and resolves it against the request URL.
 * Returns `undefined` when there is no next page.
 *
 * @internal
 */
export const nextLink = (link: string | undefined, base: string): string | undefined => {
  if (link === undefined) return undefined
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part)
    if (match === null) continue
    const params = match[2] ?? ""
    // A Link without rel is treated as next, as the Go client does; otherwise rel must name "next".
    const rel = /;\s*rel\s*=\s*"?([^";]*)"?/i.exec(params)
    if (rel !== null && !rel[1]!.toLowerCase().split(/\s+/).includes("next")) continue
    try {
      return new URL(match[1]!, base).toString()
    } catch {
      return undefined
    }
  }
  return undefined
}

/** One page of a paginated listing. @internal */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** The URL of the next page, when the registry announced one. */
  readonly next: string | undefined
}

/**
 * Follows pages from `first` until a page has no next link. A next link already visited ends the
 * walk (a registry that ignores `last` would otherwise loop forever).
 *
 * @internal
 */
export const paginate = <A, E>(
  first: string,
  fetchPage: (url: string) => Effect.Effect<Page<A>, E>
): Stream.Stream<A, E> =>
  Stream.suspend(() => {
    const seen = new Set<string>()
    return Stream.paginateChunkEffect(first, (url) => {
      seen.add(url)
      return Effect.map(fetchPage(url), (page) => {
        const next = page.next !== undefined && !seen.has(page.next) ? Option.some(page.next) : Option.none()
        return [Chunk.unsafeFromArray([...page.items]), next] as const
      })
    })
  })

/** Appends `n` / `last` to a listing URL. @internal */
export const withPaging = (url: string, options: { readonly n?: number | undefined; readonly last?: string | undefined }) => {
  const u = new URL(url)
  if (options.n !== undefined) u.searchParams.set("n", String(options.n))
  if (options.last !== undefined) u.searchParams.set("last", options.last)
  return u.toString()
}

/** Fails with InvalidResponse. @internal */
export const invalid = (reason: string, url?: string) =>
  Effect.fail(new InvalidResponse({ reason, ...(url === undefined ? {} : { url: safeUrl(url) }) }))

/** A GET request. @internal */
export const get = (url: string, headers: Record<string, string> = {}) =>
  HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders(headers))
