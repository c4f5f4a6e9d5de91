/**
 * Draining responses nobody needs more from: an empty body starts no stream (most upload and mount
 * answers are empty, and each stream is read ahead by its own fibers); any other body is read to
 * its end, so that its connection is free again.
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { discard } from "../src/internal/body.js"

/** A response whose body stream counts how often it is started and how many bytes are read. */
const response = (contentLength: string | undefined, body: ReadonlyArray<string>) => {
  const seen = { starts: 0, bytes: 0 }
  const stream = Stream.suspend(() => {
    seen.starts++
    return Stream.fromIterable(body.map((part) => new TextEncoder().encode(part)))
  }).pipe(Stream.tap((bytes) => Effect.sync(() => (seen.bytes += bytes.byteLength))))
  return {
    seen,
    response: {
      request: HttpClientRequest.post("http://127.0.0.1:5000/v2/a/blobs/uploads/"),
      status: 202,
      headers: Headers.fromInput(contentLength === undefined ? {} : { "content-length": contentLength }),
      stream
    }
  }
}

describe("discard", () => {
  it.effect("an empty body (Content-Length: 0) is not read: no stream is started", () =>
    Effect.gen(function*() {
      const empty = response("0", [])
      yield* discard(empty.response)
      expect(empty.seen.starts).toBe(0)
    }))

  it.effect("a body with content, or of unknown length, is read to its end", () =>
    Effect.gen(function*() {
      const sized = response("11", ["hello ", "world"])
      yield* discard(sized.response)
      expect(sized.seen).toEqual({ starts: 1, bytes: 11 })
      const chunked = response(undefined, ["{}"])
      yield* discard(chunked.response)
      expect(chunked.seen).toEqual({ starts: 1, bytes: 2 })
    }))
})
