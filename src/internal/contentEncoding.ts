/**
 * `Content-Encoding` of responses: a registry or a proxy in front of it may compress a manifest or
 * blob response (`gzip`, `deflate`, or several, listed in the order they were applied). Digests
 * are of the decoded content, so the body is decoded before anyone reads it. Decoding uses the
 * `DecompressionStream` every runtime has (Node, Deno, Bun, browsers).
 *
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Stream from "effect/Stream"

/** The codings we decode, by their `Content-Encoding` token, as `DecompressionStream` formats. */
const formats: Readonly<Record<string, "gzip" | "deflate">> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate"
}

/**
 * The codings of a `Content-Encoding` header, in the order they were applied, lower-cased, without
 * `identity` (which means "none"). Empty when the body is not encoded.
 */
export const codings = (header: string | undefined): ReadonlyArray<string> =>
  header === undefined
    ? []
    : header.split(",").map((token) => token.trim().toLowerCase()).filter((token) => token !== "" && token !== "identity")

/** The first coding of `list` this client cannot decode, if any. */
export const unsupported = (list: ReadonlyArray<string>): string | undefined =>
  list.find((coding) => !Object.hasOwn(formats, coding))

/**
 * `body` decoded, last-applied coding first. A failure of `body` itself passes through as it is
 * (recognised by `isOwn`); a body that does not decode fails with `onCorrupt(coding)`.
 */
export const decode = <E, E2>(
  body: Stream.Stream<Uint8Array, E>,
  list: ReadonlyArray<string>,
  isOwn: (error: unknown) => error is E,
  onCorrupt: (coding: string) => E2
): Stream.Stream<Uint8Array, E | E2> =>
  list.reduceRight<Stream.Stream<Uint8Array, E | E2>>(
    (encoded, coding) =>
      Stream.fromReadableStream(
        () => Stream.toReadableStream(encoded).pipeThrough(new DecompressionStream(formats[coding]!)),
        (error): E | E2 => isOwn(error) ? error : onCorrupt(coding)
      ),
    body
  )

// What `fetch` decodes by itself (the Fetch standard's gzip, deflate and br).
const fetchDecodes: ReadonlySet<string> = new Set(["gzip", "x-gzip", "deflate", "br"])

/**
 * A `fetch` response as what it is: `fetch` has already decoded a body whose codings it knows, but
 * leaves their `Content-Encoding` (and the encoded `Content-Length`) in place, which would have the
 * body decoded twice. Such a response loses those headers; one with a coding `fetch` does not
 * decode keeps them, so the Transport names it.
 */
export const fetchDecoded = (response: HttpClientResponse.HttpClientResponse): HttpClientResponse.HttpClientResponse => {
  const list = codings(response.headers["content-encoding"])
  return list.length === 0 || !list.every((coding) => fetchDecodes.has(coding))
    ? response
    : Object.create(response, {
      headers: { value: Headers.remove(Headers.remove(response.headers, "content-encoding"), "content-length") }
    })
}
