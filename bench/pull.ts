/**
 * Benchmark child: pulls one image with our client, the way a user program would — on the public
 * API only: the default Node stack (`node.layer()`), the manifest by tag, then every blob it
 * references with `BlobFile.download` (streamed, verified against digest and size, renamed into
 * place). Nothing holds a whole blob.
 *
 *   node pull.mjs --ref 127.0.0.1:5000/bench/pull:64 --out DIR [--fsync]
 *   node pull.mjs --noop          (start-up only: load modules, build the layer, exit)
 *
 * `run.ts` runs it bundled (so no TypeScript loader sits in the measured process) under
 * `/usr/bin/time -v`. It prints one JSON line: `{ manifestDigest, blobs, bytes }`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import * as BlobFile from "../src/BlobFile.js"
import * as Credentials from "../src/Credentials.js"
import * as Manifest from "../src/Manifest.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import { flag, option } from "./args.js"

const client = Layer.merge(
  // no credential files: the benchmark registry is anonymous
  node.layer({ transport: {}, credentials: Credentials.layerStatic({}) }),
  NodeFileSystem.layer
)

const pull = (text: string, out: string, fsync: boolean) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    const fs = yield* FileSystem.FileSystem
    const ref = yield* Reference.parse(text)
    const manifest = yield* repo.getManifest(ref)
    const blobDir = Path.join(out, "blobs", "sha256")
    yield* fs.makeDirectory(blobDir, { recursive: true })
    yield* fs.writeFile(Path.join(out, "manifest.json"), manifest.bytes)
    let bytes = 0
    const blobs = Manifest.references(manifest.manifest)
    for (const descriptor of blobs) {
      const file = Path.join(blobDir, descriptor.digest.slice(descriptor.digest.indexOf(":") + 1))
      yield* BlobFile.download(ref, descriptor.digest, file, { size: descriptor.size })
      bytes += Number((yield* fs.stat(file)).size)
      // skopeo's OCI layout destination syncs each blob; so do we, for a like-for-like comparison
      if (fsync) yield* Effect.scoped(Effect.flatMap(fs.open(file, { flag: "r" }), (f) => f.sync))
    }
    return { manifestDigest: manifest.digest, blobs: blobs.length, bytes }
  })

const program = flag("noop")
  ? Effect.succeed({ manifestDigest: "", blobs: 0, bytes: 0 })
  : pull(option("ref"), option("out"), flag("fsync"))

Effect.runPromise(program.pipe(Effect.provide(client))).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`pull failed: ${String(error)}\n`)
    process.exit(1)
  }
)
