/**
 * The OCI layout endpoint of a copy: one layout directory and, optionally, a tag in it.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Digest from "../../Digest.js"
import { releasing } from "../bodyRing.js"
import { fileReader } from "../fileRead.js"
import type { FileReader } from "../iterableBody.js"
import { LayoutBlobNotFound } from "../ociLayout/errors.js"
import type * as OciLayout from "../../OciLayout.js"
import * as Layout from "../ociLayout/layout.js"
import type { Handle } from "./endpoint.js"

/** A layout's blob as a file an upload may read into buffers of its own. */
const blobFile = (fs: FileSystem.FileSystem, layout: OciLayout.Layout, digest: Digest.Digest): FileReader<Layout.LayoutError> => ({
  open: (offset) =>
    Effect.flatMap(layout.blobPath(digest), (path) =>
      fileReader(fs, path).open(offset).pipe(
        Effect.mapError((e): Layout.LayoutError =>
          e._tag === "SystemError" && e.reason === "NotFound"
            ? new LayoutBlobNotFound({ directory: layout.directory, digest })
            : e
        )
      ))
})

/**
 * A handle on the layout at `directory`: `tag` names the top image (without one, the layout's only
 * image when reading, an untagged entry when writing). `create` makes the layout when missing.
 *
 * @internal
 */
export const make = (
  directory: string,
  tag: string | undefined,
  name: string,
  create: boolean
): Effect.Effect<Handle<Layout.LayoutError>, Layout.LayoutError, FileSystem.FileSystem | Path.Path> =>
  Effect.zipWith(Layout.open(directory, { create }), FileSystem.FileSystem, (layout, fs) => ({
    name,
    repository: undefined,
    top: Effect.flatMap(layout.resolve(tag), layout.readManifest),
    getManifest: layout.readManifest,
    hasManifest: (descriptor) => layout.hasBlob(descriptor.digest, descriptor.size),
    putManifest: (manifest, placement) =>
      Effect.asVoid(
        placement === "top"
          ? layout.writeManifest(manifest, { tag, index: true })
          // referrers are listed (untagged) in index.json, which is how a layout finds them again
          : layout.writeManifest(manifest, { index: placement === "referrer" })
      ),
    hasBlob: (descriptor) => layout.hasBlob(descriptor.digest, descriptor.size),
    // not verified here: every destination verifies what it writes (see `Handle.readBlob`)
    readBlob: (descriptor) =>
      Object.assign(
        (offset: number) => layout.readBlob(descriptor.digest, { size: descriptor.size, offset, verify: false }),
        { file: blobFile(fs, layout, descriptor.digest) }
      ),
    // the layout's file writer releases each piece once written, and nothing between the source
    // and it keeps pieces: a large blob from a registry is read into reused memory
    writeBlob: (descriptor, source) =>
      layout.writeBlob(Stream.suspend(() => source(0)), { digest: descriptor.digest, size: descriptor.size }).pipe(
        releasing(descriptor.size)
      ),
    mount: () => Effect.succeed(false),
    referrers: (subject) => layout.referrers(subject.digest)
  } satisfies Handle<Layout.LayoutError>))
