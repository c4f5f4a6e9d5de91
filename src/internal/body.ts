/**
 * Reading response bodies with a size limit, without ever holding more than the limit.
 *
 * @internal
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import {
  BodyTooLarge,
  errorBodyLimit,
  fromResponseText,
  safeUrl,
  TransportError,
  type UnexpectedStatus,
  type WireError
} from "../RegistryError.js"

/**
 * What the body readers need of a response: the Transport's, or any `HttpClientResponse`.
 *
 * @internal
 */
export interface BodyResponse {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly status: number
  readonly headers: Headers.Headers
  readonly stream: Stream.Stream<Uint8Array, { readonly message: string }>
}

/**
 * Reads a whole body of at most `limit` bytes. A `Content-Length` over the limit is refused before
 * reading; a body that grows past it is cut off as soon as it does.
 *
 * @internal
 */
export const readBounded = (
  response: BodyResponse,
  limit: number,
  what: string
): Effect.Effect<Uint8Array, BodyTooLarge | TransportError> => {
  const declared = Number(response.headers["content-length"] ?? NaN)
  if (Number.isFinite(declared) && declared > limit) {
    return Effect.fail(new BodyTooLarge({ what, limit, size: declared }))
  }
  return Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.mapError((error) =>
        new TransportError({
          method: response.request.method,
          url: safeUrl(response.request.url),
          reason: `reading the body failed: ${error.message}`,
          cause: error
        })
      ),
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          size += chunk.byteLength
          if (size > limit) return Effect.fail(new BodyTooLarge({ what, limit }))
          parts.push(chunk)
          return Effect.void
        })
      ),
      Effect.map(() => concat(parts, size))
    )
  })
}

/** How many bytes of a body the Transport reads ahead of its consumer (see `guardStall`). @internal */
export const readAhead = 2 * 1024 * 1024

/** Joins byte chunks into one array. @internal */
export const concat = (parts: ReadonlyArray<Uint8Array>, size?: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(size ?? parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

const decoder = new TextDecoder()

/** Reads a bounded body as UTF-8 text. @internal */
export const readBoundedText = (
  response: BodyResponse,
  limit: number,
  what: string
): Effect.Effect<string, BodyTooLarge | TransportError> =>
  Effect.map(readBounded(response, limit, what), (bytes) => decoder.decode(bytes))

/**
 * Reads what is left of a response we need nothing more from, up to the error-body limit, so that
 * its connection is free for the next request. Never fails.
 *
 * @internal
 */
export const discard = (response: BodyResponse): Effect.Effect<void> =>
  // an empty body (most upload and mount answers) has nothing to read: no stream is started for it
  response.headers["content-length"] === "0"
    ? Effect.void
    : readBoundedText(response, errorBodyLimit, "response").pipe(Effect.ignore)

/**
 * The typed error a refused response carries: its (bounded) error body decoded, or what its status
 * implies. HEAD responses have no body to read.
 *
 * @internal
 */
export const readFailure = (
  response: BodyResponse
): Effect.Effect<WireError | UnexpectedStatus> =>
  Effect.map(
    response.request.method === "HEAD"
      ? Effect.succeed("")
      : readBoundedText(response, errorBodyLimit, "error body").pipe(Effect.orElseSucceed(() => "")),
    (body) =>
      fromResponseText({
        method: response.request.method,
        url: response.request.url,
        status: response.status,
        contentType: response.headers["content-type"],
        body
      })
  )
