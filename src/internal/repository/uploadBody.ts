/**
 * Upload bodies: bytes, a one-shot `Stream`, or a {@link Reopenable} the engine can open again from
 * any byte offset — and the engine's single view of all three ({@link Source}); and the request
 * bodies made of them: checked on the way, their own failures told apart from the transport's.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Digest from "../../Digest.js"
import { BodyNotReplayable, DigestMismatch, SizeMismatch } from "../../RegistryError.js"
import * as IterableBody from "../iterableBody.js"
import type { FileReader } from "../iterableBody.js"
import { dropBytes } from "./blobs.js"

/** @internal */
export const ReopenableTypeId: unique symbol = Symbol.for("effect-oci/Repository/Reopenable")

/**
 * A body that can be opened again from any byte offset: a file, a ranged read of another
 * registry's blob, bytes held elsewhere. `open(k)` returns the body from its byte `k` on.
 *
 * @internal
 */
export interface Reopenable<E = never, R = never> {
  readonly [ReopenableTypeId]: typeof ReopenableTypeId
  readonly open: (offset: number) => Stream.Stream<Uint8Array, E, R>
  /** The body's length, when known. */
  readonly size: number | undefined
  /** The same bytes as a file the upload may read into buffers of its own (see `iterableBody.ts`). */
  readonly file?: FileReader<E> | undefined
  /** The whole body, already in memory (in pieces): sent as it is the first time; `open` gives any resend. */
  readonly parts?: ReadonlyArray<Uint8Array> | undefined
}

/** What an upload sends. @internal */
export type UploadBody<E = never, R = never> = Uint8Array | Stream.Stream<Uint8Array, E, R> | Reopenable<E, R>

/** Builds a {@link Reopenable}. @internal */
export const reopenable = <E = never, R = never>(
  open: (offset: number) => Stream.Stream<Uint8Array, E, R>,
  options: { readonly size?: number | undefined } = {}
): Reopenable<E, R> => ({ [ReopenableTypeId]: ReopenableTypeId, open, size: options.size })

/**
 * A {@link Reopenable} over a file: `open` for the engine's streams, `file` for a request body
 * read into reused buffers where the HTTP client allows it.
 *
 * @internal
 */
export const reopenableFile = <E>(
  file: FileReader<E>,
  open: (offset: number) => Stream.Stream<Uint8Array, E>,
  size: number
): Reopenable<E> => ({ [ReopenableTypeId]: ReopenableTypeId, open, size, file })

/**
 * A {@link Reopenable} whose bytes were read already: the upload sends `parts` (checked against
 * the digest first); a resend after a failure reads them again through `open`, from where they
 * came (so that it is seen, and counted, as a new reading).
 *
 * @internal
 */
export const reopenableParts = <E>(
  parts: ReadonlyArray<Uint8Array>,
  open: (offset: number) => Stream.Stream<Uint8Array, E>
): Reopenable<E> => ({ [ReopenableTypeId]: ReopenableTypeId, open, size: sizeOf(parts), parts })

/** The total length of some pieces of bytes. @internal */
export const sizeOf = (parts: ReadonlyArray<Uint8Array>): number => {
  let size = 0
  for (const part of parts) size += part.byteLength
  return size
}

/** Whether a value is a {@link Reopenable}. @internal */
export const isReopenable = (u: unknown): u is Reopenable<unknown, unknown> =>
  typeof u === "object" && u !== null && ReopenableTypeId in u

/**
 * The engine's view of a body. `open(k, why)` gives the body from its byte `k`; a one-shot stream
 * can be opened once (skipping to `k` by reading), and fails with {@link BodyNotReplayable}
 * (saying `why` it was needed) when opened again.
 *
 * @internal
 */
export interface Source<E, R> {
  /** The whole body, when it is in memory (in pieces). */
  readonly parts: ReadonlyArray<Uint8Array> | undefined
  /** The body's length, when known up front. */
  readonly size: number | undefined
  /** Whether `open` works more than once. */
  readonly replayable: boolean
  /** The body as a file, when it is one. */
  readonly file: FileReader<E> | undefined
  readonly open: (offset: number, why: string) => Stream.Stream<Uint8Array, E | BodyNotReplayable, R>
}

/** The {@link Source} of a body; a one-shot stream's counts its runs from here. @internal */
export const toSource = <E, R>(body: UploadBody<E, R>): Source<E, R> => {
  if (body instanceof Uint8Array) return partsSource([body])
  if (isReopenable(body)) {
    const reopen = body as Reopenable<E, R>
    return {
      parts: reopen.parts,
      size: reopen.size,
      replayable: true,
      file: reopen.file,
      open: (offset) => reopen.open(offset)
    }
  }
  const stream = body as Stream.Stream<Uint8Array, E, R>
  let opened = false
  return {
    parts: undefined,
    size: undefined,
    replayable: false,
    file: undefined,
    open: (offset, why) =>
      Stream.suspend((): Stream.Stream<Uint8Array, E | BodyNotReplayable, R> => {
        if (opened) return Stream.fail(new BodyNotReplayable({ reason: why }))
        opened = true
        return dropBytes(offset)(stream)
      })
  }
}

/**
 * A request body from the caller's stream: its context provided, and its own failure remembered
 * so that it is reported as itself rather than as the transport failure it causes.
 *
 * @internal
 */
export const watchBody = <E, R>(body: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Effect.context<R>(), (context) => {
    let failure: Option.Option<E> = Option.none()
    const stream = body.pipe(
      Stream.tapError((error) => Effect.sync(() => (failure = Option.some(error)))),
      Stream.provideContext(context)
    )
    return { stream, failed: () => failure }
  })

/**
 * A file as a body the HTTP client pulls, read into reused buffers (see `iterableBody.ts`), each
 * piece passed to `piece` on its way; its own failure remembered, as {@link watchBody} does.
 *
 * @internal
 */
export const fileBody = <E>(file: FileReader<E>, start: () => void, piece: (bytes: Uint8Array) => void) =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    let failure: Option.Option<E> = Option.none()
    const iterable = IterableBody.fromFile(file, 0, runtime, {
      start,
      piece,
      failed: (error) => {
        failure = Option.some(error)
      }
    })
    return { http: HttpBody.raw(iterable, { contentType: "application/octet-stream" }), failed: () => failure }
  })

/**
 * The body checked against `digest` and `size` on its way, with the check made before its last
 * bytes are let through: a body that does not match fails while the request still lacks bytes it
 * declared, so the registry cannot take it as whole and commit it. Each run hashes from the start.
 *
 * @internal
 */
export const verifiedBeforeEnd = (digest: Digest.Digest, size: number) =>
<E, R>(body: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | DigestMismatch | SizeMismatch, R> =>
  Stream.suspend(() => {
    const hasher = Digest.hasher(Digest.algorithm(digest))
    const short = Effect.suspend(() =>
      hasher.size() < size ? Effect.fail(new SizeMismatch({ expected: size, actual: hasher.size() })) : Effect.void
    )
    return Stream.concat(
      Stream.mapChunksEffect(body, (chunk) =>
        Effect.suspend((): Effect.Effect<Chunk.Chunk<Uint8Array>, DigestMismatch | SizeMismatch> => {
          for (const bytes of chunk) hasher.update(bytes)
          if (hasher.size() > size) return Effect.fail(new SizeMismatch({ expected: size, actual: hasher.size() }))
          if (hasher.size() < size) return Effect.succeed(chunk)
          const actual = hasher.digest()
          return actual === digest ? Effect.succeed(chunk) : Effect.fail(new DigestMismatch({ expected: digest, actual }))
        })),
      Stream.drain(Stream.fromEffect(short))
    )
  })

/** A body held in memory, in pieces. @internal */
export const partsSource = <E, R>(parts: ReadonlyArray<Uint8Array>): Source<E, R> => ({
  parts,
  size: sizeOf(parts),
  replayable: true,
  file: undefined,
  open: (offset) => dropBytes(offset)(Stream.fromIterable(parts))
})

/** Reads a stream of declared size into memory (it is small), in the pieces it came in, checking the size. @internal */
export const collect = <E, R>(body: Stream.Stream<Uint8Array, E, R>, size: number) =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    let total = 0
    return Stream.runForEach(body, (chunk) =>
      Effect.suspend(() => {
        total += chunk.byteLength
        if (total > size) return Effect.fail(new SizeMismatch({ expected: size, actual: total }))
        parts.push(chunk)
        return Effect.void
      })).pipe(
        Effect.flatMap(() =>
          total === size
            ? Effect.succeed<ReadonlyArray<Uint8Array>>(parts)
            : Effect.fail(new SizeMismatch({ expected: size, actual: total }))
        )
      )
  })
