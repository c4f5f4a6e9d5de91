/**
 * The Transport service: sends one request to one registry and returns the response or a typed error.
 *
 * It owns everything below authentication: the base URL of a registry (https, or plain http for
 * loopback and hosts marked insecure), the `User-Agent`, redirects (followed here, at most 10, and
 * `Authorization` / cookies never go to another origin), retries as a `Schedule` (connection
 * failures, 408, 429, 500, 502, 503, 504; `Retry-After` honoured; a 429 slows every fiber talking to
 * that host), and timeouts as `Duration`s (headers, and a stall timeout on bodies).
 *
 * Responses with any other status are returned as they are: the caller (Auth, Repository) decides
 * what a 401 or a 404 means for its operation.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as internal from "./internal/transport.js"
import { IterableBodies, KeepsDeadlines } from "./internal/iterableBody.js"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Headers from "@effect/platform/Headers"
import { InvalidResponse } from "./RegistryError.js"
import type {
  RequestTimeout,
  TooManyRequests,
  TransportError,
  Unavailable,
  UnexpectedStatus,
  WireError
} from "./RegistryError.js"

/**
 * Errors the transport itself can fail with (after retries are exhausted).
 *
 * @since 0.1.0
 * @category models
 */
export type TransportFailure =
  | TransportError
  | RequestTimeout
  | TooManyRequests
  | Unavailable
  | UnexpectedStatus
  | InvalidResponse
  | WireError

/**
 * The Transport service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("effect-oci/Transport")<Transport, {
  /**
   * The base URL of a registry host (`"ghcr.io"` → `"https://ghcr.io"`, `"localhost:5000"` →
   * `"http://localhost:5000"`, `"docker.io"` → `"https://registry-1.docker.io"`).
   */
  readonly baseUrl: (registry: string) => string
  /**
   * Whether plain http may be used with a host (`"host"` or `"host:port"`): true for loopback
   * (`localhost`, 127.0.0.0/8, `::1`) and for hosts the user marked insecure.
   */
  readonly allowsPlainHttp: (host: string) => boolean
  /**
   * Sends a request (absolute URL), following redirects and retrying as configured. The response
   * body stream is guarded by the stall timeout and fails with `TransportError` / `RequestTimeout`.
   */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<Response, TransportFailure>
  /**
   * Whether the HTTP client takes an `AsyncIterable` request body and pulls it as it writes
   * (`node.layerHttpClient`'s does): uploads of files then read into reused buffers.
   */
  readonly iterableBodies?: boolean | undefined
}>() {}

/**
 * A response as the Transport returns it: status and headers, and a body whose every way of reading
 * is guarded by the stall timeout and typed — `TransportError` when the connection breaks,
 * `RequestTimeout` when it stalls. The body is read up to 2 MiB ahead of its consumer, and what
 * arrived meanwhile comes as one chunk of several byte arrays: consume it chunk-wise
 * (`Stream.mapChunks`, `Stream.runForEachChunk`) to pay per batch rather than per array.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  /** The request that was answered (after redirects: the last one sent). */
  readonly request: HttpClientRequest.HttpClientRequest
  readonly status: number
  readonly headers: Headers.Headers
  /** The body as a stream of bytes (read once). */
  readonly stream: Stream.Stream<Uint8Array, TransportError | RequestTimeout>
  /** The whole body as UTF-8 text (unbounded: prefer a bounded read for bodies of unknown size). */
  readonly text: Effect.Effect<string, TransportError | RequestTimeout>
  /** The whole body parsed as JSON; a body that is not JSON fails with `InvalidResponse`. */
  readonly json: Effect.Effect<unknown, TransportError | RequestTimeout | InvalidResponse>
}

/**
 * Options of the transport. Every field has a default; see {@link defaults}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Sent as `User-Agent` unless a request sets its own. */
  readonly userAgent?: string | undefined
  /** Hosts (`host` or `host:port`) that may be spoken to over plain http. Loopback may unless listed in `secure`. */
  readonly insecure?: ReadonlyArray<string> | undefined
  /** Hosts that are always spoken to over https, loopback ones included (e.g. a TLS registry on `localhost:5443`). */
  readonly secure?: ReadonlyArray<string> | undefined
  /**
   * When to try again after a retryable failure (connection failure, headers timeout, 408, 429,
   * 500, 502, 503, 504). A `Retry-After` longer than the schedule's delay wins.
   */
  readonly retry?: Schedule.Schedule<unknown, RetryableFailure> | undefined
  /**
   * Time allowed for connecting and for the response headers, per attempt. Sending a request body
   * is not counted: a slow upload is bounded by `bodyStallTimeout`, and once the body is all sent
   * the answer may take the longer of the two timeouts (its last bytes may still be in the
   * connection's buffers, and a registry may take a while to commit a large blob).
   */
  readonly headersTimeout?: Duration.DurationInput | undefined
  /**
   * Time a body may go without moving a byte: a response body delivering nothing, or a request
   * body (an upload) the connection takes nothing of. There is no overall body timeout.
   */
  readonly bodyStallTimeout?: Duration.DurationInput | undefined
  /** The longest `Retry-After` waited for; above it the request fails at once with `TooManyRequests`. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** The most redirects followed for one request. */
  readonly maxRedirects?: number | undefined
  /**
   * Whether response bodies with a `Content-Encoding` (`gzip`, `deflate`, or a list of them) are
   * decoded here, before digests are checked; an encoding it cannot decode, or an encoded partial
   * (206) response, is an `InvalidResponse` naming it. Default `true`, right for Node's clients,
   * which hand bodies over as sent, and for `Stack.layerFetchHttpClient`, which drops the headers
   * of what `fetch` already decoded. Set `false` over another `fetch`-based `HttpClient`: `fetch`
   * decodes bodies itself but leaves the header, so decoding again would corrupt them.
   */
  readonly decodeContentEncoding?: boolean | undefined
}

/**
 * A failure the retry schedule is given as input.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryableFailure = internal.RetryableFailure

/**
 * The default options: exponential backoff from 200 ms with jitter, each delay capped at 10 s, at most
 * 5 retries; 30 s for headers; 60 s body stall; `Retry-After` waited up to 5 minutes; 10 redirects.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  userAgent: "effect-oci/0.1.0",
  insecure: [] as ReadonlyArray<string>,
  secure: [] as ReadonlyArray<string>,
  retry: internal.defaultRetry,
  headersTimeout: Duration.seconds(30),
  bodyStallTimeout: Duration.seconds(60),
  maxRetryAfter: Duration.minutes(5),
  maxRedirects: 10,
  decodeContentEncoding: true
} as const

const resolve = (options: Options): internal.ResolvedOptions => ({
  userAgent: options.userAgent ?? defaults.userAgent,
  insecure: options.insecure ?? defaults.insecure,
  secure: options.secure ?? defaults.secure,
  retry: options.retry ?? defaults.retry,
  headersTimeout: Duration.decode(options.headersTimeout ?? defaults.headersTimeout),
  bodyStallTimeout: Duration.decode(options.bodyStallTimeout ?? defaults.bodyStallTimeout),
  maxRetryAfter: Duration.decode(options.maxRetryAfter ?? defaults.maxRetryAfter),
  maxRedirects: options.maxRedirects ?? defaults.maxRedirects,
  decodeContentEncoding: options.decodeContentEncoding ?? defaults.decodeContentEncoding
})

/**
 * Builds a transport on the `HttpClient` in context. The client must not follow redirects itself
 * (`effect-oci/node`'s node:http and undici clients do not; for `FetchHttpClient` set `redirect: "manual"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Transport["Type"], never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const backoff = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    // told by the client's Layer (node.layerHttpClient): nothing about a client says it
    const iterableBodies = yield* IterableBodies
    const keepsDeadlines = yield* KeepsDeadlines
    return Transport.of({ ...internal.make(client, resolve(options), backoff, keepsDeadlines), iterableBodies })
  })

/**
 * The transport as a Layer, with options given in code.
 *
 * @example
 * Transport.layer({ insecure: ["registry.internal:5000"], retry: Schedule.recurs(2) })
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Transport, never, HttpClient.HttpClient> =>
  Layer.effect(Transport, make(options))

/**
 * The options read from `Config` (environment variables by default), each optional:
 * `OCI_USER_AGENT`, `OCI_INSECURE_REGISTRIES` and `OCI_SECURE_REGISTRIES` (comma-separated), `OCI_RETRY_TIMES`,
 * `OCI_RETRY_BASE` (a duration, e.g. `200 millis`), `OCI_RETRY_MAX_DELAY`, `OCI_HEADERS_TIMEOUT`,
 * `OCI_BODY_STALL_TIMEOUT`, `OCI_MAX_RETRY_AFTER`, `OCI_MAX_REDIRECTS`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  userAgent: Config.option(Config.string("OCI_USER_AGENT")),
  insecure: Config.option(Config.array(Config.string(), "OCI_INSECURE_REGISTRIES")),
  secure: Config.option(Config.array(Config.string(), "OCI_SECURE_REGISTRIES")),
  retryTimes: Config.option(Config.integer("OCI_RETRY_TIMES")),
  retryBase: Config.option(Config.duration("OCI_RETRY_BASE")),
  retryMaxDelay: Config.option(Config.duration("OCI_RETRY_MAX_DELAY")),
  headersTimeout: Config.option(Config.duration("OCI_HEADERS_TIMEOUT")),
  bodyStallTimeout: Config.option(Config.duration("OCI_BODY_STALL_TIMEOUT")),
  maxRetryAfter: Config.option(Config.duration("OCI_MAX_RETRY_AFTER")),
  maxRedirects: Config.option(Config.integer("OCI_MAX_REDIRECTS"))
}).pipe(
  Config.map((c): Options => {
    const retry = Option.isNone(c.retryTimes) && Option.isNone(c.retryBase) && Option.isNone(c.retryMaxDelay)
      ? undefined
      : exponentialRetry({
        base: Option.getOrElse(c.retryBase, () => Duration.millis(200)),
        maxDelay: Option.getOrElse(c.retryMaxDelay, () => Duration.seconds(10)),
        times: Option.getOrElse(c.retryTimes, () => 5)
      })
    return {
      userAgent: Option.getOrUndefined(c.userAgent),
      insecure: Option.getOrUndefined(c.insecure),
      secure: Option.getOrUndefined(c.secure),
      retry,
      headersTimeout: Option.getOrUndefined(c.headersTimeout),
      bodyStallTimeout: Option.getOrUndefined(c.bodyStallTimeout),
      maxRetryAfter: Option.getOrUndefined(c.maxRetryAfter),
      maxRedirects: Option.getOrUndefined(c.maxRedirects)
    }
  })
)

/**
 * The transport with options from {@link config}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Transport, ConfigError.ConfigError, HttpClient.HttpClient> = Layer.effect(
  Transport,
  Effect.flatMap(config, make)
)

/**
 * An exponential retry schedule: `base`, `2·base`, `4·base`, … with ±20 % jitter, each delay at most
 * `maxDelay`, at most `times` retries.
 *
 * @since 0.1.0
 * @category schedules
 */
export const exponentialRetry: (options: {
  readonly base: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  readonly times: number
}) => Schedule.Schedule<unknown, unknown> = internal.exponentialRetry

/**
 * Parses a `Retry-After` value (delay-seconds or an HTTP-date) into milliseconds from `now`.
 *
 * @since 0.1.0
 * @category utils
 */
export const parseRetryAfter: (value: string | undefined, now: number) => number | undefined =
  internal.parseRetryAfter

/**
 * The body of a response returned by {@link Transport}'s `execute` (its `stream`; see
 * {@link Response}).
 *
 * @since 0.1.0
 * @category utils
 */
export const bodyStream = (
  response: Response
): Stream.Stream<Uint8Array, TransportError | RequestTimeout> => response.stream

/**
 * What `GET /v2/` says about a registry.
 *
 * @since 0.1.0
 * @category models
 */
export interface PingResult {
  /** 200 (open) or 401 (needs authentication; see `authenticate`). */
  readonly status: number
  /** The `Docker-Distribution-API-Version` header (`registry/2.0`), when sent. */
  readonly apiVersion: string | undefined
  /** The raw `WWW-Authenticate` challenge of a 401. */
  readonly authenticate: string | undefined
}

/**
 * Pings a registry (`GET /v2/`, unauthenticated): tells whether it speaks the v2 API and how it
 * wants to be authenticated. A registry without the v2 API (404) fails with `InvalidResponse`.
 *
 * @example
 * const { apiVersion, status } = yield* Transport.ping("localhost:5000")
 *
 * @since 0.1.0
 * @category utils
 */
export const ping = (registry: string): Effect.Effect<PingResult, TransportFailure, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const url = `${transport.baseUrl(registry)}/v2/`
    const response = yield* transport.execute(HttpClientRequest.get(url))
    yield* Effect.ignore(Stream.runDrain(bodyStream(response)))
    if (response.status !== 200 && response.status !== 401) {
      return yield* new InvalidResponse({
        reason: `GET /v2/ answered ${response.status}: not an OCI / Docker v2 registry`,
        url
      })
    }
    return {
      status: response.status,
      apiVersion: response.headers["docker-distribution-api-version"],
      authenticate: response.headers["www-authenticate"]
    }
  }).pipe(Effect.withSpan("Transport.ping", { attributes: { registry } }))
