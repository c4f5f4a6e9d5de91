/**
 * Referrers on push: where a registry does not index a pushed manifest's `subject` itself (no
 * `OCI-Subject` in its answer), the client keeps the subject's `<alg>-<hex>` fallback index up to
 * date — adding the new manifest, keeping the others — with a conditional update (`If-Match`) and
 * a retry when another writer got there first (412).
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import { pushScope } from "../../Auth.js"
import type * as Digest from "../../Digest.js"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import * as Reference from "../../Reference.js"
import { type Context, invalid, isSuccess, refusal, repoUrl, send, type Target } from "./http.js"
import * as Manifests from "./manifests.js"
import { fallbackTag } from "./referrers.js"
import { discard } from "../body.js"

/** Manifest-write settings, on top of what every operation shares. @internal */
export interface ManifestWriteContext extends Context {
  readonly referrersFallback: {
    /** Whether to maintain the fallback index at all. */
    readonly enabled: boolean
    /** How often to start over after a 412 (the index changed under us). */
    readonly conflictRetries: number
  }
}


/** What an update of the fallback index did. @internal */
export type Outcome = "added" | "present" | "removed" | "absent"

/**
 * Edits the fallback index of `subject`: `edit` gets its entries (none when there is no index yet)
 * and returns the new entries, or `undefined` to leave it as it is. The read and the write are tied
 * by `If-Match: <ETag>` when the registry gave an ETag; a 412 starts over with a fresh read, at most
 * `conflictRetries` times. What is kept under that tag is never overwritten unless it is an index.
 */
const updateFallbackIndex = (
  ctx: ManifestWriteContext,
  target: Target,
  subject: Digest.Digest,
  edit: (entries: ReadonlyArray<Manifest.Descriptor>) => ReadonlyArray<Manifest.Descriptor> | undefined
) =>
  Effect.gen(function*() {
    const tag = fallbackTag(subject)
    // the target came from a valid reference and the tag is `<alg>-<hex>`: this cannot fail
    const ref = yield* Effect.orDie(Reference.make({ registry: target.registry, repository: target.repository, tag }))
    const url = repoUrl(ctx, target, `manifests/${tag}`)
    for (let attempt = 0;; attempt++) {
      const current = yield* Manifests.get(ctx, ref, { accept: [MediaType.OciIndex] }).pipe(
        Effect.map((fetched): Manifests.Fetched | undefined => fetched),
        Effect.catchTags({
          ManifestUnknown: () => Effect.succeed(undefined),
          NameUnknown: () => Effect.succeed(undefined)
        })
      )
      if (current !== undefined && !Manifest.isImageIndex(current.manifest)) {
        // never overwrite what someone else keeps under that tag
        return yield* invalid(`the referrers fallback tag ${tag} holds a ${current.mediaType}, not an image index`, url)
      }
      const entries = current === undefined ? [] : (current.manifest as Manifest.ImageIndex).manifests
      const edited = edit(entries)
      if (edited === undefined) return false
      const index = Manifest.encode({
        ...(current === undefined ? {} : current.manifest as Manifest.ImageIndex),
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [...edited]
      })
      const request = HttpClientRequest.put(url).pipe(
        HttpClientRequest.setHeaders(current?.etag === undefined ? {} : { "if-match": current.etag }),
        HttpClientRequest.bodyUint8Array(index.bytes, MediaType.OciIndex)
      )
      const response = yield* send(ctx, target.registry, request, [pushScope(target.repository)])
      if (response.status === 412 && attempt < ctx.referrersFallback.conflictRetries) {
        yield* discard(response)
        yield* Effect.logDebug("referrers fallback index changed meanwhile: reading it again").pipe(
          Effect.annotateLogs({ tag, attempt })
        )
        continue
      }
      if (!isSuccess(response.status)) return yield* refusal(response)
      yield* discard(response)
      return true
    }
  })

/**
 * Adds `descriptor` to the fallback index of `subject` (creating the index when there is none),
 * unless it is listed already.
 *
 * @internal
 */
export const addReferrer = (
  ctx: ManifestWriteContext,
  target: Target,
  subject: Digest.Digest,
  descriptor: Manifest.Descriptor
) =>
  updateFallbackIndex(ctx, target, subject, (entries) =>
    entries.some((d) => d.digest === descriptor.digest) ? undefined : [...entries, descriptor]).pipe(
      Effect.map((changed): Outcome => (changed ? "added" : "present"))
    )

/**
 * Removes the manifest `digest` from the fallback index of `subject` (after that manifest was
 * deleted), keeping the other entries.
 *
 * @internal
 */
export const removeReferrer = (
  ctx: ManifestWriteContext,
  target: Target,
  subject: Digest.Digest,
  digest: Digest.Digest
) =>
  updateFallbackIndex(ctx, target, subject, (entries) =>
    entries.some((d) => d.digest === digest) ? entries.filter((d) => d.digest !== digest) : undefined).pipe(
      Effect.map((changed): Outcome => (changed ? "removed" : "absent"))
    )
