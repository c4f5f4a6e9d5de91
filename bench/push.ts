/**
 * Benchmark child: pushes the image of an OCI image layout with our client — every blob the
 * manifest references with `BlobFile.upload` (the default strategy; digest from the manifest, so
 * nothing is read twice or held in memory), then the manifest's exact bytes with `putManifest`.
 * `--strategy S` pushes with `putBlob` of the same re-openable file body and strategy S instead.
 *
 *   node push.mjs --layout DIR --ref 127.0.0.1:5000/bench/push-1:64 [--strategy default|auto|chunked|streamed|monolithic]
 *
 * `run.ts` runs it bundled under `/usr/bin/time -v`. It prints one JSON line:
 * `{ manifestDigest, blobs, bytes, strategy }`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as BlobFile from "../src/BlobFile.js"
import * as Credentials from "../src/Credentials.js"
import * as Manifest from "../src/Manifest.js"
import * as node from "../src/node.js"
import * as OciLayout from "../src/OciLayout.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import { option } from "./args.js"

const strategies = ["default", "auto", "chunked", "streamed", "monolithic"] as const
type Strategy = typeof strategies[number]
const isStrategy = (s: string): s is Strategy => (strategies as ReadonlyArray<string>).includes(s)

// node.layer includes Node's FileSystem and Path (for OciLayout and the file bodies)
const client = node.layer({ transport: {}, credentials: Credentials.layerStatic({}) })

const push = (dir: string, text: string, strategy: Strategy) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    const fs = yield* FileSystem.FileSystem
    const ref = yield* Reference.parse(text)
    const layout = yield* OciLayout.open(dir)
    const manifest = yield* layout.readManifest(yield* layout.resolve())
    let sent = 0
    const blobs = Manifest.references(manifest.manifest)
    for (const descriptor of blobs) {
      const file = yield* layout.blobPath(descriptor.digest)
      if (strategy === "default") {
        yield* BlobFile.upload(ref, file, { digest: descriptor.digest, mediaType: descriptor.mediaType })
      } else {
        const body = Repository.reopenable((offset) => fs.stream(file, { offset: BigInt(offset) }), {
          size: descriptor.size
        })
        yield* repo.putBlob(ref, body, {
          digest: descriptor.digest,
          size: descriptor.size,
          mediaType: descriptor.mediaType,
          strategy
        })
      }
      sent += descriptor.size
    }
    const pushed = yield* repo.putManifest(ref, { bytes: manifest.bytes, mediaType: manifest.mediaType })
    return { manifestDigest: pushed, blobs: blobs.length, bytes: sent, strategy }
  })

const strategy = option("strategy", "default")
if (!isStrategy(strategy)) {
  process.stderr.write(`--strategy must be one of ${strategies.join(", ")}\n`)
  process.exit(2)
}

Effect.runPromise(push(option("layout"), option("ref"), strategy).pipe(Effect.provide(client))).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`push failed: ${String(error)}\n`)
    process.exit(1)
  }
)
