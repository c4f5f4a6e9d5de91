/**
 * The Repository service: every operation on a registry's repositories — manifests, tags, blobs,
 * catalog and referrers — each a traced Effect (or Stream) with a typed error channel.
 *
 * Targets are {@link Reference.Reference}s: for repository-level calls only `registry` and
 * `repository` matter; for manifest calls the digest (if any, else the tag, else `latest`) names the
 * manifest.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const repo = yield* Repository.Repository
 *   const ref = yield* Reference.parse("localhost:5000/demo/app:v1")
 *   const image = yield* repo.getManifest(ref)
 *   const tags = yield* Stream.runCollect(repo.tags(ref))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Auth } from "./Auth.js"
import { BlobCache, type BlobDescriptor } from "./BlobCache.js"
import type * as Digest from "./Digest.js"
import * as Blobs from "./internal/repository/blobs.js"
import type { Context as OpContext, Page, RequestFailure } from "./internal/repository/http.js"
import * as Listing from "./internal/repository/listing.js"
import * as Manifests from "./internal/repository/manifests.js"
import * as Referrers from "./internal/repository/referrers.js"
import type { ManifestWriteContext } from "./internal/repository/referrersPush.js"
import * as Upload from "./internal/repository/upload.js"
import * as UploadBodies from "./internal/repository/uploadBody.js"
import type { CannotResume, UploadContext, UploadSession } from "./internal/repository/uploadSession.js"
import * as Writes from "./internal/repository/writes.js"
import * as internalTransport from "./internal/transport.js"
import type * as Manifest from "./Manifest.js"
import type * as Reference from "./Reference.js"
import type {
  BlobUnknown,
  BodyNotReplayable,
  BlobUploadInvalid,
  BlobUploadUnknown,
  BodyTooLarge,
  DigestInvalid,
  DigestMismatch,
  InvalidReference,
  InvalidResponse,
  ManifestBlobUnknown,
  ManifestInvalid,
  ManifestUnknown,
  NameInvalid,
  NameUnknown,
  SizeInvalid,
  SizeMismatch,
  TagInvalid,
  Unsupported
} from "./RegistryError.js"
import { Transport } from "./Transport.js"

export {
  /**
   * An index offers no manifest for the wanted platform; `available` lists what it offers.
   *
   * @since 0.1.0
   * @category errors
   */
  PlatformNotFound
} from "./internal/repository/manifests.js"

export {
  /**
   * An upload cannot go on from where the registry stands: it holds fewer bytes than the body
   * given starts at, or more than were sent.
   *
   * @since 0.1.0
   * @category errors
   */
  CannotResume,
  /**
   * An upload session: its URL (the registry's latest `Location`), the bytes the registry holds
   * (`offset`), and its `OCI-Chunk-Min-Length`. A Schema class: encode it to store it, decode it
   * in a later process and pass it to `resumeUpload`. The URL may carry the registry's signed
   * state, so store it as carefully as a token.
   *
   * @example
   * const json = Schema.encodeSync(Repository.UploadSession)(session)
   * const again = Schema.decodeUnknownSync(Repository.UploadSession)(json)
   *
   * @since 0.1.0
   * @category models
   */
  UploadSession
} from "./internal/repository/uploadSession.js"

/**
 * Any failure of sending a request: transport (after retries), authentication, or a registry error.
 *
 * @since 0.1.0
 * @category errors
 */
export type { RequestFailure }

/**
 * A page of a listing and the URL of the next one.
 *
 * @since 0.1.0
 * @category models
 */
export type { Page }

/** Errors of reading a manifest. @since 0.1.0 @category errors */
export type ManifestReadError =
  | ManifestUnknown
  | NameUnknown
  | DigestMismatch
  | BodyTooLarge
  | Manifest.InvalidManifest
  | Manifest.UnsupportedMediaType
  | RequestFailure

/** Errors of reading a blob. @since 0.1.0 @category errors */
export type BlobReadError = BlobUnknown | NameUnknown | DigestMismatch | SizeMismatch | InvalidResponse | RequestFailure

/** Errors of a listing. @since 0.1.0 @category errors */
export type ListingError = NameUnknown | InvalidResponse | BodyTooLarge | RequestFailure

/**
 * Errors of a blob upload, besides the body stream's own.
 *
 * @since 0.1.0
 * @category errors
 */
export type BlobWriteError =
  | DigestMismatch
  | SizeMismatch
  | DigestInvalid
  | SizeInvalid
  | BlobUnknown
  | BlobUploadUnknown
  | BlobUploadInvalid
  | NameUnknown
  | NameInvalid
  | InvalidResponse
  | CannotResume
  | BodyNotReplayable
  | RequestFailure

/** Errors of the upload session calls (start, status, cancel). @since 0.1.0 @category errors */
export type UploadSessionError = BlobUploadUnknown | BlobUploadInvalid | NameUnknown | InvalidResponse | RequestFailure

/** Errors of a cross-repository mount. @since 0.1.0 @category errors */
export type MountError = BlobUnknown | NameUnknown | InvalidResponse | RequestFailure

/**
 * Errors of a manifest push (including reading and writing the referrers fallback index).
 *
 * @since 0.1.0
 * @category errors
 */
export type ManifestWriteError =
  | DigestMismatch
  | DigestInvalid
  | ManifestInvalid
  | ManifestBlobUnknown
  | TagInvalid
  | NameUnknown
  | NameInvalid
  | ManifestReadError
  | InvalidResponse
  | RequestFailure

/** Errors of deleting a manifest. @since 0.1.0 @category errors */
export type ManifestDeleteError = ManifestUnknown | InvalidReference | Unsupported | RequestFailure

/** Errors of deleting a blob. @since 0.1.0 @category errors */
export type BlobDeleteError = BlobUnknown | Unsupported | RequestFailure

/** Errors of tagging a manifest. @since 0.1.0 @category errors */
export type TagError = InvalidReference | ManifestReadError | ManifestWriteError

/** Errors of removing a tag: `Unsupported` where the registry does not delete by tag. @since 0.1.0 @category errors */
export type UntagError = ManifestUnknown | Unsupported | InvalidReference | RequestFailure

/**
 * Everything a Repository call can fail with: the union of every operation's error type (a body
 * stream's own errors aside), for your own signatures and `catchTags`.
 *
 * @example
 * const pull = (ref: Reference.Reference): Effect.Effect<void, Repository.Error, Repository.Repository> => …
 *
 * @since 0.1.0
 * @category errors
 */
export type Error =
  | ManifestReadError
  | Manifests.PlatformNotFound
  | BlobReadError
  | ListingError
  | BlobWriteError
  | UploadSessionError
  | MountError
  | ManifestWriteError
  | ManifestDeleteError
  | BlobDeleteError
  | TagError
  | UntagError

/**
 * How `putBlob` sends a blob: `monolithic` (POST, then one PUT with the blob), `chunked` (PATCHes
 * with `Content-Range`, resumable), `streamed` (one PATCH of unknown length, digest computed on the
 * way; when it breaks, the upload goes on in chunks from the registry's offset), or `auto`:
 * monolithic below the threshold when the size is known, else streamed for a body that can be read
 * again (bytes, {@link reopenable}) and chunked for a one-shot `Stream`.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadStrategy = Upload.Strategy

/**
 * A body that can be opened again from any byte offset — a file, a ranged read of another
 * registry's blob, bytes kept elsewhere. Build one with {@link reopenable}. An upload that must
 * recover (a connection cut, a session the registry dropped) re-opens it where the registry
 * stands instead of sending everything again.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reopenable<E = never, R = never> extends UploadBodies.Reopenable<E, R> {}

/**
 * What an upload sends: bytes, a {@link Reopenable}, or a `Stream`. Bytes and a `Reopenable` can
 * be read again, so every recovery works; a `Stream` is read once: when a recovery needs bytes
 * already read (a new session from byte 0, a registry that lost data) the upload fails with
 * `BodyNotReplayable`, after cancelling its sessions.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadBody<E = never, R = never> = Uint8Array | Stream.Stream<Uint8Array, E, R> | Reopenable<E, R>

/**
 * Builds a {@link Reopenable} from `open(offset)`, which returns the body from its byte `offset`
 * on (`offset` 0: the whole body). `size`, when known, is the body's length.
 *
 * @example
 * // another registry's blob as the body of a push: a recovery re-reads only what is missing
 * const body = Repository.reopenable(
 *   (offset) => source.getBlobRange(from, digest, { offset }),
 *   { size }
 * )
 * yield* target.putBlob(to, body, { digest, size })
 *
 * @since 0.1.0
 * @category constructors
 */
export const reopenable: <E = never, R = never>(
  open: (offset: number) => Stream.Stream<Uint8Array, E, R>,
  options?: { readonly size?: number | undefined }
) => Reopenable<E, R> = UploadBodies.reopenable

/**
 * Options of `putBlob`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutBlobOptions extends Upload.PutBlobOptions {}

/**
 * Options of `resumeUpload`. `bodyOffset` says where in the blob the body given starts (default 0:
 * the whole blob, which is then hashed as it is read); above 0 the digest is required.
 *
 * @since 0.1.0
 * @category models
 */
export type ResumeUploadOptions = Upload.ResumeOptions

/**
 * Options of `commitUpload`: the blob's digest, and optionally its size (default: the session's
 * offset) and media type.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommitUploadOptions extends Upload.CommitOptions {}

/**
 * The result of a mount: `Mounted` (201), or `UploadStarted` (202: the registry opened an upload
 * session instead, which is now the caller's — use it with `resumeUpload` or `cancelUpload`).
 *
 * @since 0.1.0
 * @category models
 */
export type MountResult = Upload.MountResult

/**
 * A manifest to push: a {@link Manifest.Decoded} (from `Manifest.encode` or a read), or exact bytes
 * with their media type.
 *
 * @since 0.1.0
 * @category models
 */
export type ManifestInput = Writes.ManifestInput

/**
 * A manifest as fetched: its exact bytes, digest, media type, decoded form, and the registry's ETag.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchedManifest extends Manifests.Fetched {}

/**
 * A fetched single-platform image manifest — OCI image manifest or Docker v2 schema 2, so
 * `manifest.config` and `manifest.layers` are there: what `getManifestForPlatform` gives.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchedImage extends Manifests.FetchedImage {}

/**
 * The result of a conditional manifest GET (`If-None-Match`).
 *
 * @since 0.1.0
 * @category models
 */
export type ConditionalManifest = Manifests.Conditional

/**
 * Options of manifest reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface ManifestReadOptions extends Manifests.ReadOptions {}

/**
 * The Repository service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Repository extends Context.Tag("effect-oci/Repository")<Repository, {
  /** Whether a manifest exists (HEAD, with the full Accept list). */
  readonly manifestExists: (ref: Reference.Reference, options?: ManifestReadOptions) => Effect.Effect<boolean, ManifestReadError>
  /**
   * A manifest by tag or digest, with its exact bytes. The bytes are checked against the digest
   * asked for and against `Docker-Content-Digest`.
   */
  readonly getManifest: (
    ref: Reference.Reference,
    options?: ManifestReadOptions
  ) => Effect.Effect<FetchedManifest, ManifestReadError>
  /** A manifest unless it still has the ETag `etag` (then `NotModified`). */
  readonly getManifestIfChanged: (
    ref: Reference.Reference,
    etag: string,
    options?: ManifestReadOptions
  ) => Effect.Effect<ConditionalManifest, ManifestReadError>
  /**
   * The image manifest for a platform: an index (or Docker manifest list) is resolved to its
   * matching entry, fetched by digest; an image manifest is returned as it is. Anything but an OCI
   * or Docker v2 image manifest at the end (a schema 1 manifest, an index in an index) fails with
   * `UnsupportedMediaType` — `getManifest` reads those.
   */
  readonly getManifestForPlatform: (
    ref: Reference.Reference,
    platform: Manifest.Platform,
    options?: ManifestReadOptions
  ) => Effect.Effect<FetchedImage, ManifestReadError | Manifests.PlatformNotFound>
  /** The descriptor (media type, digest, size) a tag or digest points to: HEAD, GET when HEAD has no digest. */
  readonly resolve: (
    ref: Reference.Reference,
    options?: ManifestReadOptions
  ) => Effect.Effect<Manifest.Descriptor, ManifestReadError>
  /** Every tag of a repository, following `Link` pagination. */
  readonly tags: (
    repo: Reference.Reference,
    options?: { readonly pageSize?: number | undefined }
  ) => Stream.Stream<string, ListingError>
  /** One page of tags (`n` per page, after `last`). */
  readonly tagsPage: (repo: Reference.Reference, options?: Listing.PageOptions) => Effect.Effect<Page<string>, ListingError>
  /** A blob's descriptor: from the BlobCache, else a HEAD (which fills the cache). */
  readonly statBlob: (repo: Reference.Reference, digest: Digest.Digest) => Effect.Effect<BlobDescriptor, BlobReadError>
  /**
   * A blob's bytes, verified against its digest (and `size` when given): a mismatch fails the
   * stream. A body that breaks off is resumed from the last byte received.
   */
  readonly getBlob: (
    repo: Reference.Reference,
    digest: Digest.Digest,
    options?: { readonly size?: number | undefined }
  ) => Stream.Stream<Uint8Array, BlobReadError>
  /** A byte range of a blob (not verified: a range has no digest), resumed like {@link getBlob}. */
  readonly getBlobRange: (
    repo: Reference.Reference,
    digest: Digest.Digest,
    range: Blobs.ByteRange
  ) => Stream.Stream<Uint8Array, BlobReadError>
  /** Every repository of a registry's catalog, following `Link` pagination. */
  readonly catalog: (
    registry: string,
    options?: { readonly pageSize?: number | undefined }
  ) => Stream.Stream<string, ListingError>
  /** One page of the catalog. */
  readonly catalogPage: (registry: string, options?: Listing.PageOptions) => Effect.Effect<Page<string>, ListingError>
  /**
   * The manifests that refer to `subject` (OCI 1.1), optionally only those of one artifact type.
   * Falls back to the `sha256-<hex>` tag schema where the registry has no referrers API.
   */
  readonly referrers: (
    repo: Reference.Reference,
    subject: Digest.Digest,
    options?: Referrers.ReferrersOptions
  ) => Effect.Effect<ReadonlyArray<Manifest.Descriptor>, ManifestReadError | InvalidResponse>

  // ---- writes ----

  /**
   * Uploads a blob and returns its descriptor (also recorded in the BlobCache). When the digest is
   * known (given, or computed from a `Uint8Array`) and the registry has the blob, nothing is sent
   * (`skipExisting: false` to upload anyway); with `mountFrom` a cross-repository mount is tried
   * first. The registry's `Docker-Content-Digest` is checked against ours. A session that does not
   * commit — failure or interruption — is cancelled (DELETE).
   *
   * A failed request (a connection cut, a 5xx, a session the registry refused or forgot) is
   * recovered from where the registry stands, or with a fresh session; see {@link UploadBody}
   * for which bodies can be read again.
   *
   * @example
   * const layer = yield* repo.putBlob(ref, fileStream, { size, strategy: "chunked" })
   */
  readonly putBlob: <E = never, R = never>(
    repo: Reference.Reference,
    body: UploadBody<E, R>,
    options?: PutBlobOptions
  ) => Effect.Effect<BlobDescriptor, BlobWriteError | E, R>
  /**
   * `POST …/blobs/uploads/?mount=<digest>&from=<repository>` (same registry; the token asks for pull
   * on `from` too). 201 → `Mounted`; 202 → `UploadStarted` with the session the registry opened.
   * With the blob's `size` (and `mediaType`) known, a mounted blob's descriptor needs no further
   * request; without them it is asked for (`HEAD`) unless the BlobCache knows it.
   */
  readonly mountBlob: (
    repo: Reference.Reference,
    digest: Digest.Digest,
    from: string,
    known?: { readonly size?: number | undefined; readonly mediaType?: string | undefined }
  ) => Effect.Effect<MountResult, MountError>
  /** Opens an upload session the caller owns: store it, resume it, or cancel it. */
  readonly startUpload: (repo: Reference.Reference) => Effect.Effect<UploadSession, UploadSessionError>
  /** Where a session stands: `GET` on it → its `Range` (offset) and latest URL. */
  readonly uploadStatus: (
    repo: Reference.Reference,
    session: UploadSession
  ) => Effect.Effect<UploadSession, UploadSessionError>
  /**
   * Asks the registry where `session` stands, sends the rest of the body in chunks and commits,
   * recovering like `putBlob`. The registry's offset wins over the stored one (ahead: those bytes
   * of the body are skipped; behind: sent again); a session the registry lost is replaced by a new
   * one, sent from byte 0 (the body must then start at 0). On failure the latest session is left
   * open for another try (sessions it replaced are cancelled); `onProgress` sees it whenever the
   * registry confirmed where it stands, e.g. to store it.
   */
  readonly resumeUpload: <E = never, R = never>(
    repo: Reference.Reference,
    session: UploadSession,
    body: UploadBody<E, R>,
    options?: ResumeUploadOptions
  ) => Effect.Effect<BlobDescriptor, BlobWriteError | E, R>
  /**
   * Appends `bytes` to an open session (one `PATCH` with its `Content-Range`, from the session's
   * offset) without committing, and returns the session after it. Chunk sizes are the caller's,
   * but must respect the session's `chunkMinLength` (all chunks but the last). A registry holding
   * other than the bytes before plus these is an `InvalidResponse`: ask {@link uploadStatus}.
   */
  readonly appendUpload: (
    repo: Reference.Reference,
    session: UploadSession,
    bytes: Uint8Array
  ) => Effect.Effect<UploadSession, UploadSessionError>
  /**
   * Commits a session whose bytes were all appended (`PUT ?digest=`) and returns the blob's
   * descriptor (`size` defaults to the session's offset), also recorded in the BlobCache.
   */
  readonly commitUpload: (
    repo: Reference.Reference,
    session: UploadSession,
    options: CommitUploadOptions
  ) => Effect.Effect<BlobDescriptor, BlobWriteError>
  /** Cancels a session (`DELETE`); one the registry no longer knows counts as cancelled. */
  readonly cancelUpload: (repo: Reference.Reference, session: UploadSession) => Effect.Effect<void, UploadSessionError>
  /**
   * Pushes a manifest by the reference's tag (or, without one, by its digest) with `Content-Type`
   * = its media type, and returns its digest — checked against the reference's digest and the
   * registry's `Docker-Content-Digest`. A manifest with a `subject` the registry does not index
   * (no `OCI-Subject`) is added to the subject's `sha256-<hex>` fallback index.
   */
  readonly putManifest: (
    ref: Reference.Reference,
    manifest: ManifestInput
  ) => Effect.Effect<Digest.Digest, ManifestWriteError>
  /** Deletes a manifest by digest (with its tags). A reference without a digest is refused. */
  readonly deleteManifest: (ref: Reference.Reference) => Effect.Effect<void, ManifestDeleteError>
  /** Deletes a blob from a repository, and forgets it there in the BlobCache. */
  readonly deleteBlob: (repo: Reference.Reference, digest: Digest.Digest) => Effect.Effect<void, BlobDeleteError>
  /** Puts the exact bytes of `source` (tag or digest) under `newTag` in the same repository. */
  readonly tag: (source: Reference.Reference, newTag: string) => Effect.Effect<Manifest.Descriptor, TagError>
  /** Removes a tag (`DELETE` by tag); `Unsupported` where the registry refuses (distribution 2.8). */
  readonly untag: (ref: Reference.Reference) => Effect.Effect<void, UntagError>
}>() {}

/**
 * Options of the Repository service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How often in a row, and after which delays, a blob read that broke off is resumed without
   * getting any new byte (default: the transport's default retry schedule — 5 resumes with
   * exponential backoff). An attempt that delivered bytes starts the schedule over, so a read that
   * keeps making progress keeps going.
   */
  readonly resume?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * The longest a blob read keeps resuming: once this much time has passed since it began, a
   * break is no longer resumed (default: no limit).
   */
  readonly resumeTimeLimit?: Duration.DurationInput | undefined
  /** Below this size (bytes, known up front) `putBlob` sends a blob in one PUT (default 8 MiB). */
  readonly monolithicThreshold?: number | undefined
  /**
   * The largest chunk of a chunked upload (default 4 MiB: GHCR refuses larger PATCH bodies). A
   * registry's `OCI-Chunk-Min-Length` above it wins.
   */
  readonly chunkSize?: number | undefined
  /**
   * How often in a row, and after which delays, an upload recovers after a failed request of its
   * session — going on from the registry's offset, or in a fresh session from byte 0 when the
   * registry refused or forgot it (default: the same as `resume`). Bytes the registry confirmed
   * since the last failure start it over.
   */
  readonly uploadResume?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * Whether pushing a manifest with a `subject` to a registry that does not index it maintains the
   * `sha256-<hex>` fallback index (default true), and how often to retry its update after a 412
   * conflict (default 5).
   */
  readonly referrersFallback?:
    | { readonly enabled?: boolean | undefined; readonly conflictRetries?: number | undefined }
    | undefined
}


/**
 * Builds the Repository service from Auth, Transport and BlobCache.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Repository["Type"], never, Auth | Transport | BlobCache> =>
  Effect.gen(function*() {
    const ctx: OpContext = {
      auth: yield* Auth,
      transport: yield* Transport,
      cache: yield* BlobCache,
      resume: options.resume ?? internalTransport.defaultRetry,
      resumeTimeLimit: options.resumeTimeLimit === undefined ? undefined : Duration.decode(options.resumeTimeLimit),
      referrersApi: new Map()
    }
    const wctx: UploadContext & ManifestWriteContext = {
      ...ctx,
      upload: {
        monolithicThreshold: options.monolithicThreshold ?? 8 * 1024 * 1024,
        chunkSize: Math.max(1, options.chunkSize ?? 4 * 1024 * 1024),
        resume: options.uploadResume ?? ctx.resume
      },
      referrersFallback: {
        enabled: options.referrersFallback?.enabled ?? true,
        conflictRetries: options.referrersFallback?.conflictRetries ?? 5
      }
    }
    // Every operation is a span named `Repository.<operation>`: Effect.fn for Effects, withSpan for Streams.
    return Repository.of({
      manifestExists: Effect.fn("Repository.manifestExists")((ref, o) => Manifests.exists(ctx, ref, o)),
      getManifest: Effect.fn("Repository.getManifest")((ref, o) => Manifests.get(ctx, ref, o)),
      getManifestIfChanged: Effect.fn("Repository.getManifestIfChanged")((ref, etag, o) =>
        Manifests.getIfChanged(ctx, ref, etag, o)
      ),
      getManifestForPlatform: Effect.fn("Repository.getManifestForPlatform")((ref, p, o) =>
        Manifests.getForPlatform(ctx, ref, p, o)
      ),
      resolve: Effect.fn("Repository.resolve")((ref, o) => Manifests.resolve(ctx, ref, o)),
      tags: (repo, o) => Listing.tags(ctx, repo, o).pipe(Stream.withSpan("Repository.tags")),
      tagsPage: Effect.fn("Repository.tagsPage")((repo, o) => Listing.tagsPage(ctx, repo, o)),
      statBlob: Effect.fn("Repository.statBlob")((repo, digest) => Blobs.stat(ctx, repo, digest)),
      getBlob: (repo, digest, o) => Blobs.get(ctx, repo, digest, o).pipe(Stream.withSpan("Repository.getBlob")),
      getBlobRange: (repo, digest, range) =>
        Blobs.read(ctx, repo, digest, range).pipe(Stream.withSpan("Repository.getBlobRange")),
      catalog: (registry, o) => Listing.catalog(ctx, registry, o).pipe(Stream.withSpan("Repository.catalog")),
      catalogPage: Effect.fn("Repository.catalogPage")((registry, o) => Listing.catalogPage(ctx, registry, o)),
      referrers: Effect.fn("Repository.referrers")((repo, subject, o) => Referrers.list(ctx, repo, subject, o)),
      // Generic in the body's error and context, which Effect.fn would not keep: spanned by hand.
      putBlob: (repo, body, o) => Upload.putBlob(wctx, repo, body, o).pipe(Effect.withSpan("Repository.putBlob")),
      mountBlob: Effect.fn("Repository.mountBlob")((repo, digest, from, known) =>
        Upload.mountBlob(wctx, repo, digest, from, known)
      ),
      startUpload: Effect.fn("Repository.startUpload")((repo) => Upload.startUpload(wctx, repo)),
      uploadStatus: Effect.fn("Repository.uploadStatus")((repo, session) => Upload.uploadStatus(wctx, repo, session)),
      resumeUpload: (repo, session, body, o) =>
        Upload.resumeUpload(wctx, repo, session, body, o ?? {}).pipe(Effect.withSpan("Repository.resumeUpload")),
      appendUpload: Effect.fn("Repository.appendUpload")((repo, session, bytes) =>
        Upload.appendUpload(wctx, repo, session, bytes)
      ),
      commitUpload: Effect.fn("Repository.commitUpload")((repo, session, o) => Upload.commitUpload(wctx, repo, session, o)),
      cancelUpload: Effect.fn("Repository.cancelUpload")((repo, session) => Upload.cancelUpload(wctx, repo, session)),
      putManifest: Effect.fn("Repository.putManifest")((ref, manifest) => Writes.putManifest(wctx, ref, manifest)),
      deleteManifest: Effect.fn("Repository.deleteManifest")((ref) => Writes.deleteManifest(wctx, ref)),
      deleteBlob: Effect.fn("Repository.deleteBlob")((repo, digest) => Writes.deleteBlob(wctx, repo, digest)),
      tag: Effect.fn("Repository.tag")((source, newTag) => Writes.tag(wctx, source, newTag)),
      untag: Effect.fn("Repository.untag")((ref) => Writes.untag(wctx, ref))
    })
  })

/**
 * The Repository service as a Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Repository, never, Auth | Transport | BlobCache> =>
  Layer.effect(Repository, make(options))
