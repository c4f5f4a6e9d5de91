// A push and a pull through `fetch` (Stack.layerFetch) with the INSTALLED effect-oci, run by the
// Node, Bun and Deno tests in test/Package.test.ts. Plain JavaScript, so every runtime runs it as is.
// Env: REGISTRY (host:port of the embedded registry, token auth, user alice / wonderland).
import { Chunk, Effect, Redacted, Stream } from "effect"
import { Credentials, Digest, Manifest, MediaType, Reference, Repository, Stack } from "effect-oci"

const env = (name) => globalThis.process?.env?.[name] ?? globalThis.Deno?.env.get(name)
const runtime = typeof globalThis.Bun !== "undefined" ? "bun" : typeof globalThis.Deno !== "undefined" ? "deno" : "node"
const host = env("REGISTRY")

const program = Effect.gen(function*() {
  const repo = yield* Repository.Repository
  const ref = yield* Reference.parse(`${host}/runtime/${runtime}:v1`)
  const layerBytes = new Uint8Array(200_000).map((_, i) => (i * 13) % 251)
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", runtime }))
  const c = yield* repo.putBlob(ref, config)
  // Chunked: PATCHes with Content-Range through this runtime's fetch.
  const l = yield* repo.putBlob(ref, Stream.make(layerBytes.subarray(0, 90_000), layerBytes.subarray(90_000)), {
    size: layerBytes.byteLength,
    strategy: "chunked"
  })
  const manifest = Manifest.encode({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: c.digest, size: c.size },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.size }]
  })
  const pushed = yield* repo.putManifest(ref, manifest)

  const image = yield* repo.getManifestForPlatform(ref, { os: "linux", architecture: "amd64" })
  const pulled = yield* Effect.forEach(image.manifest.layers, (layer) =>
    Stream.runCollect(repo.getBlob(ref, layer.digest, { size: layer.size })).pipe(
      Effect.map((chunks) => {
        const bytes = new Uint8Array(layer.size)
        let offset = 0
        for (const chunk of Chunk.toReadonlyArray(chunks)) {
          bytes.set(chunk, offset)
          offset += chunk.byteLength
        }
        return Digest.compute(bytes)
      })
    ))
  const tags = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.tags(ref)))
  return { runtime, pushed, pulled, layer: l.digest, tags }
})

const credentials = Credentials.layerStatic({
  [host]: Credentials.Credential.Basic({ username: "alice", password: Redacted.make("wonderland") })
})

const result = await Effect.runPromise(
  program.pipe(Effect.provide(Stack.layerFetch({ credentials })), Effect.either)
)
if (result._tag === "Left") {
  console.error(JSON.stringify({ runtime, error: String(result.left), tag: result.left?._tag }))
  globalThis.process?.exit?.(1) ?? globalThis.Deno?.exit(1)
} else {
  console.log(JSON.stringify(result.right))
}
