/**
 * The demo (`npm run demo`): pushes a small multi-layer image with the client, lists its tags and
 * pulls it back with verification, printing what it did.
 *
 * With no `--registry`, it starts the embedded in-memory registry on a free loopback port; with
 * `--registry HOST[:PORT]` it talks to that registry instead (credentials from Docker's config.json
 * or podman's auth.json, as the default Node stack reads them).
 *
 *   npm run demo
 *   npm run demo -- --registry localhost:5000 --repository demo/hello
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { gzipSync } from "node:zlib"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as Manifest from "../src/Manifest.js"
import * as MediaType from "../src/MediaType.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

/** A ustar archive holding one regular file (enough for a real, extractable layer). */
const tarWithFile = (name: string, content: Uint8Array): Uint8Array => {
  const header = new Uint8Array(512)
  const put = (offset: number, text: string) => header.set(new TextEncoder().encode(text), offset)
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0") + "\0"
  put(0, name)
  put(100, octal(0o644, 8))
  put(108, octal(0, 8))
  put(116, octal(0, 8))
  put(124, octal(content.byteLength, 12))
  put(136, octal(0, 12))
  put(148, "        ")
  put(156, "0")
  put(257, "ustar\u000000")
  const checksum = header.reduce((sum, byte) => sum + byte, 0)
  put(148, octal(checksum, 7) + " ")
  const padding = (512 - (content.byteLength % 512)) % 512
  const out = new Uint8Array(512 + content.byteLength + padding + 1024)
  out.set(header, 0)
  out.set(content, 512)
  return out
}

/** Deterministic bytes that do not compress, so the big layer stays big. */
const noise = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const mib = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`
const short = (d: string) => d.slice(0, 19) + "…"

const demo = (host: string, repository: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    const ref = yield* Reference.parse(`${host}/${repository}:v1`)
    yield* Console.log(`registry  ${host}\nimage     ${Reference.format(ref)}\n`)

    const tars = [
      tarWithFile("hello.txt", new TextEncoder().encode("Hello from effect-oci!\n")),
      tarWithFile("data/noise.bin", noise(12 * 1024 * 1024, 42)),
      tarWithFile("etc/motd", new TextEncoder().encode("pushed and pulled with Effect\n"))
    ]
    const layers = tars.map((tar) => gzipSync(tar))
    const config = new TextEncoder().encode(JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["cat", "/hello.txt"] },
      rootfs: { type: "layers", diff_ids: tars.map((tar) => Digest.compute(tar)) }
    }))

    yield* Console.log("push")
    const pushedLayers = yield* Effect.forEach(layers, (bytes, i) =>
      Effect.gen(function*() {
        const start = Date.now()
        const descriptor = yield* repo.putBlob(ref, Stream.make(bytes), {
          size: bytes.byteLength,
          digest: Digest.compute(bytes),
          mediaType: MediaType.OciLayerGzip
        })
        yield* Console.log(`  layer ${i + 1}  ${short(descriptor.digest)}  ${mib(descriptor.size).padStart(10)}  ${Date.now() - start} ms`)
        return descriptor
      }))
    const configDescriptor = yield* repo.putBlob(ref, config, { mediaType: MediaType.OciConfig })
    yield* Console.log(`  config   ${short(configDescriptor.digest)}  ${mib(configDescriptor.size).padStart(10)}`)
    const manifest = Manifest.encode({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDescriptor.digest, size: configDescriptor.size },
      layers: pushedLayers.map((l) => ({ mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.size }))
    })
    const manifestDigest = yield* repo.putManifest(ref, manifest)
    yield* Console.log(`  manifest ${short(manifestDigest)}  ${mib(manifest.size).padStart(10)}  tagged v1`)
    yield* repo.tag(ref, "latest")
    yield* Console.log(`  tagged latest\n`)

    const tags = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.tags(ref)))
    yield* Console.log(`tags      ${tags.join(", ")}\n`)

    yield* Console.log("pull (every byte verified against its digest)")
    const pulled = yield* repo.getManifest(yield* Reference.withTag(ref, "latest"))
    yield* Console.log(`  manifest ${short(pulled.digest)}  ${pulled.mediaType}`)
    let total = 0
    for (const descriptor of Manifest.references(pulled.manifest)) {
      const size = yield* repo.getBlob(ref, descriptor.digest, { size: descriptor.size }).pipe(
        Stream.runFold(0, (n, chunk) => n + chunk.byteLength)
      )
      total += size
      yield* Console.log(`  blob     ${short(descriptor.digest)}  ${mib(size).padStart(10)}  ok`)
    }
    if (pulled.digest !== manifestDigest) return yield* Effect.dieMessage("pulled a different manifest")
    yield* Console.log(`\ndone: ${pulled.digest} (${mib(total)} of blobs) round-tripped intact`)
  })

const registryArg = argument("registry")
const repository = argument("repository") ?? "demo/hello"

const main = registryArg === undefined
  ? Effect.scoped(Effect.gen(function*() {
    const registry = yield* Testing.make()
    yield* Console.log(`started the embedded registry at ${registry.url}`)
    yield* demo(registry.host, repository).pipe(Effect.provide(node.layer()))
  }))
  : demo(registryArg, repository).pipe(Effect.provide(node.layer()))

NodeRuntime.runMain(main)
