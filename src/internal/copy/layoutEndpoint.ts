/**
 * The OCI layout endpoint of a copy: one layout directory and, optionally, a tag in it.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Layout from "../ociLayout/layout.js"
import type { Handle } from "./endpoint.js"

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
  Effect.map(Layout.open(directory, { create }), (layout) => ({
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
    readBlob: (descriptor) => (offset) =>
      layout.readBlob(descriptor.digest, { size: descriptor.size, offset, verify: false }),
    writeBlob: (descriptor, source) =>
      layout.writeBlob(Stream.suspend(() => source(0)), { digest: descriptor.digest, size: descriptor.size }),
    mount: () => Effect.succeed(false),
    referrers: (subject) => layout.referrers(subject.digest)
  } satisfies Handle<Layout.LayoutError>))
