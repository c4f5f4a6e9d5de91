/**
 * Blob uploads: monolithic (POST, then one PUT with the blob), chunked (PATCH after PATCH from the
 * registry's true offset, resumed from its `Range` when a chunk fails), streamed (one PATCH of a
 * body of unknown size, hashed on the way), cross-repository mounts, and sessions a caller can
 * store and resume.
 *
 * An upload started here is a resource: unless it commits, its session is cancelled (DELETE) —
 * on failure and on interruption alike.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { pushScope } from "../../Auth.js"
import type { BlobDescriptor } from "../../BlobCache.js"
import * as Digest from "../../Digest.js"
import { type BodyNotReplayable, DigestMismatch, safeUrl, SizeMismatch } from "../../RegistryError.js"
import { concat } from "../body.js"
import * as Blobs from "./blobs.js"
import type { Target } from "./http.js"
import { toSource, type UploadBody } from "./uploadBody.js"
import * as Session from "./uploadSession.js"
import { type ChunkRun, isResumable, type Progress, type UploadContext, UploadSession } from "./uploadSession.js"

/** How a blob is sent. @internal */
export type Strategy = "auto" | "monolithic" | "chunked" | "streamed"

/** Options shared by every upload that sends chunks. @internal */
export interface ChunkOptions {
  /** The largest chunk (default: the service's, 4 MiB); raised to the registry's `OCI-Chunk-Min-Length`. */
  readonly chunkSize?: number | undefined
  /** Called with the session after every chunk the registry acknowledged (e.g. to store it). */
  readonly onProgress?: ((session: UploadSession) => Effect.Effect<void>) | undefined
}

/** Options of `putBlob`. @internal */
export interface PutBlobOptions extends ChunkOptions {
  /** The blob's digest when known: checked against the bytes; needed to skip an existing blob or to mount. */
  readonly digest?: Digest.Digest | undefined
  /** The blob's exact size when known. */
  readonly size?: number | undefined
  /** Recorded in the returned descriptor and the BlobCache (default `application/octet-stream`). */
  readonly mediaType?: string | undefined
  /**
   * Default `auto`: monolithic below the service's threshold when the size is known; else one
   * streamed PATCH for a body that can be read again (bytes, `Repository.reopenable`), chunked for a
   * one-shot `Stream`.
   */
  readonly strategy?: Strategy | undefined
  /** Try a cross-repository mount from this repository (same registry) first; needs the digest. */
  readonly mountFrom?: string | undefined
  /** Skip the upload when the registry already has the blob (default true; needs the digest). */
  readonly skipExisting?: boolean | undefined
}

/** Options of `resumeUpload`: where the body starts, and the digest unless the body is whole. @internal */
export type ResumeOptions = ChunkOptions & {
  readonly size?: number | undefined
  readonly mediaType?: string | undefined
} & (
  | { readonly bodyOffset?: 0 | undefined; readonly digest?: Digest.Digest | undefined }
  | { readonly bodyOffset: number; readonly digest: Digest.Digest }
)

/** The result of a mount. @internal */
export type MountResult =
  | { readonly _tag: "Mounted"; readonly descriptor: BlobDescriptor }
  | { readonly _tag: "UploadStarted"; readonly session: UploadSession }

const octetStream = "application/octet-stream"

const cacheKey = (target: Target) => `${target.registry}/${target.repository}`

const remember = (ctx: UploadContext, target: Target, descriptor: BlobDescriptor) =>
  Effect.as(Effect.ignore(ctx.cache.set(descriptor, cacheKey(target))), descriptor)

/** The digest to commit: ours, checked against the one the caller gave. */
const settle = (computed: Digest.Digest | undefined, expected: Digest.Digest | undefined) => {
  if (computed !== undefined && expected !== undefined && computed !== expected) {
    return Effect.fail(new DigestMismatch({ expected, actual: computed }))
  }
  const digest = computed ?? expected
  return digest === undefined ? Effect.dieMessage("an upload without a digest to commit") : Effect.succeed(digest)
}

/** Chunks, then the closing PUT. */
const chunked = <E, R>(ctx: UploadContext, target: Target, progress: Progress, run: ChunkRun<E, R>) =>
  Effect.gen(function*() {
    const sent = yield* Session.sendChunks(ctx, target, progress, run)
    const digest = yield* settle(sent.digest, run.digest)
    yield* Session.commit(ctx, target, progress.session, digest)
    return { digest, size: sent.size }
  })

// ---------------------------------------------------------------------------------------------
// streamed and monolithic
// ---------------------------------------------------------------------------------------------

/**
 * A request body from the caller's stream: its context provided, and its own failure remembered
 * so that it is reported as itself rather than as the transport failure it causes.
 */
const watchBody = <E, R>(body: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Effect.context<R>(), (context) => {
    let failure: Option.Option<E> = Option.none()
    const stream = body.pipe(
      Stream.tapError((error) => Effect.sync(() => (failure = Option.some(error)))),
      Stream.provideContext(context)
    )
    const rethrow = <A, F, R2>(effect: Effect.Effect<A, F, R2>): Effect.Effect<A, F | E, R2> =>
      Effect.catchAll(effect, (error): Effect.Effect<never, F | E> =>
        Option.isSome(failure) ? Effect.fail(failure.value) : Effect.fail(error))
    return { stream, rethrow, failed: () => failure }
  })

/**
 * One PATCH of the whole body without `Content-Range`, hashed on the way, then the PUT. When the
 * PATCH fails, or the registry holds other than what was sent, the upload goes on in chunks from
 * the registry's offset.
 */
const streamed = <E, R>(ctx: UploadContext, target: Target, progress: Progress, run: ChunkRun<E, R>) =>
  Effect.gen(function*() {
    const algorithm = run.digest === undefined ? "sha256" : Digest.algorithm(run.digest)
    let hasher = Digest.hasher(algorithm)
    const { failed, stream } = yield* watchBody(run.body)
    // a resend runs the body again: hash each run from the start
    const hashed = Stream.suspend(() => {
      hasher = Digest.hasher(algorithm)
      return Stream.mapChunks(stream, (chunk) => {
        for (const bytes of chunk) hasher.update(bytes)
        return chunk
      })
    })
    const sent = yield* Effect.either(Session.patchStream(ctx, target, progress.session, hashed, () => hasher.size()))
    if (Either.isRight(sent) && sent.right.offset === hasher.size()) {
      progress.session = sent.right
      if (run.size !== undefined && hasher.size() !== run.size) {
        return yield* new SizeMismatch({ expected: run.size, actual: hasher.size() })
      }
      const digest = yield* settle(hasher.digest(), run.digest)
      yield* Session.commit(ctx, target, progress.session, digest)
      return { digest, size: hasher.size() }
    }
    if (Either.isLeft(sent)) {
      const body = failed()
      if (Option.isSome(body)) return yield* Effect.fail(body.value)
      if (!isResumable(sent.left)) return yield* Effect.fail(sent.left)
      progress.session = yield* Session.status(ctx, target, progress.session)
    } else {
      progress.session = sent.right
    }
    yield* Effect.logDebug("streamed upload incomplete: continuing in chunks").pipe(
      Effect.annotateLogs({ registryOffset: progress.session.offset })
    )
    return yield* chunked(ctx, target, progress, run)
  })

/** The closing PUT with the whole blob (`digest` and `size` known). */
const monolithic = <E, R>(
  ctx: UploadContext,
  target: Target,
  progress: Progress,
  body: Uint8Array | Stream.Stream<Uint8Array, E, R>,
  digest: Digest.Digest,
  size: number
) =>
  Effect.gen(function*() {
    if (body instanceof Uint8Array) {
      yield* Session.commit(ctx, target, progress.session, digest, HttpBody.uint8Array(body, octetStream))
    } else {
      const { rethrow, stream } = yield* watchBody(body)
      yield* rethrow(Session.commit(ctx, target, progress.session, digest, HttpBody.stream(stream, octetStream, size)))
    }
    return { digest, size }
  })

// ---------------------------------------------------------------------------------------------
// sessions as resources
// ---------------------------------------------------------------------------------------------

type Acquired = { readonly _tag: "Mounted" } | { readonly _tag: "Session"; readonly progress: Progress }

const cancelQuietly = (ctx: UploadContext, target: Target, session: UploadSession) =>
  Session.cancel(ctx, target, session).pipe(
    Effect.zipRight(Effect.logDebug("upload session cancelled")),
    Effect.catchAllCause((cause) => Effect.logWarning("could not cancel the upload session", cause)),
    Effect.annotateLogs({ url: safeUrl(session.url) })
  )

/**
 * Opens a session (or mounts), runs `use`, and cancels the session unless `use` succeeded. The
 * opening request can be interrupted (a session we never learned of cannot be cancelled anyway).
 */
const withUpload = <A, E, R, E2>(
  ctx: UploadContext,
  target: Target,
  chunkSize: number,
  open: Effect.Effect<Session.Opened, E2>,
  use: (acquired: Acquired) => Effect.Effect<A, E, R>
) =>
  Effect.acquireUseRelease(
    Effect.map(Effect.interruptible(open), (opened): Acquired =>
      opened._tag === "Mounted" ? opened : { _tag: "Session", progress: { session: opened.session, chunkSize } }),
    use,
    (acquired, exit) =>
      acquired._tag === "Mounted" || Exit.isSuccess(exit)
        ? Effect.void
        : cancelQuietly(ctx, target, acquired.progress.session)
  )

// ---------------------------------------------------------------------------------------------
// operations
// ---------------------------------------------------------------------------------------------

/** Reads a stream of declared size into memory (it is small), checking the size. */
const collect = <E, R>(body: Stream.Stream<Uint8Array, E, R>, size: number) =>
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
            ? Effect.succeed(concat(parts, total))
            : Effect.fail(new SizeMismatch({ expected: size, actual: total }))
        )
      )
  })

/** The registry's descriptor of a blob it has, or undefined (cache first, then HEAD). */
const existing = (ctx: UploadContext, target: Target, digest: Digest.Digest) =>
  Blobs.stat(ctx, target, digest, pushScope(target.repository)).pipe(
    Effect.map((d): BlobDescriptor | undefined => d),
    Effect.catchTags({ BlobUnknown: () => Effect.succeed(undefined), NameUnknown: () => Effect.succeed(undefined) })
  )

/** The descriptor of a blob just mounted: size from what we know, the cache, or a HEAD. */
const mounted = (
  ctx: UploadContext,
  target: Target,
  digest: Digest.Digest,
  known: { readonly size?: number | undefined; readonly mediaType?: string | undefined }
) =>
  Effect.gen(function*() {
    const global = known.size === undefined ? Option.getOrUndefined(yield* ctx.cache.get(digest)) : undefined
    const size = known.size ?? global?.size
    if (size === undefined) {
      const stat = yield* Blobs.stat(ctx, target, digest)
      return known.mediaType === undefined ? stat : { ...stat, mediaType: known.mediaType }
    }
    const mediaType = known.mediaType ?? global?.mediaType ?? octetStream
    return yield* remember(ctx, target, { digest, size, mediaType })
  })

/** `putBlob`: see the Repository service. @internal */
export const putBlob = <E, R>(
  ctx: UploadContext,
  target: Target,
  body: UploadBody<E, R>,
  options: PutBlobOptions = {}
) =>
  Effect.gen(function*() {
    const source = toSource(body)
    const mediaType = options.mediaType ?? octetStream
    const algorithm = options.digest === undefined ? "sha256" : Digest.algorithm(options.digest)
    const auto = options.strategy === undefined || options.strategy === "auto"
    const knownSize = source.size ?? options.size
    const strategy: Strategy = auto
      ? knownSize !== undefined && knownSize < ctx.upload.monolithicThreshold
        ? "monolithic"
        // one PATCH costs less than a request per chunk (measured: 1.3-1.5× faster); a body that can
        // be read again lets a broken PATCH go on in chunks from the registry's offset
        : source.replayable
        ? "streamed"
        : "chunked"
      : options.strategy!
    // a small stream of known size is read into memory, so that its digest is known up front
    const whole = Stream.suspend(() => source.open(0, "the upload was retried"))
    const bytes = source.bytes !== undefined
      ? source.bytes
      : auto && strategy === "monolithic"
      ? yield* collect(whole, knownSize!)
      : strategy === "monolithic" && !source.replayable && (options.digest === undefined || options.size === undefined)
      ? yield* Effect.map(Stream.runCollect(whole), (chunks) => concat(Chunk.toReadonlyArray(chunks)))
      : undefined
    const stream = bytes === undefined ? whole : undefined
    let digest = options.digest
    let size = options.size
    if (bytes !== undefined) {
      if (size !== undefined && size !== bytes.byteLength) {
        return yield* new SizeMismatch({ expected: size, actual: bytes.byteLength })
      }
      const actual = Digest.compute(bytes, algorithm)
      if (digest !== undefined && digest !== actual) return yield* new DigestMismatch({ expected: digest, actual })
      digest = actual
      size = bytes.byteLength
    } else if (strategy === "monolithic" && (digest === undefined || size === undefined)) {
      // one PUT needs the digest and size first: run the stream once to learn them, then again to send it
      const learned = yield* Digest.computeStream(stream!, algorithm)
      if (digest !== undefined && learned.digest !== digest) {
        return yield* new DigestMismatch({ expected: digest, actual: learned.digest })
      }
      if (size !== undefined && learned.size !== size) {
        return yield* new SizeMismatch({ expected: size, actual: learned.size })
      }
      digest = learned.digest
      size = learned.size
    }
    yield* Effect.annotateCurrentSpan({
      "oci.blob.strategy": strategy,
      ...(digest === undefined ? {} : { "oci.blob.digest": digest }),
      ...(size === undefined ? {} : { "oci.blob.size": size })
    })
    if (digest !== undefined && options.skipExisting !== false) {
      const found = yield* existing(ctx, target, digest)
      if (found !== undefined) {
        yield* Effect.annotateCurrentSpan({ "oci.blob.skipped": true })
        return options.mediaType === undefined ? found : { ...found, mediaType }
      }
    }
    const mount = options.mountFrom !== undefined && digest !== undefined
      ? { digest, from: options.mountFrom }
      : undefined

    const upload = (progress: Progress) => {
      if (strategy === "monolithic") return monolithic(ctx, target, progress, bytes ?? stream!, digest!, size!)
      const run: ChunkRun<E | BodyNotReplayable, R> = {
        body: stream ?? Stream.make(bytes!),
        bodyOffset: 0,
        digest,
        size,
        onProgress: options.onProgress
      }
      return strategy === "streamed" ? streamed(ctx, target, progress, run) : chunked(ctx, target, progress, run)
    }

    const chunkSize = options.chunkSize ?? ctx.upload.chunkSize
    return yield* withUpload(ctx, target, chunkSize, Session.open(ctx, target, mount), (acquired) =>
      acquired._tag === "Mounted"
        ? mounted(ctx, target, mount!.digest, { size, mediaType: options.mediaType })
        : Effect.flatMap(upload(acquired.progress), (done) =>
          remember(ctx, target, { digest: done.digest, size: done.size, mediaType })))
  })

/** `mountBlob`: see the Repository service. @internal */
export const mountBlob = (ctx: UploadContext, target: Target, digest: Digest.Digest, from: string) =>
  Effect.gen(function*() {
    const opened = yield* Session.open(ctx, target, { digest, from })
    if (opened._tag === "Session") return { _tag: "UploadStarted", session: opened.session } as MountResult
    return { _tag: "Mounted", descriptor: yield* mounted(ctx, target, digest, {}) } as MountResult
  })

/** `startUpload`: a new session the caller owns. @internal */
export const startUpload = (ctx: UploadContext, target: Target) =>
  Effect.flatMap(Session.open(ctx, target), (opened) =>
    opened._tag === "Session"
      ? Effect.succeed(opened.session)
      : Effect.dieMessage("a plain upload POST answered as a mount"))

/**
 * `resumeUpload`: asks the registry where the session stands, sends the rest of the body in chunks
 * and commits. The session is not cancelled on failure: it stays the caller's to resume.
 *
 * @internal
 */
export const resumeUpload = <E, R>(
  ctx: UploadContext,
  target: Target,
  session: UploadSession,
  body: UploadBody<E, R>,
  options: ResumeOptions
) =>
  Effect.gen(function*() {
    const source = toSource(body)
    const current = yield* Session.status(ctx, target, session)
    const progress: Progress = { session: current, chunkSize: options.chunkSize ?? ctx.upload.chunkSize }
    if (options.onProgress !== undefined) yield* options.onProgress(current)
    const done = yield* chunked(ctx, target, progress, {
      body: Stream.suspend(() => source.open(0, "the upload was retried")),
      bodyOffset: options.bodyOffset ?? 0,
      digest: options.digest,
      size: options.size,
      onProgress: options.onProgress
    })
    const mediaType = options.mediaType ?? octetStream
    return yield* remember(ctx, target, { digest: done.digest, size: done.size, mediaType })
  })


/** `uploadStatus`: where a session stands. @internal */
export const uploadStatus = (ctx: UploadContext, target: Target, session: UploadSession) =>
  Session.status(ctx, target, session)

/** `cancelUpload`: DELETE the session. @internal */
export const cancelUpload = (ctx: UploadContext, target: Target, session: UploadSession) =>
  Session.cancel(ctx, target, session)
