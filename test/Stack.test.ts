/**
 * The stack on a chosen HttpClient: `node.layer({ httpClient })` and `Stack.layer` really send
 * through the client given (in process; the same over fetch under Node, Bun and Deno with the
 * packed package is in Package.test.ts).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as node from "../src/node.js"
import * as Reference from "../src/Reference.js"
import * as Repository from "../src/Repository.js"
import * as Stack from "../src/Stack.js"
import * as Testing from "../src/testing/index.js"

/** fetch, counting the requests sent through it into `sent`. */
const countingFetch = (sent: Ref.Ref<number>) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, HttpClient.tapRequest(() => Ref.update(sent, (n) => n + 1)))
  ).pipe(Layer.provide(Stack.layerFetchHttpClient()))

const pushAndResolve = (host: string) =>
  Effect.gen(function*() {
    const repo = yield* Repository.Repository
    const ref = yield* Reference.parse(`${host}/stack/app:v1`)
    const blob = yield* repo.putBlob(ref, new TextEncoder().encode("hello"))
    const again = yield* repo.statBlob(ref, blob.digest)
    return { blob, again }
  })

describe("the stack on a chosen HttpClient", () => {
  it.live.each([
    ["node.layer({ httpClient })", (client: Layer.Layer<HttpClient.HttpClient>) => node.layer({ httpClient: client })],
    ["Stack.layer(httpClient)", (client: Layer.Layer<HttpClient.HttpClient>) => Stack.layer(client)]
  ] as const)("%s sends every request through it", ([_, stack]) =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const sent = yield* Ref.make(0)
      const { again, blob } = yield* pushAndResolve(registry.host).pipe(Effect.provide(stack(countingFetch(sent))))
      expect(again).toEqual(blob)
      const log = yield* registry.requests
      expect(log.length).toBeGreaterThanOrEqual(3)
      expect(yield* Ref.get(sent)).toBe(log.length)
    }).pipe(Effect.provide(Testing.layer())))

  it.live("Stack.layerFetch is anonymous unless given credentials", () =>
    Effect.gen(function*() {
      const registry = yield* Testing.TestRegistry
      const error = yield* pushAndResolve(registry.host).pipe(Effect.provide(Stack.layerFetch()), Effect.flip)
      expect(error._tag).toBe("Unauthorized")
      const log = yield* registry.requests
      expect(log.every((r) => r.authorization === "none")).toBe(true)
    }).pipe(Effect.provide(Testing.layer({ auth: { mode: "basic", users: { alice: "wonderland" } } }))))
})
