/**
 * A layout's `index.json`: reading it (every entry checked), adding an entry the way skopeo does
 * (a tag moves: the entry that had it stays, untagged), and writing it under a lock file with a
 * temporary file and a rename, so that concurrent writers — fibers or processes — never lose an
 * entry and readers never see half a file.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import { InvalidReference } from "../../RegistryError.js"
import { temporaryName } from "../fileWrite.js"
import { InvalidLayout, LayoutImageNotFound, LayoutLocked } from "./errors.js"

/** The annotation that names an image in a layout. @internal */
export const refName = "org.opencontainers.image.ref.name"

/** The OCI grammar of `org.opencontainers.image.ref.name`. */
const component = "[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
const refNamePattern = new RegExp(`^${component}(?:/${component})*$`)

/** Checks a tag against the ref.name grammar. @internal */
export const checkTag = (tag: string): Either.Either<string, InvalidReference> =>
  refNamePattern.test(tag)
    ? Either.right(tag)
    : Either.left(
      new InvalidReference({
        input: tag,
        reason: "a layout tag is components of letters and digits separated by '/', joined by - . _ : @ + or --"
      })
    )

/** What we read of `index.json`: the raw object (unknown fields kept) and each entry, checked. @internal */
export interface IndexFile {
  readonly raw: Readonly<Record<string, unknown>>
  readonly rawEntries: ReadonlyArray<unknown>
  readonly entries: ReadonlyArray<Manifest.Descriptor>
}

const Envelope = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.optionalWith(Schema.Literal(MediaType.OciIndex), { exact: true }),
  manifests: Schema.Array(Schema.Unknown)
})

const decodeEnvelope = Schema.decodeUnknownEither(Envelope)
const decodeDescriptor = Schema.decodeUnknownEither(Manifest.Descriptor)
const encodeDescriptor = Schema.encodeSync(Manifest.Descriptor)

/** An empty index, as a new layout starts with. @internal */
export const empty: IndexFile = {
  raw: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] },
  rawEntries: [],
  entries: []
}

/** Parses `index.json`: any defect (bad JSON, a bad entry, an unknown digest algorithm) is an InvalidLayout. @internal */
export const parse = (directory: string, text: string): Either.Either<IndexFile, InvalidLayout> => {
  const invalid = (reason: string) => Either.left(new InvalidLayout({ directory, reason: `index.json: ${reason}` }))
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return invalid(`not JSON (${e instanceof Error ? e.message : String(e)})`)
  }
  const envelope = decodeEnvelope(json)
  if (Either.isLeft(envelope)) return invalid(ParseResult.TreeFormatter.formatErrorSync(envelope.left))
  const entries: Array<Manifest.Descriptor> = []
  for (const [i, entry] of envelope.right.manifests.entries()) {
    const decoded = decodeDescriptor(entry)
    if (Either.isLeft(decoded)) {
      return invalid(`manifests[${i}]: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
    }
    entries.push(decoded.right)
  }
  return Either.right({ raw: json as Record<string, unknown>, rawEntries: envelope.right.manifests, entries })
}

/** Compact JSON, as skopeo writes it. @internal */
export const serialize = (index: IndexFile): string => JSON.stringify({ ...index.raw, manifests: index.rawEntries })

/** The tag of an entry, if it has one. @internal */
export const tagOf = (entry: Manifest.Descriptor): string | undefined => entry.annotations?.[refName]

/** The entry a tag names; without a tag, the only entry. @internal */
export const find = (
  directory: string,
  index: IndexFile,
  tag: string | undefined
): Either.Either<Manifest.Descriptor, LayoutImageNotFound> => {
  if (tag === undefined) {
    return index.entries.length === 1
      ? Either.right(index.entries[0]!)
      : Either.left(
        new LayoutImageNotFound({
          directory,
          reason: `without a tag the layout must hold exactly one image, it holds ${index.entries.length}`
        })
      )
  }
  const found = [...index.entries].reverse().find((entry) => tagOf(entry) === tag)
  return found === undefined
    ? Either.left(new LayoutImageNotFound({ directory, tag, reason: "no index.json entry has this tag" }))
    : Either.right(found)
}

type Annotated = { readonly annotations?: Readonly<Record<string, string>> | undefined }

/** The entry without its ref.name annotation (and without `annotations` when nothing else is left). */
const withoutTag = <A extends Annotated>(entry: A): A => {
  if (entry.annotations === undefined) return entry
  const { [refName]: _, ...others } = entry.annotations
  const { annotations: __, ...rest } = entry
  return (Object.keys(others).length === 0 ? rest : { ...rest, annotations: others }) as A
}

/**
 * Adds `descriptor` under `tag` (or untagged): an entry already naming the same digest with the same
 * tag leaves the index unchanged (`undefined`); an entry holding the tag for another digest loses
 * its tag but stays, as with skopeo.
 *
 * @internal
 */
export const add = (index: IndexFile, descriptor: Manifest.Descriptor, tag: string | undefined): IndexFile | undefined => {
  const same = (entry: Manifest.Descriptor) => entry.digest === descriptor.digest && tagOf(entry) === tag
  if (index.entries.some(same)) return undefined
  const entry: Manifest.Descriptor = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    ...(descriptor.artifactType === undefined ? {} : { artifactType: descriptor.artifactType }),
    ...(descriptor.platform === undefined ? {} : { platform: descriptor.platform }),
    ...(tag === undefined ? {} : { annotations: { [refName]: tag } })
  }
  const keep = (i: number) => tag === undefined || tagOf(index.entries[i]!) !== tag
  // rawEntries[i] passed the Descriptor schema when read, so it has the shape `withoutTag` needs
  return {
    raw: index.raw,
    rawEntries: [...index.rawEntries.map((raw, i) => (keep(i) ? raw : withoutTag(raw as Annotated))), encodeDescriptor(entry)],
    entries: [...index.entries.map((e, i) => (keep(i) ? e : withoutTag(e))), entry]
  }
}

// ---------------------------------------------------------------------------------------------
// the lock
// ---------------------------------------------------------------------------------------------

/** How long to wait for the lock, and when a lock left by a dead writer counts as abandoned. @internal */
export interface LockOptions {
  readonly timeout: Duration.Duration
  readonly staleAfter: Duration.Duration
}

const alreadyExists = (e: PlatformError) => e._tag === "SystemError" && e.reason === "AlreadyExists"

/**
 * Runs `effect` holding `lockPath` (created with O_EXCL). A lock older than `staleAfter` was left by
 * a writer that died and is broken; otherwise we wait (up to `timeout`) and fail with LayoutLocked.
 * The lock is removed afterwards only while it is still ours.
 *
 * @internal
 */
export const withLock = <A, E, R>(
  fs: FileSystem.FileSystem,
  directory: string,
  lockPath: string,
  options: LockOptions,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | PlatformError | LayoutLocked, R> => {
  const token = `${process.pid} ${Math.random().toString(36).slice(2)}`
  const breakIfStale = fs.stat(lockPath).pipe(
    Effect.flatMap((info) => {
      const mtime = info.mtime._tag === "Some" ? info.mtime.value.getTime() : Date.now()
      return Date.now() - mtime > Duration.toMillis(options.staleAfter)
        ? Effect.zipRight(
          Effect.logWarning("breaking an abandoned OCI layout lock").pipe(Effect.annotateLogs({ lock: lockPath })),
          fs.remove(lockPath)
        )
        : Effect.void
    }),
    Effect.ignore
  )
  const tryOnce = fs.writeFileString(lockPath, token, { flag: "wx" }).pipe(
    Effect.tapError((e) => (alreadyExists(e) ? breakIfStale : Effect.void))
  )
  const acquire = tryOnce.pipe(
    Effect.retry({
      schedule: Schedule.exponential(Duration.millis(2), 1.5).pipe(
        Schedule.union(Schedule.spaced(Duration.millis(50))),
        Schedule.jittered,
        Schedule.upTo(options.timeout)
      ),
      while: alreadyExists
    }),
    Effect.catchIf(alreadyExists, () => Effect.fail(new LayoutLocked({ directory, lock: lockPath })))
  )
  const release = fs.readFileString(lockPath).pipe(
    Effect.flatMap((held) => (held === token ? fs.remove(lockPath) : Effect.void)),
    Effect.ignore
  )
  return Effect.acquireUseRelease(acquire, () => effect, () => release)
}

/** Writes `text` to `path` through a temporary file and a rename. @internal */
export const replaceFile = (fs: FileSystem.FileSystem, path: string, text: string) =>
  Effect.suspend(() => {
    const temp = temporaryName(path)
    return fs.writeFileString(temp, text).pipe(
      Effect.zipRight(fs.rename(temp, path)),
      Effect.onError(() => Effect.ignore(fs.remove(temp)))
    )
  })
