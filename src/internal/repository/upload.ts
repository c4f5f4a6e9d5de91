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
import { type BodyNotReplayable, DigestMismatch, InvalidResponse, safeUrl, SizeMismatch } from "../../RegistryError.js"
import * as Blobs from "./blobs.js"
import type { Target } from "./http.js"
import {
  collect,
  fileBody,
  partsSource,
  sizeOf,
  type Source,
  toSource,
  type UploadBody,
  verifiedBeforeEnd,
  watchBody
} from "./uploadBody.js"
import * as Session from "./uploadSession.js"
import * as Checkpoints from "./hashCheckpoints.js"
import * as Engine from "./uploadEngine.js"
import { cancelQuietly, isRecoverable, type Progress } from "./uploadEngine.js"
import type { UploadContext, UploadSession } from "./uploadSession.js"

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

type EngineOf<E, R> = Effect.Effect.Success<ReturnType<typeof Engine.make<E, R>>>

/** Whether the registry has the blob: a commit whose answer was lost may have succeeded. */
const committed = (ctx: UploadContext, target: Target, digest: Digest.Digest) =>
  Blobs.head(ctx, target, digest, pushScope(target.repository)).pipe(
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

/**
 * The closing PUT (with `body` as its last bytes when given). True when the blob is committed;
 * false when the PUT failed in a way the engine recovered from, so that what the registry lacks
 * is sent and the commit tried again.
 */
const commitOnce = <E, R>(
  ctx: UploadContext,
  target: Target,
  progress: Progress,
  engine: EngineOf<E, R>,
  digest: Digest.Digest,
  body?: { readonly http: HttpBody.HttpBody; readonly failed: () => Option.Option<E | BodyNotReplayable> }
) =>
  Effect.gen(function*() {
    const done = yield* Effect.either(Session.commit(ctx, target, progress.session, digest, body?.http))
    if (Either.isRight(done)) return true
    const own = body?.failed() ?? Option.none()
    if (Option.isSome(own)) return yield* Effect.fail(own.value)
    if (!isRecoverable(done.left)) return yield* Effect.fail(done.left)
    if (yield* committed(ctx, target, digest)) return true
    yield* engine.recover(done.left)
    return false
  })

/** Chunks from the session's offset, then the closing PUT; again from the registry's offset until it commits. */
const chunked = <E, R>(
  ctx: UploadContext,
  target: Target,
  progress: Progress,
  engine: EngineOf<E, R>,
  expected: Digest.Digest | undefined
) =>
  Effect.gen(function*() {
    while (true) {
      const sent = yield* engine.send
      const digest = yield* settle(sent.digest, expected)
      engine.learn(digest, sent.size)
      if (yield* commitOnce(ctx, target, progress, engine, digest)) return { digest, size: sent.size }
    }
  })

// ---------------------------------------------------------------------------------------------
// streamed and monolithic
// ---------------------------------------------------------------------------------------------

/**
 * One PATCH of the whole body without `Content-Range`, hashed on the way, then the PUT. When the
 * PATCH fails, or the registry holds other than what was sent, the upload goes on in chunks from
 * the registry's offset.
 */
const streamed = <E, R>(
  ctx: UploadContext,
  target: Target,
  progress: Progress,
  engine: EngineOf<E, R>,
  plan: Engine.Plan<E, R>
) =>
  Effect.gen(function*() {
    const algorithm = plan.digest === undefined ? "sha256" : Digest.algorithm(plan.digest)
    // with checkpoints: going on in chunks without the digest re-reads from the last one, not from 0
    let hasher = Checkpoints.make(algorithm)
    // a resend reads the body again: each reading is hashed from the start
    const restart = () => {
      hasher = Checkpoints.make(algorithm)
    }
    const file = ctx.transport.iterableBodies === true ? plan.source.file : undefined
    const body = file !== undefined
      ? yield* fileBody(file, restart, (bytes) => hasher.update(bytes))
      : yield* Effect.map(watchBody(plan.source.open(0, "the streamed PATCH was sent again")), ({ failed, stream }) => ({
        failed,
        http: HttpBody.stream(
          Stream.suspend(() => {
            restart()
            return Stream.mapChunks(stream, (chunk) => {
              for (const bytes of chunk) hasher.update(bytes)
              return chunk
            })
          }),
          octetStream
        )
      }))
    const sent = yield* Effect.either(Session.patchStream(ctx, target, progress.session, body.http, () => hasher.size()))
    if (Either.isLeft(sent)) {
      const own = body.failed()
      if (Option.isSome(own)) return yield* Effect.fail(own.value)
      // a registry refusing one PATCH that big (416) asks for chunks: that is no failure to retry
      if (Engine.statusOf(sent.left) === 416) yield* engine.locate
      else yield* engine.recover(sent.left)
    } else {
      yield* engine.setSession(sent.right)
      if (sent.right.offset === hasher.size()) {
        if (plan.size !== undefined && hasher.size() !== plan.size) {
          return yield* new SizeMismatch({ expected: plan.size, actual: hasher.size() })
        }
        const digest = yield* settle(hasher.digest(), plan.digest)
        engine.learn(digest, hasher.size())
        if (yield* commitOnce(ctx, target, progress, engine, digest)) return { digest, size: hasher.size() }
      }
    }
    engine.seed(hasher)
    yield* Effect.logDebug("streamed upload incomplete: continuing in chunks").pipe(
      Effect.annotateLogs({ registryOffset: progress.session.offset })
    )
    return yield* chunked(ctx, target, progress, engine, plan.digest)
  })

/** The closing PUT with the whole blob (`digest` and `size` known); after a failure, in chunks. */
const monolithic = <E, R>(
  ctx: UploadContext,
  target: Target,
  progress: Progress,
  engine: EngineOf<E, R>,
  source: Source<E, R>,
  digest: Digest.Digest,
  size: number
) =>
  Effect.gen(function*() {
    engine.learn(digest, size)
    // a body the registry may have taken part of must not be resent blindly (it would be
    // appended to that part): raw or a stream, the transport resends it only after a refusal, and
    // after a cut the engine asks the registry where the session stands
    const read = yield* watchBody(verifiedBeforeEnd(digest, size)(source.open(0, "the PUT was sent again")))
    const parts = source.parts
    const body = parts === undefined
      ? { http: HttpBody.stream(read.stream, octetStream, size), failed: read.failed }
      : { http: yield* partsBody(ctx, parts, size, read.stream), failed: read.failed }
    if (yield* commitOnce(ctx, target, progress, engine, digest, body)) return { digest, size }
    return yield* chunked(ctx, target, progress, engine, digest)
  })

/**
 * A body in memory (`parts`, `size` bytes in all) as a request body: sent as it is the first time;
 * a resend (after a refusal) reads the body again through `again` (a copy's source: a reading of
 * its own, seen and counted). Where the client takes one, the body is an `AsyncIterable` of the
 * parts, which it writes out as they are: a stream goes through Effect's stream-to-Node adapter,
 * which cost ~2 ms a PUT (measured: 50 blobs of 1 MiB).
 */
const partsBody = <E>(ctx: UploadContext, parts: ReadonlyArray<Uint8Array>, size: number, again: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Effect.runtime<never>(), (runtime): HttpBody.HttpBody => {
    let first = true
    if (ctx.transport.iterableBodies !== true) {
      const body = Stream.suspend(() => (first ? ((first = false), Stream.fromIterable(parts)) : again))
      return HttpBody.stream(body, octetStream, size)
    }
    const iterable: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        if (first) {
          first = false
          yield* parts
          return
        }
        yield* Stream.toAsyncIterableRuntime(again, runtime)
      }
    }
    return HttpBody.raw(iterable, { contentType: octetStream, contentLength: size })
  })

// ---------------------------------------------------------------------------------------------
// sessions as resources
// ---------------------------------------------------------------------------------------------

type Acquired = { readonly _tag: "Mounted" } | { readonly _tag: "Session"; readonly progress: Progress }

/**
 * Opens a session (or mounts), runs `use`, and — unless `use` succeeded — cancels the session it
 * ended with; sessions it replaced were cancelled then (those whose DELETE failed, again now). The
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
      opened._tag === "Mounted"
        ? opened
        : { _tag: "Session", progress: { session: opened.session, chunkSize, stale: [] } }),
    use,
    (acquired, exit) =>
      acquired._tag === "Mounted"
        ? Effect.void
        : Effect.forEach(
          Exit.isSuccess(exit) ? acquired.progress.stale : [...acquired.progress.stale, acquired.progress.session],
          (session) => cancelQuietly(ctx, target, session),
          { discard: true }
        )
  )

// ---------------------------------------------------------------------------------------------
// operations
// ---------------------------------------------------------------------------------------------

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
    const parts = source.parts !== undefined
      ? source.parts
      : auto && strategy === "monolithic"
      ? yield* collect(whole, knownSize!)
      : strategy === "monolithic" && !source.replayable && (options.digest === undefined || options.size === undefined)
      ? yield* Effect.map(Stream.runCollect(whole), Chunk.toReadonlyArray)
      : undefined
    let digest = options.digest
    let size = options.size ?? source.size
    if (parts !== undefined) {
      const length = sizeOf(parts)
      if (size !== undefined && size !== length) {
        return yield* new SizeMismatch({ expected: size, actual: length })
      }
      const hasher = Digest.hasher(algorithm)
      for (const part of parts) hasher.update(part)
      const actual = hasher.digest()
      if (digest !== undefined && digest !== actual) return yield* new DigestMismatch({ expected: digest, actual })
      digest = actual
      size = length
    } else if (strategy === "monolithic" && (digest === undefined || size === undefined)) {
      // one PUT needs the digest and size first: read the body once to learn them, then again to send it
      const learned = yield* Digest.computeStream(whole, algorithm)
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

    const sendSource = parts !== undefined && source.parts === undefined ? partsSource<E, R>(parts) : source
    const upload = (progress: Progress) =>
      Effect.gen(function*() {
        const plan: Engine.Plan<E, R> = {
          source: sendSource,
          bodyOffset: 0,
          digest,
          size,
          onProgress: options.onProgress
        }
        const engine = yield* Engine.make(ctx, target, progress, plan)
        if (strategy === "monolithic") {
          return yield* monolithic(ctx, target, progress, engine, sendSource, digest!, size!)
        }
        return yield* strategy === "streamed"
          ? streamed(ctx, target, progress, engine, plan)
          : chunked(ctx, target, progress, engine, digest)
      })

    const chunkSize = options.chunkSize ?? ctx.upload.chunkSize
    return yield* withUpload(ctx, target, chunkSize, Session.open(ctx, target, mount), (acquired) =>
      acquired._tag === "Mounted"
        ? mounted(ctx, target, mount!.digest, { size, mediaType: options.mediaType })
        : Effect.flatMap(upload(acquired.progress), (done) =>
          remember(ctx, target, { digest: done.digest, size: done.size, mediaType })))
  })

/** `mountBlob`: see the Repository service. @internal */
export const mountBlob = (
  ctx: UploadContext,
  target: Target,
  digest: Digest.Digest,
  from: string,
  known: { readonly size?: number | undefined; readonly mediaType?: string | undefined } = {}
) =>
  Effect.gen(function*() {
    const opened = yield* Session.open(ctx, target, { digest, from })
    if (opened._tag === "Session") return { _tag: "UploadStarted", session: opened.session } as MountResult
    return { _tag: "Mounted", descriptor: yield* mounted(ctx, target, digest, known) } as MountResult
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
    const progress: Progress = { session, chunkSize: options.chunkSize ?? ctx.upload.chunkSize, stale: [] }
    const engine = yield* Engine.make(ctx, target, progress, {
      source: toSource(body),
      bodyOffset: options.bodyOffset ?? 0,
      digest: options.digest,
      size: options.size,
      onProgress: options.onProgress
    })
    // where the session stands; a session the registry lost is replaced (the body permitting)
    yield* engine.locate
    const done = yield* chunked(ctx, target, progress, engine, options.digest).pipe(
      // sessions this upload replaced are cancelled; the one it ended with stays the caller's
      Effect.ensuring(
        Effect.suspend(() =>
          Effect.forEach(progress.stale, (stale) => cancelQuietly(ctx, target, stale), { discard: true })
        )
      )
    )
    const mediaType = options.mediaType ?? octetStream
    return yield* remember(ctx, target, { digest: done.digest, size: done.size, mediaType })
  })

/**
 * `appendUpload`: one PATCH of `bytes` at the session's offset, with its `Content-Range`. The
 * registry must then hold exactly the bytes before plus these.
 *
 * @internal
 */
export const appendUpload = (ctx: UploadContext, target: Target, session: UploadSession, bytes: Uint8Array) =>
  bytes.byteLength === 0
    ? Effect.succeed(session)
    : Effect.flatMap(Session.patch(ctx, target, session, bytes, session.offset), (next) =>
      next.offset === session.offset + bytes.byteLength
        ? Effect.succeed(next)
        : Effect.fail(
          new InvalidResponse({
            reason: `the registry holds ${next.offset} bytes after a chunk ending at ${
              session.offset + bytes.byteLength
            }`,
            url: safeUrl(next.url)
          })
        ))

/** Options of `commitUpload`. @internal */
export interface CommitOptions {
  readonly digest: Digest.Digest
  /** The blob's size (default: the session's offset). */
  readonly size?: number | undefined
  /** Recorded in the descriptor and the BlobCache (default `application/octet-stream`). */
  readonly mediaType?: string | undefined
}

/** `commitUpload`: the closing PUT of a session whose bytes were all appended. @internal */
export const commitUpload = (ctx: UploadContext, target: Target, session: UploadSession, options: CommitOptions) =>
  Effect.zipRight(
    Session.commit(ctx, target, session, options.digest),
    remember(ctx, target, {
      digest: options.digest,
      size: options.size ?? session.offset,
      mediaType: options.mediaType ?? octetStream
    })
  )

/** `uploadStatus`: where a session stands. @internal */
export const uploadStatus = (ctx: UploadContext, target: Target, session: UploadSession) =>
  Session.status(ctx, target, session)

/** `cancelUpload`: DELETE the session. @internal */
export const cancelUpload = (ctx: UploadContext, target: Target, session: UploadSession) =>
  Session.cancel(ctx, target, session)
