/**
 * Benchmark child: one image copy with `effect-oci/Copy`, the way `skopeo copy` is used — between
 * a registry and an OCI image layout, in skopeo's endpoint syntax, on the default Node stack.
 *
 *   node copy.mjs --from docker://127.0.0.1:5000/bench/pull-256:bench --to oci:DIR:bench
 *
 * `run.ts` runs it bundled under `/usr/bin/time -v`. It prints one JSON line:
 * `{ manifestDigest, blobs, bytes }`.
 */
import * as Effect from "effect/Effect"
import * as Copy from "../src/Copy.js"
import * as Credentials from "../src/Credentials.js"
import * as node from "../src/node.js"
import { option } from "./args.js"

const program = Effect.gen(function*() {
  const from = yield* Copy.parseEndpoint(option("from"))
  const to = yield* Copy.parseEndpoint(option("to"))
  const result = yield* Copy.copy(from, to)
  return { manifestDigest: result.digest, blobs: result.blobs, bytes: result.bytes }
})

Effect.runPromise(
  program.pipe(Effect.provide(node.layer({ transport: {}, credentials: Credentials.layerStatic({}) })))
).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`copy failed: ${String(error)}\n`)
    process.exit(1)
  }
)
