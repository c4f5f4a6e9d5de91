/**
 * Upload recovery against Debian's docker-registry (distribution 2.8) through a fault-injecting
 * proxy: one request of every upload strategy cut (before its body, or mid-body) or answered 503;
 * and programs SIGKILLed mid-upload, resumed from the session they stored.
 *
 * Distribution 2.8 refuses every request — the DELETE included — of a session that holds a
 * partial chunk (its signed `_state` no longer matches the bytes stored), so a session cut
 * mid-body can only be left to the registry's upload purging: the client's DELETE is sent and
 * refused. Every other session an upload opened is gone at the end.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Credentials from "../../src/Credentials.js"
import * as Digest from "../../src/Digest.js"
import * as node from "../../src/node.js"
import * as Reference from "../../src/Reference.js"
import * as Repository from "../../src/Repository.js"
import { reopenableOf, type Strategy, strategies, uploadBy } from "../support/uploadStrategies.js"
import { integrationSuite } from "./support/binaries.js"
import * as CutProxy from "./support/cutProxy.js"
import { tempDir } from "./support/processes.js"
import { launch, type Registry } from "./support/registry.js"

class Rig extends Context.Tag("effect-oci/test/integration/UploadRig")<Rig, {
  readonly registry: Registry
  readonly proxy: CutProxy.CutProxy
  readonly workDir: string
}>() {}

const chunkSize = 256 * 1024

const rig = Layer.unwrapScoped(Effect.gen(function*() {
  const registry = yield* launch("plain")
  const proxy = yield* CutProxy.start(registry.host)
  const workDir = yield* tempDir("uploads")
  const client = node.layer({
    credentials: Credentials.layerAnonymous,
    transport: { retry: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(2))) },
    repository: {
      chunkSize,
      monolithicThreshold: 512 * 1024,
      uploadResume: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(4)))
    }
  })
  return Layer.mergeAll(Layer.succeed(Rig, { registry, proxy, workDir }), client, NodeContext.layer)
}))

/** The upload sessions a repository's storage still holds. */
const sessionsLeft = (registry: Registry, repository: string): ReadonlyArray<string> => {
  const dir = Path.join(registry.storage, "docker/registry/v2/repositories", repository, "_uploads")
  return Fs.existsSync(dir) ? Fs.readdirSync(dir) : []
}

const reopenable = (bytes: Uint8Array) => reopenableOf(bytes).body
const upload = uploadBy

/** The request a fault hits: the monolithic PUT, the one streamed PATCH, or a chunked upload's second PATCH. */
const hit = (strategy: Strategy, action: CutProxy.Action): CutProxy.Rule =>
  strategy === "monolithic"
    ? { method: "PUT", path: /\/blobs\/uploads\/./, nth: 1, action }
    : { method: "PATCH", path: /\/blobs\/uploads\/./, nth: strategy === "streamed" || strategy === "file" ? 1 : 2, action }

const faults: ReadonlyArray<readonly [string, CutProxy.Action]> = [
  ["cut mid-body", { _tag: "Cut", afterBodyBytes: 100_000 }],
  ["cut before the body", { _tag: "Cut", afterBodyBytes: 0 }],
  ["answered 503", { _tag: "Unavailable" }]
]

const sessionId = (path: string) => /\/blobs\/uploads\/([^/?]+)/.exec(path)?.[1]

integrationSuite("upload recovery against registry 2.8 through a cutting proxy", ["docker-registry"], () => {
  layer(rig, { excludeTestServices: true, timeout: Duration.seconds(120) })((it) => {
    for (const [name, action] of faults) {
      it.effect.each(strategies)(`${name}: %s ends with the blob; no session left but those 2.8 refuses to delete`, (strategy) =>
        Effect.gen(function*() {
          const { proxy, registry } = yield* Rig
          const repository = `recovery/${name.replace(/[^a-z0-9]+/g, "-")}/${strategy}`
          const blob = new Uint8Array(Crypto.randomBytes(1_200_000))
          const mark = proxy.seen().length
          proxy.setRules([hit(strategy, action)])
          const ref = yield* Reference.parse(`${proxy.host}/${repository}`)
          const descriptor = yield* upload(strategy, ref, blob)
          proxy.setRules([])
          expect(descriptor.digest).toBe(Digest.compute(blob))
          // the registry has exactly these bytes
          const repo = yield* Repository.Repository
          const stored = yield* Stream.runFold(
            repo.getBlob(Reference.withDigest(ref, descriptor.digest), descriptor.digest),
            0,
            (n, bytes) => n + bytes.byteLength
          )
          expect(stored).toBe(blob.byteLength)
          const seen = proxy.seen().slice(mark)
          expect(seen.filter((r) => r.fault !== undefined)).toHaveLength(1)
          const left = sessionsLeft(registry, repository)
          const refusedDeletes = seen.filter((r) => r.method === "DELETE" && r.status === 404).map((r) => sessionId(r.path))
          yield* Effect.logDebug(`${name}/${strategy}: ${left.length} session(s) left, ${refusedDeletes.length} DELETE(s) refused`)
          if (action._tag === "Cut" && action.afterBodyBytes > 0) {
            // at most the session holding the partial chunk, which the client tried to delete
            expect(left.length).toBeLessThanOrEqual(1)
            for (const id of left) expect(refusedDeletes).toContain(id)
          } else {
            expect(left).toEqual([])
          }
        }))
    }

    it.effect("programs SIGKILLed mid-upload at random moments resume from their stored session", () =>
      Effect.gen(function*() {
        const { proxy, registry, workDir } = yield* Rig
        const repo = yield* Repository.Repository
        const outcomes: Array<string> = []
        // the child, bundled once: plain node starts it far faster than a TypeScript loader
        const childScript = Path.join(workDir, "uploadChild.mjs")
        yield* Effect.promise(() =>
          import("esbuild").then((esbuild) =>
            esbuild.build({
              entryPoints: [Path.resolve("test/integration/support/uploadChild.ts")],
              bundle: true,
              platform: "node",
              format: "esm",
              outfile: childScript,
              logLevel: "silent",
              banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" }
            })
          )
        )
        for (let run = 1; run <= 3; run++) {
          const repository = `recovery/sigkill/${run}`
          const blobPath = Path.join(workDir, `blob-${run}`)
          const sessionPath = Path.join(workDir, `session-${run}.json`)
          const blob = new Uint8Array(Crypto.randomBytes(8 * 1024 * 1024))
          Fs.writeFileSync(blobPath, blob)
          // through the proxy (which lets everything pass), to see how the resume went
          const child = ChildProcess.spawn(
            process.execPath,
            [childScript, proxy.host, repository, blobPath, sessionPath],
            { stdio: "ignore" }
          )
          // once the first chunk is stored, kill it at a random moment of the next ~300 ms
          const storedOffset = () => {
            try {
              return (JSON.parse(Fs.readFileSync(sessionPath, "utf8")) as { offset: number }).offset
            } catch {
              return -1
            }
          }
          yield* Effect.sync(storedOffset).pipe(
            Effect.repeat({ until: (offset) => offset > 0, schedule: Schedule.spaced("10 millis") }),
            Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("the child stored no progress") })
          )
          yield* Effect.sleep(Duration.millis(Math.floor(Math.random() * 300)))
          const killedAt = storedOffset()
          child.kill("SIGKILL")
          yield* Effect.async<void>((resume) => {
            if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
            child.once("exit", () => resume(Effect.void))
          })
          expect(Fs.existsSync(`${sessionPath}.done`)).toBe(false)
          const stored = Schema.decodeUnknownSync(Schema.parseJson(Repository.UploadSession))(
            Fs.readFileSync(sessionPath, "utf8")
          )
          const mark = proxy.seen().length
          const ref = yield* Reference.parse(`${proxy.host}/${repository}`)
          const descriptor = yield* repo.resumeUpload(ref, stored, reopenable(blob))
          expect(descriptor.digest).toBe(Digest.compute(blob))
          const status = proxy.seen().slice(mark).find((r) => r.method === "GET")?.status
          outcomes.push(
            `run ${run}: killed with ${killedAt} bytes stored; session ${
              status === 204 ? "continued" : `refused (${status}), replaced`
            }; ${sessionsLeft(registry, repository).length} session(s) left`
          )
        }
        yield* Effect.logInfo(outcomes.join("; "))
        expect(outcomes).toHaveLength(3)
      }), { timeout: 120_000 })
  })
})
