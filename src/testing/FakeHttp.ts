/**
 * A scripted, recording fake `HttpClient` for unit tests: each request is answered by a function of
 * yours (with a web `Response`, or `"network-error"`), and every request is recorded — method, URL,
 * headers and body — for assertions. No sockets, no timers: it works under `TestClock`.
 *
 * @example
 * ```ts
 * const fake = FakeHttp.make((request, index) =>
 *   index === 0 ? "network-error" : FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")
 * )
 * // provide `Stack.layer(fake.layer)` to the code under test, then assert on `fake.requests`
 * ```
 *
 * The README's "Testing your own code" has a whole program.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { concat } from "../internal/body.js"

/**
 * What the fake saw of one request. A streamed body is read whole before the handler runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorded {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array | undefined
}

/**
 * A scripted answer: a web `Response`, or `"network-error"` to fail the request as a broken
 * connection would (an `HttpClientError.RequestError` of reason `Transport`).
 *
 * @since 0.1.0
 * @category models
 */
export type Answer = Response | "network-error"

/**
 * Answers one request, given what was sent and its index (0 for the first request). It may be an
 * Effect, e.g. to wait on a `Deferred` or sleep under `TestClock`.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (request: Recorded, index: number) => Answer | Effect.Effect<Answer>

/**
 * A fake client: the `HttpClient`, the same as a Layer, and the log of requests sent so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeHttp {
  /** Every request sent, in order; it grows as requests are made (not one whose stream body failed: that fails as `RequestError`). */
  readonly requests: ReadonlyArray<Recorded>
  readonly client: HttpClient.HttpClient
  readonly layer: Layer.Layer<HttpClient.HttpClient>
}

/** The request's body; a stream body that fails fails the request, as a real client's would. */
const readBody = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Uint8Array | undefined, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return Effect.succeed(typeof body.body === "string" ? new TextEncoder().encode(body.body) : undefined)
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => concat(Array.from(chunks))),
        Effect.mapError((cause) =>
          new HttpClientError.RequestError({ request, reason: "Transport", cause, description: "the request body failed" })
        )
      )
    default:
      return Effect.succeed(undefined)
  }
}

/**
 * Builds a fake client answering with `handler`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (handler: Handler): FakeHttp => {
  const requests: Array<Recorded> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = yield* readBody(request)
      const recorded: Recorded = { method: request.method, url, headers: { ...request.headers }, body }
      const index = requests.length
      requests.push(recorded)
      const result = handler(recorded, index)
      const answer = Effect.isEffect(result) ? yield* result : result
      if (answer === "network-error") {
        return yield* new HttpClientError.RequestError({ request, reason: "Transport", description: "connection reset" })
      }
      return HttpClientResponse.fromWeb(request, answer)
    })
  )
  return { requests, client, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

/**
 * A JSON response (`content-type: application/json`).
 *
 * @since 0.1.0
 * @category answers
 */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/**
 * A registry error response: the Distribution error envelope `{"errors":[{"code","message"}]}`.
 *
 * @example
 * FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")
 *
 * @since 0.1.0
 * @category answers
 */
export const errorBody = (status: number, code: string, message = "", headers: Record<string, string> = {}): Response =>
  json(status, { errors: [{ code, message }] }, headers)
