/**
 * Progress events of a copy, and the counters behind them and behind the result.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Digest from "../../Digest.js"

/** The blob counts of a copy: uploaded, already at the destination, mounted from another repository. @internal */
export interface BlobCounts {
  readonly copied: number
  readonly skipped: number
  readonly mounted: number
}

/** What a copy did. @internal */
export interface Result {
  /** The top manifest copied (after platform selection): digest, media type, size. */
  readonly digest: Digest.Digest
  readonly mediaType: string
  readonly size: number
  readonly blobs: BlobCounts
  /** Bytes sent to the destination: blob bodies (resends included) and manifests. */
  readonly bytes: number
}

interface BlobEvent {
  readonly digest: Digest.Digest
  readonly size: number
}

/** One progress event. @internal */
export type Event =
  | {
    /** What the copy will look at: manifests and distinct blobs, and the blobs' total size. */
    readonly _tag: "Planned"
    readonly manifests: number
    readonly blobs: number
    readonly bytes: number
  }
  | BlobEvent & { readonly _tag: "BlobStarted"; readonly mediaType: string }
  | BlobEvent & {
    /** `bytes` more were sent; `sent` so far for this blob (resends included). */
    readonly _tag: "BlobBytes"
    readonly bytes: number
    readonly sent: number
  }
  | BlobEvent & { readonly _tag: "BlobResumed"; readonly offset: number }
  | BlobEvent & { readonly _tag: "BlobRetried"; readonly attempt: number }
  | BlobEvent & { readonly _tag: "BlobSkipped" }
  | BlobEvent & { readonly _tag: "BlobMounted"; readonly from: string }
  | BlobEvent & { readonly _tag: "BlobDone"; readonly sent: number }
  | {
    readonly _tag: "ManifestSkipped" | "ManifestDone"
    readonly digest: Digest.Digest
    readonly mediaType: string
    readonly size: number
    /** The tag it went under (the top manifest, when the destination has a tag). */
    readonly tag: string | undefined
  }
  | {
    /** Running totals, after every blob and manifest. */
    readonly _tag: "Totals"
    readonly blobs: BlobCounts & { readonly done: number; readonly total: number }
    readonly bytes: number
  }

/** Mutable counters of one copy, and the event sink (absent: events are never built). @internal */
export interface Tracker {
  readonly emit: ((event: Event) => Effect.Effect<void>) | undefined
  copied: number
  skipped: number
  mounted: number
  bytes: number
  total: number
}

/** A tracker; `onProgress` receives the events. @internal */
export const make = (onProgress: ((event: Event) => Effect.Effect<void>) | undefined): Tracker => ({
  emit: onProgress,
  copied: 0,
  skipped: 0,
  mounted: 0,
  bytes: 0,
  total: 0
})

/** Sends an event, building it only when somebody listens. @internal */
export const emit = (tracker: Tracker, event: () => Event): Effect.Effect<void> =>
  tracker.emit === undefined ? Effect.void : Effect.suspend(() => tracker.emit!(event()))

/** The running totals event. @internal */
export const totals = (tracker: Tracker): Effect.Effect<void> =>
  emit(tracker, () => ({
    _tag: "Totals",
    blobs: {
      copied: tracker.copied,
      skipped: tracker.skipped,
      mounted: tracker.mounted,
      done: tracker.copied + tracker.skipped + tracker.mounted,
      total: tracker.total
    },
    bytes: tracker.bytes
  }))
