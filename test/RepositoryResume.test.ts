import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as Digest from "../src/Digest.js"
import {
  type BlobFault,
  blobServer,
  collectBytes,
  failureOf,
  randomBytes,
  ref,
  setup,
  withRepo
} from "./support/RepositoryFixture.js"

const getAll = (digest: Digest.Digest, options?: { readonly size?: number }) =>
  withRepo((r) => collectBytes(r.getBlob(ref(""), digest, options)))

/** The `Range` header of each GET, `undefined` for none. */
const ranges = (t: ReturnType<typeof setup>) => t.requests.filter((r) => r.method === "GET").map((r) => r.headers["range"])

/**
 * Where each request of a whole-blob read should start, given the cut of each response (bytes of
 * its body delivered before it broke). A read that knows the blob's size (from the 200's
 * Content-Length, or a Content-Range total) needs no request once it has every byte; without it, a
 * resume at the very end is answered 416 and ends the read.
 */
const expectedStarts = (
  cuts: ReadonlyArray<number>,
  size: number,
  server: { readonly chunked: boolean; readonly unknownTotal: boolean }
) => {
  const starts = [0]
  let position = 0
  let sizeKnown = !server.chunked
  for (const cut of cuts) {
    position += cut
    if (sizeKnown && position >= size) break
    starts.push(position)
    if (position >= size) break
    // a resume from 0 is a plain GET again (200), any other a ranged one (206)
    sizeKnown ||= position === 0 ? !server.chunked : !server.unknownTotal
  }
  return starts
}

/** The same for a ranged read of [first, end): reaching `end` ends it. */
const expectedRangeStarts = (first: number, cuts: ReadonlyArray<number>, end: number) => {
  const starts = [first]
  let position = first
  for (const cut of cuts) {
    position += cut
    if (position >= end) break
    starts.push(position)
  }
  return starts
}

describe("automatic resume of blob reads", () => {
  it.effect.prop(
    "bodies cut at random offsets: exact bytes and digest, each resume asks for bytes=<received>-",
    {
      size: fc.integer({ min: 1, max: 20_000 }),
      seed: fc.integer({ min: 1, max: 1_000_000 }),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
      chunkSize: fc.integer({ min: 128, max: 5000 }),
      unknownTotal: fc.boolean(),
      chunked: fc.boolean(),
      withSize: fc.boolean()
    },
    ({ chunkSize, chunked, cuts, seed, size, unknownTotal, withSize }) => {
      const blob = randomBytes(size, seed)
      // a cut anywhere in what is left of the blob, including right after its last byte
      const absolute: Array<number> = []
      let position = 0
      for (const fraction of cuts) {
        const cut = Math.round(fraction * (size - position))
        absolute.push(cut)
        position += cut
      }
      const faults = (i: number): BlobFault =>
        i < absolute.length ? { cutAt: absolute[i]!, unknownTotal, chunked } : { unknownTotal, chunked }
      const server = blobServer(blob, faults, { chunkSize })
      const t = setup(server.handler, { resume: Schedule.recurs(absolute.length) })
      return Effect.gen(function*() {
        const bytes = yield* getAll(server.digest, withSize ? { size } : undefined)
        expect(bytes.byteLength).toBe(size)
        expect(Digest.compute(bytes)).toBe(server.digest)
        expect(bytes).toEqual(blob)
        const starts = expectedStarts(absolute, size, { chunked, unknownTotal })
        expect(ranges(t)).toEqual(starts.map((s) => (s === 0 ? undefined : `bytes=${s}-`)))
      }).pipe(Effect.provide(t.layer))
    },
    // many full reads: slow when the machine is shared, whatever the code does
    { fastCheck: { numRuns: 60 }, timeout: 120_000 }
  )

  it.effect.prop(
    "ranged reads cut at random offsets resume within the range and yield exactly its bytes",
    {
      seed: fc.integer({ min: 1, max: 1_000_000 }),
      offset: fc.integer({ min: 0, max: 9_999 }),
      length: fc.integer({ min: 1, max: 10_000 }),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }),
      chunkSize: fc.integer({ min: 128, max: 3000 })
    },
    ({ chunkSize, cuts, length, offset, seed }) => {
      const blob = randomBytes(10_000, seed)
      const end = Math.min(blob.byteLength, offset + length)
      const absolute: Array<number> = []
      let position = offset
      for (const fraction of cuts) {
        const cut = Math.round(fraction * (end - position))
        absolute.push(cut)
        position += cut
      }
      const server = blobServer(blob, (i) => (i < absolute.length ? { cutAt: absolute[i]! } : {}), { chunkSize })
      const t = setup(server.handler, { resume: Schedule.recurs(absolute.length) })
      return Effect.gen(function*() {
        const bytes = yield* withRepo((r) =>
          collectBytes(r.getBlobRange(ref(""), server.digest, { offset, length: end - offset }))
        )
        expect(bytes).toEqual(blob.slice(offset, end))
        // every request asks for the rest of the range, from the first byte not yet received
        const starts = expectedRangeStarts(offset, absolute, end)
        expect(ranges(t)).toEqual(starts.map((s) => `bytes=${s}-${end - 1}`))
      }).pipe(Effect.provide(t.layer))
    },
    { fastCheck: { numRuns: 50 }, timeout: 120_000 }
  )

  it.effect("Content-Range `bytes a-b/*` (unknown total) is accepted", () => {
    const blob = randomBytes(5000, 3)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 1500 } : { unknownTotal: true }))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, "bytes=1500-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a registry that ignores Range on resume (200, whole blob): the bytes already had are skipped", () => {
    const blob = randomBytes(20_000, 5)
    const server = blobServer(
      blob,
      (i) => (i === 0 ? { cutAt: 7000 } : i === 1 ? { ignoreRange: true, cutAt: 12_345 } : { ignoreRange: true }),
      { chunkSize: 999 }
    )
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* getAll(server.digest, { size: blob.byteLength })
      expect(bytes).toEqual(blob)
      // the second response restarted at 0 and broke at 12 345: 12 345 bytes are now held
      expect(ranges(t)).toEqual([undefined, "bytes=7000-", "bytes=12345-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a Content-Range that starts before the offset asked for is fine: the overlap is skipped", () => {
    const blob = randomBytes(8000, 11)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 5000 } : { startAt: 4096 }), { chunkSize: 1024 })
    const t = setup(server.handler)
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, "bytes=5000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a Content-Range that starts beyond the offset asked for is InvalidResponse (no silent gap)", () => {
    const blob = randomBytes(8000, 13)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 5000 } : { startAt: 5001 }))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const error = yield* failureOf(getAll(server.digest))
      expect(error._tag).toBe("InvalidResponse")
      expect(ranges(t)).toEqual([undefined, "bytes=5000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("resumes in a row without a new byte are bounded by the schedule; then the transport error surfaces", () => {
    const blob = randomBytes(10_000, 17)
    const server = blobServer(blob, (i) => ({ cutAt: i === 0 ? 1000 : 0 }), { chunkSize: 100 })
    const t = setup(server.handler, { resume: Schedule.recurs(3) })
    return Effect.gen(function*() {
      const error = yield* failureOf(getAll(server.digest))
      expect(error._tag).toBe("TransportError")
      expect(ranges(t)).toEqual([undefined, "bytes=1000-", "bytes=1000-", "bytes=1000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a read cut again and again, each attempt bringing new bytes, is not bounded by the schedule", () => {
    const blob = randomBytes(10_000, 17)
    const server = blobServer(blob, () => ({ cutAt: 1000 }), { chunkSize: 100 })
    const t = setup(server.handler, { resume: Schedule.recurs(2) })
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, ...Array.from({ length: 9 }, (_, i) => `bytes=${(i + 1) * 1000}-`)])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("hundreds of resumes, each bringing bytes, complete the read", () => {
    const blob = randomBytes(40_000, 5)
    const server = blobServer(blob, () => ({ cutAt: 200 }), { chunkSize: 100 })
    const t = setup(server.handler, { resume: Schedule.recurs(1) })
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toHaveLength(200)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("resumeTimeLimit: no resume starts once the limit has passed, progress or not", () => {
    const blob = randomBytes(10_000, 17)
    const server = blobServer(blob, () => ({ cutAt: 1000 }), { chunkSize: 100 })
    // resumes after 1 s each, never running out by count: only the time limit ends the read
    const t = setup(server.handler, { resume: Schedule.spaced("1 second"), resumeTimeLimit: "2500 millis" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(failureOf(getAll(server.digest)))
      for (let i = 0; i < 4; i++) yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("TransportError")
      // breaks at 0 s, 1 s and 2 s are resumed; the one at 3 s is past the limit
      expect(ranges(t)).toEqual([undefined, "bytes=1000-", "bytes=2000-", "bytes=3000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("no resume schedule budget: the first break fails the read", () => {
    const blob = randomBytes(1000, 19)
    const server = blobServer(blob, () => ({ cutAt: 10 }))
    const t = setup(server.handler, { resume: Schedule.recurs(0) })
    return Effect.gen(function*() {
      expect((yield* failureOf(getAll(server.digest)))._tag).toBe("TransportError")
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("resumes wait for the schedule's delays", () => {
    const blob = randomBytes(3000, 23)
    // the first break follows progress (the schedule starts over: 1 s), the second none (2 s)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 1000 } : i === 1 ? { cutAt: 0 } : {}))
    const t = setup(server.handler, {
      resume: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(5)))
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(getAll(server.digest))
      yield* TestClock.adjust("999 millis")
      expect(t.requests).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect(t.requests).toHaveLength(2)
      yield* TestClock.adjust("1999 millis")
      expect(t.requests).toHaveLength(2)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, "bytes=1000-", "bytes=1000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a failure that is not a broken connection is not resumed (a 404 mid-way fails at once)", () => {
    const blob = randomBytes(3000, 29)
    const server = blobServer(blob, () => ({ cutAt: 1000 }))
    const t = setup((request, i) => (i === 0 ? server.handler(request, i) : new Response(null, { status: 404 })))
    return Effect.gen(function*() {
      expect((yield* failureOf(getAll(server.digest)))._tag).toBe("BlobUnknown")
      expect(t.requests).toHaveLength(2)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a body broken right after its last byte: the read ends with the exact blob, no further request", () => {
    const blob = randomBytes(4000, 31)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 4000 } : {}))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the same without a Content-Length: the resume at the end is answered 416 and ends the read", () => {
    const blob = randomBytes(4000, 31)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 4000, chunked: true } : {}))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest, { size: 4000 })).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, "bytes=4000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 416 that does not say the blob ends where we are is an error", () => {
    const blob = randomBytes(4000, 31)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 1000, chunked: true } : {}))
    const t = setup((request, i) =>
      i === 0
        ? server.handler(request, i)
        : new Response(null, { status: 416, headers: { "content-range": "bytes */999" } })
    )
    return Effect.gen(function*() {
      const error = yield* failureOf(getAll(server.digest))
      expect(error).toMatchObject({ _tag: "UnexpectedStatus", status: 416 })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a ranged read broken right after its last byte needs no further request", () => {
    const blob = randomBytes(4000, 37)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 500 } : {}))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), server.digest, { offset: 100, length: 500 })))
      expect(bytes).toEqual(blob.slice(100, 600))
      expect(ranges(t)).toEqual(["bytes=100-599"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a connection failure before any response is resumed like a broken body", () => {
    const blob = randomBytes(2000, 41)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 700 } : {}))
    const t = setup((request, i) => (i === 1 ? "network-error" : server.handler(request, i)))
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, "bytes=700-", "bytes=700-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 206 that stops before the end of the blob: the read asks for the rest", () => {
    const blob = randomBytes(5000, 43)
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 1000 } : i === 1 ? { stopAt: 2000 } : {}))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      expect(yield* getAll(server.digest)).toEqual(blob)
      expect(ranges(t)).toEqual([undefined, "bytes=1000-", "bytes=2000-"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a ranged read answered short: the rest of the range is asked for", () => {
    const blob = randomBytes(5000, 47)
    const server = blobServer(blob, (i) => (i === 0 ? { stopAt: 1500 } : {}))
    const t = setup(server.handler)
    return Effect.gen(function*() {
      const bytes = yield* withRepo((r) => collectBytes(r.getBlobRange(ref(""), server.digest, { offset: 1000, length: 3000 })))
      expect(bytes).toEqual(blob.slice(1000, 4000))
      expect(ranges(t)).toEqual(["bytes=1000-3999", "bytes=1500-3999"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("bodies that end short are resumed like breaks; only breaks without progress spend the schedule", () => {
    const blob = randomBytes(5000, 53)
    let stop = 0
    // short bodies bring 100 new bytes twice; then they are cut before their first byte
    const server = blobServer(blob, (i) => (i === 0 ? { cutAt: 100 } : i < 3 ? { stopAt: (stop += 100) + 100 } : { cutAt: 0 }))
    const t = setup(server.handler, { resume: Schedule.recurs(3) })
    return Effect.gen(function*() {
      const error = yield* failureOf(getAll(server.digest))
      expect(error._tag).toBe("TransportError")
      expect(ranges(t)).toEqual([undefined, "bytes=100-", "bytes=200-", "bytes=300-", "bytes=300-", "bytes=300-"])
    }).pipe(Effect.provide(t.layer))
  })
})

