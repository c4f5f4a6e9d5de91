/**
 * OCI image layouts: a directory with `oci-layout`, `index.json` and `blobs/<alg>/<hex>`, as skopeo's
 * `oci:DIR:TAG`, `oras` and `crane` read and write them.
 *
 * - Several images live in one layout, each `index.json` entry named by its
 *   `org.opencontainers.image.ref.name` annotation (its tag); tagging an image with a tag another
 *   entry holds moves the tag and leaves that entry untagged, as skopeo does.
 * - Blobs are written to a temporary file, verified against their digest (and size), then renamed:
 *   a blob file is always whole and correct.
 * - `index.json` is only ever replaced by a rename, under a lock file (`index.json.lock`), and
 *   re-read under the lock: concurrent writers (fibers or processes) never lose an entry.
 * - A malformed `oci-layout` or `index.json`, an entry with an unknown digest algorithm or a digest
 *   that is not plain hex (which could otherwise escape `blobs/`) are typed errors.
 *
 * Uses `@effect/platform`'s `FileSystem` and `Path` (on Node: `NodeContext.layer`).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const layout = yield* OciLayout.open("./images", { create: true })
 *   const top = yield* layout.resolve("v1")
 *   const manifest = yield* layout.readManifest(top)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as Digest from "./Digest.js"
import * as IndexFile from "./internal/ociLayout/indexFile.js"
import * as internal from "./internal/ociLayout/layout.js"
import type * as Manifest from "./Manifest.js"

export {
  /**
   * A directory that is not an OCI layout, or a malformed file in one (`oci-layout`, `index.json`,
   * an entry with a bad digest); `reason` says which.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidLayout,
  /**
   * A blob (or manifest) the layout does not hold.
   *
   * @since 0.1.0
   * @category errors
   */
  LayoutBlobNotFound,
  /**
   * No image under the tag asked for; without a tag, the layout does not hold exactly one image.
   *
   * @since 0.1.0
   * @category errors
   */
  LayoutImageNotFound,
  /**
   * Nothing at the directory given (opened without `create`).
   *
   * @since 0.1.0
   * @category errors
   */
  LayoutNotFound,
  /**
   * Another writer kept `index.json.lock` for longer than the lock timeout.
   *
   * @since 0.1.0
   * @category errors
   */
  LayoutLocked
} from "./internal/ociLayout/errors.js"

/**
 * Every error of a layout operation: the layout's own, a tag outside the ref.name grammar
 * (`InvalidReference`), digest and size mismatches, a malformed manifest, and file system errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type OciLayoutError = internal.LayoutError

/**
 * The annotation that tags an image in a layout: `org.opencontainers.image.ref.name`.
 *
 * @since 0.1.0
 * @category constants
 */
export const refNameAnnotation: string = IndexFile.refName

/**
 * A manifest to write: a {@link Manifest.Decoded} (from `Manifest.encode` or a read), or exact bytes
 * with their media type.
 *
 * @since 0.1.0
 * @category models
 */
export type ManifestInput = internal.ManifestInput

/**
 * Options of {@link open}.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenOptions {
  /** Create the directory, `oci-layout` and an empty `index.json` when missing (default false). */
  readonly create?: boolean | undefined
  /** How long a writer waits for the `index.json` lock (default 30 s). */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** After how long a lock counts as left behind by a writer that died, and is broken (default 30 s). */
  readonly staleLockAfter?: Duration.DurationInput | undefined
}

/**
 * An open layout. Every operation reads the files afresh, so one handle sees what other writers
 * add.
 *
 * @since 0.1.0
 * @category models
 */
export interface Layout {
  /** The layout's absolute directory. */
  readonly directory: string
  /** The entries of `index.json`, in order. */
  readonly entries: Effect.Effect<ReadonlyArray<Manifest.Descriptor>, OciLayoutError>
  /** The tags of the layout's images, in `index.json` order. */
  readonly tags: Effect.Effect<ReadonlyArray<string>, OciLayoutError>
  /** The entry tagged `tag` (the last one, should several be); without a tag, the only entry. */
  readonly resolve: (tag?: string | undefined) => Effect.Effect<Manifest.Descriptor, OciLayoutError>
  /** The path of a blob's file (`blobs/<alg>/<hex>`); an invalid digest fails. */
  readonly blobPath: (digest: Digest.Digest) => Effect.Effect<string, OciLayoutError>
  /** The size of a blob's file, if the layout holds it. */
  readonly blobSize: (digest: Digest.Digest) => Effect.Effect<Option.Option<number>, OciLayoutError>
  /** Whether the layout holds a blob (of `size` bytes, when given). */
  readonly hasBlob: (digest: Digest.Digest, size?: number | undefined) => Effect.Effect<boolean, OciLayoutError>
  /**
   * A blob's bytes. Read whole, they are verified against the digest (and `size`); from an
   * `offset`, they are the rest of the file, unverified. `verify: false` skips the check for a
   * reader that verifies what it writes anyway (a copy's destination does), so the bytes are
   * hashed once, not twice.
   */
  readonly readBlob: (
    digest: Digest.Digest,
    options?: {
      readonly size?: number | undefined
      readonly offset?: number | undefined
      readonly verify?: boolean | undefined
    }
  ) => Stream.Stream<Uint8Array, OciLayoutError>
  /**
   * Writes a blob: to a temporary file, verified, then renamed into place. A blob already there is
   * not written again. On a mismatch, failure or interruption no file is left behind.
   */
  readonly writeBlob: <E = never, R = never>(
    body: Stream.Stream<Uint8Array, E, R> | Uint8Array,
    expected: { readonly digest: Digest.Digest; readonly size?: number | undefined }
  ) => Effect.Effect<void, OciLayoutError | E, R>
  /** A manifest (by digest, or descriptor for its media type), decoded and checked against its digest. */
  readonly readManifest: (
    descriptor: Digest.Digest | Manifest.Descriptor
  ) => Effect.Effect<Manifest.Decoded, OciLayoutError>
  /**
   * Writes a manifest as a blob; with `tag` (or `index: true`, untagged) it also becomes an entry
   * of `index.json`. Write the blobs it lists first.
   */
  readonly writeManifest: (
    manifest: ManifestInput,
    options?: { readonly tag?: string | undefined; readonly index?: boolean | undefined }
  ) => Effect.Effect<Manifest.Descriptor, OciLayoutError>
  /** Adds an `index.json` entry for a manifest already written, under `tag` or untagged. */
  readonly tag: (descriptor: Manifest.Descriptor, tag?: string | undefined) => Effect.Effect<void, OciLayoutError>
  /** The `index.json` entries whose manifest has `subject` as its subject, as referrer descriptors. */
  readonly referrers: (
    subject: Digest.Digest,
    options?: { readonly artifactType?: string | undefined }
  ) => Effect.Effect<ReadonlyArray<Manifest.Descriptor>, OciLayoutError>
}

/**
 * Opens the layout in `directory`; with `create: true` a missing layout is created. Fails with
 * {@link LayoutNotFound} when there is no such directory, and with {@link InvalidLayout} when the
 * directory is not a layout (no `oci-layout`, a version other than 1.x).
 *
 * @example
 * const layout = yield* OciLayout.open("/tmp/images", { create: true })
 *
 * @since 0.1.0
 * @category constructors
 */
export const open: (
  directory: string,
  options?: OpenOptions
) => Effect.Effect<Layout, OciLayoutError, FileSystem.FileSystem | Path.Path> = internal.open

/**
 * Errors a layout's file operations may fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type { PlatformError }
