// What a program on effect-oci/node loads, with the INSTALLED package (test/Package.test.ts runs
// it under loadLog.mjs): it builds the default stack (marking the log "built"), then sends one
// request, a manifest GET to a server of its own on loopback (marking the log "requested").
// Env: LOAD_LOG (the log file); HOME and DOCKER_CONFIG point at empty directories.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as node from "effect-oci/node"
import * as Reference from "effect-oci/Reference"
import * as Repository from "effect-oci/Repository"
import { appendFileSync } from "node:fs"
import * as Http from "node:http"

const mark = (text) => appendFileSync(process.env.LOAD_LOG, `-- ${text}\n`)

let requests = 0
const server = Http.createServer((request, response) => {
  requests++
  response.writeHead(404, { "content-type": "application/json" })
  response.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }))
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))

const program = Effect.scoped(Effect.gen(function*() {
  const stack = yield* Layer.build(node.layer({ transport: {} }))
  mark("built")
  const repo = Context.get(stack, Repository.Repository)
  const ref = yield* Reference.parse(`127.0.0.1:${server.address().port}/startup/app:v1`)
  const failure = yield* Effect.flip(repo.getManifest(ref))
  mark("requested")
  return { failure: failure._tag, requests }
}))

const result = await Effect.runPromise(program)
server.close()
console.log(JSON.stringify(result))
