/**
 * Authentication for the test registry: none, basic, or bearer tokens issued by its own `/token`
 * endpoint (the Docker token protocol: `GET` with optional basic auth, and the OAuth2 `POST` form).
 * Tokens are opaque random strings kept in memory with their access, expiry and use count.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { concat } from "../../internal/body.js"
import type { AccessPolicy, AuthOptions } from "../index.js"
import { Directives } from "./faults.js"
import * as Http from "./http.js"
import { type Access, formatScope, parseScope } from "./routes.js"

/**
 * The authentication step of the registry.
 *
 * @internal
 */
export interface Auth {
  /** `undefined` when the request may proceed, else the 401/403 to send. */
  readonly check: (
    request: HttpServerRequest.HttpServerRequest,
    needed: ReadonlyArray<Access>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse | undefined>
  /** Answers `/token` (a 404 unless token auth is on). */
  readonly token: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse>
}

interface Token {
  readonly user: string | undefined
  readonly access: ReadonlyArray<Access>
  readonly expiresAt: number
  uses: number
}

const defaultPolicy: AccessPolicy = ({ access, user }) => (user === undefined ? [] : access.actions)

/** Parses `Authorization`; the scheme is compared case-insensitively. */
const credentials = (
  request: HttpServerRequest.HttpServerRequest
): { readonly scheme: "basic"; readonly user: string; readonly password: string } | {
  readonly scheme: "bearer"
  readonly token: string
} | undefined => {
  const header = request.headers["authorization"]
  if (header === undefined) return undefined
  const space = header.indexOf(" ")
  if (space === -1) return undefined
  const scheme = header.slice(0, space).toLowerCase()
  const value = header.slice(space + 1).trim()
  if (scheme === "bearer") return { scheme, token: value }
  if (scheme !== "basic") return undefined
  let decoded: string
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)))
  } catch {
    return undefined
  }
  const colon = decoded.indexOf(":")
  if (colon === -1) return undefined
  return { scheme, user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

const randomToken = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("")

const quote = (s: string) => `"${s.replace(/["\\]/g, "\\$&")}"`

/** Whether granted access covers every needed action. */
const covers = (granted: ReadonlyArray<Access>, needed: ReadonlyArray<Access>): boolean =>
  needed.every((n) =>
    n.actions.every((action) =>
      granted.some((g) =>
        g.type === n.type && g.name === n.name && (g.actions.includes(action) || g.actions.includes("*"))
      )
    )
  )

/** @internal */
export const make = (options: AuthOptions | undefined, baseUrl: (request: HttpServerRequest.HttpServerRequest) => string): Auth => {
  if (options === undefined || options.mode === "none") {
    return { check: () => Effect.succeed(undefined), token: () => Effect.succeed(Http.pageNotFound()) }
  }
  const policy = options.access ?? defaultPolicy
  const validUser = (user: string, password: string) =>
    Object.hasOwn(options.users, user) && options.users[user] === password
  const grant = (user: string | undefined, access: Access): Access => ({
    ...access,
    actions: policy({ user, access }).filter((a) => access.actions.includes(a))
  })

  if (options.mode === "basic") {
    const challenge = { "www-authenticate": `Basic realm=${quote(options.realm ?? "registry")}` }
    return {
      check: (request, needed) =>
        Effect.sync(() => {
          const c = credentials(request)
          if (c === undefined || c.scheme !== "basic" || !validUser(c.user, c.password)) {
            return Http.error("UNAUTHORIZED", { headers: challenge })
          }
          return needed.every((n) => grant(c.user, n).actions.length === n.actions.length)
            ? undefined
            : Http.error("DENIED", { detail: needed })
        }),
      token: () => Effect.succeed(Http.pageNotFound())
    }
  }

  const service = options.service ?? "effect-oci-test-registry"
  const lifetime = Duration.toMillis(options.tokenLifetime ?? Duration.minutes(5))
  const tokens = new Map<string, Token>()
  const refreshTokens = new Map<string, string>()

  const challenge = (
    request: HttpServerRequest.HttpServerRequest,
    needed: ReadonlyArray<Access>,
    error: "insufficient_scope" | "invalid_token" | undefined
  ) => {
    const params = [`realm=${quote(`${baseUrl(request)}/token`)}`, `service=${quote(service)}`]
    if (needed.length > 0) params.push(`scope=${quote(needed.map(formatScope).join(" "))}`)
    if (error !== undefined) params.push(`error=${quote(error)}`)
    return Http.error("UNAUTHORIZED", {
      headers: { "www-authenticate": `Bearer ${params.join(",")}` },
      ...(needed.length > 0 ? { detail: needed } : {})
    })
  }

  const issue = (user: string | undefined, scopes: ReadonlyArray<string>, withRefresh: boolean) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const access = scopes.flatMap((s) => {
        const parsed = parseScope(s)
        if (parsed === undefined) return []
        const granted = grant(user, parsed)
        return granted.actions.length > 0 ? [granted] : []
      })
      const token = randomToken()
      tokens.set(token, { user, access, expiresAt: now + lifetime, uses: 0 })
      let refresh: string | undefined
      if (withRefresh && user !== undefined) {
        refresh = randomToken()
        refreshTokens.set(refresh, user)
      }
      return {
        token,
        access_token: token,
        expires_in: Math.floor(lifetime / 1000),
        issued_at: new Date(now).toISOString(),
        scope: access.map(formatScope).join(" "),
        ...(refresh === undefined ? {} : { refresh_token: refresh })
      }
    })

  const oauthError = (status: number, error: string, description: string) =>
    Http.json({ error, error_description: description }, { status })

  const getToken = (request: HttpServerRequest.HttpServerRequest) => {
    const params = Http.query(request)
    const c = credentials(request)
    if (c !== undefined && (c.scheme !== "basic" || !validUser(c.user, c.password))) {
      return Effect.succeed(Http.error("UNAUTHORIZED", { message: "invalid credentials" }))
    }
    const user = c?.scheme === "basic" ? c.user : undefined
    return Effect.map(
      issue(user, params.getAll("scope").flatMap((s) => s.split(" ")), params.get("offline_token") === "true"),
      (body) => Http.json(body)
    )
  }

  const postToken = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const body = yield* Effect.either(Http.readBody(request, 64 * 1024))
      if (body._tag === "Left") return oauthError(413, "invalid_request", "request too large")
      const form = new URLSearchParams(new TextDecoder().decode(concat(body.right.parts, body.right.size)))
      const scopes = (form.get("scope") ?? "").split(" ").filter((s) => s !== "")
      switch (form.get("grant_type")) {
        case "password": {
          const user = form.get("username")
          const password = form.get("password")
          if (user === null || password === null) {
            return oauthError(400, "invalid_request", "username and password are required")
          }
          if (!validUser(user, password)) return oauthError(401, "invalid_grant", "invalid credentials")
          return Http.json(yield* issue(user, scopes, form.get("access_type") === "offline"))
        }
        case "refresh_token": {
          const refresh = form.get("refresh_token")
          const user = refresh === null ? undefined : refreshTokens.get(refresh)
          if (refresh === null || user === undefined) {
            return oauthError(401, "invalid_grant", "unknown refresh token")
          }
          const issued = yield* issue(user, scopes, false)
          return Http.json({ ...issued, refresh_token: refresh })
        }
        default:
          return oauthError(400, "unsupported_grant_type", "grant_type must be password or refresh_token")
      }
    })

  return {
    check: (request, needed) =>
      Effect.gen(function*() {
        const c = credentials(request)
        if (c === undefined || c.scheme !== "bearer") return challenge(request, needed, undefined)
        const token = tokens.get(c.token)
        const now = yield* Clock.currentTimeMillis
        const { tokenMaxUses } = yield* Directives
        if (token === undefined || now >= token.expiresAt || (tokenMaxUses !== undefined && token.uses >= tokenMaxUses)) {
          if (token !== undefined) tokens.delete(c.token)
          return challenge(request, needed, "invalid_token")
        }
        if (!covers(token.access, needed)) return challenge(request, needed, "insufficient_scope")
        token.uses++
        return undefined
      }),
    token: (request) =>
      request.method === "GET"
        ? getToken(request)
        : request.method === "POST"
        ? postToken(request)
        : Effect.succeed(Http.error("UNSUPPORTED"))
  }
}
