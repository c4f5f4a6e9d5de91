/**
 * The command line's stack keeps what the Node client tells the Transport: with its options on top
 * (`--plain-http`, `-v`), the Transport still takes file bodies the client pulls (so `push` reads
 * files into reused buffers, as the library does), also behind a layer around the client (sync's
 * politeness), whose client is the one that sends.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Globals } from "../../src/cli/global.js"
import * as Stack from "../../src/cli/stack.js"
import * as Transport from "../../src/Transport.js"

const globals = (overrides: Partial<Globals>): Globals => ({
  plainHttp: false,
  insecure: [],
  caFile: Option.none(),
  tlsVerify: "true",
  concurrency: Option.none(),
  retryTimes: Option.none(),
  verbose: false,
  quiet: false,
  json: false,
  ...overrides
})

describe("cli stack", () => {
  for (const [name, g] of [
    ["defaults", globals({})],
    ["--plain-http -v", globals({ plainHttp: true, verbose: true })]
  ] as const) {
    it.scoped(`${name}: the Transport takes pulled file bodies and keeps the options`, () =>
      Effect.gen(function*() {
        const transport = yield* Transport.Transport
        expect(transport.iterableBodies).toBe(true)
        expect(transport.baseUrl("registry.example:5000")).toBe(
          `${g.plainHttp ? "http" : "https"}://registry.example:5000`
        )
      }).pipe(Effect.provide(Layer.orDie(Stack.transportLayer(g, {})))))
  }

  it.scoped("behind a layer around the client: that layer's client sends, and pulled file bodies are still taken", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const around = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.transform(client, (effect, request) => {
            seen.push(request.url)
            return effect
          }))
      )
      const transport = yield* Effect.provide(Transport.Transport, Layer.orDie(Stack.transportLayer(globals({ retryTimes: Option.some(0) }), {}, around)))
      expect(transport.iterableBodies).toBe(true)
      // nothing listens there: the request fails, but only after `around` saw it
      yield* Effect.ignore(transport.execute(HttpClientRequest.get("http://127.0.0.1:9/v2/")))
      expect(seen.length).toBeGreaterThan(0)
    }))
})
