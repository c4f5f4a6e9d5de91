/**
 * A plain copier for sync's tests of single-platform images: blobs the destination lacks are
 * streamed across (the Repository's `putBlob` skips blobs it already has), then the manifest's
 * exact bytes are pushed under the tag. Stands in for `Copy` in engine tests that only need images
 * to arrive; blob tallies come from what it did.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Manifest from "../../src/Manifest.js"
import * as Reference from "../../src/Reference.js"
import { Repository } from "../../src/Repository.js"
import * as Sync from "../../src/Sync.js"

export const layer: Layer.Layer<Sync.Copier, never, Repository> = Layer.effect(
  Sync.Copier,
  Effect.gen(function*() {
    const repo = yield* Repository
    return {
      copy: (from, to) =>
        Effect.gen(function*() {
          const fetched = yield* repo.getManifest(from)
          let copied = 0
          let skipped = 0
          let bytes = 0
          for (const blob of Manifest.references(fetched.manifest)) {
            const present = yield* repo.statBlob(to, blob.digest).pipe(
              Effect.as(true),
              Effect.catchTag("BlobUnknown", () => Effect.succeed(false))
            )
            if (present) {
              skipped++
              continue
            }
            yield* repo.putBlob(to, repo.getBlob(from, blob.digest, { size: blob.size }), {
              digest: blob.digest,
              size: blob.size
            })
            copied++
            bytes += blob.size
          }
          const tagged = yield* Reference.withTag(to, from.tag ?? "latest")
          const digest = yield* repo.putManifest(tagged, { bytes: fetched.bytes, mediaType: fetched.mediaType })
          return { digest, blobs: { copied, skipped, mounted: 0 }, bytes }
        })
    }
  })
)
