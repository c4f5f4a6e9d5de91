/**
 * OCI image layouts on a FileSystem: opening (or creating) one, blobs (verified, written through a
 * temporary file and a rename), manifests, tags in `index.json`, and referrers.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Digest from "../../Digest.js"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import type { BodyTooLarge, DigestMismatch, InvalidDigest, InvalidReference, SizeMismatch } from "../../RegistryError.js"
import { readFrom } from "../fileRead.js"
import { writeAtomically } from "../fileWrite.js"
import { InvalidLayout, LayoutBlobNotFound, type LayoutImageNotFound, type LayoutLocked, LayoutNotFound } from "./errors.js"
import * as IndexFile from "./indexFile.js"
import type { Layout, OpenOptions } from "../../OciLayout.js"

/** Every error of a layout operation. @internal */
export type LayoutError =
  | InvalidLayout
  | LayoutNotFound
  | LayoutBlobNotFound
  | LayoutImageNotFound
  | LayoutLocked
  | InvalidReference
  | InvalidDigest
  | DigestMismatch
  | SizeMismatch
  | BodyTooLarge
  | Manifest.InvalidManifest
  | Manifest.UnsupportedMediaType
  | PlatformError

/** A manifest to write: decoded (or encoded), or exact bytes with their media type. @internal */
export type ManifestInput = Manifest.Decoded | { readonly bytes: Uint8Array; readonly mediaType: string }

const layoutFile = JSON.stringify({ imageLayoutVersion: "1.0.0" }).replace(":", ": ")

const notFound = (e: PlatformError) => e._tag === "SystemError" && e.reason === "NotFound"

const isManifestType = (mediaType: string) => MediaType.manifestTypes.includes(mediaType)

/** Opens (with `create`: creates when missing) the layout at `directory`. @internal */
export const open = (
  directory: string,
  options: OpenOptions = {}
): Effect.Effect<Layout, LayoutError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.resolve(directory)
    const at = (...parts: ReadonlyArray<string>) => path.join(dir, ...parts)
    const invalid = (reason: string) => new InvalidLayout({ directory: dir, reason })

    // `oci-layout`: must say 1.x; created (with an empty index.json) when asked to
    const marker = yield* fs.readFileString(at("oci-layout")).pipe(
      Effect.map(Option.some),
      Effect.catchIf(notFound, () => Effect.succeedNone)
    )
    if (Option.isNone(marker)) {
      if (options.create !== true) {
        // a path with nothing there is "not found" (a CLI exits 3), not a malformed layout
        return yield* (yield* fs.exists(dir)) ? invalid("no oci-layout file") : new LayoutNotFound({ directory: dir })
      }
      yield* fs.makeDirectory(at("blobs"), { recursive: true })
      yield* fs.writeFileString(at("oci-layout"), layoutFile)
    } else {
      const version = Either.try(() => (JSON.parse(marker.value) as { imageLayoutVersion?: unknown }).imageLayoutVersion)
      if (Either.isLeft(version) || typeof version.right !== "string" || !/^1\.\d+\.\d+$/.test(version.right)) {
        return yield* invalid("oci-layout does not declare imageLayoutVersion 1.x")
      }
    }
    const lock = {
      timeout: Duration.decode(options.lockTimeout ?? Duration.seconds(30)),
      staleAfter: Duration.decode(options.staleLockAfter ?? Duration.seconds(30))
    }

    const readIndex = fs.readFileString(at("index.json")).pipe(
      Effect.flatMap((text) => IndexFile.parse(dir, text)),
      Effect.catchIf(
        (e): e is PlatformError => e._tag !== "InvalidLayout" && notFound(e),
        () => options.create === true ? Effect.succeed(IndexFile.empty) : Effect.fail(invalid("no index.json"))
      )
    )
    if (options.create === true && !(yield* fs.exists(at("index.json")))) {
      yield* IndexFile.withLock(
        fs,
        dir,
        at("index.json.lock"),
        lock,
        Effect.flatMap(fs.exists(at("index.json")), (exists) =>
          exists ? Effect.void : IndexFile.replaceFile(fs, at("index.json"), IndexFile.serialize(IndexFile.empty)))
      )
    }

    const blobPath = (digest: Digest.Digest) =>
      Effect.map(Digest.parse(digest), (valid) => at("blobs", Digest.algorithm(valid), Digest.hex(valid)))

    const blobSize = (digest: Digest.Digest) =>
      blobPath(digest).pipe(
        Effect.flatMap((file) => fs.stat(file)),
        Effect.map((info) => (info.type === "File" ? Option.some(Number(info.size)) : Option.none<number>())),
        Effect.catchIf(
          (e): e is PlatformError => e._tag !== "InvalidDigest" && notFound(e),
          () => Effect.succeed(Option.none<number>())
        )
      )

    const readBlob: Layout["readBlob"] = (digest, o = {}) =>
      Stream.unwrap(Effect.gen(function*() {
        const file = yield* blobPath(digest)
        const offset = o.offset ?? 0
        const raw = readFrom(fs, file, offset).pipe(
          Stream.mapError((e): LayoutError => (notFound(e) ? new LayoutBlobNotFound({ directory: dir, digest }) : e))
        )
        // a range has no digest to check; a whole blob is verified as it is read, unless the reader
        // verifies what it writes
        return offset === 0 && o.verify !== false ? raw.pipe(Digest.verify({ digest, size: o.size })) : raw
      }))

    const writeBlob: Layout["writeBlob"] = (body, expected) =>
      Effect.gen(function*() {
        const file = yield* blobPath(expected.digest)
        const existing = yield* blobSize(expected.digest)
        if (Option.isSome(existing) && (expected.size === undefined || existing.value === expected.size)) return
        yield* fs.makeDirectory(path.dirname(file), { recursive: true })
        const stream = body instanceof Uint8Array ? Stream.succeed(body) : body
        yield* writeAtomically(fs, file, stream.pipe(Digest.verify(expected)))
      })

    const readManifest: Layout["readManifest"] = (input) =>
      Effect.gen(function*() {
        const descriptor = typeof input === "string" ? undefined : input
        const digest = typeof input === "string" ? input : input.digest
        const file = yield* blobPath(digest)
        const size = yield* blobSize(digest)
        if (Option.isNone(size)) return yield* new LayoutBlobNotFound({ directory: dir, digest })
        if (size.value > Manifest.maxManifestBytes) return yield* invalid(`manifest ${digest} is ${size.value} bytes`)
        const bytes = yield* fs.readFile(file)
        return yield* Manifest.decode(bytes, { contentType: descriptor?.mediaType, expectedDigest: digest })
      })

    const updateIndex = (descriptor: Manifest.Descriptor, tag: string | undefined) =>
      Effect.gen(function*() {
        if (tag !== undefined) yield* IndexFile.checkTag(tag)
        yield* IndexFile.withLock(
          fs,
          dir,
          at("index.json.lock"),
          lock,
          // re-read under the lock: another writer may have added entries since we last looked
          Effect.flatMap(readIndex, (index) => {
            const next = IndexFile.add(index, descriptor, tag)
            return next === undefined ? Effect.void : IndexFile.replaceFile(fs, at("index.json"), IndexFile.serialize(next))
          })
        )
      })

    const entries = Effect.map(readIndex, (index) => index.entries)

    // A manifest's subject never changes (its digest names its content): each is read once per
    // handle, and a referrers lookup reads only the manifests `index.json` gained since the last.
    const subjects = new Map<string, { readonly subject: string | undefined; readonly referrer: Manifest.Descriptor | undefined }>()
    const subjectOf = (entry: Manifest.Descriptor) => {
      const known = subjects.get(entry.digest)
      if (known !== undefined) return Effect.succeed(known)
      return Effect.map(readManifest(entry), (decoded) => {
        const subject = Manifest.subject(decoded.manifest)?.digest
        const found = { subject, referrer: subject === undefined ? undefined : Manifest.referrerDescriptor(decoded) }
        subjects.set(entry.digest, found)
        return found
      })
    }

    return {
      directory: dir,
      entries,
      tags: Effect.map(entries, (es) => es.flatMap((e) => IndexFile.tagOf(e) ?? [])),
      resolve: (tag) => Effect.flatMap(readIndex, (index) => IndexFile.find(dir, index, tag)),
      blobPath,
      blobSize,
      hasBlob: (digest, size) =>
        Effect.map(blobSize(digest), Option.match({ onNone: () => false, onSome: (s) => size === undefined || s === size })),
      readBlob,
      writeBlob,
      readManifest,
      writeManifest: (manifest, o = {}) =>
        Effect.gen(function*() {
          const digest = "digest" in manifest ? manifest.digest : Digest.compute(manifest.bytes)
          const decoded = yield* Manifest.decode(manifest.bytes, { contentType: manifest.mediaType, expectedDigest: digest })
          yield* writeBlob(decoded.bytes, { digest: decoded.digest, size: decoded.size })
          const descriptor = Manifest.descriptorOf(decoded)
          if (o.tag !== undefined || o.index === true) yield* updateIndex(descriptor, o.tag)
          return descriptor
        }),
      tag: (descriptor, tag) => updateIndex(descriptor, tag),
      referrers: (subject, o = {}) =>
        Effect.gen(function*() {
          const candidates = (yield* entries).filter((e) => isManifestType(e.mediaType))
          const found = yield* Effect.forEach(candidates, (e) =>
            Effect.map(subjectOf(e), (known) =>
              known.subject === subject && known.referrer !== undefined ? [known.referrer] : []))
          const unique = new Map(found.flat().map((d) => [d.digest, d]))
          return [...unique.values()].filter((d) => o.artifactType === undefined || d.artifactType === o.artifactType)
        })
    } satisfies Layout
  })
