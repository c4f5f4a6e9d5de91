/**
 * The copy engine: opens both endpoints, walks the source's graph (index → children, manifest →
 * blobs, referrers) without descending into what the destination already holds, moves the blobs
 * concurrently (skip, mount, or upload), then pushes the manifests bottom-up and the top one —
 * with the tag — last, so that a reader never sees a manifest whose content is missing.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import { BlobCache } from "../../BlobCache.js"
import { Repository } from "../../Repository.js"
import type { FileReader } from "../iterableBody.js"
import { type Endpoint, format, type Handle, type Placement, type Source } from "./endpoint.js"
import {
  BlobFailed,
  type CopyError,
  EndpointFailed,
  type EndpointFailure,
  ImageNotFound,
  ManifestFailed,
  PlatformNotFound
} from "./errors.js"
import * as LayoutEndpoint from "./layoutEndpoint.js"
import * as Progress from "./progress.js"
import * as RegistryEndpoint from "./registryEndpoint.js"

/** Options of a copy. @internal */
export interface Options {
  readonly platform?: Manifest.Platform | undefined
  readonly platforms?: ReadonlyArray<Manifest.Platform> | undefined
  readonly referrers?: boolean | undefined
  readonly concurrency?: number | undefined
  readonly onProgress?: ((event: Progress.Event) => Effect.Effect<void>) | undefined
}

/** The services a copy needs. @internal */
export type Services = Repository | BlobCache | FileSystem.FileSystem | Path.Path

type AnyHandle = Handle<EndpointFailure>

const open = (endpoint: Endpoint, create: boolean): Effect.Effect<AnyHandle, CopyError, Services> => {
  const name = format(endpoint)
  const opened: Effect.Effect<AnyHandle, EndpointFailure, Services> = endpoint._tag === "Registry"
    ? Effect.flatMap(Repository, (repo) => RegistryEndpoint.make(repo, endpoint.reference, name))
    : LayoutEndpoint.make(endpoint.directory, endpoint.tag, name, create)
  return Effect.mapError(opened, (cause) => new EndpointFailed({ endpoint: name, cause }))
}

/** A manifest to push, and where it goes. */
interface Node {
  readonly decoded: Manifest.Decoded
  readonly placement: Placement
  /** The destination has it already (and, so, everything it references). */
  readonly present: boolean
}

interface Plan {
  readonly nodes: ReadonlyArray<Node>
  readonly blobs: ReadonlyArray<Manifest.Descriptor>
}

const isManifestType = (mediaType: string) => MediaType.manifestTypes.includes(mediaType)

const notFound = (e: EndpointFailure) =>
  e._tag === "ManifestUnknown" || e._tag === "NameUnknown" || e._tag === "LayoutImageNotFound" ||
  e._tag === "LayoutNotFound"

const platformsOf = (index: Manifest.ImageIndex | Manifest.DockerManifestList) =>
  index.manifests.flatMap((m) => (m.platform === undefined ? [] : [Manifest.formatPlatform(m.platform)]))

/**
 * An index of the source's entries for `platforms` (one per platform asked for, in the index's
 * order), with the attestations that describe them (Docker's `vnd.docker.reference.digest`
 * annotation); everything else about the index is kept. A new manifest, with its own digest.
 */
const subsetIndex = (
  source: AnyHandle,
  top: Manifest.Decoded,
  index: Manifest.ImageIndex | Manifest.DockerManifestList,
  platforms: ReadonlyArray<Manifest.Platform>
) =>
  Effect.gen(function*() {
    const chosen = new Set<string>()
    for (const platform of platforms) {
      const entry = Manifest.matchPlatform(index, platform)
      if (Option.isNone(entry)) {
        return yield* new PlatformNotFound({
          endpoint: source.name,
          platform: Manifest.formatPlatform(platform),
          available: platformsOf(index)
        })
      }
      chosen.add(entry.value.digest)
    }
    const describes = (m: Manifest.Descriptor) => {
      const subject = m.annotations?.["vnd.docker.reference.digest"]
      return subject !== undefined && chosen.has(subject)
    }
    const manifests = index.manifests.filter((m) => chosen.has(m.digest) || describes(m))
    if (manifests.length === index.manifests.length) return top
    return Manifest.encode({ ...index, manifests })
  })

/**
 * The top manifest: the one the source names; when it is an index, its entry for `platform`, or an
 * index of its entries for `platforms`.
 */
const resolveTop = (
  source: AnyHandle,
  platform: Manifest.Platform | undefined,
  platforms: ReadonlyArray<Manifest.Platform> | undefined
) =>
  Effect.gen(function*() {
    const top = yield* source.top.pipe(
      Effect.mapError((cause) =>
        notFound(cause)
          ? new ImageNotFound({ endpoint: source.name, cause })
          : new ManifestFailed({ endpoint: source.name, manifest: source.name, operation: "read", cause })
      )
    )
    if (!Manifest.isIndex(top.manifest)) return top
    if (platform === undefined) {
      return platforms === undefined || platforms.length === 0
        ? top
        : yield* subsetIndex(source, top, top.manifest, platforms)
    }
    const entry = Manifest.matchPlatform(top.manifest, platform)
    if (Option.isNone(entry)) {
      return yield* new PlatformNotFound({
        endpoint: source.name,
        platform: Manifest.formatPlatform(platform),
        available: platformsOf(top.manifest)
      })
    }
    return yield* readManifest(source, entry.value)
  })

const readManifest = (source: AnyHandle, descriptor: Manifest.Descriptor) =>
  source.getManifest(descriptor).pipe(
    Effect.mapError((cause) =>
      new ManifestFailed({ endpoint: source.name, manifest: descriptor.digest, operation: "read", cause })
    )
  )

/**
 * Walks the graph from `top`: children before their parent, referrers after their subject, the
 * top last. A manifest the destination holds is not descended into (its content is there), but its
 * referrers are still looked for.
 */
const plan = (
  source: AnyHandle,
  destination: AnyHandle,
  top: Manifest.Decoded,
  withReferrers: boolean,
  concurrency: number
) =>
  Effect.gen(function*() {
    const nodes: Array<Node> = []
    const blobs = new Map<string, Manifest.Descriptor>()
    const seen = new Set<string>()
    const visit = (decoded: Manifest.Decoded, placement: Placement): Effect.Effect<void, CopyError> =>
      Effect.gen(function*() {
        if (seen.has(decoded.digest)) return
        seen.add(decoded.digest)
        const descriptor = Manifest.descriptorOf(decoded)
        const present = yield* destination.hasManifest(descriptor).pipe(
          Effect.mapError((cause) =>
            new ManifestFailed({ endpoint: destination.name, manifest: decoded.digest, operation: "stat", cause })
          )
        )
        if (!present) {
          if (Manifest.isSchema1(decoded.manifest)) {
            return yield* new ManifestFailed({
              endpoint: source.name,
              manifest: decoded.digest,
              operation: "read",
              cause: new Manifest.UnsupportedMediaType({ mediaType: decoded.mediaType })
            })
          }
          const refs = Manifest.references(decoded.manifest)
          const isChild = (ref: Manifest.Descriptor) => Manifest.isIndex(decoded.manifest) && isManifestType(ref.mediaType)
          for (const ref of refs) if (!isChild(ref) && !blobs.has(ref.digest)) blobs.set(ref.digest, ref)
          // an index's children are fetched at once (they are small), then visited in order
          const children = yield* Effect.forEach(refs.filter(isChild), (ref) => readManifest(source, ref), { concurrency })
          for (const child of children) yield* visit(child, "child")
        }
        if (placement !== "top") nodes.push({ decoded, placement, present })
        if (withReferrers) {
          const referrers = yield* source.referrers(descriptor).pipe(
            Effect.mapError((cause) =>
              new ManifestFailed({ endpoint: source.name, manifest: decoded.digest, operation: "referrers", cause })
            )
          )
          for (const referrer of referrers) yield* visit(yield* readManifest(source, referrer), "referrer")
        }
        if (placement === "top") nodes.push({ decoded, placement, present })
      })
    yield* visit(top, "top")
    return { nodes, blobs: [...blobs.values()] } satisfies Plan
  })

/** Counts `n` bytes of a blob sent, at once; the Effect returned reports them (when somebody listens). */
const count = (tracker: Progress.Tracker, blob: Manifest.Descriptor, sent: { n: number }) => (n: number) => {
  sent.n += n
  tracker.bytes += n
  return tracker.emit === undefined
    ? Effect.void
    : Progress.emit(tracker, () => ({ _tag: "BlobBytes", digest: blob.digest, size: blob.size, bytes: n, sent: sent.n }))
}

/** Counts the bytes of a source stream (see {@link count}). */
const counted = <E>(
  stream: Stream.Stream<Uint8Array, E>,
  tracker: Progress.Tracker,
  add: (n: number) => Effect.Effect<void>
): Stream.Stream<Uint8Array, E> => {
  const size = (chunk: Iterable<Uint8Array>) => {
    let n = 0
    for (const bytes of chunk) n += bytes.byteLength
    return n
  }
  return tracker.emit === undefined
    ? Stream.mapChunks(stream, (chunk) => {
      // nobody listens: counted at once, and nothing to report (no Effect per chunk)
      add(size(chunk))
      return chunk
    })
    : Stream.mapChunksEffect(stream, (chunk) => Effect.as(Effect.suspend(() => add(size(chunk))), chunk))
}

/** A source's file, counted, its failures mapped, and `opening` run whenever it is opened. */
const countedFile = <E, E2>(
  file: FileReader<E>,
  opening: (offset: number) => Effect.Effect<void>,
  add: (n: number) => Effect.Effect<void>,
  mapError: (e: E) => E2
): FileReader<E2> => ({
  open: (offset) =>
    Effect.zipRight(
      opening(offset),
      Effect.map(Effect.mapError(file.open(offset), mapError), (read) => (into: Uint8Array) =>
        Effect.flatMap(Effect.mapError(read(into), mapError), (n) => Effect.as(add(n), n)))
    )
})

/** One blob: skipped when the destination has it, else mounted when it can be, else uploaded. */
const copyBlob = (
  source: AnyHandle,
  destination: AnyHandle,
  tracker: Progress.Tracker,
  mounts: Mounts
) =>
(blob: Manifest.Descriptor): Effect.Effect<void, CopyError> =>
  Effect.gen(function*() {
    const { digest, size } = blob
    const failed = (endpoint: string, operation: BlobFailed["operation"]) => (cause: EndpointFailure) =>
      new BlobFailed({ endpoint, digest, operation, cause })
    yield* Progress.emit(tracker, () => ({ _tag: "BlobStarted", digest, size, mediaType: blob.mediaType }))
    const skipped = Effect.suspend(() => {
      tracker.skipped++
      return Effect.zipRight(Progress.emit(tracker, () => ({ _tag: "BlobSkipped", digest, size })), Progress.totals(tracker))
    })
    const mounted = (from: string) =>
      Effect.suspend(() => {
        tracker.mounted++
        return Effect.zipRight(Progress.emit(tracker, () => ({ _tag: "BlobMounted", digest, size, from })), Progress.totals(tracker))
      })
    const direct = mounts.direct()
    if (direct !== undefined) {
      // Within one registry the source repository holds every blob: one mount request links it
      // (a blob already there included), where asking first would cost a second request per blob.
      // Only what this process already knows to be there is skipped without a request.
      if (yield* mounts.known(blob)) return yield* skipped
      if (yield* Effect.mapError(destination.mount(blob, direct), failed(destination.name, "mount"))) {
        return yield* mounted(direct)
      }
      mounts.directRefused()
    }
    if (yield* Effect.mapError(destination.hasBlob(blob), failed(destination.name, "stat"))) return yield* skipped
    for (const from of yield* mounts.candidates(blob)) {
      if (yield* Effect.mapError(destination.mount(blob, from), failed(destination.name, "mount"))) {
        return yield* mounted(from)
      }
      yield* mounts.refused(blob, from)
    }
    const sent = { n: 0 }
    const add = count(tracker, blob, sent)
    let opened = 0
    /** Every opening after the first is a resume (from an offset) or a retry (from 0). */
    const opening = (offset: number) =>
      Effect.suspend(() => {
        opened++
        return opened === 1
          ? Effect.void
          : Progress.emit(tracker, () =>
            offset > 0
              ? { _tag: "BlobResumed", digest, size, offset }
              : { _tag: "BlobRetried", digest, size, attempt: opened - 1 })
      })
    const read = source.readBlob(blob)
    const body: Source<BlobFailed> = Object.assign(
      (offset: number) =>
        Stream.unwrap(
          Effect.as(opening(offset), counted(read(offset), tracker, add).pipe(Stream.mapError(failed(source.name, "read"))))
        ),
      { file: read.file === undefined ? undefined : countedFile(read.file, opening, add, failed(source.name, "read")) }
    )
    yield* destination.writeBlob(blob, body).pipe(
      Effect.mapError((e) => (e instanceof BlobFailed ? e : failed(destination.name, "write")(e)))
    )
    tracker.copied++
    yield* Progress.emit(tracker, () => ({ _tag: "BlobDone", digest, size, sent: sent.n }))
    yield* Progress.totals(tracker)
  })

/** How many repositories (besides the source) a blob is tried to be mounted from. */
const maxMountCandidates = 3

/** Where a blob can be mounted from, and what to forget when a mount is refused. */
interface Mounts {
  /**
   * The source repository, when it is another repository of the destination's registry — until a
   * mount from it is refused (a registry that does not mount would refuse every one of them).
   */
  readonly direct: () => string | undefined
  readonly directRefused: () => void
  /** Whether the BlobCache knows the destination holds the blob (no request). */
  readonly known: (blob: Manifest.Descriptor) => Effect.Effect<boolean>
  /** Other repositories of the destination's registry the BlobCache knows to hold the blob. */
  readonly candidates: (blob: Manifest.Descriptor) => Effect.Effect<ReadonlyArray<string>>
  readonly refused: (blob: Manifest.Descriptor, from: string) => Effect.Effect<void>
}

/**
 * Mounts within the destination's registry: from the source repository when both are repositories
 * of one registry (until the registry refuses one), then from the repositories the BlobCache knows
 * to hold the blob. A refused mount from those means the cache was wrong about that repository: it
 * forgets it there.
 */
const mountsFor = (source: AnyHandle, destination: AnyHandle, cache: BlobCache["Type"]): Mounts => {
  const target = destination.repository
  if (target === undefined) {
    return {
      direct: () => undefined,
      directRefused: () => {},
      known: () => Effect.succeed(false),
      candidates: () => Effect.succeed([]),
      refused: () => Effect.void
    }
  }
  const sourceRepository = source.repository !== undefined && source.repository.registry === target.registry &&
      source.repository.repository !== target.repository
    ? source.repository.repository
    : undefined
  let direct = sourceRepository
  const prefix = `${target.registry}/`
  const here = `${prefix}${target.repository}`
  return {
    direct: () => direct,
    directRefused: () => {
      direct = undefined
    },
    known: (blob) => Effect.map(cache.get(blob.digest, here), Option.isSome),
    candidates: (blob) =>
      Effect.map(cache.repositories(blob.digest), (known) =>
        known.flatMap((key) => {
          const repository = key.slice(prefix.length)
          return key.startsWith(prefix) && repository !== target.repository && repository !== sourceRepository
            ? [repository]
            : []
        }).slice(0, maxMountCandidates)),
    refused: (blob, from) => cache.clear(blob.digest, `${prefix}${from}`)
  }
}

/** Copies the image or index `from` names, with everything it references, to `to`. @internal */
export const copy = (
  from: Endpoint,
  to: Endpoint,
  options: Options = {}
): Effect.Effect<Progress.Result, CopyError, Services> =>
  Effect.gen(function*() {
    const tracker = Progress.make(options.onProgress)
    const source = yield* open(from, false)
    const destination = yield* open(to, true)
    const top = yield* resolveTop(source, options.platform, options.platforms)
    const concurrency = Math.max(1, options.concurrency ?? 4)
    const { blobs, nodes } = yield* plan(source, destination, top, options.referrers === true, concurrency)
    tracker.total = blobs.length
    yield* Progress.emit(tracker, () => ({
      _tag: "Planned",
      manifests: nodes.length,
      blobs: blobs.length,
      bytes: blobs.reduce((sum, b) => sum + b.size, 0)
    }))

    const mounts = mountsFor(source, destination, yield* BlobCache)
    yield* Effect.forEach(blobs, copyBlob(source, destination, tracker, mounts), { concurrency, discard: true })

    const tag = to._tag === "Registry" ? to.reference.tag : to.tag
    for (const node of nodes) {
      const { decoded } = node
      const event = { digest: decoded.digest, mediaType: decoded.mediaType, size: decoded.size, tag: node.placement === "top" ? tag : undefined }
      // the top manifest is always put: that is what sets the tag
      if (node.present && node.placement !== "top") {
        yield* Progress.emit(tracker, () => ({ _tag: "ManifestSkipped", ...event }))
        continue
      }
      yield* destination.putManifest(decoded, node.placement).pipe(
        Effect.mapError((cause) =>
          new ManifestFailed({
            endpoint: destination.name,
            manifest: decoded.digest,
            operation: node.placement === "top" ? "tag" : "write",
            cause
          })
        )
      )
      tracker.bytes += decoded.size
      yield* Progress.emit(tracker, () => ({ _tag: "ManifestDone", ...event }))
      yield* Progress.totals(tracker)
    }
    return {
      digest: top.digest,
      mediaType: top.mediaType,
      size: top.size,
      blobs: { copied: tracker.copied, skipped: tracker.skipped, mounted: tracker.mounted },
      bytes: tracker.bytes
    }
  })
