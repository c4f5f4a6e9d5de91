/**
 * Upload recovery end to end: the whole Node stack against the embedded registry, a request of
 * every upload strategy cut mid-body, answered 503, or cut under distribution 2.8's refusal to
 * continue a session holding a partial chunk. Each upload ends with the right blob and no upload
 * session left on the registry.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/testing/index.js"
import { randomBytes } from "./support/RepositoryFixture.js"
import { reopenableOf, type Strategy, strategies, uploadBy } from "./support/uploadStrategies.js"

const chunkSize = 64 * 1024
const blob = randomBytes(300_000, 77)
const digest = Digest.compute(blob)

const stack = node.layer({
  transport: { retry: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(2))) },
  repository: {
    chunkSize,
    monolithicThreshold: 100_000,
    uploadResume: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(4)))
  }
})

const reopenable = (bytes: Uint8Array) => reopenableOf(bytes, 10_000)
const upload = (strategy: Strategy, ref: Reference.Reference) => uploadBy(strategy, ref, blob, 10_000)

/** The request of each strategy that the fault hits: the PUT of a monolithic upload, else a PATCH. */
const faulted = (strategy: Strategy): Pick<Testing.Fault, "method" | "nth"> =>
  strategy === "monolithic"
    ? { method: "PUT", nth: 1 }
    : strategy === "streamed" || strategy === "file"
    ? { method: "PATCH", nth: 1 }
    : { method: "PATCH", nth: 2 }

const faults = {
  "cut mid-body": (s: Strategy): ReadonlyArray<Testing.Fault> => [
    { ...faulted(s), path: /\/blobs\/uploads\/./, action: Testing.FaultAction.cutRequest(10_000) }
  ],
  "answered 503": (s: Strategy): ReadonlyArray<Testing.Fault> => [
    { ...faulted(s), path: /\/blobs\/uploads\/./, action: Testing.FaultAction.unavailable() }
  ],
  "cut mid-body, partial chunk refused (distribution 2.8)": (s: Strategy): ReadonlyArray<Testing.Fault> => [
    { ...faulted(s), path: /\/blobs\/uploads\/./, action: Testing.FaultAction.cutRequest(10_000) },
    { path: /\/blobs\/uploads\/./, action: Testing.FaultAction.refusePartialChunk() }
  ]
} as const


describe("upload recovery against the embedded registry", () => {
  for (const [name, make] of Object.entries(faults)) {
    it.live.each(strategies)(`${name}: %s ends with the blob and no session left`, (strategy) =>
      Effect.gen(function*() {
        const registry = yield* Testing.TestRegistry
        yield* registry.setFaults(make(strategy))
        const ref = yield* Reference.parse(`${registry.host}/recovery/${strategy}`)
        const descriptor = yield* upload(strategy, ref).pipe(Effect.provide(stack))
        expect(descriptor.digest).toBe(digest)
        expect(descriptor.size).toBe(blob.byteLength)
        expect(yield* registry.hasBlob(`recovery/${strategy}`, digest)).toBe(true)
        expect(yield* registry.uploadSessions).toEqual([])
        const log = yield* registry.requests
        // the fault fired, and was recovered from
        expect(log.some((r) => r.faults.length > 0 && r.faults[0] !== "RefusePartialChunk")).toBe(true)
      }).pipe(Effect.provide(Testing.layer()), Effect.provide(NodeContext.layer)))
  }

  it.live("a cut of the first chunk under distribution 2.8's refusal: a new session, the old one deleted", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      yield* registry.setFaults(faults["cut mid-body, partial chunk refused (distribution 2.8)"]("chunked"))
      const ref = yield* Reference.parse(`${registry.host}/recovery/detail`)
      const { body, opens } = reopenable(blob)
      const repo = yield* Repository.Repository
      yield* repo.putBlob(ref, body, { strategy: "chunked" }).pipe()
      const log = (yield* registry.requests).filter((r) => r.path.includes("/blobs/uploads/"))
      const lines = log.map((r) => `${r.method} ${r.status ?? "-"}`)
      // POST, PATCH ok, PATCH cut, GET refused, DELETE of the refused session, POST, then from byte 0
      expect(lines.slice(0, 7)).toEqual(["POST 202", "PATCH 202", "PATCH -", "GET 404", "DELETE 204", "POST 202", "PATCH 202"])
      expect(log[4]!.path).toBe(log[1]!.path)
      expect(log[6]!.path).not.toBe(log[1]!.path)
      expect(log[6]!.headers["content-range"]).toBe(`0-${chunkSize - 1}`)
      // the new session re-opened the body at 0 (it was opened at 0 once before)
      expect(opens).toEqual([0, 0])
      expect(yield* registry.uploadSessions).toEqual([])
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a one-shot Stream that must be re-read fails with BodyNotReplayable, and no session is left", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      yield* registry.setFaults(faults["cut mid-body, partial chunk refused (distribution 2.8)"]("chunked"))
      const ref = yield* Reference.parse(`${registry.host}/recovery/oneshot`)
      const repo = yield* Repository.Repository
      const error = yield* Effect.flip(repo.putBlob(ref, Stream.make(blob), { strategy: "chunked" }))
      expect(error._tag).toBe("BodyNotReplayable")
      expect(yield* registry.uploadSessions).toEqual([])
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))

  it.live("a one-shot Stream survives a cut the registry keeps part of: the rest comes from the chunk in hand", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      yield* registry.setFaults(faults["cut mid-body"]("chunked"))
      const ref = yield* Reference.parse(`${registry.host}/recovery/oneshot-ok`)
      const repo = yield* Repository.Repository
      const descriptor = yield* repo.putBlob(ref, Stream.make(blob), { strategy: "chunked" })
      expect(descriptor.digest).toBe(digest)
      const patches = (yield* registry.requests).filter((r) => r.method === "PATCH")
      expect(patches.map((r) => r.headers["content-range"])).toEqual([
        `0-${chunkSize - 1}`,
        `${chunkSize}-${2 * chunkSize - 1}`,
        `${chunkSize + 10_000}-${2 * chunkSize + 10_000 - 1}`,
        `${2 * chunkSize + 10_000}-${3 * chunkSize + 10_000 - 1}`,
        `${3 * chunkSize + 10_000}-${4 * chunkSize + 10_000 - 1}`,
        `${4 * chunkSize + 10_000}-${blob.byteLength - 1}`
      ])
      expect(yield* registry.uploadSessions).toEqual([])
    }).pipe(Effect.provide(stack), Effect.provide(Testing.layer())))
})

describe("downloads cut again and again", () => {
  it.live("a 28 MiB blob whose every GET is cut after 1–4 MiB arrives whole, with the default resume budget", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const big = randomBytes(28 * 1024 * 1024, 91)
      const stored = yield* registry.putBlob("recovery/download", big)
      // a different cut for each GET, 1–4 MiB into its body (deterministic)
      let seed = 7
      const cut = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return 1024 * 1024 + (seed % (3 * 1024 * 1024))
      }
      yield* registry.setFaults(
        Array.from({ length: 40 }, (_, i) => ({
          method: "GET",
          path: new RegExp(stored.digest),
          nth: i + 1,
          action: Testing.FaultAction.cutBody(cut())
        }))
      )
      const ref = yield* Reference.parse(`${registry.host}/recovery/download`)
      const repo = yield* Repository.Repository
      const hasher = Digest.hasher()
      yield* Stream.runForEach(
        repo.getBlob(ref, stored.digest, { size: stored.size }),
        (bytes) => Effect.sync(() => hasher.update(bytes))
      )
      expect(hasher.digest()).toBe(stored.digest)
      const gets = (yield* registry.requests).filter((r) => r.method === "GET" && r.path.endsWith(stored.digest))
      // far more breaks than the 5 resumes the default schedule allows in a row
      expect(gets.length).toBeGreaterThan(6)
      expect(gets.slice(0, -1).every((r) => r.faults.includes("CutBody"))).toBe(true)
    }).pipe(Effect.provide(node.layer()), Effect.provide(Testing.layer())))
})
