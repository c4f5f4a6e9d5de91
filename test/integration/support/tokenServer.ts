/**
 * A small Docker-style token server for registry 2.8's `auth.token` mode, on Node's http server on
 * 127.0.0.1. It issues ES256 JWTs whose header carries the signer certificate (`x5c`), with `aud`
 * a string (2.8 rejects arrays) and the `access` claim built from the requested scopes, limited to
 * what each user may do.
 *
 * Endpoints (both at `/token`):
 * - `GET ?service=&scope=…&account=` with optional Basic credentials (what skopeo and Docker use);
 * - `POST` form, OAuth2: `grant_type=password` (username, password; `access_type=offline` adds a
 *   refresh token) or `grant_type=refresh_token`, with `service`, `client_id`, space-separated `scope`.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { derBase64, type KeyPair } from "./certs.js"

/** A user of the token server: its password and the actions it may be granted (`*` = any). */
export interface TokenUser {
  readonly password: string
  readonly actions: ReadonlyArray<string>
}

/** One request the token server answered (for assertions on the flow a client used). */
export interface TokenRequestLog {
  readonly method: "GET" | "POST"
  /** `get`, `password` or `refresh_token`. */
  readonly grant: string
  /** The authenticated user, or undefined for anonymous / refused requests. */
  readonly user: string | undefined
  readonly scopes: ReadonlyArray<string>
  readonly status: number
  readonly clientId: string | undefined
}

/** A running token server. */
export interface TokenServer {
  /** The realm to put in the registry's config: `http://127.0.0.1:PORT/token`. */
  readonly realm: string
  readonly service: string
  readonly issuer: string
  /** Every request so far, oldest first. */
  readonly requests: ReadonlyArray<TokenRequestLog>
  /** A token as the server would issue it to `user` for `scopes`, with claims overridden by `claims`. */
  readonly issue: (user: string | undefined, scopes: ReadonlyArray<string>, claims?: Record<string, unknown>) => string
}

/** A scope of a token request: `type:name:actions`. */
interface RequestedScope {
  readonly type: string
  readonly name: string
  readonly actions: ReadonlyArray<string>
}

/** `repository:a/b:pull,push`: the name is everything between the first and the last colon. */
const parseScope = (scope: string): RequestedScope | undefined => {
  const first = scope.indexOf(":")
  const last = scope.lastIndexOf(":")
  if (first <= 0 || last <= first) return undefined
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(",").filter((a) => a !== "")
  }
}

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url")

/** Signs a JWT with ES256 and an `x5c` header naming the signer certificate. */
export const signJwt = (signer: KeyPair, claims: Record<string, unknown>): string => {
  const header = { typ: "JWT", alg: "ES256", x5c: [derBase64(signer.certPem)] }
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  // JWS wants the raw r||s form, not DER (RFC 7518 §3.4)
  const signature = Crypto.sign("sha256", Buffer.from(input), { key: signer.keyPem, dsaEncoding: "ieee-p1363" })
  return `${input}.${signature.toString("base64url")}`
}

const grantedActions = (user: TokenUser | undefined, requested: ReadonlyArray<string>) =>
  user === undefined ? [] : user.actions.includes("*") ? requested : requested.filter((a) => user.actions.includes(a))

const readBody = (req: Http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const basicCredentials = (header: string | undefined) => {
  const match = /^Basic\s+(.+)$/i.exec(header ?? "")
  if (match === null) return undefined
  const text = Buffer.from(match[1]!, "base64").toString("utf8")
  const colon = text.indexOf(":")
  return colon < 0 ? undefined : { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

/**
 * Starts the token server; it stops when the scope closes.
 */
export const start = (options: {
  readonly signer: KeyPair
  readonly users: Readonly<Record<string, TokenUser>>
  readonly service?: string | undefined
  readonly issuer?: string | undefined
  readonly lifetimeSeconds?: number | undefined
  /** Refresh tokens known from the start (token → user), as if handed out earlier. */
  readonly refreshTokens?: Readonly<Record<string, string>> | undefined
}): Effect.Effect<TokenServer, never, Scope.Scope> => {
  const service = options.service ?? "effect-oci-registry"
  const issuer = options.issuer ?? "effect-oci-token-server"
  const lifetime = options.lifetimeSeconds ?? 300
  const requests: Array<TokenRequestLog> = []
  const refreshTokens = new Map<string, string>(Object.entries(options.refreshTokens ?? {}))

  const authenticate = (username: string | undefined, password: string | undefined) => {
    if (username === undefined) return { ok: true as const, user: undefined }
    const user = options.users[username]
    return user !== undefined && password !== undefined && Crypto.timingSafeEqual(
        Crypto.createHash("sha256").update(password).digest(),
        Crypto.createHash("sha256").update(user.password).digest()
      )
      ? { ok: true as const, user: username }
      : { ok: false as const }
  }

  const issue = (user: string | undefined, scopes: ReadonlyArray<string>, overrides: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000)
    const access = scopes.flatMap((s) => {
      const parsed = parseScope(s)
      if (parsed === undefined) return []
      const actions = grantedActions(user === undefined ? undefined : options.users[user], parsed.actions)
      return [{ type: parsed.type, name: parsed.name, actions }]
    })
    return signJwt(options.signer, {
      iss: issuer,
      sub: user ?? "",
      aud: service,
      exp: now + lifetime,
      nbf: now - 1,
      iat: now,
      jti: Crypto.randomUUID(),
      access,
      ...overrides
    })
  }

  const handle = async (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const send = (status: number, body: unknown, log: Omit<TokenRequestLog, "status">) => {
      requests.push({ ...log, status })
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    if (url.pathname !== "/token") {
      res.writeHead(404).end()
      return
    }
    const issuedAt = new Date().toISOString()
    if (req.method === "GET") {
      const scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter((s) => s !== "")
      const creds = basicCredentials(req.headers.authorization)
      const auth = authenticate(creds?.username, creds?.password)
      const log = { method: "GET" as const, grant: "get", scopes, clientId: url.searchParams.get("client_id") ?? undefined }
      if (!auth.ok || url.searchParams.get("service") !== service) {
        return send(401, { details: "incorrect username or password" }, { ...log, user: undefined })
      }
      const token = issue(auth.user, scopes)
      return send(200, { token, access_token: token, expires_in: lifetime, issued_at: issuedAt }, {
        ...log,
        user: auth.user
      })
    }
    if (req.method === "POST") {
      const form = new URLSearchParams(await readBody(req))
      const grant = form.get("grant_type") ?? ""
      const scopes = (form.get("scope") ?? "").split(" ").filter((s) => s !== "")
      const clientId = form.get("client_id") ?? undefined
      const log = { method: "POST" as const, grant, scopes, clientId }
      if (form.get("service") !== service || clientId === undefined || clientId === "") {
        return send(400, { error: "invalid_request" }, { ...log, user: undefined })
      }
      let user: string | undefined
      if (grant === "password") {
        const auth = authenticate(form.get("username") ?? "", form.get("password") ?? "")
        if (!auth.ok) return send(401, { error: "invalid_grant" }, { ...log, user: undefined })
        user = auth.user
      } else if (grant === "refresh_token") {
        user = refreshTokens.get(form.get("refresh_token") ?? "")
        if (user === undefined) return send(401, { error: "invalid_grant" }, { ...log, user: undefined })
      } else {
        return send(400, { error: "unsupported_grant_type" }, { ...log, user: undefined })
      }
      const token = issue(user, scopes)
      let refresh: string | undefined
      if (grant === "password" && form.get("access_type") === "offline" && user !== undefined) {
        refresh = Crypto.randomBytes(24).toString("base64url")
        refreshTokens.set(refresh, user)
      }
      return send(200, {
        access_token: token,
        scope: scopes.join(" "),
        expires_in: lifetime,
        issued_at: issuedAt,
        ...(refresh === undefined ? {} : { refresh_token: refresh })
      }, { ...log, user })
    }
    res.writeHead(405).end()
  }

  return Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly port: number }>((resume) => {
      const server = Http.createServer((req, res) => {
        handle(req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500)
          res.end()
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, port: (server.address() as AddressInfo).port })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(
    Effect.map(({ port }) => ({
      realm: `http://127.0.0.1:${port}/token`,
      service,
      issuer,
      requests,
      issue
    }))
  )
}
