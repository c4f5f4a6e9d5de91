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
import * as internalTransport from "./internal/transport.js"
import type * as Manifest from "./Manifest.js"
import type * as Reference from "./Reference.js"
import type {
  BlobUnknown,
  BodyTooLarge,
  DigestMismatch,
  InvalidResponse,
  ManifestUnknown,
  NameUnknown,
  SizeMismatch
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
 * A manifest as fetched: its exact bytes, digest, media type, decoded form, and the registry's ETag.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchedManifest extends Manifests.Fetched {}

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
  /** The manifest for a platform: an index is resolved to its matching entry. */
  readonly getManifestForPlatform: (
    ref: Reference.Reference,
    platform: Manifest.Platform,
    options?: ManifestReadOptions
  ) => Effect.Effect<FetchedManifest, ManifestReadError | Manifests.PlatformNotFound>
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
}>() {}

/**
 * Options of the Repository service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How often, and after which delays, a blob read that broke off is resumed (default: the
   * transport's default retry schedule — 5 resumes with exponential backoff).
   */
  readonly resume?: Schedule.Schedule<unknown, unknown> | undefined
}

const traced = <Args extends ReadonlyArray<unknown>, A, E>(
  name: string,
  f: (...args: Args) => Effect.Effect<A, E>
) => (...args: Args): Effect.Effect<A, E> => Effect.withSpan(f(...args), `Repository.${name}`)

const tracedStream = <Args extends ReadonlyArray<unknown>, A, E>(
  name: string,
  f: (...args: Args) => Stream.Stream<A, E>
) => (...args: Args): Stream.Stream<A, E> => Stream.withSpan(f(...args), `Repository.${name}`)

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
      referrersApi: new Map()
    }
    return Repository.of({
      manifestExists: traced("manifestExists", (ref, o) => Manifests.exists(ctx, ref, o)),
      getManifest: traced("getManifest", (ref, o) => Manifests.get(ctx, ref, o)),
      getManifestIfChanged: traced("getManifestIfChanged", (ref, etag, o) => Manifests.getIfChanged(ctx, ref, etag, o)),
      getManifestForPlatform: traced("getManifestForPlatform", (ref, p, o) => Manifests.getForPlatform(ctx, ref, p, o)),
      resolve: traced("resolve", (ref, o) => Manifests.resolve(ctx, ref, o)),
      tags: tracedStream("tags", (repo, o) => Listing.tags(ctx, repo, o)),
      tagsPage: traced("tagsPage", (repo, o) => Listing.tagsPage(ctx, repo, o)),
      statBlob: traced("statBlob", (repo, digest) => Blobs.stat(ctx, repo, digest)),
      getBlob: tracedStream("getBlob", (repo, digest, o) => Blobs.get(ctx, repo, digest, o)),
      getBlobRange: tracedStream("getBlobRange", (repo, digest, range) => Blobs.read(ctx, repo, digest, range)),
      catalog: tracedStream("catalog", (registry, o) => Listing.catalog(ctx, registry, o)),
      catalogPage: traced("catalogPage", (registry, o) => Listing.catalogPage(ctx, registry, o)),
      referrers: traced("referrers", (repo, subject, o) => Referrers.list(ctx, repo, subject, o))
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
