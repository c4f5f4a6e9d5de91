/**
 * The Node.js wiring: an `HttpClient` on Node's `http`/`https` modules (or undici) with TLS options,
 * and the whole default stack in one Layer.
 *
 * This and `effect-oci/testing` are the only modules that depend on `@effect/platform-node`;
 * everything else runs on any `HttpClient` — see `Stack` (`Stack.layerFetch()` for `fetch`).
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Path from "@effect/platform/Path"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Undici from "@effect/platform-node/Undici"
import * as Tls from "node:tls"
import * as Credentials from "./Credentials.js"
import { IterableBodies, KeepsDeadlines } from "./internal/iterableBody.js"
import * as NodeHttp from "./internal/nodeHttpClient.js"
import * as Stack from "./Stack.js"

/**
 * TLS and connection options of the Node HTTP client.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpOptions {
  /** Extra certificate authorities (PEM) trusted besides the system's, e.g. a private registry's CA. */
  readonly ca?: string | ReadonlyArray<string> | undefined
  /** Skips TLS certificate verification. Only for registries you explicitly choose to trust blindly. */
  readonly insecureSkipVerify?: boolean | undefined
  /** Connections kept per origin (default 8). */
  readonly connections?: number | undefined
  /**
   * How long an idle connection is kept for the next request (default 4 seconds, as undici does), so
   * that a server or proxy dropping idle connections rarely hands back a dead one. A server's
   * `Keep-Alive: timeout=N` hint shortens it (node:http) or replaces it (undici).
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
}

const defaultIdleTimeout = Duration.seconds(4)

/**
 * Node's own `http`/`https` client for registries, with keep-alive connections. It never follows
 * redirects by itself (the Transport does, so that credentials never reach another origin). This
 * is the default: it loads nothing beyond Node's built-in modules, and reads and writes large blobs
 * with less CPU and memory than undici (see `layerHttpClientUndici` for that one). The connections
 * are closed with the Layer's scope.
 *
 * @example
 * Transport.layer().pipe(Layer.provide(node.layerHttpClient({ ca: fs.readFileSync("ca.pem", "utf8") })))
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient = (options: HttpOptions = {}): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(
    HttpClient.HttpClient,
    NodeHttp.make({
      maxSockets: options.connections ?? 8,
      idleTimeoutMillis: Duration.toMillis(options.idleTimeout ?? defaultIdleTimeout),
      // `ca` replaces Node's trusted roots: the extra authorities are added to them instead
      ...(options.ca === undefined ? {} : { ca: [...Tls.rootCertificates, ...[options.ca].flat()] }),
      ...(options.insecureSkipVerify === true ? { rejectUnauthorized: false } : {})
    })
  ).pipe(
    // the client takes an AsyncIterable body and pulls it as it writes: uploads of files use it;
    // and it keeps the Transport's deadlines itself, with a timer per request instead of a fiber
    Layer.merge(Layer.succeed(IterableBodies, true)),
    Layer.merge(Layer.succeed(KeepsDeadlines, true))
  )

/**
 * An undici `HttpClient` for registries, for programs that prefer undici's connection handling. Like
 * `layerHttpClient` it never follows redirects itself.
 *
 * undici (a large module) is loaded, and its connection pool made, on the first request: a program
 * that builds the stack but sends nothing, or answers from its caches, never loads it. The pool is
 * closed with the Layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClientUndici = (options: HttpOptions = {}): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      // made once, by the first request that finds the modules loaded (in one synchronous step, so an
      // interrupted first request leaves nothing half made)
      let agent: Undici.Agent | undefined
      let client: HttpClient.HttpClient | undefined
      let closed = false
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          closed = true
          return agent === undefined ? Effect.void : Effect.promise(() => agent!.destroy())
        })
      )
      const undici = Effect.flatMap(
        Effect.promise(() => Promise.all([import("@effect/platform-node/NodeHttpClient"), import("@effect/platform-node/Undici")])),
        ([Client, UndiciModule]) =>
          Effect.sync(() => {
            if (client === undefined && !closed) {
              // undici is CommonJS: its `default` is the module itself, the one export a bundler's
              // lazily loaded chunk keeps for sure (the CLI's bundle has no named `Agent` there)
              agent = new UndiciModule.default.Agent({
                connections: options.connections ?? 8,
                keepAliveTimeout: Duration.toMillis(options.idleTimeout ?? defaultIdleTimeout),
                connect: {
                  ...(options.ca === undefined ? {} : { ca: typeof options.ca === "string" ? options.ca : [...options.ca] }),
                  ...(options.insecureSkipVerify === true ? { rejectUnauthorized: false } : {})
                }
              })
              client = keepAliveAfterHead(Client.makeUndici(agent), Client.UndiciRequestOptions)
            }
            return client
          })
      )
      return HttpClient.makeWith(
        (effect: Effect.Effect<HttpClientRequest.HttpClientRequest, HttpClientError.HttpClientError>) =>
          Effect.flatMap(effect, (request) =>
            Effect.flatMap(client === undefined ? undici : Effect.succeed(client), (loaded) =>
              loaded === undefined
                ? Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "the HTTP client's Layer is closed" }))
                : loaded.execute(request))),
        Effect.succeed
      )
    })
  ).pipe(
    // undici takes an AsyncIterable body and pulls it as it writes: uploads of files use it
    Layer.merge(Layer.succeed(IterableBodies, true))
  )

/**
 * undici closes a connection after every HEAD request (in case the server sends a body it should
 * not), so each blob or manifest existence check paid a new TCP (and TLS) connection — half the
 * requests of a many-layer copy. Registries answer HEAD correctly: the connection is kept.
 */
const keepAliveAfterHead = (
  client: HttpClient.HttpClient,
  requestOptions: typeof NodeHttpClient.UndiciRequestOptions
): HttpClient.HttpClient =>
  HttpClient.transform(client, (effect, request) =>
    request.method === "HEAD" ? Effect.provideService(effect, requestOptions, keepConnection) : effect)

/** `reset: false` keeps the connection; the client puts the request's own method and path over these. */
const keepConnection = { method: "HEAD", path: "/", reset: false } as const

/**
 * Options of the default Node stack: those of `Stack.layer`, the HTTP client's TLS options, or a
 * whole `HttpClient` Layer of your own.
 *
 * @since 0.1.0
 * @category models
 */
export interface StackOptions extends Stack.Options {
  /** TLS and connection options of the HTTP client (ignored when `httpClient` is given). */
  readonly http?: HttpOptions | undefined
  /**
   * The `HttpClient` to use instead of Node's — e.g. `layerHttpClientUndici()`, one with a proxy agent, or `FetchHttpClient`.
   * It must hand back redirects instead of following them.
   */
  readonly httpClient?: Layer.Layer<HttpClient.HttpClient> | undefined
  /** Where credentials come from (default: Docker's config.json, then podman's auth.json, with credential helpers). */
  readonly credentials?: Layer.Layer<Credentials.Credentials> | undefined
}

/**
 * Runs credential helpers: Node's command executor, loaded when the first helper runs (most
 * programs never run one, and start-up time is mostly module loading).
 */
const lazyCommandExecutor = Layer.effect(
  CommandExecutor.CommandExecutor,
  Effect.map(FileSystem.FileSystem, (fs) => {
    let executor: CommandExecutor.CommandExecutor | undefined
    const load = Effect.flatMap(Effect.promise(() => import("@effect/platform-node/NodeCommandExecutor")), (NodeCommandExecutor) =>
      Effect.provide(
        CommandExecutor.CommandExecutor,
        NodeCommandExecutor.layer.pipe(Layer.provide(Layer.succeed(FileSystem.FileSystem, fs)))
      ).pipe(Effect.tap((made) => (executor = made))))
    return CommandExecutor.makeExecutor((command) =>
      Effect.flatMap(executor === undefined ? load : Effect.succeed(executor), (real) => real.start(command))
    )
  })
)

/**
 * What the credential stores need: files, paths, and processes for credential helpers. Only these
 * three (not `NodeContext`, which also loads the terminal and worker modules).
 */
const credentialFiles = lazyCommandExecutor.pipe(
  Layer.provideMerge(Layer.merge(NodeFileSystem.layer, NodePath.layer))
)

/**
 * The whole default stack on Node in one Layer: Node's HTTP client, Transport (options from code, or
 * from `Config` when none are given), Credentials (Docker and podman files, credential helpers), Auth,
 * an in-memory BlobCache, the Repository, and Node's FileSystem and Path (for OCI layouts and copies).
 *
 * @example
 * Effect.runPromise(program.pipe(Effect.provide(node.layer())))
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: StackOptions = {}
): Layer.Layer<Stack.Services | FileSystem.FileSystem | Path.Path, ConfigError.ConfigError> =>
  Stack.layer(options.httpClient ?? layerHttpClient(options.http), {
    ...options,
    credentials: options.credentials ?? Credentials.layer().pipe(Layer.provide(credentialFiles))
  }).pipe(Layer.merge(Layer.merge(NodeFileSystem.layer, NodePath.layer)))
