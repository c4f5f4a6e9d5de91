/**
 * The Transport implementation: redirects, retries with Retry-After and a shared per-host backoff,
 * timeouts, and typed, stall-guarded response bodies (read as `transportBody.ts` says).
 *
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import {
  InvalidResponse,
  RequestTimeout,
  safeUrl,
  TooManyRequests,
  TransportError,
  Unavailable,
  UnexpectedStatus,
  type WireError
} from "../RegistryError.js"
import * as Metrics from "../Metrics.js"
import * as Reference from "../Reference.js"
import { concat, readBoundedText, readFailure } from "./body.js"
import { BodyStalled, stallWatchedBody } from "./bodyRing.js"
import * as ContentEncoding from "./contentEncoding.js"
import { withEntry } from "./maps.js"
import { guardStall, type ReadInto, readWhole, wholeReaders } from "./transportBody.js"
import type { Response } from "../Transport.js"
import { currentDeadlines, type Deadlines, executeWatched, TimedOut } from "./requestTimeouts.js"

const decoder = new TextDecoder()

/** Resolved transport options (see `Transport.Options` for the documentation of each field). @internal */
export interface ResolvedOptions {
  readonly userAgent: string
  readonly insecure: ReadonlyArray<string>
  readonly secure: ReadonlyArray<string>
  readonly retry: Schedule.Schedule<unknown, RetryableFailure>
  readonly headersTimeout: Duration.Duration
  readonly bodyStallTimeout: Duration.Duration
  readonly maxRetryAfter: Duration.Duration
  readonly maxRedirects: number
  readonly decodeContentEncoding: boolean
}

/** A failure of one attempt; the retry schedule sees these. @internal */
export type AttemptFailure = TransportError | RequestTimeout | UnexpectedStatus | InvalidResponse | WireError

/** The failures a retry may follow. @internal */
export type RetryableFailure = AttemptFailure

const retryableStatuses = new Set([408, 429, 500, 502, 503, 504])

/**
 * Whether an attempt's failure is worth another attempt: no response at all, a headers timeout, or a
 * retryable status — except a 429 whose `Retry-After` exceeds the configured maximum wait.
 *
 * @internal
 */
export const isRetryable = (maxRetryAfter: Duration.Duration) => (failure: AttemptFailure): boolean => {
  switch (failure._tag) {
    case "TransportError":
      return failure.permanent !== true
    case "RequestTimeout":
      return true
    case "InvalidResponse":
      return false
    case "TooManyRequests":
    case "Unavailable":
      return failure.retryAfterMillis === undefined || failure.retryAfterMillis <= Duration.toMillis(maxRetryAfter)
    default:
      return retryableStatuses.has(failure.status)
  }
}

/**
 * Parses `Retry-After`: delay-seconds or an HTTP-date, in milliseconds from `now` (never negative).
 *
 * @internal
 */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** `host` or `host:port` of a URL, lowercased, IPv6 kept in brackets. @internal */
export const hostOf = (url: URL): string => url.host.toLowerCase()

/** The bare host name (no port, no brackets). */
const hostname = (host: string): string => {
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]"))
  const colon = host.lastIndexOf(":")
  return colon === -1 ? host : host.slice(0, colon)
}

/**
 * The typed failure of a 429 / 503, carrying the `Retry-After` wait (a 429 is always
 * `TooManyRequests`, whatever its body said).
 */
const withRetryAfter = (
  failure: WireError | UnexpectedStatus,
  status: number,
  retryAfterMillis: number | undefined
): AttemptFailure => {
  const wire = failure._tag === "UnexpectedStatus" ? undefined : failure
  const fields = {
    status,
    message: wire?.message ?? (status === 429 ? "too many requests" : "service unavailable"),
    errors: wire?.errors ?? [],
    ...(wire?.detail === undefined ? {} : { detail: wire.detail }),
    ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
  }
  if (status === 429) return new TooManyRequests(fields)
  return failure._tag === "Unavailable" || failure._tag === "UnexpectedStatus" ? new Unavailable(fields) : failure
}

/**
 * The request counter tagged with a status, made once per status: a tagged metric made per request
 * costs its key's hashing and a registry lookup every time.
 */
const requestsByStatus = new Map<string, Metric.Metric.Counter<number>>()
const requestsWithStatus = (status: string): Metric.Metric.Counter<number> => {
  let metric = requestsByStatus.get(status)
  if (metric === undefined) {
    metric = Metrics.requests.pipe(Metric.tagged("status", status))
    requestsByStatus.set(status, metric)
  }
  return metric
}

const redirectStatuses = new Set([301, 302, 303, 307, 308])
const credentialHeaders = ["authorization", "cookie", "proxy-authorization"]

/**
 * What happened to a body that failed while being read: how far it got, and the underlying
 * error's own words (the client's wrapper says only "Decode error").
 */
const bodyBroke = (received: number, declared: string | undefined, error: HttpClientError.ResponseError): string => {
  const cause = error.cause instanceof Error && error.cause.message !== "" ? `: ${error.cause.message}` : ""
  const of = declared !== undefined && /^\d+$/.test(declared) ? ` of ${declared}` : ""
  return `the connection closed after ${received}${of} bytes of the body${cause}`
}

const isBodyError = (error: unknown): error is TransportError | RequestTimeout =>
  error instanceof TransportError || error instanceof RequestTimeout

/** The `code`s and messages along an error's `cause` chain (the client's wrapper hides the socket's own). */
const causes = (error: unknown): ReadonlyArray<{ readonly code: string; readonly message: string }> => {
  const out: Array<{ readonly code: string; readonly message: string }> = []
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const code = "code" in current && typeof current.code === "string" ? current.code : ""
    const message = "message" in current && typeof current.message === "string" ? current.message : ""
    if (code !== "") out.push({ code, message })
    current = "cause" in current ? current.cause : undefined
  }
  return out
}

const headerOverflow = new Set(["UND_ERR_HEADERS_OVERFLOW", "HPE_HEADER_OVERFLOW"])
const tlsCodes = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)|HOSTNAME_MISMATCH$)/

/**
 * Failures no retry can mend, with what happened in words: a response header over the client's
 * size limit, or a TLS failure (a certificate the client does not trust, a port that does not
 * speak TLS) named by its code. `undefined` for anything else.
 */
const classify = (error: unknown): { readonly reason: string } | undefined => {
  for (const { code, message } of causes(error)) {
    if (headerOverflow.has(code)) return { reason: `the response headers are larger than the client accepts (${code})` }
    if (tlsCodes.test(code)) return { reason: `TLS: ${code}${message === "" ? "" : ` (${message})`}` }
  }
  return undefined
}

/** The state shared by all fibers using one Transport: when each host may be contacted again. @internal */
export type HostBackoff = Ref.Ref<ReadonlyMap<string, number>>

/** Builds the transport's `execute` and helpers. @internal */
export const make = (given: HttpClient.HttpClient, options: ResolvedOptions, backoff: HostBackoff, keepsDeadlines = false) => {
  // The client's own `http.client` spans record the full URL, its query and the `Location` header:
  // pre-signed blob URLs, signature included. Each hop gets our span instead (see `sendOnce`),
  // whose attributes are all safe.
  const client = HttpClient.withTracerDisabledWhen(given, () => true)
  const listed = (hosts: ReadonlyArray<string>, host: string) =>
    hosts.some((h) => h.toLowerCase() === host || h.toLowerCase() === hostname(host))

  const markedInsecure = (host: string) =>
    options.insecure.some((h) => h.toLowerCase() === host || h.toLowerCase() === hostname(host))

  /** Loopback hosts found to speak TLS: they answered plain http as a TLS server does. */
  const tlsLoopback = new Set<string>()

  const allowsPlainHttp = (host: string): boolean => {
    const lower = host.toLowerCase()
    if (listed(options.secure, lower)) return false
    if (markedInsecure(lower)) return true
    return Reference.isLoopback(lower) && !tlsLoopback.has(lower)
  }

  const baseUrl = (registry: string): string => {
    const host = Reference.apiHost(registry)
    return `${allowsPlainHttp(host) ? "http" : "https"}://${host}`
  }

  const urlOf = (request: HttpClientRequest.HttpClientRequest): URL =>
    Option.getOrElse(HttpClientRequest.toUrl(request), () => new URL(request.url))

  /** Waits while another fiber's 429 holds the host back. */
  const awaitHost = (host: string) =>
    Effect.gen(function*() {
      const until = (yield* Ref.get(backoff)).get(host)
      if (until === undefined) return
      const now = yield* Clock.currentTimeMillis
      if (until > now) yield* Effect.sleep(Duration.millis(until - now))
    })

  const holdHost = (host: string, millis: number) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(backoff, (map) => {
        const until = now + millis
        return (map.get(host) ?? 0) >= until ? map : withEntry(map, host, until)
      }))

  const deadlines: Deadlines = {
    headersMillis: Duration.toMillis(options.headersTimeout),
    stallMillis: Duration.toMillis(options.bodyStallTimeout)
  }

  /**
   * One exchange within the deadlines: a client that keeps them (node.layerHttpClient) gets them
   * with the request; any other is watched from outside (see `requestTimeouts.ts`).
   */
  const exchange = (request: HttpClientRequest.HttpClientRequest, url: URL) =>
    (keepsDeadlines
      ? Effect.locally(client.execute(request), currentDeadlines, deadlines)
      : executeWatched(client, request, deadlines)).pipe(
        Effect.mapError((error) => {
          const late = error._tag === "RequestError" ? error.cause : undefined
          return late instanceof TimedOut
            ? new RequestTimeout({ method: request.method, url: safeUrl(url), phase: late.phase, millis: late.millis })
            : transportError(request, error)
        })
      )

  const transportError = (request: HttpClientRequest.HttpClientRequest, error: HttpClientError.HttpClientError) => {
    const known = classify(error)
    return new TransportError({
      method: request.method,
      url: safeUrl(urlOf(request)),
      reason: known?.reason ?? (error._tag === "RequestError" ? `${error.reason}: ${error.message}` : error.message),
      cause: error,
      ...(known === undefined ? {} : { permanent: true })
    })
  }

  /** The Transport's response: the body, however it is read, has the stall timeout and typed errors. */
  const guardBody = (response: HttpClientResponse.HttpClientResponse): Response => {
    const { method } = response.request
    const url = safeUrl(response.request.url)
    const millis = Duration.toMillis(options.bodyStallTimeout)
    const declared = response.headers["content-length"]
    let received = 0
    const onStall = () => new RequestTimeout({ method, url, phase: "body", millis })
    const counted = (body: Stream.Stream<Uint8Array, HttpClientError.ResponseError>) =>
      body.pipe(
        Stream.mapChunks((chunk) => {
          for (const bytes of chunk) received += bytes.byteLength
          return chunk
        }),
        Stream.mapError((error) =>
          error.cause instanceof BodyStalled
            ? onStall()
            : new TransportError({ method, url, reason: bodyBroke(received, declared, error), cause: error })
        )
      )
    const source = counted(response.stream)
    // A body in a ring (see `bodyRing.ts`) watches for stalls itself, and must not be read ahead:
    // the ring is its read-ahead, and the consumer gives its pieces back.
    const watched = Stream.suspend(() => {
      const body = stallWatchedBody(response, millis)
      return body === undefined ? guardStall(source, options.bodyStallTimeout, onStall) : counted(body)
    })
    const stream = watched.pipe(
      Stream.mapChunksEffect((chunk) => {
        let size = 0
        for (const bytes of chunk) size += bytes.byteLength
        return Effect.as(Metric.incrementBy(Metrics.bytesReceived, size), chunk)
      })
    )
    const codings = options.decodeContentEncoding ? ContentEncoding.codings(response.headers["content-encoding"]) : []
    // Decoded here, so digests and sizes downstream are of the content; the headers that describe
    // the encoded form go, as they no longer describe the body.
    const body = codings.length === 0 ? stream : ContentEncoding.decode(
      stream,
      codings,
      isBodyError,
      (coding) => new TransportError({ method, url, reason: `the body is not valid ${coding} (its Content-Encoding)` })
    )
    const headers = codings.length === 0
      ? response.headers
      : Headers.remove(Headers.remove(response.headers, "content-encoding"), "content-length")
    const readInto: ReadInto | undefined = codings.length === 0
      ? (parts) =>
        Effect.ensuring(
          readWhole(source, options.bodyStallTimeout, onStall, parts),
          Effect.suspend(() => Metric.incrementBy(Metrics.bytesReceived, parts.reduce((n, part) => n + part.byteLength, 0)))
        )
      : undefined
    const text = readInto === undefined
      ? Effect.map(Stream.runCollect(body), (chunks) => decoder.decode(concat(Chunk.toReadonlyArray(chunks))))
      : Effect.suspend(() => {
        const parts: Array<Uint8Array> = []
        return Effect.as(readInto(parts), parts)
      }).pipe(Effect.map((parts) => decoder.decode(concat(parts))))
    const guarded: Response = {
      request: response.request,
      status: response.status,
      headers,
      stream: body,
      text,
      json: Effect.flatMap(text, (body) =>
        Effect.try({
          try: (): unknown => JSON.parse(body),
          catch: () => new InvalidResponse({ url, reason: "the body is not JSON" })
        }))
    }
    if (readInto !== undefined) wholeReaders.set(guarded, readInto)
    return guarded
  }

  /**
   * Why a response's body cannot be read, if it cannot: an encoding this client does not decode,
   * or an encoded partial response (its ranges count encoded bytes, and a piece of a compressed
   * stream does not decode on its own). Bodiless answers (HEAD, 204, 304) are never refused.
   */
  const encodingRefusal = (response: HttpClientResponse.HttpClientResponse, url: URL) => {
    if (!options.decodeContentEncoding || response.request.method === "HEAD") return undefined
    if (response.status === 204 || response.status === 304) return undefined
    const codings = ContentEncoding.codings(response.headers["content-encoding"])
    const unknown = ContentEncoding.unsupported(codings)
    const reason = unknown !== undefined
      ? `the body has Content-Encoding ${JSON.stringify(unknown)}, which this client cannot decode`
      : response.status === 206 && codings.length > 0
      ? `a partial response (206) with Content-Encoding ${JSON.stringify(codings.join(", "))} cannot be decoded`
      : undefined
    return reason === undefined ? undefined : new InvalidResponse({ url: safeUrl(url), reason })
  }

  /** A response whose body was already read (as `text`). */
  const buffered = (response: HttpClientResponse.HttpClientResponse, text: string): Response => ({
    request: response.request,
    status: response.status,
    headers: response.headers,
    stream: Stream.succeed(new TextEncoder().encode(text)),
    text: Effect.succeed(text),
    json: Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => new InvalidResponse({ url: safeUrl(response.request.url), reason: "the body is not JSON" })
    })
  })

  /** Logs registry `Warning` headers (RFC 7234 format `299 - "text"`). */
  const logWarnings = (response: HttpClientResponse.HttpClientResponse) => {
    const warning = response.headers["warning"]
    if (warning === undefined) return Effect.void
    return Effect.logWarning("registry warning").pipe(
      Effect.annotateLogs({ warning, url: safeUrl(response.request.url) })
    )
  }

  /** Turns a retryable or final failing response into its typed failure. */
  const failureOf = (response: HttpClientResponse.HttpClientResponse) =>
    Effect.gen(function*() {
      const failure = yield* readFailure(guardBody(response))
      if (response.status !== 429 && response.status !== 503) return failure
      const now = yield* Clock.currentTimeMillis
      const retryAfterMillis = parseRetryAfter(response.headers["retry-after"], now)
      return withRetryAfter(failure, response.status, retryAfterMillis)
    })

  /**
   * Sends one request (one hop) in its own span, with the attributes of an OpenTelemetry HTTP
   * client span plus the route template and attempt number, and counts it.
   */
  const sendOnce = (request: HttpClientRequest.HttpClientRequest, url: URL, attemptNumber: number) => {
    const sent = request.body._tag === "Uint8Array" ? request.body.body.byteLength : request.body._tag === "Stream" ||
        request.body._tag === "Raw"
      ? Number(request.body.contentLength ?? 0)
      : 0
    const route = Metrics.routeTemplate(url.pathname)
    return exchange(request, url).pipe(
      Effect.tap((response) =>
        Effect.annotateCurrentSpan({
          "http.response.status_code": response.status,
          "http.response.body.size": Number(response.headers["content-length"] ?? 0)
        })
      ),
      Effect.tapBoth({
        onFailure: () => Metric.update(requestsWithStatus("error"), 1),
        onSuccess: (response) => Metric.update(requestsWithStatus(String(response.status)), 1)
      }),
      Effect.zipLeft(sent > 0 ? Metric.incrementBy(Metrics.bytesSent, sent) : Effect.void),
      Effect.withSpan(`${request.method} ${route}`, {
        kind: "client",
        // the caller's stack is in the Repository's span; one per hop would cost a stack capture each
        captureStackTrace: false,
        attributes: {
          "http.request.method": request.method,
          "server.address": url.host,
          "url.full": safeUrl(url),
          "http.route": route,
          "http.request.resend_count": attemptNumber - 1,
          "http.request.body.size": sent
        }
      })
    )
  }

  /** One attempt: send, follow redirects; a retryable status becomes a failure. */
  const attempt = (request: HttpClientRequest.HttpClientRequest, attemptNumber: number) =>
    Effect.gen(function*() {
      let current = request
      for (let hop = 0;; hop++) {
        const url = urlOf(current)
        const host = hostOf(url)
        yield* awaitHost(host)
        const response = yield* sendOnce(current, url, attemptNumber)
        yield* logWarnings(response)
        const location = response.headers["location"]
        if (redirectStatuses.has(response.status) && location !== undefined) {
          if (hop >= options.maxRedirects) {
            return yield* new InvalidResponse({
              url: safeUrl(urlOf(request)),
              reason: `stopped after ${options.maxRedirects} redirects`
            })
          }
          yield* discardBody(response)
          current = yield* redirect(current, url, response.status, location)
          continue
        }
        if (url.protocol === "http:" && response.status === 400 && response.headers["content-type"] === undefined) {
          // Go's TLS servers (distribution among them) answer plain http with a bare 400.
          const said = yield* readBoundedText(guardBody(response), 1024, "response").pipe(Effect.orElseSucceed(() => ""))
          if (said.includes("HTTP request to an HTTPS server")) {
            if (!Reference.isLoopback(host) || markedInsecure(host)) {
              return yield* new InvalidResponse({
                url: safeUrl(url),
                reason: `${host} speaks TLS on this port (it answered plain http with "${said.trim()}"): ` +
                  "use https for it (list it in `secure`, not in `insecure`)"
              })
            }
            // A loopback registry that speaks TLS: https from now on, this request included.
            tlsLoopback.add(host)
            const upgraded = new URL(url)
            upgraded.protocol = "https:"
            current = HttpClientRequest.setUrl(current, upgraded)
            continue
          }
          return buffered(response, said)
        }
        if (retryableStatuses.has(response.status)) {
          const failure = yield* failureOf(response)
          if (failure._tag === "TooManyRequests") {
            yield* holdHost(host, failure.retryAfterMillis ?? 1000)
          }
          return yield* failure
        }
        const refused = encodingRefusal(response, url)
        if (refused !== undefined) {
          yield* discardBody(response)
          return yield* refused
        }
        return guardBody(response)
      }
    })

  const discardBody = (response: HttpClientResponse.HttpClientResponse) =>
    Stream.runDrain(Stream.take(response.stream, 0)).pipe(Effect.ignore)

  /** The request to send after a redirect; credentials never go to another origin. */
  const redirect = (
    request: HttpClientRequest.HttpClientRequest,
    from: URL,
    status: number,
    location: string
  ): Effect.Effect<HttpClientRequest.HttpClientRequest, InvalidResponse> => {
    let target: URL
    try {
      target = new URL(location, from)
    } catch {
      return Effect.fail(
        new InvalidResponse({ url: safeUrl(from), reason: "redirect to an invalid Location" })
      )
    }
    if (target.protocol !== "https:" && target.protocol !== "http:") {
      return Effect.fail(
        new InvalidResponse({ url: safeUrl(from), reason: "redirect to a non-http(s) URL" })
      )
    }
    if (from.protocol === "https:" && target.protocol === "http:" && !allowsPlainHttp(hostOf(target))) {
      return Effect.fail(
        new InvalidResponse({ url: safeUrl(from), reason: "redirect from https to http refused" })
      )
    }
    const toGet = (status === 301 || status === 302 || status === 303) && request.method !== "HEAD"
    const sameOrigin = target.origin === from.origin
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) =>
        !(toGet && (name === "content-type" || name === "content-length")) &&
        (sameOrigin || !credentialHeaders.includes(name))
      )
    )
    const next = HttpClientRequest.make(toGet ? "GET" : request.method)(target.toString(), {
      headers,
      ...(toGet ? {} : { body: request.body })
    })
    return Effect.succeed(next)
  }

  /**
   * Whether a failure may be retried for this request. A PATCH appends to an upload session, so
   * resending it could duplicate or misplace bytes: the upload engine resumes from the registry's
   * offset instead. A streamed body may have been partly taken before the connection broke, so it
   * is only resent after a response that refused it. So is a raw body: the uploads send blob bytes
   * that way (a file the client pulls piece by piece, see `iterableBody.ts`, or a small blob's
   * bytes in one piece), and a registry may have appended a part of them to the session.
   */
  const retryableFor = (request: HttpClientRequest.HttpClientRequest) => {
    const base = isRetryable(options.maxRetryAfter)
    if (request.method === "PATCH") return () => false
    if (request.body._tag !== "Stream" && request.body._tag !== "Raw") return base
    return (failure: AttemptFailure) =>
      failure._tag !== "TransportError" && failure._tag !== "RequestTimeout" && base(failure)
  }

  const retryPolicy = (request: HttpClientRequest.HttpClientRequest) => options.retry.pipe(
    Schedule.whileInput(retryableFor(request)),
    Schedule.passthrough,
    Schedule.modifyDelay((failure: RetryableFailure, delay) =>
      (failure._tag === "TooManyRequests" || failure._tag === "Unavailable") && failure.retryAfterMillis !== undefined
        ? Duration.max(delay, Duration.millis(failure.retryAfterMillis))
        : delay
    )
  )

  const execute = (request: HttpClientRequest.HttpClientRequest) => {
    const withAgent = HttpClientRequest.setHeaders(request, {
      ...(request.headers["user-agent"] === undefined ? { "user-agent": options.userAgent } : {}),
      // A range of an encoded body cannot be decoded: ranges are asked for unencoded.
      ...(request.headers["range"] !== undefined && request.headers["accept-encoding"] === undefined
        ? { "accept-encoding": "identity" }
        : {})
    })
    return Effect.suspend(() => {
      let attempts = 0
      return Effect.suspend(() => {
        attempts++
        return attempts > 1
          ? Effect.zipRight(Metric.increment(Metrics.retries), attempt(withAgent, attempts))
          : attempt(withAgent, attempts)
      }).pipe(Effect.retry(retryPolicy(withAgent)))
    }).pipe(
      Effect.withSpan("Transport.execute", {
        kind: "client",
        captureStackTrace: false,
        attributes: { "http.request.method": request.method, "url.full": safeUrl(urlOf(request)) }
      })
    )
  }

  return { baseUrl, allowsPlainHttp, execute } as const
}

/** An exponential, jittered, capped and bounded schedule (see `Transport.exponentialRetry`). @internal */
export const exponentialRetry = (options: {
  readonly base: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  readonly times: number
}): Schedule.Schedule<unknown, unknown> =>
  Schedule.exponential(options.base, 2).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(options.maxDelay)),
    Schedule.intersect(Schedule.recurs(options.times))
  )

/** The default retry schedule: exponential from 200 ms, jittered, each delay capped at 10 s, 5 retries. @internal */
export const defaultRetry = exponentialRetry({ base: "200 millis", maxDelay: "10 seconds", times: 5 })
