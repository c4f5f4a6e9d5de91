/**
 * Fetching a bearer token from a token endpoint: the `GET realm?service=&scope=…` flow, the OAuth2
 * `POST` form (`refresh_token` / `password` grants) with its fallback to GET, and the token response
 * (body limit, schema, expiry).
 *
 * Token requests go straight to Transport, never back through Auth.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../Transport.js"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Metrics from "../Metrics.js"
import type { AuthOptions, Scope } from "../Auth.js"
import { Credential } from "./credentialsModel.js"
import { type BodyTooLarge, safeUrl, serverText } from "../RegistryError.js"
import type { Transport, TransportFailure } from "../Transport.js"
import { InsecureRealm, TokenError } from "./authError.js"
import * as Scopes from "./authScope.js"
import { readBoundedText } from "./body.js"
import { withEntry, withoutEntry } from "./maps.js"

/** Token responses larger than this are refused (a JWT is a few KiB). @internal */
export const tokenBodyLimit = 64 * 1024

/** Lifetime assumed when the server gives none (as the Go client). @internal */
export const defaultLifetimeMillis = 60_000

/** A token renews this long before it expires at most… @internal */
export const maxRenewMarginMillis = 30_000
/** …and at most this fraction of its lifetime before. @internal */
export const renewMarginFraction = 0.1

/** A bearer token and when to stop using it. @internal */
export interface Token {
  readonly value: Redacted.Redacted<string>
  /** Epoch millis after which the server rejects it. */
  readonly expiresAt: number
  /** Epoch millis after which we fetch a new one instead of using it. */
  readonly renewAt: number
}

/** Everything that can go wrong getting a token. @internal */
export type TokenFailure = TransportFailure | TokenError | InsecureRealm | BodyTooLarge

/** What a token fetch needs to know. @internal */
export interface TokenRequest {
  readonly registry: string
  readonly realm: string | undefined
  readonly service: string | undefined
  readonly scopes: ReadonlyArray<Scope>
  readonly credential: Credential
}

/**
 * A refresh token a server gave us, with every earlier refresh token it replaced (an OAuth2 server
 * may rotate them on each use and revoke the old ones). @internal
 */
export interface StoredRefresh {
  readonly token: Redacted.Redacted<string>
  readonly superseded: ReadonlyArray<string>
}

/** OAuth2 refresh tokens the servers gave us, per registry + realm + service, in memory. @internal */
export interface RefreshTokens {
  readonly get: (key: string) => Effect.Effect<Option.Option<StoredRefresh>>
  /** Keeps `token`; `replaced` is the refresh token it was given for, now dead. */
  readonly set: (key: string, token: Redacted.Redacted<string>, replaced?: Redacted.Redacted<string>) => Effect.Effect<void>
  readonly remove: (key: string) => Effect.Effect<void>
}

/** @internal */
export const makeRefreshTokens: Effect.Effect<RefreshTokens> = Effect.map(
  Ref.make(new Map<string, StoredRefresh>()),
  (ref) => ({
    get: (key) => Effect.map(Ref.get(ref), (m) => Option.fromNullable(m.get(key))),
    set: (key, token, replaced) =>
      Ref.update(ref, (m) => {
        const before = m.get(key)?.superseded ?? []
        const superseded = replaced === undefined ? before : [...before, Redacted.value(replaced)]
        return withEntry(m, key, { token, superseded })
      }),
    remove: (key) => Ref.update(ref, (m) => withoutEntry(m, key))
  })
)

/**
 * The refresh token to use. A stored one wins, except over an identity token from the credential
 * store that it did not replace: that one is newer (a fresh `docker login`), not a revoked one the
 * store still holds because it could not be written back.
 *
 * @internal
 */
export const pickRefresh = (
  credential: Credential,
  stored: Option.Option<StoredRefresh>
): Option.Option<Redacted.Redacted<string>> => {
  if (credential._tag !== "IdentityToken") return Option.map(stored, (s) => s.token)
  if (Option.isNone(stored)) return Option.some(credential.token)
  const own = Redacted.value(credential.token)
  return stored.value.superseded.includes(own) || Redacted.value(stored.value.token) === own
    ? Option.some(stored.value.token)
    : Option.some(credential.token)
}

/** The token response of both flows; unknown fields are ignored, `null`s tolerated. */
const TokenResponse = Schema.Struct({
  token: Schema.optional(Schema.NullOr(Schema.String)),
  access_token: Schema.optional(Schema.NullOr(Schema.String)),
  expires_in: Schema.optional(Schema.NullOr(Schema.Union(Schema.Number, Schema.NumberFromString))),
  issued_at: Schema.optional(Schema.NullOr(Schema.String)),
  refresh_token: Schema.optional(Schema.NullOr(Schema.String))
})
const decodeJson = Schema.decodeUnknownEither(Schema.parseJson())
const decodeTokenResponse = Schema.decodeUnknownEither(TokenResponse)

/**
 * When a token stops being usable. The lifetime is `expires_in` (60 s when absent or not
 * positive), counted from `issued_at` unless that is in the future or would make the token expired
 * on arrival (a server clock that is off); it is renewed min(10 %, 30 s) before it expires.
 *
 * @internal
 */
export const expiry = (now: number, expiresIn: number | undefined, issuedAt: string | undefined) => {
  const lifetime = expiresIn !== undefined && Number.isFinite(expiresIn) && expiresIn > 0
    ? expiresIn * 1000
    : defaultLifetimeMillis
  const issued = issuedAt === undefined ? NaN : Date.parse(issuedAt)
  let expiresAt = (Number.isFinite(issued) && issued <= now ? issued : now) + lifetime
  if (expiresAt <= now) expiresAt = now + lifetime
  const margin = Math.min(lifetime * renewMarginFraction, maxRenewMarginMillis)
  return { expiresAt, renewAt: expiresAt - margin }
}

/** Replaces every secret in `text`, so no server echo can leak one into an error. */
const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((t, s) => (s.length >= 4 ? t.split(s).join("<redacted>") : t), text)

/** A short, credential-free explanation from a token endpoint's error body. */
const refusalReason = (status: number, body: string, secrets: ReadonlyArray<string>): string => {
  const json = decodeJson(body)
  let detail: unknown
  if (Either.isRight(json) && typeof json.right === "object" && json.right !== null) {
    const o = json.right as Record<string, unknown>
    const first = Array.isArray(o.errors) ? (o.errors[0] as Record<string, unknown> | undefined) : undefined
    detail = first?.message
  }
  // The registry envelope's message, else the legacy fields or the text itself (HTML stripped).
  const said = typeof detail === "string" && detail !== "" ? serverText(detail) : serverText(body)
  const base = `the token endpoint answered ${status}`
  return said === "" ? base : `${base}: ${scrub(said, secrets)}`
}

const secretsOf = (credential: Credential, refresh: Option.Option<Redacted.Redacted<string>>) => {
  const out: Array<string> = []
  if (credential._tag === "Basic") out.push(Redacted.value(credential.password))
  if (credential._tag === "IdentityToken" || credential._tag === "RegistryToken") {
    out.push(Redacted.value(credential.token))
  }
  if (Option.isSome(refresh)) out.push(Redacted.value(refresh.value))
  return out
}

/** The key refresh tokens are kept under. @internal */
export const refreshKey = (registry: string, realm: string, service: string | undefined) =>
  `${registry}\n${realm}\n${service ?? ""}`

/** `Authorization: Basic …` for a user and a secret. @internal */
export const basicAuthorization = (username: string, secret: Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.make(`Basic ${Encoding.encodeBase64(`${username}:${Redacted.value(secret)}`)}`)

type Grant = "get" | "refresh_token" | "password"

/** POST statuses after which the GET flow is tried (servers without OAuth2 support). */
const postFallbackStatuses = new Set([400, 401, 404, 405])

/**
 * Builds the token fetcher. The returned function is traced as `Auth.fetchToken` with the realm,
 * service, scopes and grant as attributes (never a secret).
 *
 * @internal
 */
export const makeFetchToken = (deps: {
  readonly transport: Context.Tag.Service<Transport>
  readonly options: AuthOptions
  readonly refreshTokens: RefreshTokens
  /**
   * Called when the server replaced the identity token a registry's credential holds: the new
   * credential is to be used from now on (and kept for the next process).
   */
  readonly onRotated: (registry: string, credential: Credential) => Effect.Effect<void>
}) => {
  const { onRotated, options, refreshTokens, transport } = deps

  /** Sends one token request and reads its (bounded) body. */
  const send = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(Effect.zipRight(Metric.increment(Metrics.tokenFetches), transport.execute(request)), (response) =>
      Effect.map(
        readBoundedText(response, tokenBodyLimit, "token response"),
        (body) => ({ response, body })
      ))

  return Effect.fn("Auth.fetchToken")(function*(req: TokenRequest) {
    const scopeList = Scopes.merge(req.scopes).map(Scopes.format)
    const service = req.service !== undefined && req.service !== "" ? req.service : undefined
    if (req.realm === undefined || req.realm === "") {
      return yield* new TokenError({ realm: "", reason: "the Bearer challenge has no realm" })
    }
    let realm: URL
    try {
      realm = new URL(req.realm)
    } catch {
      return yield* new InsecureRealm({ realm: "<invalid url>", reason: "the realm is not a valid URL" })
    }
    const realmText = safeUrl(realm)
    yield* Effect.annotateCurrentSpan({
      "oci.auth.realm": realmText,
      "oci.auth.service": service ?? "",
      "oci.auth.scopes": scopeList.join(" ")
    })
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      return yield* new InsecureRealm({ realm: realmText, reason: `the realm scheme ${realm.protocol} is not http(s)` })
    }
    const guard = (sendsSecret: boolean) =>
      sendsSecret && realm.protocol === "http:" && !transport.allowsPlainHttp(realm.host)
        ? new InsecureRealm({
          realm: realmText,
          reason: "credentials would be sent over plain http to a host that is not loopback or marked insecure"
        })
        : undefined

    const cred = req.credential
    const rKey = refreshKey(req.registry, realm.toString(), service)
    const refresh = pickRefresh(cred, yield* refreshTokens.get(rKey))
    const secrets = secretsOf(cred, refresh)
    const fail = (status: number, body: string) =>
      new TokenError({ realm: realmText, status, reason: refusalReason(status, body, secrets) })

    const get = Effect.gen(function*() {
      const url = new URL(realm)
      if (service !== undefined) url.searchParams.append("service", service)
      for (const scope of scopeList) url.searchParams.append("scope", scope)
      let authorization: Redacted.Redacted<string> | undefined
      if (cred._tag === "Basic") {
        url.searchParams.append("account", cred.username)
        authorization = basicAuthorization(cred.username, cred.password)
      } else if (cred._tag === "IdentityToken") {
        if (cred.username !== undefined) url.searchParams.append("account", cred.username)
        authorization = basicAuthorization(cred.username ?? "", Option.getOrElse(refresh, () => cred.token))
      }
      if (options.offlineToken) {
        url.searchParams.append("offline_token", "true")
        url.searchParams.append("client_id", options.clientId)
      }
      const insecure = guard(authorization !== undefined)
      if (insecure) return yield* insecure
      let request = HttpClientRequest.get(url).pipe(HttpClientRequest.acceptJson)
      if (authorization !== undefined) {
        request = HttpClientRequest.setHeader(request, "authorization", Redacted.value(authorization))
      }
      const { body, response } = yield* send(request)
      if (response.status < 200 || response.status >= 300) return yield* fail(response.status, body)
      return { body, response }
    })

    const post = (grant: "refresh_token" | "password") =>
      Effect.gen(function*() {
        const insecure = guard(true)
        if (insecure) return yield* insecure
        const form: Array<[string, string]> = [["grant_type", grant]]
        if (grant === "refresh_token" && Option.isSome(refresh)) {
          form.push(["refresh_token", Redacted.value(refresh.value)])
        } else if (cred._tag === "Basic") {
          form.push(["username", cred.username], ["password", Redacted.value(cred.password)])
          form.push(["access_type", "offline"])
        }
        form.push(["service", service ?? ""], ["client_id", options.clientId])
        if (scopeList.length > 0) form.push(["scope", scopeList.join(" ")])
        const request = HttpClientRequest.post(realm).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyUrlParams(form)
        )
        const { body, response } = yield* send(request)
        if (postFallbackStatuses.has(response.status)) {
          // a refresh token the server gave us earlier and now rejects is dead: stop offering it
          if (grant === "refresh_token" && response.status <= 401) yield* refreshTokens.remove(rKey)
          yield* Effect.logDebug("the token endpoint refused the OAuth2 POST; using GET").pipe(
            Effect.annotateLogs({ realm: realmText, status: response.status })
          )
          return yield* get
        }
        if (response.status < 200 || response.status >= 300) return yield* fail(response.status, body)
        return { body, response }
      })

    const flow: Grant = Option.isSome(refresh)
      ? "refresh_token"
      : options.forceOAuth && cred._tag === "Basic"
      ? "password"
      : "get"
    yield* Effect.annotateCurrentSpan("oci.auth.grant", flow)
    const answer = yield* (flow === "get" ? get : post(flow))
    return yield* decodeToken({
      answer,
      realmText,
      onRefreshToken: (token) => {
        if (Option.isNone(refresh)) return refreshTokens.set(rKey, Redacted.make(token))
        if (Redacted.value(refresh.value) === token) return Effect.void
        // Rotated: the old one is dead. An identity token from the store is replaced there too.
        const next = Redacted.make(token)
        return Effect.zipRight(
          refreshTokens.set(rKey, next, refresh.value),
          cred._tag === "IdentityToken"
            ? onRotated(req.registry, Credential.IdentityToken({ username: cred.username, token: next }))
            : Effect.void
        )
      }
    })
  })
}

/** Turns a 2xx token response into a {@link Token}, keeping a returned refresh token. */
const decodeToken = (args: {
  readonly answer: { readonly body: string; readonly response: TransportResponse }
  readonly realmText: string
  readonly onRefreshToken: (token: string) => Effect.Effect<void>
}) =>
  Effect.gen(function*() {
    const { body, response } = args.answer
    const invalid = (reason: string) => new TokenError({ realm: args.realmText, status: response.status, reason })
    const json = decodeJson(body)
    if (Either.isLeft(json)) return yield* invalid("the token response is not JSON")
    const decoded = decodeTokenResponse(json.right)
    if (Either.isLeft(decoded)) return yield* invalid("the token response does not have the expected fields")
    const r = decoded.right
    // `access_token` wins over `token` when a server sends both (as the Go client does)
    const value = r.access_token || r.token || ""
    if (value === "") return yield* invalid("the token response contains no token")
    if (r.refresh_token) yield* args.onRefreshToken(r.refresh_token)
    const now = yield* Clock.currentTimeMillis
    const { expiresAt, renewAt } = expiry(now, r.expires_in ?? undefined, r.issued_at ?? undefined)
    yield* Effect.logDebug("fetched a token").pipe(
      Effect.annotateLogs({ realm: args.realmText, expiresInSeconds: Math.round((expiresAt - now) / 1000) })
    )
    return { value: Redacted.make(value), expiresAt, renewAt } satisfies Token
  })
