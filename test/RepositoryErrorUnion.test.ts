import { describe, expect, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Repository from "../src/Repository.js"
import * as RegistryError from "../src/RegistryError.js"

type Service = Repository.Repository["Type"]
declare const service: Service

// The error channel of an operation's Effect or Stream.
type ErrorOfResult<R> = R extends Effect.Effect<any, infer E, any> ? E
  : R extends Stream.Stream<any, infer E, any> ? E
  : never
type ErrorOf<F> = F extends (...args: ReadonlyArray<any>) => infer R ? ErrorOfResult<R> : never

// Operations generic in a body stream's error `E` infer `unknown` above (so they would escape and
// fail the check below); here they are instantiated with a body that cannot fail.
type Instantiated = {
  putBlob: typeof service.putBlob<never, never>
  resumeUpload: typeof service.resumeUpload<never, never>
}
type Operations = Omit<Service, keyof Instantiated> & Instantiated

type Escaping = {
  [K in keyof Operations]: [ErrorOf<Operations[K]>] extends [Repository.Error] ? never : K
}[keyof Operations]

// Compile-time check (`npm test` runs tsc over the tests): an operation whose error type is not
// covered by Repository.Error makes `Escaping` its name, and this line fails to compile.
const noneEscape: [Escaping] extends [never] ? true : Escaping = true

describe("Repository.Error", () => {
  it("covers every operation's error channel", () => {
    expect(noneEscape).toBe(true)
  })

  it("is what a caller's own signature can name", () => {
    const tagOf = (e: Repository.Error): string => e._tag
    expect(tagOf(new RegistryError.ManifestUnknown({ status: 404, message: "m", errors: [] }))).toBe("ManifestUnknown")
  })
})
