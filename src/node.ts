/**
 * The Node.js wiring: an undici-based `HttpClient` with TLS options, and (as the other services land)
 * the whole default stack in one Layer.
 *
 * This is the only module that depends on `@effect/platform-node`; everything else runs on any
 * `HttpClient` (e.g. `FetchHttpClient` with `redirect: "manual"`).
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

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
}

/**
 * An undici `HttpClient` for registries. It never follows redirects by itself (the Transport does,
 * so that credentials never reach another origin).
 *
 * @example
 * Transport.layer().pipe(Layer.provide(node.layerHttpClient({ ca: fs.readFileSync("ca.pem", "utf8") })))
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient = (options: HttpOptions = {}): Layer.Layer<HttpClient.HttpClient> =>
  NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
    Layer.provide(
      Layer.scoped(
        NodeHttpClient.Dispatcher,
        Effect.acquireRelease(
          Effect.sync(() =>
            new Undici.Agent({
              connections: options.connections ?? 8,
              connect: {
                ...(options.ca === undefined ? {} : { ca: typeof options.ca === "string" ? options.ca : [...options.ca] }),
                ...(options.insecureSkipVerify === true ? { rejectUnauthorized: false } : {})
              }
            })
          ),
          (agent) => Effect.promise(() => agent.destroy())
        )
      )
    )
  )
