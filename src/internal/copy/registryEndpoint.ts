/**
 * The registry endpoint of a copy: one repository, over the Repository service.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Manifest from "../../Manifest.js"
import * as Reference from "../../Reference.js"
import { reopenable, type Repository } from "../../Repository.js"
import { collect, reopenableFile, reopenableParts } from "../repository/uploadBody.js"
import { type Handle, type RegistryFailure, type Source } from "./endpoint.js"

/** Below this size a blob is sent in one PUT (the Repository's default threshold). */
const monolithicBelow = 8 * 1024 * 1024

/** Below this size a blob read from a registry is held in memory between its GET and its PUT. */
const bufferBelow = monolithicBelow

/** Blob and manifest lookups answer false for what the registry does not know. */
const absent = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.as(true),
    Effect.catchIf(
      (e): e is Extract<E, { readonly _tag: "BlobUnknown" | "ManifestUnknown" | "NameUnknown" }> =>
        typeof e === "object" && e !== null && "_tag" in e &&
        (e._tag === "BlobUnknown" || e._tag === "ManifestUnknown" || e._tag === "NameUnknown"),
      () => Effect.succeed(false)
    )
  )

/** A handle on `reference`'s repository; `reference`'s tag (else digest, else `latest`) names the top manifest. @internal */
export const make = (
  repo: Repository["Type"],
  reference: Reference.Reference,
  name: string
): Effect.Effect<Handle<RegistryFailure>, RegistryFailure> =>
  Effect.gen(function*() {
    const bare = yield* Reference.make({ registry: reference.registry, repository: reference.repository })
    const byDigest = (descriptor: Manifest.Descriptor) => Reference.withDigest(bare, descriptor.digest)
    const topRef = reference.tag === undefined && reference.digest === undefined
      ? yield* Reference.withTag(reference, "latest")
      : reference
    return {
      name,
      repository: { registry: reference.registry, repository: reference.repository },
      top: repo.getManifest(topRef),
      getManifest: (descriptor) => repo.getManifest(byDigest(descriptor)),
      hasManifest: (descriptor) => repo.manifestExists(byDigest(descriptor)),
      putManifest: (manifest, placement) =>
        Effect.asVoid(repo.putManifest(placement === "top" ? topRef : byDigest(manifest), manifest)),
      hasBlob: (descriptor) => absent(repo.statBlob(bare, descriptor.digest)),
      // not verified here: every destination verifies what it writes (see `Handle.readBlob`)
      readBlob: (descriptor): Source<RegistryFailure> => (offset) =>
        // from the start, the length says how much there is to read (a small blob is read whole)
        repo.getBlobRange(bare, descriptor.digest, offset === 0 ? { offset, length: descriptor.size } : { offset }),
      writeBlob: <E2>(descriptor: Manifest.Descriptor, source: Source<E2>): Effect.Effect<void, RegistryFailure | E2> => {
        const options = {
          digest: descriptor.digest,
          size: descriptor.size,
          mediaType: descriptor.mediaType,
          skipExisting: false
        }
        // A small blob from another registry is read into memory (its size checked), then sent in
        // one PUT of those bytes, verified against its digest before anything is sent: per blob, the
        // streams between the two requests cost more than the blob's bytes (measured: 50 blobs of
        // 1 MiB). A resend reads the source again. A file (a layout's blob) is read by the upload
        // itself; a large blob goes as one resumable PATCH, re-readable: a cut upload goes on from
        // where the registry stands, re-reading only the rest.
        if (source.file === undefined && descriptor.size < bufferBelow) {
          return Effect.asVoid(
            Effect.flatMap(collect(source(0), descriptor.size), (parts) => repo.putBlob(bare, reopenableParts(parts, source), options))
          )
        }
        return Effect.asVoid(
          repo.putBlob(bare, source.file === undefined ? reopenable(source, { size: descriptor.size }) : reopenableFile(source.file, source, descriptor.size), {
            ...options,
            // digest and size are known: a small file goes in one PUT (the default would read it
            // into memory first, to hash it)
            ...(descriptor.size < monolithicBelow ? { strategy: "monolithic" as const } : {})
          })
        )
      },
      mount: (descriptor, from) =>
        repo.mountBlob(bare, descriptor.digest, from, { size: descriptor.size, mediaType: descriptor.mediaType }).pipe(
          Effect.flatMap((result) =>
            result._tag === "Mounted"
              ? Effect.succeed(true)
              // the registry opened an upload instead: ours to close, the blob goes up the normal way
              : Effect.as(Effect.ignore(repo.cancelUpload(bare, result.session)), false)
          )
        ),
      referrers: (subject) => repo.referrers(bare, subject.digest)
    } satisfies Handle<RegistryFailure>
  })
