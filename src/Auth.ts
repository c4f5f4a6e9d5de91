/**
 * The Auth service: sends a registry request with the `Authorization` it needs.
 *
 * - Challenges (`WWW-Authenticate`, several per header) are learned from 401s and remembered per
 *   endpoint, so later requests are authorised up front, without a wasted 401 round trip.
 * - `Basic` sends the registry's credentials; `Bearer` gets a token from the challenge's realm —
 *   `GET realm?service=&scope=…` or the OAuth2 `POST` form (refresh token / password grant, falling
 *   back to GET when refused) — and caches it per realm, service and scopes until shortly before
 *   it expires. Concurrent requests needing the same token share one fetch.
 * - A 401 on a token we sent (`invalid_token`, `insufficient_scope`, expiry) drops it and
 *   re-authorises once; a second refusal fails with `Unauthorized`, a 403 with `Denied`.
 * - Realms that are not http(s), or plain http carrying credentials to a host that is neither
 *   loopback nor marked insecure, are refused ({@link InsecureRealm}). Secrets stay `Redacted`.
 *
 * @since 0.1.0
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "./Transport.js"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as EffectScope from "effect/Scope"
import type { Credentials, CredentialsError } from "./Credentials.js"
import type { BodyTooLarge, Denied, Unauthorized } from "./RegistryError.js"
import type { Transport, TransportFailure } from "./Transport.js"
import * as internal from "./internal/auth.js"
import type { InsecureRealm, TokenError } from "./internal/authError.js"
import * as Scopes from "./internal/authScope.js"

export {
  /**
   * A token realm we will not talk to: not http(s), or plain http while credentials would go to a
   * host that is neither loopback nor marked insecure.
   *
   * @since 0.1.0
   * @category errors
   */
  InsecureRealm,
  /**
   * The token endpoint gave no usable token: it refused (`status`), its body was not a token
   * response (not JSON, no token), or the challenge had no realm.
   *
   * @since 0.1.0
   * @category errors
   */
  TokenError
} from "./internal/authError.js"

/**
 * Everything authentication can fail with, besides the transport's own failures.
 *
 * @since 0.1.0
 * @category errors
 */
export type AuthFailure =
  | Unauthorized
  | Denied
  | TokenError
  | InsecureRealm
  | BodyTooLarge
  | CredentialsError

// ---------------------------------------------------------------------------------------------
// scopes
// ---------------------------------------------------------------------------------------------

/**
 * Access asked of a token server: `type:name:actions` (`repository:library/alpine:pull`,
 * `registry:catalog:*`). Actions are kept deduplicated and sorted, so scopes compare by value.
 * Build them with {@link pullScope}, {@link pushScope}, {@link repositoryScope},
 * {@link catalogScope}.
 *
 * @since 0.1.0
 * @category scopes
 */
export interface Scope {
  /** `repository`, `registry`, or a typed resource such as `repository(plugin)`. */
  readonly type: string
  /** The repository name (`library/alpine`) or registry resource (`catalog`). */
  readonly name: string
  /** Sorted, distinct actions (`pull`, `push`, `delete`, `*`). */
  readonly actions: ReadonlyArray<string>
}

/**
 * A repository scope with the given actions.
 *
 * @example
 * formatScope(repositoryScope("team/app", "push", "pull")) // "repository:team/app:pull,push"
 *
 * @since 0.1.0
 * @category scopes
 */
export const repositoryScope: (name: string, ...actions: ReadonlyArray<string>) => Scope = Scopes.repository

/**
 * `repository:NAME:pull` — reading manifests and blobs.
 *
 * @since 0.1.0
 * @category scopes
 */
export const pullScope: (name: string) => Scope = Scopes.pull

/**
 * `repository:NAME:pull,push` — writing (a push also reads: HEAD before upload).
 *
 * @since 0.1.0
 * @category scopes
 */
export const pushScope: (name: string) => Scope = Scopes.push

/**
 * `registry:catalog:*` — listing repositories.
 *
 * @since 0.1.0
 * @category scopes
 */
export const catalogScope: Scope = Scopes.catalog

/**
 * The wire form of a scope, as sent in a token request's `scope` parameter.
 *
 * @since 0.1.0
 * @category scopes
 */
export const formatScope: (scope: Scope) => string = Scopes.format

/**
 * Parses a scope string (`repository:a/b:push,pull`); undefined when it is not one.
 *
 * @since 0.1.0
 * @category scopes
 */
export const parseScope: (input: string) => Scope | undefined = Scopes.parse

/**
 * Merges scopes per resource: `pull` + `pull,push` on the same repository → one `pull,push` scope.
 * The result is sorted, so equal access gives an equal list.
 *
 * @since 0.1.0
 * @category scopes
 */
export const mergeScopes: (...lists: ReadonlyArray<ReadonlyArray<Scope>>) => ReadonlyArray<Scope> = Scopes.merge

// ---------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------

/**
 * Options of the token flows.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthOptions {
  /** `client_id` sent with OAuth2 requests and offline-token GETs. Default `"effect-oci"`. */
  readonly clientId: string
  /** Ask GET token endpoints for a refresh token (`offline_token=true`). Default false. */
  readonly offlineToken: boolean
  /** Use the OAuth2 password grant with Basic credentials instead of GET. Default false. */
  readonly forceOAuth: boolean
}

/**
 * The defaults: client id `effect-oci`, no offline token, GET unless a refresh token is held.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultOptions: AuthOptions = { clientId: "effect-oci", offlineToken: false, forceOAuth: false }

/**
 * The Auth service.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
 * import { Auth, pullScope } from "effect-oci/Auth"
 *
 * const program = Effect.flatMap(Auth, (auth) =>
 *   auth.execute(
 *     "ghcr.io",
 *     HttpClientRequest.head("https://ghcr.io/v2/org/app/manifests/latest"),
 *     [pullScope("org/app")]
 *   ))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Auth extends Context.Tag("effect-oci/Auth")<Auth, {
  /**
   * Sends `request` (an absolute URL on `registry`'s base URL) authorised for `scopes`. On a 401 it
   * reads the challenge, authorises and resends once; a second 401 fails with `Unauthorized`, a
   * 403 with `Denied`. Other statuses are returned as they are. A request with a body is only sent
   * once the endpoint's challenge is known (learned with `GET /v2/` if need be), but a resend may
   * still happen after a refused token, so a streamed body must be re-runnable.
   */
  readonly execute: (
    registry: string,
    request: HttpClientRequest.HttpClientRequest,
    scopes: ReadonlyArray<Scope>
  ) => Effect.Effect<TransportResponse, TransportFailure | AuthFailure>
}>() {}

/**
 * Builds an Auth service; its token fetches live in the surrounding scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Partial<AuthOptions> = {}
): Effect.Effect<Auth["Type"], never, Transport | Credentials | EffectScope.Scope> =>
  Effect.map(internal.make({ ...defaultOptions, ...options }), Auth.of)

/**
 * Auth with the given options ({@link defaultOptions} for the rest).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Partial<AuthOptions> = {}): Layer.Layer<Auth, never, Transport | Credentials> =>
  Layer.scoped(Auth, make(options))

/**
 * @deprecated use {@link layer}, which takes the same options.
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Partial<AuthOptions>): Layer.Layer<Auth, never, Transport | Credentials> =>
  layer(options)

/**
 * The options read from `Config`: `clientId`, `offlineToken`, `forceOAuth` (each optional; nest it
 * with `Config.nested("AUTH")` to read `AUTH_CLIENT_ID`-style keys from a constant-case provider).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<AuthOptions> = Config.all({
  clientId: Config.string("clientId").pipe(Config.withDefault(defaultOptions.clientId)),
  offlineToken: Config.boolean("offlineToken").pipe(Config.withDefault(defaultOptions.offlineToken)),
  forceOAuth: Config.boolean("forceOAuth").pipe(Config.withDefault(defaultOptions.forceOAuth))
})

/**
 * Auth with options from `Config` ({@link config} by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Partial<AuthOptions>> = config
): Layer.Layer<Auth, ConfigError.ConfigError, Transport | Credentials> =>
  Layer.scoped(Auth, Effect.flatMap(options, make))
