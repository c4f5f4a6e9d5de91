/**
 * The upload engine: sending a body into a session from the registry's true offset, and recovering
 * when a request of the session fails — ask the registry where the session stands (`GET` →
 * `Range`) and go on from there, or, when it refuses or forgot the session, cancel it and open a
 * fresh one from byte 0. Every step of a recovery spends one step of the upload's retry schedule;
 * the budget starts again whenever the registry confirmed bytes beyond any it held before.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Digest from "../../Digest.js"
import { type BodyNotReplayable, InvalidResponse, safeUrl, SizeMismatch } from "../../RegistryError.js"
import { concat } from "../body.js"
import * as Checkpoints from "./hashCheckpoints.js"
import type { Target } from "./http.js"
import type { Source } from "./uploadBody.js"
import * as Session from "./uploadSession.js"
import { CannotResume, type UploadContext, type UploadSession } from "./uploadSession.js"

/** The state of one upload in progress; the cancel finalizer reads it. @internal */
export interface Progress {
  /** The current session, at the latest URL the registry gave. */
  session: UploadSession
  chunkSize: number
  /** Sessions this upload replaced whose DELETE failed: tried again when the upload ends. */
  readonly stale: Array<UploadSession>
}

/** The HTTP status a failure carries, if any. @internal */
export const statusOf = (error: { readonly _tag: string }): number | undefined => {
  const status = (error as { readonly status?: unknown }).status
  return typeof status === "number" ? status : undefined
}

/**
 * Failures after which asking the registry where the session stands may help (a 416 — the chunk
 * refused for where it starts or for its size — included). @internal
 */
export const isTransient = (error: { readonly _tag: string }): boolean => {
  switch (error._tag) {
    case "TransportError":
    case "RequestTimeout":
    case "Unavailable":
    case "TooManyRequests":
      return true
  }
  const status = statusOf(error)
  return status !== undefined && (status === 416 || status >= 500)
}

/**
 * Failures that say the session is unusable: forgotten (404), or refused — distribution 2.8
 * answers every request of a session that holds a partial chunk with `BLOB_UPLOAD_INVALID`.
 *
 * @internal
 */
export const isSessionLost = (error: { readonly _tag: string }): boolean =>
  error._tag === "BlobUploadUnknown" || (error._tag === "BlobUploadInvalid" && statusOf(error) !== 416) ||
  (error._tag === "UnexpectedStatus" && (statusOf(error) === 404 || statusOf(error) === 400))

/** Whether a failure of a session's request can be recovered from. @internal */
export const isRecoverable = (error: { readonly _tag: string }): boolean => isTransient(error) || isSessionLost(error)

/** Cancels a session, logging instead of failing; false when the registry may still hold it. @internal */
export const cancelQuietly = (ctx: UploadContext, target: Target, session: UploadSession) =>
  Session.cancel(ctx, target, session).pipe(
    Effect.zipRight(Effect.as(Effect.logDebug("upload session cancelled"), true)),
    Effect.catchAllCause((cause) => Effect.as(Effect.logWarning("could not cancel the upload session", cause), false)),
    Effect.annotateLogs({ url: safeUrl(session.url) })
  )

/** What the engine needs besides the session. @internal */
export interface Plan<E, R> {
  readonly source: Source<E, R>
  /** Where in the blob the body starts; above 0 the body cannot be hashed and `digest` is needed. */
  readonly bodyOffset: number
  readonly digest: Digest.Digest | undefined
  readonly size: number | undefined
  /** Called with the session whenever the registry confirmed where it stands. */
  readonly onProgress: ((session: UploadSession) => Effect.Effect<void>) | undefined
}

type Pass = { readonly _tag: "Done"; readonly digest: Digest.Digest | undefined; readonly size: number } | {
  readonly _tag: "Rewind"
  readonly offset: number
}

/**
 * An engine for one upload: `recover` (after a failed request of the session) and `send` (the
 * body from the session's offset in chunks, recovering as it goes).
 *
 * @internal
 */
export const make = <E, R>(ctx: UploadContext, target: Target, progress: Progress, plan: Plan<E, R>) =>
  Effect.gen(function*() {
    const driver = yield* Schedule.driver(ctx.upload.resume)
    const algorithm = plan.digest === undefined ? "sha256" : Digest.algorithm(plan.digest)
    // the most bytes the registry confirmed, and that mark when the budget last started over
    let confirmed = progress.session.offset
    let budgetMark = confirmed
    /** A hasher that has seen exactly the blob's first `at` bytes, kept across passes. */
    let hashed: { readonly hasher: Digest.Hasher; at: number } | undefined
    /** The digest and size once known (given, or learned from a reading of the whole body). */
    let digest = plan.digest
    let total = plan.size
    /** Checkpoints of a hash of the body from byte 0, left by a request that read it (streamed). */
    let checkpoints: Checkpoints.Checkpointed | undefined

    const setSession = (session: UploadSession) =>
      Effect.suspend(() => {
        progress.session = session
        if (session.offset > confirmed) confirmed = session.offset
        return plan.onProgress === undefined ? Effect.void : plan.onProgress(session)
      })

    /** Spends one step of the budget on `error` (after starting it over when bytes were gained). */
    const spend = <F>(error: F) =>
      Effect.gen(function*() {
        if (confirmed > budgetMark) {
          budgetMark = confirmed
          yield* driver.reset
        }
        yield* Effect.mapError(driver.next(error), () => error)
      })

    /** Cancels the current session (remembering it if that fails) and opens a fresh one. */
    const replace = Effect.gen(function*() {
      const old = progress.session
      if (!(yield* cancelQuietly(ctx, target, old)) && !progress.stale.includes(old)) progress.stale.push(old)
      const opened = yield* Session.open(ctx, target)
      if (opened._tag !== "Session") return yield* Effect.dieMessage("a plain upload POST answered as a mount")
      // recorded at once: an interruption from here on cancels the new session
      progress.session = opened.session
      yield* Effect.logDebug("upload continues in a new session").pipe(
        Effect.annotateLogs({ replaced: safeUrl(old.url) })
      )
      return opened.session
    })

    /**
     * Where the session stands (`lost`: it is known to be unusable): the registry's offset in the
     * same session, or 0 in a fresh one when the registry refused or forgot the session. A failure
     * on the way spends the budget.
     */
    const reach = (cause: string, known: boolean) =>
      Effect.gen(function*() {
        let lost = known
        while (true) {
          if (lost && plan.bodyOffset > 0) {
            return yield* new CannotResume({
              offset: 0,
              reason: `the registry lost the session, and the body given starts at ${plan.bodyOffset}, not 0`
            })
          }
          const step = yield* Effect.either(lost ? replace : Session.status(ctx, target, progress.session))
          if (Either.isRight(step)) {
            yield* Effect.logDebug("resuming blob upload").pipe(
              Effect.annotateLogs({ cause, registryOffset: step.right.offset, newSession: lost })
            )
            yield* setSession(step.right)
            return step.right
          }
          const failure = step.left
          if (!isRecoverable(failure)) return yield* Effect.fail(failure)
          if (!lost) lost = isSessionLost(failure)
          yield* spend(failure)
        }
      })

    /**
     * After `error` on a request of the session: where the session stands now (see `reach`).
     * Fails with `error` when it cannot be recovered from or the budget is spent.
     */
    const recover = <F extends { readonly _tag: string }>(error: F) =>
      Effect.gen(function*() {
        if (!isRecoverable(error)) return yield* Effect.fail(error)
        yield* spend(error)
        return yield* reach(error._tag, isSessionLost(error))
      })

    /** Sends one chunk; returns the offset the registry then holds, and the failure if it failed. */
    const sendChunk = (bytes: Uint8Array, start: number) =>
      Effect.gen(function*() {
        const sent = yield* Effect.either(Session.patch(ctx, target, progress.session, bytes, start))
        if (Either.isRight(sent)) {
          yield* setSession(sent.right)
          if (sent.right.offset !== start + bytes.byteLength) {
            // the registry kept other than what it was sent: spend on it, so that it cannot loop
            yield* spend(
              new InvalidResponse({
                reason: `the registry holds ${sent.right.offset} bytes after a chunk ending at ${
                  start + bytes.byteLength
                }`,
                url: safeUrl(progress.session.url)
              })
            )
          }
          return { offset: sent.right.offset, failure: undefined }
        }
        const now = yield* recover(sent.left)
        return { offset: now.offset, failure: sent.left }
      })

    /**
     * One reading of the body, sending from `start`. Bytes before `start` are read only to hash
     * them, and only when the digest is unknown and no hasher stands there already; otherwise the
     * body is opened at `start`.
     */
    const pass = (start: number): Effect.Effect<Pass, E | BodyNotReplayable | EngineFailure, R> =>
      Effect.scoped(Effect.gen(function*() {
        if (start < plan.bodyOffset) {
          return yield* new CannotResume({
            offset: start,
            reason: `the registry holds fewer bytes than the body given, which starts at ${plan.bodyOffset}`
          })
        }
        // nothing is left to send, and the digest is known: no need to read the body again
        if (total !== undefined && start === total && (digest !== undefined || hashed?.at === start)) {
          return { _tag: "Done", digest: hashed?.at === start ? hashed.hasher.digest() : undefined, size: start } as Pass
        }
        if (hashed !== undefined && hashed.at !== start) {
          hashed = digest === undefined && hashed.at < start ? hashed : undefined
        }
        if (hashed === undefined && plan.bodyOffset === 0 && start > 0 && digest === undefined) {
          hashed = checkpoints?.resumeAt(start)
        }
        if (hashed === undefined && plan.bodyOffset === 0 && (start === 0 || digest === undefined)) {
          hashed = { hasher: Digest.hasher(algorithm), at: 0 }
        }
        const openAt = hashed === undefined ? start : hashed.at
        const pull = yield* Stream.toPull(
          plan.source.open(openAt - plan.bodyOffset, `a recovery needs the body again from byte ${openAt}`)
        )
        let position = openAt
        let ended = false
        const buffer: Array<Uint8Array> = []
        let buffered = 0
        let bufferStart = start

        const hash = (piece: Uint8Array) => {
          if (hashed === undefined) return
          hashed.hasher.update(piece)
          hashed.at += piece.byteLength
        }

        const fill = (want: number) =>
          Effect.gen(function*() {
            while (!ended && buffered < want) {
              const next = yield* Effect.catchAll(pull, Option.match({
                onNone: () => Effect.succeed(undefined),
                onSome: (error: E | BodyNotReplayable) => Effect.fail(error)
              }))
              if (next === undefined) {
                ended = true
                break
              }
              for (const piece of next) {
                const pieceStart = position
                position += piece.byteLength
                if (plan.size !== undefined && position > plan.size) {
                  return yield* new SizeMismatch({ expected: plan.size, actual: position })
                }
                if (piece.byteLength === 0) continue
                // bytes the registry holds already are hashed as they pass
                if (pieceStart < start) hash(piece.subarray(0, Math.min(piece.byteLength, start - pieceStart)))
                if (position <= start) continue
                const kept = pieceStart < start ? piece.subarray(start - pieceStart) : piece
                buffer.push(kept)
                buffered += kept.byteLength
              }
            }
          })

        const take = (length: number): Uint8Array => {
          const parts: Array<Uint8Array> = []
          let left = length
          for (const part of buffer) {
            if (left === 0) break
            const piece = part.byteLength <= left ? part : part.subarray(0, left)
            parts.push(piece)
            left -= piece.byteLength
          }
          return concat(parts, length)
        }

        /** Drops bytes the registry confirmed, hashing them. */
        const drop = (length: number) => {
          let left = length
          while (left > 0) {
            const first = buffer[0]!
            const piece = first.byteLength <= left ? first : first.subarray(0, left)
            hash(piece)
            if (piece === first) buffer.shift()
            else buffer[0] = first.subarray(left)
            left -= piece.byteLength
          }
          buffered -= length
          bufferStart += length
        }

        while (true) {
          const chunkSize = Math.max(progress.chunkSize, progress.session.chunkMinLength ?? 1)
          yield* fill(chunkSize)
          if (buffered === 0) break
          const length = Math.min(chunkSize, buffered)
          const { failure, offset: reached } = yield* sendChunk(take(length), bufferStart)
          if (reached > bufferStart + length) {
            return yield* new CannotResume({ offset: reached, reason: "the registry reports more bytes than were sent" })
          }
          if (reached < bufferStart) return { _tag: "Rewind", offset: reached } as Pass
          // a 416 with nothing taken is how some registries (GHCR: 4 MiB) refuse a chunk's size
          const minimum = progress.session.chunkMinLength ?? 1
          if (failure !== undefined && statusOf(failure) === 416 && reached === bufferStart && progress.chunkSize > minimum) {
            progress.chunkSize = Math.max(minimum, Math.floor(progress.chunkSize / 2))
          }
          drop(reached - bufferStart)
        }
        if (position < start) {
          return yield* new CannotResume({ offset: start, reason: `the body ends at ${position}, before that offset` })
        }
        if (plan.size !== undefined && position !== plan.size) {
          return yield* new SizeMismatch({ expected: plan.size, actual: position })
        }
        return { _tag: "Done", digest: hashed?.hasher.digest(), size: position } as Pass
      }))

    /**
     * Sends the body from the session's offset in chunks, recovering as it goes; returns the digest
     * computed (when the whole body could be hashed) and the size.
     */
    const send = Effect.gen(function*() {
      let start = progress.session.offset
      while (true) {
        const result = yield* pass(start)
        if (result._tag === "Done") return result
        yield* Effect.logDebug("the registry holds less than was sent: reading the body again").pipe(
          Effect.annotateLogs({ registryOffset: result.offset })
        )
        start = result.offset
      }
    })

    /** Records the blob's digest and size, once a reading of the whole body told them. */
    const learn = (known: Digest.Digest, size: number) => {
      digest = known
      total = size
    }

    /** Keeps the checkpoints of a hash of the body from byte 0 (a streamed request's). */
    const seed = (hasher: Checkpoints.Checkpointed) => {
      checkpoints = hasher
    }

    return { recover, locate: reach("resume", false), send, setSession, learn, seed }
  })

/** What the engine's requests can fail with, besides the body's own error. @internal */
export type EngineFailure =
  | CannotResume
  | SizeMismatch
  | InvalidResponse
  | Effect.Effect.Error<ReturnType<typeof Session.patch>>
  | Effect.Effect.Error<ReturnType<typeof Session.status>>
  | Effect.Effect.Error<ReturnType<typeof Session.open>>
