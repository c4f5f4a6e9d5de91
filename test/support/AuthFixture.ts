/**
 * A scripted fake Transport plus a tiny simulated registry and token server for the Auth tests.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Auth from "../../src/Auth.js"
import { Credential, type Credentials, layerStatic } from "../../src/Credentials.js"
import { TransportError } from "../../src/RegistryError.js"
import { type Response as TransportResponse, Transport } from "../../src/Transport.js"

export const registry = "reg.example"
export const base = `https://${registry}`
export const realm = "https://auth.example/token"
export const password = "hunter2-secret-pw"
export const basic = Credential.Basic({ username: "alice", password: Redacted.make(password) })

/** What the fake saw of one request. */
export interface Sent {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export type Handler = (request: Sent, index: number) => Response | Effect.Effect<Response>

const bodyText = (request: HttpClientRequest.HttpClientRequest): string => {
  const body = request.body
  if (body._tag === "Uint8Array") return new TextDecoder().decode(body.body)
  if (body._tag === "Raw" && typeof body.body === "string") return body.body
  return ""
}

/** A web `Response` as the Transport returns it (body errors typed, no stall guard). */
export const transportResponse = (request: HttpClientRequest.HttpClientRequest, web: Response): TransportResponse => {
  const raw = HttpClientResponse.fromWeb(request, web)
  const failed = (error: { readonly message: string }) =>
    new TransportError({ method: request.method, url: request.url, reason: error.message })
  return {
    request,
    status: raw.status,
    headers: raw.headers,
    stream: Stream.mapError(raw.stream, failed),
    text: Effect.mapError(raw.text, failed),
    json: Effect.mapError(raw.json, failed)
  }
}

/** A fake Transport: plain http is allowed for localhost and 127.x only. */
export const makeTransport = (handler: Handler) => {
  const requests: Array<Sent> = []
  const layer = Layer.succeed(
    Transport,
    Transport.of({
      baseUrl: (host) => (host.startsWith("localhost") ? `http://${host}` : `https://${host}`),
      allowsPlainHttp: (host) => /^(localhost|127\.)/.test(host),
      execute: (request) =>
        Effect.gen(function*() {
          const url = Option.getOrThrow(HttpClientRequest.toUrl(request))
          const sent: Sent = { method: request.method, url, headers: { ...request.headers }, body: bodyText(request) }
          requests.push(sent)
          const answer = handler(sent, requests.length - 1)
          const response = Effect.isEffect(answer) ? yield* answer : answer
          return transportResponse(request, response)
        })
    })
  )
  return { requests, layer }
}

/** An Auth layer over a fake Transport and static credentials. */
export const setup = <E = never, R = never>(options: {
  readonly handler: Handler
  readonly credential?: Credential
  /** A credential store to use instead of a static one holding `credential`. */
  readonly credentials?: Layer.Layer<Credentials, E, R>
  readonly auth?: Partial<Auth.AuthOptions>
}) => {
  const transport = makeTransport(options.handler)
  const credentials: Layer.Layer<Credentials, E, R> = options.credentials ??
    layerStatic(options.credential ? { [registry]: options.credential } : {})
  const layer = Auth.layer(options.auth ?? {}).pipe(Layer.provide(Layer.merge(transport.layer, credentials)))
  const tokenRequests = () => transport.requests.filter((r) => r.url.host === "auth.example")
  const registryRequests = () => transport.requests.filter((r) => r.url.host === registry)
  return { requests: transport.requests, tokenRequests, registryRequests, layer }
}

/** `auth.execute` on the fake registry. */
export const execute = (
  request: HttpClientRequest.HttpClientRequest = HttpClientRequest.get(`${base}/v2/a/b/manifests/latest`),
  scopes: ReadonlyArray<Auth.Scope> = [Auth.pullScope("a/b")]
) => Effect.flatMap(Auth.Auth, (auth) => auth.execute(registry, request, scopes))

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** A 401 with a `WWW-Authenticate` header (and a registry error body). */
export const unauthorized = (challenge: string) =>
  json(401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, {
    "www-authenticate": challenge
  })

export const bearer = (scope = "repository:a/b:pull", extra = "") =>
  `Bearer realm="${realm}",service="${registry}",scope="${scope}"${extra}`

/**
 * A registry that wants `Bearer tok-…` (or what `accepts` says) and a token server that counts up.
 * `token` answers token requests (default `{"token":"tok-N"}`).
 */
export const world = (options: {
  readonly challenge?: (sent: Sent) => string
  readonly token?: (sent: Sent, n: number) => Response | Effect.Effect<Response>
  readonly accepts?: (authorization: string | undefined, sent: Sent) => boolean
  readonly ok?: (sent: Sent) => Response
} = {}): Handler => {
  let issued = 0
  return (sent) => {
    if (sent.url.host === "auth.example") {
      issued++
      return options.token ? options.token(sent, issued) : json(200, { token: `tok-${issued}` })
    }
    const authorization = sent.headers["authorization"]
    const accepted = options.accepts
      ? options.accepts(authorization, sent)
      : authorization?.startsWith("Bearer tok-") ?? false
    if (accepted) return options.ok ? options.ok(sent) : new Response("ok", { status: 200 })
    return unauthorized(options.challenge ? options.challenge(sent) : bearer())
  }
}
