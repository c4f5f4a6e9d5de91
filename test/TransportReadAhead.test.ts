import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { guardStall } from "../src/internal/transportBody.js"
import * as Credentials from "../src/Credentials.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"
import * as Transport from "../src/Transport.js"
import * as FakeHttp from "./support/FakeHttp.js"

const part = (i: number, size = 1000) => new Uint8Array(size).fill(i % 256)
const stalled = () => "stalled" as const

/** A source of `count` parts of `size` bytes that counts how many it has produced. */
const counted = (count: number, size = 1000) => {
  let produced = 0
  const stream = Stream.range(0, count - 1).pipe(
    Stream.rechunk(1),
    Stream.map((i) => {
      produced++
      return part(i, size)
    })
  )
  return { stream, produced: () => produced }
}

const bytesOf = (chunks: Chunk.Chunk<Uint8Array>) => Chunk.toReadonlyArray(chunks).flatMap((c) => [...c])

describe("guardStall: read-ahead", () => {
  it.effect("a consumer that is busy gets what arrived meanwhile as one batch, bytes exact and in order", () =>
    Effect.gen(function*() {
      const source = counted(20)
      const batches: Array<number> = []
      const fiber = yield* guardStall(source.stream, Duration.seconds(60), stalled, 1_000_000).pipe(
        Stream.mapChunksEffect((chunk) =>
          Effect.sync(() => batches.push(chunk.length)).pipe(Effect.zipRight(Effect.sleep("1 second")), Effect.as(chunk))
        ),
        Stream.runCollect,
        Effect.fork
      )
      for (let i = 0; i < 5; i++) yield* TestClock.adjust("1 second")
      const all = yield* Fiber.join(fiber)
      expect(bytesOf(all)).toEqual(Array.from({ length: 20 }, (_, i) => [...part(i)]).flat())
      expect(batches.length).toBeLessThan(20)
      expect(Math.max(...batches)).toBeGreaterThan(1)
    }))

  it.effect("reads no further ahead than its bound while the consumer does not pull", () =>
    Effect.gen(function*() {
      const source = counted(1000)
      const first = yield* guardStall(source.stream, Duration.seconds(60), stalled, 10_000).pipe(
        Stream.take(1),
        Stream.mapChunksEffect((chunk) => Effect.as(Effect.sleep("1 second"), chunk)),
        Stream.runCollect,
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      // the consumer holds one batch (at most the bound) while the reader fills the bound again,
      // then waits for room: never the whole source
      expect(source.produced()).toBeGreaterThan(10)
      expect(source.produced()).toBeLessThanOrEqual(21)
    }))

  it.effect("a body that stops delivering part-way fails after the stall timeout, with what came before", () =>
    Effect.gen(function*() {
      const source = Stream.concat(Stream.make(part(1), part(2)), Stream.never)
      const fiber = yield* guardStall(source, Duration.millis(100), stalled).pipe(
        Stream.runFoldEffect(0, (n, bytes) => Effect.succeed(n + bytes.byteLength)),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("99 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("20 millis")
      const result = yield* Fiber.join(fiber)
      expect(result).toEqual(Either.left("stalled"))
    }))

  it.effect("a body that keeps delivering slower than the timeout in total, but never pausing that long, completes", () =>
    Effect.gen(function*() {
      const source = Stream.range(1, 10).pipe(
        Stream.rechunk(1),
        Stream.mapEffect((i) => Effect.as(Effect.sleep("60 millis"), part(i)))
      )
      const fiber = yield* guardStall(source, Duration.millis(100), stalled).pipe(Stream.runCollect, Effect.fork)
      for (let i = 0; i < 12; i++) yield* TestClock.adjust("60 millis")
      const all = yield* Fiber.join(fiber)
      expect(bytesOf(all).length).toBe(10 * 1000)
    }))

  it.effect("a consumer slower than the stall timeout, with the read-ahead full, is not a stalled body", () =>
    Effect.gen(function*() {
      const source = counted(4)
      const fiber = yield* guardStall(source.stream, Duration.millis(50), stalled, 1000).pipe(
        Stream.mapChunksEffect((chunk) => Effect.as(Effect.sleep("150 millis"), chunk)),
        Stream.runCollect,
        Effect.either,
        Effect.fork
      )
      for (let i = 0; i < 6; i++) yield* TestClock.adjust("150 millis")
      const result = yield* Fiber.join(fiber)
      expect(Either.map(result, (all) => bytesOf(all).length)).toEqual(Either.right(4 * 1000))
    }))

  it.effect("a source failure reaches the consumer after the bytes before it", () =>
    Effect.gen(function*() {
      const source = Stream.concat(Stream.make(part(1)), Stream.fail("broken" as const))
      const seen: Array<number> = []
      const result = yield* guardStall(source, Duration.seconds(60), stalled).pipe(
        Stream.runForEach((bytes) => Effect.sync(() => seen.push(bytes.byteLength))),
        Effect.either
      )
      expect(seen).toEqual([1000])
      expect(result).toEqual(Either.left("broken"))
    }))
})

describe("Transport.Response: every way of reading the body is guarded and typed", () => {
  const url = "https://registry.example/v2/"
  const withBody = (body: () => globalThis.Response) =>
    Transport.layer({ bodyStallTimeout: "100 millis" }).pipe(Layer.provide(FakeHttp.make(body).layer))
  const send = Effect.flatMap(Transport.Transport, (t) => t.execute(HttpClientRequest.get(url)))
  const stalled = () =>
    new globalThis.Response(
      new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode("{\"a\":")) }),
      { status: 200 }
    )

  it.live("text and json of a body that stalls fail with RequestTimeout", () =>
    Effect.gen(function*() {
      const text = yield* Effect.flip(Effect.flatMap(send, (r) => r.text))
      expect(text).toMatchObject({ _tag: "RequestTimeout", phase: "body" })
      const json = yield* Effect.flip(Effect.flatMap(send, (r) => r.json))
      expect(json).toMatchObject({ _tag: "RequestTimeout", phase: "body" })
    }).pipe(Effect.provide(withBody(stalled))))

  it.live("json parses a JSON body, and a body that is not JSON is InvalidResponse", () =>
    Effect.gen(function*() {
      const parsed = yield* Effect.flatMap(send, (r) => r.json).pipe(
        Effect.provide(withBody(() => new globalThis.Response("{\"tags\":[\"a\"]}", { status: 200 })))
      )
      expect(parsed).toEqual({ tags: ["a"] })
      const error = yield* Effect.flip(Effect.flatMap(send, (r) => r.json)).pipe(
        Effect.provide(withBody(() => new globalThis.Response("<html>", { status: 200 })))
      )
      expect(error._tag).toBe("InvalidResponse")
      const text = yield* Effect.flatMap(send, (r) => r.text).pipe(
        Effect.provide(withBody(() => new globalThis.Response("plain text", { status: 200 })))
      )
      expect(text).toBe("plain text")
    }))
})

describe("blob reads delivered in batches", () => {
  const stack = node.layer({
    credentials: Credentials.layerAnonymous,
    transport: { retry: Schedule.recurs(0) },
    repository: { resume: Schedule.recurs(0) }
  })

  it.live("a range read by a slow consumer (batches of many arrays) yields exactly the range", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const blob = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7 + (i >> 10)) % 251)
      const { digest } = yield* registry.putBlob("batches/app", blob)
      const ref = yield* Reference.parse(`${registry.host}/batches/app`)
      const repo = yield* Repository.Repository
      let largestBatch = 0
      const read = (range: { readonly offset: number; readonly length?: number }) =>
        repo.getBlobRange(ref, digest, range).pipe(
          Stream.mapChunksEffect((chunk) => {
            largestBatch = Math.max(largestBatch, chunk.length)
            return Effect.as(Effect.sleep("20 millis"), chunk)
          }),
          Stream.runCollect,
          Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
        )
      const middle = yield* read({ offset: 1000, length: 2 * 1024 * 1024 })
      expect(Buffer.compare(middle, blob.subarray(1000, 1000 + 2 * 1024 * 1024))).toBe(0)
      const tail = yield* read({ offset: 5 })
      expect(Buffer.compare(tail, blob.subarray(5))).toBe(0)
      expect(largestBatch).toBeGreaterThan(1)
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))
})
