/**
 * How the Transport reads response bodies: ahead of the consumer with a stall watch
 * ({@link guardStall}), or whole for small bodies ({@link readWhole}, {@link readBodyInto}).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { RequestTimeout, TransportError } from "../RegistryError.js"
import type { Response } from "../Transport.js"
import { readAhead } from "./body.js"

/**
 * A body read ahead of its consumer, and failed with `onStall()` when its source delivers nothing for
 * `timeout` while there is room to read into.
 *
 * One fiber reads the source into a buffer of at most `maxBuffered` bytes; the consumer takes
 * everything buffered at once, as one chunk of many byte arrays. So the network is read while the
 * consumer hashes or writes the previous bytes, and every later stage (verification, resume
 * bookkeeping, the file sink) runs once per batch instead of once per 64 KiB: per-chunk Effect work
 * was what made large transfers slow. Another fiber sleeps until the moment the source would count
 * as stalled: no timer per chunk. Time the consumer spends on a batch does not count as a stall
 * (the reader waits for room then, not for the source).
 *
 * @internal
 */
export const guardStall = <E, E2>(
  source: Stream.Stream<Uint8Array, E>,
  timeout: Duration.Duration,
  onStall: () => E2,
  maxBuffered: number = readAhead
): Stream.Stream<Uint8Array, E | E2> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const millis = Duration.toMillis(timeout)
    const clock = yield* Effect.clock
    const buffered: Array<Uint8Array> = []
    let bytes = 0
    let done: Exit.Exit<void, E | E2> | undefined
    let lastByteAt = clock.unsafeCurrentTimeMillis()
    /** True while the reader waits for room (the consumer's time, not the source's). */
    let waitingForRoom = false
    const dataReady = yield* Effect.makeLatch(false)
    const roomReady = yield* Effect.makeLatch(true)
    const finish = (exit: Exit.Exit<void, E | E2>) =>
      Effect.sync(() => {
        done ??= exit
        dataReady.unsafeOpen()
      })

    yield* Stream.runForEachChunk(source, (chunk) =>
      Effect.suspend(() => {
        for (const part of chunk) {
          if (part.byteLength === 0) continue
          buffered.push(part)
          bytes += part.byteLength
        }
        lastByteAt = clock.unsafeCurrentTimeMillis()
        dataReady.unsafeOpen()
        if (bytes < maxBuffered) return Effect.void
        waitingForRoom = true
        roomReady.unsafeClose()
        return Effect.map(roomReady.await, () => {
          waitingForRoom = false
          lastByteAt = clock.unsafeCurrentTimeMillis()
        })
      })).pipe(
        Effect.exit,
        Effect.flatMap(finish),
        // A body may be read inside an uninterruptible region (a finalizer): forked fibers would
        // inherit that, and closing the scope could then never stop them.
        Effect.interruptible,
        Effect.forkScoped
      )
    yield* untilStalled(clock, millis, {
      lastByteAt: () => lastByteAt,
      paused: () => waitingForRoom,
      finished: () => done !== undefined
    }).pipe(
      Effect.flatMap((stalled) => (stalled ? finish(Exit.fail(onStall())) : Effect.void)),
      Effect.interruptible,
      Effect.forkScoped
    )

    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E | E2>> = Effect.suspend(() => {
      if (buffered.length > 0) {
        const batch = Chunk.unsafeFromArray(buffered.splice(0))
        bytes = 0
        roomReady.unsafeOpen()
        return Effect.succeed(batch)
      }
      if (done !== undefined) {
        return Exit.isSuccess(done) ? Effect.fail(Option.none()) : Effect.failCause(Cause.map(done.cause, Option.some))
      }
      dataReady.unsafeClose()
      return Effect.zipRight(dataReady.await, pull)
    })
    return Stream.repeatEffectChunkOption(pull)
  }))

/**
 * The stall watch of a body, one fiber per body and no timer per chunk: sleeps until `millis` have
 * passed since the last byte while not `paused()` (the consumer's time is not the source's), then
 * answers true; answers false once the body `finished()`.
 */
const untilStalled = (
  clock: Clock.Clock,
  millis: number,
  body: { readonly lastByteAt: () => number; readonly paused: () => boolean; readonly finished: () => boolean }
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    while (!body.finished()) {
      const wait = body.lastByteAt() + millis - clock.unsafeCurrentTimeMillis()
      if (wait <= 0 && !body.paused()) return true
      yield* Effect.sleep(Duration.millis(Math.max(wait, millis / 10)))
    }
    return false
  })

/**
 * A body read whole into memory, into `parts` (the pieces it arrived in: after a failure, what
 * came before it), failed with `onStall()` when its
 * source delivers nothing for `timeout`: the stall guard of {@link guardStall} without its
 * read-ahead, which a body read whole has no use for, and whose reader fiber and hand-over cost
 * more than a small body's bytes (measured: 50 blobs of 1 MiB copied between registries).
 *
 * @internal
 */
export const readWhole = <E, E2>(
  source: Stream.Stream<Uint8Array, E>,
  timeout: Duration.Duration,
  onStall: () => E2,
  parts: Array<Uint8Array>
): Effect.Effect<void, E | E2> =>
  Effect.flatMap(Effect.clock, (clock) => {
    const millis = Duration.toMillis(timeout)
    let lastByteAt = clock.unsafeCurrentTimeMillis()
    const read = Stream.runForEachChunk(source, (chunk) =>
      Effect.sync(() => {
        for (const part of chunk) if (part.byteLength > 0) parts.push(part)
        lastByteAt = clock.unsafeCurrentTimeMillis()
      }))
    const watch = Effect.flatMap(
      untilStalled(clock, millis, { lastByteAt: () => lastByteAt, paused: () => false, finished: () => false }),
      () => Effect.fail(onStall())
    )
    // interruptible: a body may be read inside a finalizer, and the race's loser must still stop
    return Effect.raceFirst(Effect.interruptible(read), Effect.interruptible(watch))
  })

/** Reads a response's whole body into `parts`. @internal */
export type ReadInto = (parts: Array<Uint8Array>) => Effect.Effect<void, TransportError | RequestTimeout>

/** How each Transport response reads its body whole (see {@link readBodyInto}). @internal */
export const wholeReaders = new WeakMap<Response, ReadInto>()

/**
 * Reads a response's whole body into `parts` (unbounded: for bodies of known, small size; after a
 * failure, `parts` holds what came before it). A Transport response reads it with
 * {@link readWhole}; any other, through its stream.
 *
 * @internal
 */
export const readBodyInto = (response: Response, parts: Array<Uint8Array>): Effect.Effect<void, TransportError | RequestTimeout> => {
  const readInto = wholeReaders.get(response)
  return readInto !== undefined
    ? readInto(parts)
    : Stream.runForEach(response.stream, (part) => Effect.sync(() => parts.push(part)))
}

