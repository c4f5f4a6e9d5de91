/**
 * The whole client stack in one Layer, on any `HttpClient`: Transport → Auth (with Credentials) →
 * Repository, with a BlobCache. Nothing here depends on Node, so it runs wherever Effect and
 * `@effect/platform`'s `FetchHttpClient` do — Node, Bun, Deno, and workers that offer `node:crypto`
 * (digests are computed with it). `effect-oci/node` is this stack on Node's own HTTP client with Node's
 * credential files.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reference, Repository, Stack } from "effect-oci"
 *
 * const program = Effect.gen(function*() {
 *   const repo = yield* Repository.Repository
 *   return yield* repo.resolve(yield* Reference.parse("ghcr.io/org/app:1.2"))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Stack.layerFetch())))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Auth from "./Auth.js"
import * as BlobCache from "./BlobCache.js"
import * as Credentials from "./Credentials.js"
import * as ContentEncoding from "./internal/contentEncoding.js"
import * as Repository from "./Repository.js"
import * as Transport from "./Transport.js"

/**
 * The services the stack provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | Repository.Repository
  | Auth.Auth
  | Transport.Transport
  | BlobCache.BlobCache
  | Credentials.Credentials

/**
 * Options of the stack; every part has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Transport options (retries, timeouts, insecure hosts). Without them they come from `Transport.config`. */
  readonly transport?: Transport.Options | undefined
  /** Where credentials come from (default: none — every registry is anonymous). */
  readonly credentials?: Layer.Layer<Credentials.Credentials> | undefined
  /** The blob descriptor cache (default: in memory, 10 000 entries). */
  readonly cache?: Layer.Layer<BlobCache.BlobCache> | undefined
  /** Repository options. */
  readonly repository?: Repository.Options | undefined
  /** Auth options. */
  readonly auth?: Partial<Auth.AuthOptions> | undefined
}

/**
 * The stack on the given `HttpClient` Layer. The client must hand back redirects (3xx) instead of
 * following them: the Transport follows them itself, so that credentials never reach another host.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 * import { Credentials, Stack } from "effect-oci"
 *
 * const httpClient = FetchHttpClient.layer.pipe(
 *   Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { redirect: "manual" }))
 * )
 * const stack = Stack.layer(httpClient, { credentials: Credentials.layerConfig() })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  httpClient: Layer.Layer<HttpClient.HttpClient, E, R>,
  options: Options = {}
): Layer.Layer<Services, ConfigError.ConfigError | E, R> => {
  const transport = (options.transport === undefined ? Transport.layerConfig : Transport.layer(options.transport)).pipe(
    Layer.provide(httpClient)
  )
  const credentials = options.credentials ?? Credentials.layerAnonymous
  const cache = options.cache ?? BlobCache.layerMemory()
  const auth = Auth.layer(options.auth ?? {}).pipe(Layer.provideMerge(Layer.merge(transport, credentials)))
  return Repository.layer(options.repository).pipe(Layer.provideMerge(Layer.merge(auth, cache)))
}

/**
 * `fetch` as an `HttpClient` for registries: `FetchHttpClient` with `redirect: "manual"`, so the
 * Transport sees and follows redirects itself (Node, Bun and Deno hand them back with their
 * `Location`). Browsers hide a manual redirect's target; pass `{ redirect: "follow" }` there — a
 * browser drops `Authorization` on a cross-origin redirect by itself.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFetchHttpClient = (
  init: { readonly redirect?: "manual" | "follow" | undefined } = {}
): Layer.Layer<HttpClient.HttpClient> =>
  // loaded when this Layer is built: programs on another client (node.layer's) never load it
  Layer.unwrapEffect(Effect.map(Effect.promise(() => import("@effect/platform/FetchHttpClient")), (FetchHttpClient) =>
    Layer.effect(
      HttpClient.HttpClient,
      // fetch decodes gzip / deflate / br bodies itself: their headers go, so they are not decoded twice.
      Effect.map(HttpClient.HttpClient, HttpClient.transformResponse(Effect.map(ContentEncoding.fetchDecoded)))
    ).pipe(
      Layer.provide(FetchHttpClient.layer),
      Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { redirect: init.redirect ?? "manual" }))
    )))

/**
 * The stack on the platform's `fetch` ({@link layerFetchHttpClient}): the whole client on any
 * runtime, in one Layer.
 *
 * @example
 * ```ts
 * Effect.runPromise(program.pipe(Effect.provide(Stack.layerFetch({ transport: { insecure: ["registry.lan:5000"] } }))))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFetch = (
  options: Options & { readonly redirect?: "manual" | "follow" | undefined } = {}
): Layer.Layer<Services, ConfigError.ConfigError> =>
  layer(layerFetchHttpClient({ redirect: options.redirect }), options)
