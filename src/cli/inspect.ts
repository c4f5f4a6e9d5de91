/**
 * `effect-oci inspect REF`: what an image is — digest, media type, platforms, and for the image
 * (of an index: the `--platform` one, else this machine's, else the first) its layers with sizes,
 * creation time and labels.
 *
 * JSON: `{ "reference", "digest", "mediaType", "size", "platforms": ["linux/amd64", …],
 * "image": null | { "digest", "mediaType", "platform", "created", "labels", "config": { "digest",
 * "size" }, "layers": [{ "digest", "mediaType", "size" }], "layersSize" } }`.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { platformOption, referenceArg } from "./args.js"
import { inContext } from "./errors.js"
import { onRegistry } from "./load.js"
import * as Output from "./output.js"

export const inspect = Command.make(
  "inspect",
  { reference: referenceArg(), platform: platformOption },
  ({ platform, reference }) =>
    onRegistry(({ Common, Manifest, Reference, Repository }) => Effect.gen(function*() {
      const ref = yield* Reference.parse(reference)
      const repo = yield* Repository.Repository
      const top = yield* repo.getManifest(ref)
      const platforms = Manifest.isIndex(top.manifest)
        ? top.manifest.manifests.flatMap((d) => d.platform === undefined ? [] : [Manifest.formatPlatform(d.platform)])
        : []
      const image = Manifest.isIndex(top.manifest) || Option.isSome(platform)
        ? yield* Common.selectImage(ref, platform)
        : top
      const manifest = image.manifest
      const details = Manifest.isImageManifest(manifest) || Manifest.isDockerManifest(manifest)
        ? yield* Effect.gen(function*() {
          const configBytes = yield* Common.readSmallBlob(ref, manifest.config)
          const config = Common.imageConfig(configBytes)
          const layers = manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size }))
          return {
            digest: image.digest,
            mediaType: image.mediaType,
            platform: config === undefined ? null : Common.platformText(config),
            created: config?.created ?? null,
            labels: config?.config?.Labels ?? {},
            config: { digest: manifest.config.digest, size: manifest.config.size },
            layers,
            layersSize: layers.reduce((n, l) => n + l.size, 0)
          }
        })
        : null
      if (!Manifest.isIndex(top.manifest) && details?.platform != null) platforms.push(details.platform)
      const document = {
        reference: Reference.format(ref),
        digest: top.digest,
        mediaType: top.mediaType,
        size: top.size,
        platforms,
        image: details
      }
      yield* Output.result(document, () => [
        `Reference:  ${document.reference}`,
        `Digest:     ${document.digest}`,
        `Media type: ${document.mediaType}`,
        `Size:       ${document.size}`,
        `Platforms:  ${platforms.length === 0 ? "-" : platforms.join(", ")}`,
        ...(details === null ? [] : [
          ...(Manifest.isIndex(top.manifest) ? [`Image:      ${details.digest} (${details.platform ?? "?"})`] : []),
          `Created:    ${details.created ?? "-"}`,
          `Labels:     ${Object.keys(details.labels).length === 0 ? "-" : ""}`,
          ...Object.entries(details.labels).map(([k, v]) => `  ${k}=${v}`),
          `Layers:     ${details.layers.length} (${Output.bytes(details.layersSize)})`,
          ...details.layers.map((l) => `  ${l.digest}  ${Output.bytes(l.size).padStart(10)}  ${l.mediaType}`)
        ])
      ])
    })).pipe(inContext(`inspect ${reference}`))
).pipe(Command.withDescription("Show an image: digest, media type, platforms, layers with sizes, created, labels."))
