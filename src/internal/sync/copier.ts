/**
 * The default copier of sync: `Copy.copy` between two registries. One platform in a mapping copies
 * that platform's image; several copy an index of only those platforms (a new manifest with its own
 * digest, which the state records); none copy the whole index.
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
        const platforms = yield* Effect.forEach(options.platforms ?? [], (p) => Manifest.parsePlatform(p))
        const result = yield* Copy.copy(Copy.registry(from), Copy.registry(to), {
          ...(platforms.length === 1 ? { platform: platforms[0] } : platforms.length > 1 ? { platforms } : {}),
          referrers: options.referrers
        })
        return { digest: result.digest, blobs: result.blobs, bytes: result.bytes }
      }).pipe(Effect.provide(context))
  }))
)
