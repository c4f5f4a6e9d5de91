/**
 * The client stack a verb runs on, built from the global options: TLS options on the HTTP client,
 * retries and plain-http hosts on the Transport, request logging for `-v`, and the usual
 * Credentials, Auth, BlobCache and Repository.
 *
 * @internal
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Auth from "../Auth.js"
import * as BlobCache from "../BlobCache.js"
import * as Credentials from "../Credentials.js"
import * as node from "../node.js"
import * as Repository from "../Repository.js"
import type * as Stack from "../Stack.js"
import * as Transport from "../Transport.js"
import type { Globals } from "./global.js"
import { globals } from "./global.js"
import { UsageError } from "./errors.js"
import * as Output from "./output.js"

/** `scheme://host/path` of a URL: no user-info, no query, no fragment. */
export const logUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return "<invalid url>"
  }
}

/**
 * Wraps a transport: `--plain-http` makes every registry plain http; `-v` logs each request
 * (method, URL without query, status or failure, milliseconds) on stderr.
 */
const decorate = (transport: Transport.Transport["Type"], g: Globals): Transport.Transport["Type"] => {
  const baseUrl = g.plainHttp
    ? (registry: string) => transport.baseUrl(registry).replace(/^https:/, "http:")
    : transport.baseUrl
  const allowsPlainHttp = g.plainHttp ? () => true : transport.allowsPlainHttp
  const execute: Transport.Transport["Type"]["execute"] = g.verbose
    ? (request) =>
      Effect.suspend(() => {
        const started = Date.now()
        const line = (outcome: string) =>
          Output.stderrLine(`${request.method} ${logUrl(request.url)} ${outcome} ${Date.now() - started}ms`)
        return transport.execute(request).pipe(
          Effect.tap((response) => line(String(response.status))),
          Effect.tapError((error) => line(`failed (${error._tag})`))
        )
      })
    : transport.execute
  // the rest as it is: `iterableBodies` is what lets a push read its file into reused buffers
  return { ...transport, baseUrl, allowsPlainHttp, execute }
}

/**
 * The Transport options: those of the environment (`OCI_RETRY_TIMES`, `OCI_SECURE_REGISTRIES`,
 * timeouts, … — see `Transport.config`), with the global options on top.
 */
const transportOptions = (g: Globals): Effect.Effect<Transport.Options, UsageError> =>
  Effect.map(
    Effect.mapError(Transport.config, (e) => new UsageError({ message: `bad environment: ${String(e)}` })),
    (base): Transport.Options => ({
      ...base,
      insecure: [...(base.insecure ?? []), ...g.insecure],
      ...(Option.isSome(g.retryTimes)
        ? {
          retry: Transport.exponentialRetry({ base: "200 millis", maxDelay: "10 seconds", times: g.retryTimes.value })
        }
        : {})
    })
  )

/** Reads `--ca-file` (checked to exist by the parser; unreadable is a usage error). */
const httpOptions = (g: Globals): Effect.Effect<node.HttpOptions, UsageError> =>
  Effect.try({
    try: () => ({
      ...(Option.isSome(g.caFile) ? { ca: Fs.readFileSync(g.caFile.value, "utf8") } : {}),
      insecureSkipVerify: g.tlsVerify === "false",
      connections: Math.max(8, Option.getOrElse(g.concurrency, () => 4) * 2)
    }),
    catch: (e) => new UsageError({ message: `cannot read --ca-file: ${e instanceof Error ? e.message : String(e)}` })
  })

/**
 * A layer put between the Node HTTP client and the Transport (e.g. sync's per-registry limits).
 */
export type AroundHttp<E> = Layer.Layer<HttpClient.HttpClient, E, HttpClient.HttpClient>

/** The Transport for these options (on the Node HTTP client, behind `around` when given). */
export const transportLayer = <E = never>(
  g: Globals,
  http: node.HttpOptions,
  around?: AroundHttp<E>
): Layer.Layer<Transport.Transport, UsageError | E> => {
  const client = node.layerHttpClient(http)
  return Layer.effect(
    Transport.Transport,
    transportOptions(g).pipe(Effect.flatMap(Transport.make), Effect.map((t) => decorate(t, g)))
    // `provideMerge`: `around`'s HttpClient, and what the client's Layer tells the Transport besides
  ).pipe(Layer.provide(around === undefined ? client : around.pipe(Layer.provideMerge(client))))
}

/** Everything a registry verb needs. */
export type Services = Stack.Services

/**
 * The whole stack for `g`, with `credentials` (default: Docker's config.json and podman's
 * auth.json, as `DOCKER_CONFIG` / `REGISTRY_AUTH_FILE` say), the HTTP client behind `around`.
 */
export const layer = <E = never>(
  g: Globals,
  credentials?: Layer.Layer<Credentials.Credentials>,
  around?: AroundHttp<E>
): Layer.Layer<Services, UsageError | E> =>
  Layer.unwrapEffect(Effect.map(httpOptions(g), (http) => {
    const transport = transportLayer(g, http, around)
    const creds = credentials ?? Credentials.layer().pipe(Layer.provide(NodeContext.layer))
    const auth = Auth.layer().pipe(Layer.provideMerge(Layer.merge(transport, creds)))
    return Repository.layer().pipe(Layer.provideMerge(Layer.merge(auth, BlobCache.layerMemory())))
  }))

/**
 * Runs a verb's effect on the stack the global options describe.
 */
export const provide = <A, E, R>(
  effect: Effect.Effect<A, E, R>
) =>
  Effect.flatMap(globals, (g) => Effect.provide(effect, layer(g)))
