/**
 * Copies images between registries and OCI image layouts: one call for what `crane copy` or
 * `skopeo copy` do.
 *
 * - An image, or an index with all its children (with `platform`, only the matching image; with
 *   `platforms`, an index of only those platforms' images),
 *   with its config and layers, and with `referrers: true` the artifacts that refer to it
 *   (signatures, SBOMs) through the referrers API or its fallback tag.
 * - Blobs first (concurrently), then the manifests bottom-up, the tag last: a reader never sees a
 *   manifest whose content is missing. Digests are preserved; nothing is recompressed.
 * - Sends as little as it can: what the destination holds is skipped (and what it holds is
 *   remembered in the BlobCache), a manifest already there is not descended into, and within one
 *   registry blobs are mounted from the source repository instead of uploaded. A copy run again
 *   after an interruption sends no blob that already arrived.
 * - Progress as typed events, through `onProgress` or as a Stream ({@link copyWithProgress}).
 *
 * Needs the `Repository` and `BlobCache` services and `FileSystem`/`Path` (all in `node.layer()`).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const from = yield* Copy.parseEndpoint("docker://localhost:5000/app:v1")
 *   const result = yield* Copy.copy(from, Copy.layout("./images", "v1"))
 *   console.log(result.digest, result.blobs, result.bytes)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import * as Endpoints from "./internal/copy/endpoint.js"
import * as engine from "./internal/copy/engine.js"
import { type CopyError as CopyErrors, EndpointInvalid } from "./internal/copy/errors.js"
import type * as Progress from "./internal/copy/progress.js"
import { checkTag } from "./internal/ociLayout/indexFile.js"
import type * as Manifest from "./Manifest.js"
import * as Reference from "./Reference.js"

export {
  /**
   * A blob could not be checked (`stat`), read, mounted or written; names the blob and the endpoint,
   * with the underlying error as `cause`.
   *
   * @since 0.1.0
   * @category errors
   */
  BlobFailed,
  /**
   * An endpoint could not be opened, e.g. a source directory that is not an OCI layout.
   *
   * @since 0.1.0
   * @category errors
   */
  EndpointFailed,
  /**
   * Text that is neither `docker://REFERENCE` nor `oci:DIRECTORY[:TAG]` (from {@link parseEndpoint}).
   *
   * @since 0.1.0
   * @category errors
   */
  EndpointInvalid,
  /**
   * The source holds no image under the tag or digest given.
   *
   * @since 0.1.0
   * @category errors
   */
  ImageNotFound,
  /**
   * A manifest could not be read, checked, written or tagged, or its referrers listed; names the
   * manifest and the endpoint, with the underlying error as `cause`.
   *
   * @since 0.1.0
   * @category errors
   */
  ManifestFailed,
  /**
   * The source index has no manifest for the `platform` asked for; `available` lists what it has.
   *
   * @since 0.1.0
   * @category errors
   */
  PlatformNotFound
} from "./internal/copy/errors.js"

/**
 * Every error of a copy (tags `CopyImageNotFound`, `CopyPlatformNotFound`, `CopyBlobFailed`,
 * `CopyManifestFailed`, `CopyEndpointFailed`).
 *
 * @since 0.1.0
 * @category errors
 */
export type CopyError = CopyErrors

/**
 * Where a copy reads or writes: a registry repository (its tag or digest names the image; neither
 * means `latest`), or an OCI layout directory with an optional tag (without one: the layout's only
 * image as a source, an untagged entry as a destination).
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoint = Endpoints.Endpoint

/**
 * A registry endpoint.
 *
 * @example
 * Copy.registry(yield* Reference.parse("ghcr.io/owner/app:v1"))
 *
 * @since 0.1.0
 * @category constructors
 */
export const registry = (reference: Reference.Reference): Endpoint => ({ _tag: "Registry", reference })

/**
 * An OCI layout endpoint: a directory and optionally a tag (`org.opencontainers.image.ref.name`).
 * A destination layout is created when missing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const layout = (directory: string, tag?: string): Endpoint =>
  tag === undefined ? { _tag: "Layout", directory } : { _tag: "Layout", directory, tag }

/**
 * Reads skopeo's endpoint syntax: `docker://REFERENCE` or `oci:DIRECTORY[:TAG]` (the directory ends
 * at the first `:`). Anything else fails with {@link EndpointInvalid}.
 *
 * @example
 * Copy.parseEndpoint("oci:/tmp/images:v1") // Effect<Endpoint, EndpointInvalid>
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseEndpoint = (text: string): Effect.Effect<Endpoint, EndpointInvalid> => {
  const invalid = (reason: string) => Either.left(new EndpointInvalid({ input: text, reason }))
  if (text.startsWith("docker://")) {
    return Either.match(Reference.parseEither(text.slice("docker://".length)), {
      onLeft: (e) => invalid(e.reason),
      onRight: (reference) => Either.right(registry(reference))
    })
  }
  if (text.startsWith("oci:")) {
    const rest = text.slice("oci:".length)
    const colon = rest.indexOf(":")
    const directory = colon === -1 ? rest : rest.slice(0, colon)
    const tag = colon === -1 ? undefined : rest.slice(colon + 1)
    if (directory === "") return invalid("the layout directory is empty")
    if (tag === undefined) return Either.right(layout(directory))
    return Either.match(checkTag(tag), {
      onLeft: (e) => invalid(`tag ${JSON.stringify(tag)}: ${e.reason}`),
      onRight: (valid) => Either.right(layout(directory, valid))
    })
  }
  return invalid("expected docker://REFERENCE or oci:DIRECTORY[:TAG]")
}

/**
 * An endpoint in skopeo's syntax (`docker://…`, `oci:…`), as {@link parseEndpoint} reads it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatEndpoint: (endpoint: Endpoint) => string = Endpoints.format

/**
 * What a copy did: the top manifest (after platform selection) and the blob counts —
 * uploaded (`copied`), already at the destination (`skipped`), `mounted` from another repository —
 * and the `bytes` sent (blob bodies, resends included, and manifests).
 *
 * @since 0.1.0
 * @category models
 */
export interface Result extends Progress.Result {}

/**
 * A progress event: `Planned` (totals up front), per blob `BlobStarted`, `BlobBytes`,
 * `BlobResumed`, `BlobRetried`, `BlobSkipped`, `BlobMounted`, `BlobDone`, per manifest
 * `ManifestDone` / `ManifestSkipped`, and running `Totals`. The `bytes` of every `BlobBytes` plus
 * the `size` of every `ManifestDone` add up to {@link Result}'s `bytes`.
 *
 * @since 0.1.0
 * @category models
 */
export type ProgressEvent = Progress.Event

/**
 * Options of a copy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Copy only the image manifest for this platform when the source is an index. */
  readonly platform?: Manifest.Platform | undefined
  /**
   * Copy, when the source is an index, an index of only its manifests for these platforms (and the
   * attestations that describe them). Unless every entry is kept, that index is a new manifest
   * with its own digest (the result's `digest`). Each platform must be in the index. `platform`,
   * when given too, wins.
   */
  readonly platforms?: ReadonlyArray<Manifest.Platform> | undefined
  /** Copy the artifacts that refer to what is copied (signatures, SBOMs), recursively (default false). */
  readonly referrers?: boolean | undefined
  /** Blobs in flight at once (default 4). */
  readonly concurrency?: number | undefined
  /** Receives every progress event; the copy waits for it. Without it no event is built. */
  readonly onProgress?: ((event: ProgressEvent) => Effect.Effect<void>) | undefined
}

/**
 * The services a copy uses: `Repository`, `BlobCache`, `FileSystem` and `Path` (`node.layer()` provides them).
 *
 * @since 0.1.0
 * @category models
 */
export type Services = engine.Services

/**
 * Copies the image or index `from` names, with everything it references, to `to`.
 *
 * @example
 * Copy.copy(Copy.registry(source), Copy.registry(target), { referrers: true })
 *
 * @since 0.1.0
 * @category copying
 */
export const copy = (from: Endpoint, to: Endpoint, options?: Options): Effect.Effect<Result, CopyError, Services> =>
  Effect.withSpan(engine.copy(from, to, options), "Copy.copy", {
    attributes: { "oci.copy.from": formatEndpoint(from), "oci.copy.to": formatEndpoint(to) }
  })

/**
 * The last element of {@link copyWithProgress}: the copy's result.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completed {
  readonly _tag: "Completed"
  readonly result: Result
}

/**
 * {@link copy} as a Stream of its progress events, ending with `Completed` and the result. The copy
 * runs while the stream is consumed, and waits for a slow consumer (at most `buffer` events, default
 * 256, are held); ending the stream early interrupts the copy.
 *
 * @example
 * Copy.copyWithProgress(from, to).pipe(Stream.runForEach((event) => Console.log(event._tag)))
 *
 * @since 0.1.0
 * @category copying
 */
export const copyWithProgress = (
  from: Endpoint,
  to: Endpoint,
  options: Omit<Options, "onProgress"> & { readonly buffer?: number | undefined } = {}
): Stream.Stream<ProgressEvent | Completed, CopyError, Services> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const queue = yield* Effect.acquireRelease(
        Queue.bounded<Take.Take<ProgressEvent | Completed, CopyError>>(Math.max(1, options.buffer ?? 256)),
        Queue.shutdown
      )
      yield* copy(from, to, { ...options, onProgress: (event) => Queue.offer(queue, Take.of(event)) }).pipe(
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Queue.offerAll(queue, [Take.of<Completed>({ _tag: "Completed", result: exit.value }), Take.end])
            : Queue.offer(queue, Take.failCause(exit.cause))
        ),
        Effect.forkScoped
      )
      return Stream.fromQueue(queue).pipe(Stream.flattenTake)
    })
  )
