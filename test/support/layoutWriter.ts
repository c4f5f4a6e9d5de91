/**
 * A separate process that writes to an OCI layout, for the concurrent-writers test:
 * `tsx layoutWriter.ts DIR PREFIX COUNT` writes COUNT small manifests tagged PREFIX-0 … PREFIX-(COUNT-1).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as MediaType from "../../src/MediaType.js"
import * as OciLayout from "../../src/OciLayout.js"

const [dir, prefix, count] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const layout = yield* OciLayout.open(dir!, { create: true })
  yield* Effect.forEach(
    Array.from({ length: Number(count) }, (_, i) => `${prefix}-${i}`),
    (tag) =>
      Effect.gen(function*() {
        const config = new TextEncoder().encode(JSON.stringify({ tag }))
        yield* layout.writeBlob(config, { digest: Digest.compute(config) })
        const manifest = Manifest.encode({
          schemaVersion: 2,
          config: { mediaType: MediaType.OciConfig, digest: Digest.compute(config), size: config.byteLength },
          layers: []
        })
        yield* layout.writeManifest(manifest, { tag })
      }),
    { concurrency: 4, discard: true }
  )
})

Effect.runPromise(program.pipe(Effect.provide(NodeContext.layer))).catch((e) => {
  console.error(e)
  process.exit(1)
})
