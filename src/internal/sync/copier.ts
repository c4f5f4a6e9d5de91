/**
 * The default copier of sync: `Copy.copy` between two registries. One platform in a mapping copies
 * that platform's image; several (or none) copy the whole index, since a subset index would be a new
 * manifest with its own digest.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Copy from "../../Copy.js"
import * as Manifest from "../../Manifest.js"
import { Copier } from "./engine.js"

/** `Copy.copy` with the services it needs taken from the layer's context. */
export const layer: Layer.Layer<Copier, never, Copy.Services> = Layer.effect(
  Copier,
  Effect.map(Effect.context<Copy.Services>(), (context) => ({
    copy: (from, to, options) =>
      Effect.gen(function*() {
        const only = options.platforms?.length === 1 ? options.platforms[0] : undefined
        const platform = only === undefined ? undefined : yield* Manifest.parsePlatform(only)
        const result = yield* Copy.copy(Copy.registry(from), Copy.registry(to), {
          ...(platform === undefined ? {} : { platform }),
          referrers: options.referrers
        })
        return { digest: result.digest, blobs: result.blobs, bytes: result.bytes }
      }).pipe(Effect.provide(context))
  }))
)
