/**
 * The Auth service: sends a request through Transport with the right `Authorization`, learning
 * challenges from 401s and re-authorising once when a token is refused.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Response as TransportResponse } from "../Transport.js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as EffectScope from "effect/Scope"
import type { AuthFailure, AuthOptions, Scope } from "../Auth.js"
import { type Credential, Credentials, type CredentialsError } from "../Credentials.js"
import { Denied, errorBodyLimit, fromResponseText, safeUrl, Unauthorized } from "../RegistryError.js"
import { Transport, type TransportFailure } from "../Transport.js"
import * as Scopes from "./authScope.js"
import { readBoundedText } from "./body.js"
import * as Challenges from "./challenge.js"
import { basicAuthorization, makeFetchToken, makeRefreshTokens, type Token, type TokenFailure } from "./token.js"
import { withEntry, withoutEntry } from "./maps.js"
import * as TokenCache from "./tokenCache.js"

/** The service shape (mirrors the `Auth` tag). @internal */
export interface AuthService {
  readonly execute: (
    registry: string,
    request: HttpClientRequest.HttpClientRequest,
    scopes: ReadonlyArray<Scope>
  ) => Effect.Effect<TransportResponse, TransportFailure | AuthFailure>
}

/** An `Authorization` value and, for bearer tokens from the cache, where it came from. */
interface Authorization {
  readonly header: Redacted.Redacted<string>
  readonly cached?: { readonly key: string; readonly token: Token }
}

/** Reads what is left of a response we are done with, for the error text (and to free the connection). */
const drain = (response: TransportResponse) =>
  readBoundedText(response, errorBodyLimit, "error response").pipe(Effect.orElseSucceed(() => ""))

/** The typed refusal for a 401 / 403: the registry's own error entries when it sent them. */
const refusal = (response: TransportResponse, body: string): Unauthorized | Denied => {
  const status = response.status
  const error = fromResponseText({ method: response.request.method, url: response.request.url, status, body })
  if (error._tag === "Unauthorized" || error._tag === "Denied") return error
  const args = {
    status,
    message: error._tag === "UnexpectedStatus" ? "" : error.message,
    errors: error._tag === "UnexpectedStatus" ? [] : error.errors
  }
  return status === 401
    ? new Unauthorized({ ...args, message: args.message || "authentication required" })
    : new Denied({ ...args, message: args.message || "requested access to the resource is denied" })
}

/** The pull scope of a cross-repository mount's source (`POST …/blobs/uploads/?mount=…&from=REPO`). */
const mountSource = (request: HttpClientRequest.HttpClientRequest): ReadonlyArray<Scope> => {
  const params = new Map<string, string>()
  try {
    for (const [k, v] of new URL(request.url).searchParams) params.set(k, v)
  } catch {
    // a relative or broken URL has no query to read
  }
  for (const [k, v] of request.urlParams) params.set(k, v)
  const from = params.get("from")
  return params.has("mount") && from !== undefined && from !== "" ? [Scopes.pull(from)] : []
}

/** @internal */
export const make = (
  options: AuthOptions
): Effect.Effect<AuthService, never, Transport | Credentials | EffectScope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const credentials = yield* Credentials
    const tokens = yield* TokenCache.make<TokenFailure>()
    /** Challenges per endpoint (`scheme://host:port`); an empty list means "no auth needed". */
    const challenges = yield* Ref.make(new Map<string, ReadonlyArray<Challenges.Challenge>>())
    /** Scopes registries asked for beyond what a caller requested, per registry + requested scopes. */
    const extraScopes = yield* Ref.make(new Map<string, ReadonlyArray<Scope>>())
    /** Credential lookups may run helper programs: remember answers until a registry refuses them. */
    const credentialMemo = yield* Ref.make(new Map<string, Credential>())

    const remember = <V>(ref: Ref.Ref<Map<string, V>>, key: string, value: V) =>
      Ref.update(ref, (m) => withEntry(m, key, value))

    const credentialFor = (registry: string): Effect.Effect<Credential, CredentialsError> =>
      Effect.flatMap(Ref.get(credentialMemo), (memo) => {
        const known = memo.get(registry)
        return known !== undefined
          ? Effect.succeed(known)
          : Effect.tap(credentials.get(registry), (c) => remember(credentialMemo, registry, c))
      })

    /**
     * The server rotated a registry's identity token. This Auth already offers the new one (the
     * token fetcher keeps it); the credential store keeps it for the next process. A store that
     * cannot take it costs a warning, not the request.
     */
    const onRotated = (registry: string, credential: Credential) =>
      credentials.writable
        ? credentials.store(registry, credential).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("could not store the rotated refresh token").pipe(
              Effect.annotateLogs({ registry, error: error.message })
            )
          )
        )
        : Effect.void

    const fetchToken = makeFetchToken({ transport, options, refreshTokens: yield* makeRefreshTokens, onRotated })

    const forget = (registry: string) => Ref.update(credentialMemo, (m) => withoutEntry(m, registry))

    /** The `Authorization` for a request given the endpoint's challenges, or undefined if we have none to offer. */
    const authorise = (
      registry: string,
      known: ReadonlyArray<Challenges.Challenge>,
      scopes: ReadonlyArray<Scope>
    ): Effect.Effect<Authorization | undefined, TokenFailure | CredentialsError> =>
      Effect.gen(function*() {
        if (known.length === 0) return undefined
        const credential = yield* credentialFor(registry)
        if (credential._tag === "RegistryToken") {
          return { header: Redacted.make(`Bearer ${Redacted.value(credential.token)}`) }
        }
        const bearer = known.find((c) => c.scheme === "bearer")
        if (bearer !== undefined) {
          const { realm, service } = bearer.params
          const key = [registry, realm ?? "", service ?? "", Scopes.key(scopes)].join("\n")
          const token = yield* tokens.get(
            key,
            fetchToken({ registry, realm, service, scopes, credential })
          )
          return { header: Redacted.make(`Bearer ${Redacted.value(token.value)}`), cached: { key, token } }
        }
        if (known.some((c) => c.scheme === "basic") && credential._tag === "Basic") {
          return { header: basicAuthorization(credential.username, credential.password) }
        }
        return undefined
      })

    /** Learns an endpoint's challenges with `GET /v2/` before a request whose body we must not send twice. */
    const pingOnce = (registry: string) =>
      Effect.gen(function*() {
        const url = `${transport.baseUrl(registry).replace(/\/+$/, "")}/v2/`
        const response = yield* transport.execute(HttpClientRequest.get(url))
        yield* drain(response)
        const key = Challenges.endpointKey(url)
        if (key === undefined) return
        const found = response.status === 401
          ? Challenges.parse(response.headers["www-authenticate"])
          : []
        yield* remember(challenges, key, found)
      }).pipe(Effect.ignore)

    /** Pings in flight, per registry: concurrent requests (a push's uploads) share one. */
    const pings = yield* Ref.make(new Map<string, Deferred.Deferred<void>>())
    const ping = (registry: string) =>
      Effect.gen(function*() {
        const mine = yield* Deferred.make<void>()
        const running = yield* Ref.modify(pings, (m) => {
          const other = m.get(registry)
          return other !== undefined ? [other, m] : [undefined, withEntry(m, registry, mine)]
        })
        if (running !== undefined) return yield* Deferred.await(running)
        yield* pingOnce(registry).pipe(
          Effect.ensuring(Effect.zipRight(
            Ref.update(pings, (m) => withoutEntry(m, registry)),
            Deferred.succeed(mine, undefined)
          ))
        )
      })

    // no stack capture: every request has this span, and the Repository's span above it has the caller's stack
    const execute = Effect.fn("Auth.execute", { captureStackTrace: false })(function*(
      registry: string,
      request: HttpClientRequest.HttpClientRequest,
      scopes: ReadonlyArray<Scope>
    ) {
      const endpoint = Challenges.endpointKey(request.url)
      yield* Effect.annotateCurrentSpan({
        "oci.registry": registry,
        "http.request.method": request.method,
        "url.full": safeUrl(request.url)
      })
      if (endpoint === undefined) return yield* transport.execute(request)
      const requested = Scopes.merge(scopes, mountSource(request))
      const hintKey = `${registry}\n${Scopes.key(requested)}`

      if (request.body._tag !== "Empty" && !(yield* Ref.get(challenges)).has(endpoint)) yield* ping(registry)

      const scopesNow = Effect.map(Ref.get(extraScopes), (m) => Scopes.merge(requested, m.get(hintKey) ?? []))
      let scopesUsed = yield* scopesNow
      let authorization = yield* authorise(registry, (yield* Ref.get(challenges)).get(endpoint) ?? [], scopesUsed)
      // a token we held from before may just have expired or been revoked: worth one fresh try
      let preemptive = authorization !== undefined
      let retried = false
      while (true) {
        const response = yield* transport.execute(
          authorization === undefined
            ? request
            : HttpClientRequest.setHeader(request, "authorization", Redacted.value(authorization.header))
        )
        if (response.status === 403) return yield* refusal(response, yield* drain(response))
        if (response.status !== 401) return response

        const body = yield* drain(response)
        const found = Challenges.parse(response.headers["www-authenticate"])
        const bearer = found.find((c) => c.scheme === "bearer")
        yield* Effect.logDebug("the registry asked for authentication").pipe(
          Effect.annotateLogs({
            registry,
            schemes: found.map((c) => c.scheme).join(","),
            error: bearer?.params.error ?? ""
          })
        )
        const fail = Effect.zipRight(
          authorization === undefined ? Effect.void : forget(registry),
          Effect.fail(refusal(response, body))
        )
        if (authorization?.cached) yield* tokens.invalidate(authorization.cached.key, authorization.cached.token)
        if (found.length === 0) return yield* fail
        yield* remember(challenges, endpoint, found)
        // remember only what the registry asks beyond the request (usually nothing), for next time
        const asked = Scopes.parseAll(bearer?.params.scope)
        if (Scopes.key([...scopesUsed, ...asked]) !== Scopes.key(scopesUsed)) {
          yield* Ref.update(extraScopes, (m) => withEntry(m, hintKey, Scopes.merge(m.get(hintKey) ?? [], asked)))
        }
        const scopes = yield* scopesNow
        if (authorization !== undefined) {
          // a token fetched during this call for these very scopes will not fare better a second time
          const grew = Scopes.key(scopes) !== Scopes.key(scopesUsed)
          if (retried || !(preemptive || grew)) return yield* fail
          retried = true
        }
        const next = yield* authorise(registry, found, scopes)
        // nothing new to offer (same Basic credentials, same registry token): resending is pointless
        if (
          next === undefined ||
          (authorization !== undefined && Redacted.value(next.header) === Redacted.value(authorization.header))
        ) return yield* fail
        authorization = next
        scopesUsed = scopes
        preemptive = false
      }
    })

    return { execute } satisfies AuthService
  })
