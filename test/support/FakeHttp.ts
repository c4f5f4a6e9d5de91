/**
 * A scripted, recording fake `HttpClient` for unit tests.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { concat } from "../../src/internal/body.js"

/** What the fake saw of one request. */
export interface Recorded {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array | undefined
}

/** A scripted answer: a web `Response`, or `"network-error"` to fail with a transport error. */
export type Answer = Response | "network-error"

/** A handler gets the request (and its index) and answers. */
export type Handler = (request: Recorded, index: number) => Answer | Effect.Effect<Answer>

const readBody = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Uint8Array | undefined> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return Effect.succeed(typeof body.body === "string" ? new TextEncoder().encode(body.body) : undefined)
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => concat(Array.from(chunks))),
        Effect.orDie
      )
    default:
      return Effect.succeed(undefined)
  }
}

/**
 * Builds a fake client; `requests` is the log of what was sent, in order.
 */
export const make = (handler: Handler) => {
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

/** A JSON response. */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** A registry error-envelope response. */
export const errorBody = (status: number, code: string, message = "", headers: Record<string, string> = {}) =>
  json(status, { errors: [{ code, message }] }, headers)
