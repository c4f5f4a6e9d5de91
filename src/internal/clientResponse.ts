/**
 * What the Node client's two kinds of response (node:http's, and a GET on a connection of its own,
 * see `http1Response.ts`) have in common as an `HttpClientResponse`: headers, cookies, the error
 * of a body that cannot be read, and a text read once and kept for `json` and later reads.
 *
 * @internal
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"

/** Response headers as a client receives them (`set-cookie` may come several times). @internal */
export type RawHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** @internal */
export abstract class ClientResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly headers: Headers.Headers
  private readonly setCookie: string | ReadonlyArray<string> | undefined
  private cachedText: Effect.Effect<string, HttpClientError.ResponseError> | undefined

  constructor(readonly request: HttpClientRequest.HttpClientRequest, raw: RawHeaders) {
    super()
    this.headers = Headers.fromInput(raw)
    this.setCookie = raw["set-cookie"]
  }

  abstract get status(): number
  abstract get remoteAddress(): Option.Option<string>
  abstract get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError>
  abstract get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError>
  /** Reads the body as text (once: {@link text} keeps it). */
  protected abstract readText(): Effect.Effect<string, HttpClientError.ResponseError>

  readonly onError = (cause: unknown) => new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })

  get cookies(): Cookies.Cookies {
    return this.setCookie === undefined ? Cookies.empty : Cookies.fromSetCookie(this.setCookie)
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    // a body can be read once: the text is kept for `json` and later reads
    this.cachedText ??= Effect.runSync(Effect.cached(this.readText()))
    return this.cachedText
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.tryMap(this.text, { try: (text) => (text === "" ? null : JSON.parse(text)), catch: this.onError })
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({ try: () => UrlParams.fromInput(new URLSearchParams(text)), catch: this.onError }))
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.fail(this.onError(new Error("form bodies are not supported")))
  }
  toJSON(): unknown {
    return IncomingMessage.inspect(this, { _id: "@effect/platform/HttpClientResponse", request: this.request.toJSON(), status: this.status })
  }
}
