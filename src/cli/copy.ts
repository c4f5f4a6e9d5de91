/**
 * Copying an image with everything it references, with progress on stderr:
 * - `cp SRC DST`: endpoints in skopeo's syntax, `docker://REF` or `oci:DIR[:TAG]`; a bare
 *   reference means `docker://`.
 * - `pull REF DIR[:TAG]`: a registry image into an OCI layout (tagged with REF's tag unless `:TAG`).
 * - `push DIR[:TAG] REF`: an OCI layout's image (its only one, or the one tagged TAG) to a registry.
 * Each takes `--platform` (copy that image of an index instead of all) and `--referrers` (the
 * artifacts that refer to it too). stdout: the digest of the manifest copied.
 * JSON: `{ "digest", "mediaType", "size", "blobs": { "copied", "skipped", "mounted" }, "bytes" }`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Copy from "../Copy.js"
import { platformOption } from "./args.js"
import { inContext } from "./errors.js"
import { globals } from "./global.js"
import { type Library, onRegistry } from "./load.js"
import * as Output from "./output.js"
import * as Progress from "./progress.js"

const referrersOption = Options.boolean("referrers").pipe(
  Options.withDescription("Copy the artifacts that refer to the image too (signatures, SBOMs), recursively.")
)

/** `docker://REF` or `oci:DIR[:TAG]`; anything else is read as a reference (`docker://`). */
const endpoint = ({ Copy, Reference }: Library, text: string) =>
  text.startsWith("docker://") || text.startsWith("oci:")
    ? Copy.parseEndpoint(text)
    : Effect.map(Reference.parse(text), Copy.registry)

/** `DIR[:TAG]` as a layout endpoint, with `defaultTag` when no `:TAG` is given. */
const layoutOf = ({ Copy }: Library, text: string, defaultTag: string | undefined) =>
  Effect.map(
    Copy.parseEndpoint(`oci:${text}`),
    (e) => (e._tag === "Layout" && e.tag === undefined && defaultTag !== undefined ? Copy.layout(e.directory, defaultTag) : e)
  )

/**
 * Copies `from` to `to` with progress on stderr (none with `-q` / `--json`; plain lines when
 * stderr is no terminal or `-v` logs there too), then prints the result.
 */
const copyWith = <E>(
  lib: Library,
  endpoints: Effect.Effect<readonly [Copy.Endpoint, Copy.Endpoint], E>,
  options: { readonly platform: Option.Option<string>; readonly referrers: boolean }
) =>
  Effect.gen(function*() {
    const { Manifest, NodeContext } = lib
    const g = yield* globals
    const [from, to] = yield* endpoints
    const platform = Option.isSome(options.platform) ? yield* Manifest.parsePlatform(options.platform.value) : undefined
    const renderer = g.quiet || g.json ? undefined : Progress.make({
      tty: process.stderr.isTTY === true && !g.verbose,
      columns: process.stderr.columns,
      write: (text) => void process.stderr.write(text)
    })
    const result = yield* lib.Copy.copy(from, to, {
      referrers: options.referrers,
      ...(platform === undefined ? {} : { platform }),
      ...(Option.isSome(g.concurrency) ? { concurrency: Math.max(1, g.concurrency.value) } : {}),
      ...(renderer === undefined ? {} : { onProgress: (event) => Effect.sync(() => renderer.event(event)) })
    }).pipe(Effect.provide(NodeContext.layer), Effect.ensuring(Effect.sync(() => renderer?.finish())))
    yield* Output.result(result, [result.digest])
    yield* Output.status(
      `copied ${lib.Copy.formatEndpoint(from)} → ${lib.Copy.formatEndpoint(to)}: ${result.blobs.copied} blobs copied, ${result.blobs.skipped} skipped, ${result.blobs.mounted} mounted, ${
        Output.bytes(result.bytes)
      } sent`
    )
  })

export const cp = Command.make(
  "cp",
  { source: Args.text({ name: "SRC" }), destination: Args.text({ name: "DST" }), platform: platformOption, referrers: referrersOption },
  ({ destination, platform, referrers, source }) =>
    onRegistry((lib) =>
      copyWith(lib, Effect.all([endpoint(lib, source), endpoint(lib, destination)]), { platform, referrers })
    ).pipe(inContext(`cp ${source} ${destination}`))
).pipe(Command.withDescription("Copy an image (docker://REF or oci:DIR[:TAG]; a bare REF is docker://)."))

export const pull = Command.make(
  "pull",
  { reference: Args.text({ name: "REF" }), directory: Args.text({ name: "DIR[:TAG]" }), platform: platformOption, referrers: referrersOption },
  ({ directory, platform, reference, referrers }) =>
    onRegistry((lib) =>
      copyWith(
        lib,
        Effect.gen(function*() {
          const ref = yield* lib.Reference.parse(reference)
          return [lib.Copy.registry(ref), yield* layoutOf(lib, directory, ref.tag)] as const
        }),
        { platform, referrers }
      )
    ).pipe(inContext(`pull ${reference}`))
).pipe(Command.withDescription("Download an image into an OCI layout directory."))

export const push = Command.make(
  "push",
  { directory: Args.text({ name: "DIR[:TAG]" }), reference: Args.text({ name: "REF" }), platform: platformOption, referrers: referrersOption },
  ({ directory, platform, reference, referrers }) =>
    onRegistry((lib) =>
      copyWith(
        lib,
        Effect.gen(function*() {
          const ref = yield* lib.Reference.parse(reference)
          return [yield* layoutOf(lib, directory, undefined), lib.Copy.registry(ref)] as const
        }),
        { platform, referrers }
      )
    ).pipe(inContext(`push ${directory}`))
).pipe(Command.withDescription("Upload an image from an OCI layout directory."))
