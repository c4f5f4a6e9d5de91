/**
 * Large response bodies read into a small ring of reused memory instead of a fresh buffer per
 * socket read.
 *
 * Why: Node's HTTP client allocates a new 64 KiB buffer for every socket read, and its parser
 * copies each body piece into another new one; V8 frees them only at its external-memory GCs, so
 * a fast download keeps 50–80 MiB of dead buffers resident. Reading into the same few slabs
 * again and again keeps a pull's memory flat, whatever the blob's size.
 *
 * The contract: bytes in a slab are overwritten only after the consumer gave them back with
 * {@link release}. Only consumers that do so (they write each piece to a file and then release
 * it, in the order received) ask for it, by running with {@link ReleasingConsumer} set; a
 * consumer that keeps pieces (a body read whole, an upload that queues them on a socket) never
 * sets it, and gets fresh buffers as before. A stage between the body and such a consumer may hold
 * pieces: they stay intact until the consumer releases them, the ring just fills and the socket
 * waits.
 *
 * @internal
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"

/**
 * Set while a consumer that {@link release}s every body piece once done with it reads a body:
 * large bodies it reads come in views into a {@link Ring}.
 *
 * @internal
 */
export class ReleasingConsumer extends Context.Reference<ReleasingConsumer>()("effect-oci/ReleasingConsumer", {
  defaultValue: (): boolean => false
}) {}

/** Bodies declared at least this large are read into a ring (below, a ring's slabs cost more than they save). @internal */
export const ringFrom = 4 * 1024 * 1024

/**
 * Runs `effect` as a {@link ReleasingConsumer} of a body of `size` bytes (unknown: `undefined`).
 * A blob known to be small keeps the default path (and its kept-alive connections).
 *
 * @internal
 */
export const releasing = (size: number | undefined) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  size !== undefined && size < ringFrom ? effect : Effect.provideService(effect, ReleasingConsumer, true)

/** The ring each slab belongs to. */
const owners = new WeakMap<ArrayBufferLike, Ring>()

/**
 * Gives back `piece` and every piece of its body received before it: their memory may be read
 * into again. A no-op for bytes that are not a ring's. Call it in the order pieces were received.
 *
 * @internal
 */
export const release = (piece: Uint8Array): void => {
  owners.get(piece.buffer)?.release(piece)
}

/**
 * `count` slabs of `slabSize` bytes, filled in turn. Positions are counted in bytes since the
 * ring's start (a slab's unused tail counts too), so that giving back a piece gives back
 * everything before it, framing bytes and skipped pieces included.
 *
 * @internal
 */
export class Ring {
  private readonly slabs: Array<Uint8Array> = []
  /** The position of each slab's first byte in its current round. */
  private readonly bases: Array<number> = []
  private current = 0
  private offset = 0
  private released = 0
  /** Called when a release may have made room. */
  onRelease: (() => void) | undefined = undefined

  constructor(
    readonly slabSize: number = 1024 * 1024,
    readonly count: number = 4,
    /** A read gets at least this much room (a slab's shorter tail is skipped). */
    readonly minRoom: number = 64 * 1024
  ) {}

  /** Whether {@link room} has a region to give. */
  hasRoom(): boolean {
    if (this.slabs.length === 0 || this.slabSize - this.offset >= this.minRoom) return true
    const next = (this.current + 1) % this.count
    return next >= this.slabs.length || this.released >= this.bases[next]! + this.slabSize
  }

  /** Where the next read may go (at least `minRoom` bytes), or `undefined` while no slab is free. */
  room(): Uint8Array | undefined {
    if (this.slabs.length > 0 && this.slabSize - this.offset >= this.minRoom) {
      return this.slabs[this.current]!.subarray(this.offset)
    }
    if (!this.hasRoom()) return undefined
    const base = this.slabs.length === 0 ? 0 : this.bases[this.current]! + this.slabSize
    const next = this.slabs.length === 0 ? 0 : (this.current + 1) % this.count
    if (next === this.slabs.length) {
      const slab = new Uint8Array(this.slabSize)
      owners.set(slab.buffer, this)
      this.slabs.push(slab)
      this.bases.push(base)
    } else {
      this.bases[next] = base
    }
    this.current = next
    this.offset = 0
    return this.slabs[next]!
  }

  /** `n` bytes were written at the start of the region {@link room} gave last. */
  filled(n: number): void {
    this.offset += n
  }

  release(piece: Uint8Array): void {
    const index = this.slabs.findIndex((slab) => slab.buffer === piece.buffer)
    if (index === -1) return
    const end = this.bases[index]! + piece.byteOffset + piece.byteLength
    if (end <= this.released) return
    this.released = end
    this.onRelease?.()
  }
}

/** A body that brought no byte for `millis` while there was room to read into. @internal */
export class BodyStalled extends Error {
  constructor(readonly millis: number) {
    super(`the body brought no byte for ${millis} ms`)
  }
}

/**
 * The key of a response's body stream that watches for stalls itself, with no read-ahead (a ring
 * is its read-ahead): a stall fails it with a `ResponseError` caused by {@link BodyStalled}.
 *
 * @internal
 */
export const stallWatched: unique symbol = Symbol.for("effect-oci/StallWatchedBody")

/** A response with a {@link stallWatched} body. @internal */
export interface StallWatchedBody {
  readonly [stallWatched]: (millis: number) => Stream.Stream<Uint8Array, HttpClientError.ResponseError>
}

/** The response's self-watching body, if it has one. @internal */
export const stallWatchedBody = (response: object, millis: number): Stream.Stream<Uint8Array, HttpClientError.ResponseError> | undefined =>
  hasStallWatchedBody(response) ? response[stallWatched](millis) : undefined

const hasStallWatchedBody = (response: object): response is StallWatchedBody => stallWatched in response
