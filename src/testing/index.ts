/**
 * An embedded OCI Distribution registry for tests (`effect-oci/testing`).
 *
 * It speaks the OCI Distribution 1.1 API over a real HTTP server on `127.0.0.1`: pull and push
 * (monolithic, chunked, streamed), cross-repository mount, tags and catalog with `n`/`last` and
 * `Link`, deletes, the referrers API (switchable off), `OCI-Chunk-Min-Length`, digest checks with
 * the right error codes. It can require basic auth or bearer tokens from its own token endpoint,
 * and it injects faults described as data (throttling, broken or stalled bodies, redirects to a
 * second origin, expiring tokens, …). Every request is logged for assertions.
 *
 * Differences from distribution 2.8 worth knowing: manifests are served with their stored media
 * type whatever `Accept` says (no schema 1 conversion), single-request monolithic uploads work,
 * `Content-Range` on `PATCH` is checked (416), tag lists honour `n`/`last`, and `DELETE` by tag
 * untags. `Location` headers are absolute, built from the request's `Host`.
 *
 * @example
 * import * as TestRegistry from "effect-oci/testing"
 *
 * const program = Effect.gen(function*() {
 *   const registry = yield* TestRegistry.TestRegistry
 *   yield* registry.setFaults([{ method: "GET", path: "/blobs/", first: 1, action: TestRegistry.FaultAction.tooManyRequests(1) }])
 *   // … use registry.url with the client …
 *   const log = yield* registry.requests
 * }).pipe(Effect.provide(TestRegistry.layer({ auth: { mode: "token", users: { alice: "secret" } } })))
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Digest } from "../Digest.js"
import type { Code } from "../RegistryError.js"
import * as server from "./internal/server.js"

/**
 * A scripted, recording fake `HttpClient` for unit tests of code that talks to registries: answer
 * each request from a function, then assert on what was sent. See {@link FakeHttp.make}.
 *
 * @since 0.1.0
 */
export * as FakeHttp from "./FakeHttp.js"

/**
 * One access entry: `{ type: "repository", name: "library/alpine", actions: ["pull"] }` or
 * `{ type: "registry", name: "catalog", actions: ["*"] }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Access {
  readonly type: string
  readonly name: string
  readonly actions: ReadonlyArray<string>
}

/**
 * Decides which of the requested actions a user gets (`user` is `undefined` for anonymous
 * requests). The default grants everything to any authenticated user and nothing to anonymous ones.
 *
 * @example
 * // alice may push to alice/*, everybody may pull
 * const access: AccessPolicy = ({ user, access }) =>
 *   access.actions.filter((a) => a === "pull" || (user === "alice" && access.name.startsWith("alice/")))
 *
 * @since 0.1.0
 * @category models
 */
export type AccessPolicy = (request: { readonly user: string | undefined; readonly access: Access }) => ReadonlyArray<
  string
>

/**
 * How clients must authenticate.
 *
 * - `none`: no authentication.
 * - `basic`: `Authorization: Basic` with one of `users` (name → password); challenge
 *   `Basic realm="…"`; a policy refusal is a 403 `DENIED`.
 * - `token`: bearer tokens from the registry's own endpoint `/token` (`GET` with optional basic
 *   auth, and the OAuth2 `POST` form with `grant_type=password` or `refresh_token`). Tokens are
 *   opaque, live `tokenLifetime` (default 5 minutes) and carry the access the policy granted;
 *   challenges follow distribution (`Bearer realm,service,scope` plus `error="insufficient_scope"`
 *   or `error="invalid_token"`).
 *
 * @since 0.1.0
 * @category models
 */
export type AuthOptions =
  | { readonly mode: "none" }
  | {
    readonly mode: "basic"
    readonly users: Readonly<Record<string, string>>
    readonly realm?: string | undefined
    readonly access?: AccessPolicy | undefined
  }
  | {
    readonly mode: "token"
    readonly users: Readonly<Record<string, string>>
    /** The `service` named in challenges (default `"effect-oci-test-registry"`). */
    readonly service?: string | undefined
    readonly tokenLifetime?: Duration.DurationInput | undefined
    readonly access?: AccessPolicy | undefined
  }

/**
 * What a fault does to a request it matches. Build them with the {@link FaultAction} constructors.
 *
 * - `Respond`: answer at once with `status` (an OCI error body; `code` defaults from the status),
 *   optionally with `Retry-After` (seconds, or an HTTP-date from a `Date`).
 * - `DelayHeaders`: handle the request normally, then wait `millis` before sending the headers.
 * - `CutBody`: send the first `afterBytes` bytes of the body, then close the connection.
 * - `StallBody`: send `afterBytes` bytes, pause `millis`, then send the rest.
 * - `RedirectBlob`: answer blob `GET`s with a 307 to the second origin ({@link TestRegistryService.redirectUrl}).
 * - `ExpireTokens`: bearer tokens that were already accepted `afterUses` times are refused as expired.
 * - `CapChunkSize`: upload `PATCH` bodies larger than `maxBytes` are refused with 416.
 * - `AddHeaders`: add headers to the response (`Warning`, `RateLimit-*`, …).
 * - `CutRequest`: read the first `afterBytes` bytes of an upload `PATCH` or `PUT` body (the session
 *   keeps them, as a registry writing to storage does), then close the connection unanswered.
 * - `RefusePartialChunk`: distribution 2.8's refusal to continue a session that holds a partial
 *   chunk (bytes beyond the offset it last reported, e.g. after a `CutRequest`): every `GET`,
 *   `PATCH` and `PUT` of such a session is a 404 `BLOB_UPLOAD_INVALID` ("upload resumed at wrong
 *   offset"). Unlike distribution, whose `_state` check refuses the `DELETE` too, a `DELETE` still
 *   cancels it, so tests can count the sessions a client left behind.
 *
 * @since 0.1.0
 * @category faults
 */
export type FaultAction =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly retryAfter?: number | Date | undefined
    readonly code?: Code | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
  }
  | { readonly _tag: "DelayHeaders"; readonly millis: number }
  | { readonly _tag: "CutBody"; readonly afterBytes: number }
  | { readonly _tag: "StallBody"; readonly afterBytes: number; readonly millis: number }
  | { readonly _tag: "RedirectBlob" }
  | { readonly _tag: "ExpireTokens"; readonly afterUses: number }
  | { readonly _tag: "CapChunkSize"; readonly maxBytes: number }
  | { readonly _tag: "AddHeaders"; readonly headers: Readonly<Record<string, string>> }
  | { readonly _tag: "CutRequest"; readonly afterBytes: number }
  | { readonly _tag: "RefusePartialChunk" }

/**
 * Constructors for {@link FaultAction}s.
 *
 * @since 0.1.0
 * @category faults
 */
export const FaultAction = {
  /** Answer with any status (and optionally `Retry-After`, an error code, extra headers). */
  respond: (
    status: number,
    options: { readonly retryAfter?: number | Date; readonly code?: Code; readonly headers?: Record<string, string> } =
      {}
  ): FaultAction => ({ _tag: "Respond", status, ...options }),
  /** 429 `TOOMANYREQUESTS`, with `Retry-After` when given (seconds or a date). */
  tooManyRequests: (retryAfter?: number | Date): FaultAction => ({ _tag: "Respond", status: 429, retryAfter }),
  /** 503 `UNAVAILABLE`, with `Retry-After` when given (seconds or a date). */
  unavailable: (retryAfter?: number | Date): FaultAction => ({ _tag: "Respond", status: 503, retryAfter }),
  /** A 5xx (default 500) with an `UNKNOWN` error body. */
  serverError: (status = 500): FaultAction => ({ _tag: "Respond", status }),
  /** Wait before sending the response headers. */
  delayHeaders: (millis: number): FaultAction => ({ _tag: "DelayHeaders", millis }),
  /** Close the connection after `afterBytes` bytes of the body. */
  cutBody: (afterBytes: number): FaultAction => ({ _tag: "CutBody", afterBytes }),
  /** Pause for `millis` after `afterBytes` bytes of the body. */
  stallBody: (afterBytes: number, millis: number): FaultAction => ({ _tag: "StallBody", afterBytes, millis }),
  /** Redirect blob GETs to the second origin. */
  redirectBlob: (): FaultAction => ({ _tag: "RedirectBlob" }),
  /** Refuse bearer tokens after `afterUses` accepted requests. */
  expireTokens: (afterUses: number): FaultAction => ({ _tag: "ExpireTokens", afterUses }),
  /** Refuse upload chunks larger than `maxBytes` with 416. */
  capChunkSize: (maxBytes: number): FaultAction => ({ _tag: "CapChunkSize", maxBytes }),
  /** Keep the first `afterBytes` bytes of an upload PATCH or PUT body, then close the connection. */
  cutRequest: (afterBytes: number): FaultAction => ({ _tag: "CutRequest", afterBytes }),
  /** Refuse (404 `BLOB_UPLOAD_INVALID`) every request but DELETE of a session holding a partial chunk, as distribution 2.8. */
  refusePartialChunk: (): FaultAction => ({ _tag: "RefusePartialChunk" }),
  /** Add response headers. */
  addHeaders: (headers: Readonly<Record<string, string>>): FaultAction => ({ _tag: "AddHeaders", headers }),
  /** Add a `Warning: 299 - "<text>"` header (the form registries use for deprecations). */
  warning: (text: string): FaultAction => ({
    _tag: "AddHeaders",
    headers: { warning: `299 - "${text.replace(/["\\]/g, "\\$&")}"` }
  }),
  /** Add `RateLimit-Limit` / `RateLimit-Remaining` (with `;w=<window>` when given) and `RateLimit-Reset`. */
  rateLimit: (options: {
    readonly limit: number
    readonly remaining: number
    readonly windowSeconds?: number
    readonly resetSeconds?: number
  }): FaultAction => {
    const w = options.windowSeconds === undefined ? "" : `;w=${options.windowSeconds}`
    return {
      _tag: "AddHeaders",
      headers: {
        "ratelimit-limit": `${options.limit}${w}`,
        "ratelimit-remaining": `${options.remaining}${w}`,
        ...(options.resetSeconds === undefined ? {} : { "ratelimit-reset": String(options.resetSeconds) })
      }
    }
  }
} as const

/**
 * A fault scenario: which requests it matches and what it does to them. Every field of the match
 * is optional (an empty match is every request). All matching scenarios apply, in order; a
 * `Respond` answers instead of the registry, and the other actions (headers, delays, body faults)
 * apply to that answer too, e.g. a 429 with `RateLimit-*` headers.
 *
 * @example
 * // the 2nd and 3rd manifest GETs fail with 503, the first blob GET is cut after 10 bytes
 * const faults: ReadonlyArray<Fault> = [
 *   { method: "GET", path: "/manifests/", nth: [2, 3], action: FaultAction.unavailable(1) },
 *   { method: "GET", path: /\/blobs\/sha256:/, first: 1, action: FaultAction.cutBody(10) }
 * ]
 *
 * @since 0.1.0
 * @category faults
 */
export interface Fault {
  /** Shown in the request log's `faults` (default: the action's tag). */
  readonly name?: string | undefined
  /** Which server it applies to: the registry or the redirect origin (default: both). */
  readonly origin?: "registry" | "redirect" | undefined
  /** The methods it applies to (default: all). */
  readonly method?: string | ReadonlyArray<string> | undefined
  /** A regular expression (or its source) tested against the path and query. */
  readonly path?: string | RegExp | undefined
  /** Only the n-th matching requests (1-based). */
  readonly nth?: number | ReadonlyArray<number> | undefined
  /** Only the first K matching requests. */
  readonly first?: number | undefined
  readonly action: FaultAction
}

/**
 * One logged request. Credentials are never logged: `authorization` only says which scheme was
 * used, and the `authorization`, `proxy-authorization` and `cookie` headers are left out.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestLogEntry {
  /** `"registry"`, or `"redirect"` for the second origin that serves redirected blobs. */
  readonly origin: "registry" | "redirect"
  readonly method: string
  readonly path: string
  /** Query parameters; a repeated parameter's values are joined with a space. */
  readonly query: Readonly<Record<string, string>>
  /** Request headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly authorization: "none" | "basic" | "bearer" | "other"
  /** The response status (`undefined` while the request is in flight). */
  readonly status: number | undefined
  /** The names of the faults applied to it. */
  readonly faults: ReadonlyArray<string>
  /** When it arrived (epoch milliseconds). */
  readonly at: number
}

/**
 * Options of {@link layer} / {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Interface to listen on (default `127.0.0.1`). */
  readonly host?: string | undefined
  /** Port (default 0: a random free port). */
  readonly port?: number | undefined
  /**
   * Port of the second origin that redirected blob GETs go to (default 0: a random free port).
   * Pin it when something outside the test must know it in advance, e.g. a proxy or firewall rule.
   */
  readonly redirectPort?: number | undefined
  readonly auth?: AuthOptions | undefined
  /** Serve the referrers API and send `OCI-Subject` (default true); off, it is a plain 404 like distribution 2.8. */
  readonly referrers?: boolean | undefined
  /** Advertised as `OCI-Chunk-Min-Length` when an upload starts. */
  readonly chunkMinLength?: number | undefined
  /** Keep blobs and repositories in this directory instead of memory. */
  readonly storageDirectory?: string | undefined
  /** Faults active from the start. */
  readonly faults?: ReadonlyArray<Fault> | undefined
  /** The largest manifest accepted (default 4 MiB). */
  readonly maxManifestBytes?: number | undefined
}

/**
 * The running registry.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestRegistryService {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** `127.0.0.1:PORT`, the registry part of references. */
  readonly host: string
  /** The second origin that redirected blob GETs go to (`http://127.0.0.1:PORT2`). */
  readonly redirectUrl: string
  /** A snapshot of the request log, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
  readonly clearRequests: Effect.Effect<void>
  /** Replaces the active faults (and restarts their occurrence counts). */
  readonly setFaults: (faults: ReadonlyArray<Fault>) => Effect.Effect<void>
  /** Stores a blob in a repository directly. */
  readonly putBlob: (
    repository: string,
    content: Uint8Array | string
  ) => Effect.Effect<{ readonly digest: Digest; readonly size: number }>
  /**
   * Stores a manifest directly (no check that its blobs exist). The media type comes from
   * `options.mediaType`, else from the manifest's `mediaType` field.
   */
  readonly putManifest: (
    repository: string,
    content: Uint8Array | string | object,
    options?: { readonly tag?: string | undefined; readonly mediaType?: string | undefined }
  ) => Effect.Effect<{ readonly digest: Digest; readonly size: number; readonly mediaType: string }>
  /** Whether a repository links a blob. */
  readonly hasBlob: (repository: string, digest: string) => Effect.Effect<boolean>
  /** Whether a repository has a manifest (by tag or digest). */
  readonly hasManifest: (repository: string, reference: string) => Effect.Effect<boolean>
  /** The upload sessions open now (neither committed nor cancelled), with the bytes each holds. */
  readonly uploadSessions: Effect.Effect<
    ReadonlyArray<{ readonly id: string; readonly repository: string; readonly size: number }>
  >
}

/**
 * The running registry, as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestRegistry extends Context.Tag("effect-oci/testing/TestRegistry")<TestRegistry, TestRegistryService>() {}

/**
 * Why the registry could not start (the port is taken, the interface does not exist, …).
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError = server.StartError

/**
 * Starts a registry (and its redirect origin) on Node; both stop when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<TestRegistryService, StartError, Scope.Scope> = server.make

/**
 * The registry as a scoped layer on a random port of 127.0.0.1.
 *
 * @example
 * it.layer(TestRegistry.layer({ referrers: false }), { excludeTestServices: true })("…", (it) => …)
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TestRegistry, StartError> =>
  Layer.scoped(TestRegistry, make(options))
