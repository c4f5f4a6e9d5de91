/**
 * The registry's model of repositories: which blobs each one links, its manifests (with what the
 * referrers API needs to know about them) and its tags. Bytes live in a {@link Storage}; this module
 * keeps the links and saves them after every change.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type Digest, isDigest } from "../../Digest.js"
import type { Storage } from "./storage.js"

/**
 * What the registry remembers about a stored manifest.
 *
 * @internal
 */
export interface ManifestRecord {
  readonly digest: Digest
  readonly size: number
  readonly mediaType: string
  /** The digest in the manifest's `subject`, for the referrers API. */
  readonly subject?: Digest | undefined
  /** `artifactType`, or the config's media type for image manifests without one. */
  readonly artifactType?: string | undefined
  readonly annotations?: Readonly<Record<string, string>> | undefined
}

interface Repository {
  readonly blobs: Set<Digest>
  readonly manifests: Map<Digest, ManifestRecord>
  readonly tags: Map<string, Digest>
}

interface SavedRepository {
  readonly blobs: ReadonlyArray<Digest>
  readonly manifests: ReadonlyArray<ManifestRecord>
  readonly tags: Readonly<Record<string, Digest>>
}

/**
 * The operations the HTTP handlers use.
 *
 * @internal
 */
export interface Repositories {
  /** The size of a blob linked into `repository`, or `undefined`. */
  readonly blobSize: (repository: string, digest: Digest) => Effect.Effect<number | undefined>
  /** The size of a blob stored under any repository (for the redirect origin). */
  readonly anyBlobSize: (digest: Digest) => Effect.Effect<number | undefined>
  /** Bytes `[start, end)` of a stored blob or manifest. */
  readonly read: (digest: Digest, start: number, end: number) => Stream.Stream<Uint8Array>
  /** Stores verified content and links it into `repository`. */
  readonly putBlob: (repository: string, digest: Digest, parts: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** Links a blob of `from` into `repository`; false when `from` does not have it. */
  readonly mount: (repository: string, from: string, digest: Digest) => Effect.Effect<boolean>
  /** Unlinks a blob; false when it was not linked. */
  readonly deleteBlob: (repository: string, digest: Digest) => Effect.Effect<boolean>
  /** A manifest by tag or digest. */
  readonly manifest: (repository: string, reference: string) => ManifestRecord | undefined
  /** Stores a manifest (and tags it when `tag` is given). */
  readonly putManifest: (
    repository: string,
    record: ManifestRecord,
    bytes: Uint8Array,
    tag: string | undefined
  ) => Effect.Effect<void>
  /** Deletes a manifest and every tag pointing at it; false when unknown. */
  readonly deleteManifest: (repository: string, digest: Digest) => Effect.Effect<boolean>
  /** Removes a tag (the manifest stays); false when unknown. */
  readonly untag: (repository: string, tag: string) => Effect.Effect<boolean>
  /** The sorted tags of a repository, or `undefined` when the repository is unknown. */
  readonly tags: (repository: string) => ReadonlyArray<string> | undefined
  /** Every repository holding a blob or a manifest, sorted. */
  readonly names: () => ReadonlyArray<string>
  /** The manifests of `repository` whose subject is `digest`. */
  readonly referrers: (repository: string, digest: Digest) => ReadonlyArray<ManifestRecord>
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Builds the model on a storage, loading what the storage saved before.
 *
 * @internal
 */
export const make = (storage: Storage): Effect.Effect<Repositories> =>
  Effect.gen(function*() {
    const repos = new Map<string, Repository>()
    const saved = yield* storage.loadState
    if (saved !== undefined) {
      const doc = JSON.parse(saved) as Record<string, SavedRepository>
      for (const [name, r] of Object.entries(doc)) {
        repos.set(name, {
          blobs: new Set(r.blobs),
          manifests: new Map(r.manifests.map((m) => [m.digest, m])),
          tags: new Map(Object.entries(r.tags))
        })
      }
    }

    const repo = (name: string): Repository => {
      let r = repos.get(name)
      if (r === undefined) {
        r = { blobs: new Set(), manifests: new Map(), tags: new Map() }
        repos.set(name, r)
      }
      return r
    }

    const save = Effect.suspend(() => {
      const doc: Record<string, SavedRepository> = {}
      for (const [name, r] of repos) {
        doc[name] = { blobs: [...r.blobs], manifests: [...r.manifests.values()], tags: Object.fromEntries(r.tags) }
      }
      return storage.saveState(JSON.stringify(doc))
    })

    const referenced = (digest: Digest) => {
      for (const r of repos.values()) if (r.blobs.has(digest) || r.manifests.has(digest)) return true
      return false
    }

    // drops the bytes once nothing links them any more
    const collect = (digest: Digest) =>
      Effect.suspend(() => (referenced(digest) ? Effect.void : storage.remove(digest)))

    const dropIfEmpty = (name: string) => {
      const r = repos.get(name)
      if (r !== undefined && r.blobs.size === 0 && r.manifests.size === 0 && r.tags.size === 0) repos.delete(name)
    }

    const lookup = (name: string, reference: string) => {
      const r = repos.get(name)
      if (r === undefined) return undefined
      const digest = r.tags.get(reference) ?? (isDigest(reference) ? reference : undefined)
      return digest === undefined ? undefined : r.manifests.get(digest)
    }

    return {
      blobSize: (name, digest) =>
        repos.get(name)?.blobs.has(digest) === true ? storage.size(digest) : Effect.succeed(undefined),
      anyBlobSize: (digest) => storage.size(digest),
      read: storage.read,
      putBlob: (name, digest, parts) =>
        Effect.zipRight(
          storage.write(digest, parts),
          Effect.suspend(() => {
            repo(name).blobs.add(digest)
            return save
          })
        ),
      mount: (name, from, digest) =>
        Effect.suspend(() => {
          if (repos.get(from)?.blobs.has(digest) !== true) return Effect.succeed(false)
          repo(name).blobs.add(digest)
          return Effect.as(save, true)
        }),
      deleteBlob: (name, digest) =>
        Effect.suspend(() => {
          const r = repos.get(name)
          if (r === undefined || !r.blobs.delete(digest)) return Effect.succeed(false)
          dropIfEmpty(name)
          return save.pipe(Effect.zipRight(collect(digest)), Effect.as(true))
        }),
      manifest: lookup,
      putManifest: (name, record, bytes, tag) =>
        Effect.zipRight(
          storage.write(record.digest, [bytes]),
          Effect.suspend(() => {
            const r = repo(name)
            r.manifests.set(record.digest, record)
            if (tag !== undefined) r.tags.set(tag, record.digest)
            return save
          })
        ),
      deleteManifest: (name, digest) =>
        Effect.suspend(() => {
          const r = repos.get(name)
          if (r === undefined || !r.manifests.delete(digest)) return Effect.succeed(false)
          for (const [tag, target] of r.tags) if (target === digest) r.tags.delete(tag)
          dropIfEmpty(name)
          return save.pipe(Effect.zipRight(collect(digest)), Effect.as(true))
        }),
      untag: (name, tag) =>
        Effect.suspend(() => {
          const r = repos.get(name)
          if (r === undefined || !r.tags.delete(tag)) return Effect.succeed(false)
          return Effect.as(save, true)
        }),
      tags: (name) => {
        const r = repos.get(name)
        return r === undefined ? undefined : [...r.tags.keys()].sort(byCodePoint)
      },
      names: () => [...repos.keys()].sort(byCodePoint),
      referrers: (name, digest) =>
        [...(repos.get(name)?.manifests.values() ?? [])]
          .filter((m) => m.subject === digest)
          .sort((a, b) => byCodePoint(a.digest, b.digest))
    } satisfies Repositories
  })
