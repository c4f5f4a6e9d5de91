import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as FakeHttp from "./support/FakeHttp.js"
import { base, failureOf, registry, setup, withRepo } from "./support/RepositoryFixture.js"

const catalogPath = "/v2/_catalog"
const page = (repositories: ReadonlyArray<string> | null, link?: string) =>
  FakeHttp.json(200, { repositories }, link === undefined ? {} : { link })

/** A registry with a sorted catalog that pages like distribution: `n` per page after `last`, relative Link. */
const distribution = (names: ReadonlyArray<string>) => (request: FakeHttp.Recorded) => {
  const n = Number(request.url.searchParams.get("n") ?? names.length)
  const last = request.url.searchParams.get("last")
  const from = last === null ? 0 : names.findIndex((name) => name > last)
  const items = from === -1 ? [] : names.slice(from, from + n)
  const more = from !== -1 && from + n < names.length
  return page(
    items,
    more ? `<${catalogPath}?last=${encodeURIComponent(items[items.length - 1]!)}&n=${n}>; rel="next"` : undefined
  )
}

const names = ["alpha", "library/alpine", "team/app", "team/other", "test/five-layers", "zeta"]

describe("catalog", () => {
  it.effect("streams every repository, following relative Link headers, with n on every page", () => {
    const t = setup(distribution(names))
    return Effect.gen(function*() {
      const all = yield* withRepo((r) => Stream.runCollect(r.catalog(registry, { pageSize: 2 })))
      expect(Chunk.toReadonlyArray(all)).toEqual(names)
      expect(t.lines()).toEqual([
        `GET ${catalogPath}?n=2`,
        `GET ${catalogPath}?last=library%2Falpine&n=2`,
        `GET ${catalogPath}?last=team%2Fother&n=2`
      ])
      for (const r of t.requests) {
        expect(r.url.host).toBe(registry)
        expect(r.headers["accept"]).toBe("application/json")
      }
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("follows an absolute Link; a page of `repositories: null` is empty", () => {
    const t = setup((request) =>
      request.url.searchParams.has("last")
        ? page(null)
        : page(["a"], `<${base}${catalogPath}?last=a>; rel="next"`)
    )
    return Effect.gen(function*() {
      const all = yield* withRepo((r) => Stream.runCollect(r.catalog(registry)))
      expect(Chunk.toReadonlyArray(all)).toEqual(["a"])
      expect(t.lines()).toEqual([`GET ${catalogPath}`, `GET ${catalogPath}?last=a`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("the page API sends n and last and returns the next page's URL", () => {
    const t = setup(distribution(names))
    return Effect.gen(function*() {
      const first = yield* withRepo((r) => r.catalogPage(registry, { n: 3 }))
      expect(first).toEqual({
        items: ["alpha", "library/alpine", "team/app"],
        next: `${base}${catalogPath}?last=team%2Fapp&n=3`
      })
      const second = yield* withRepo((r) => r.catalogPage(registry, { n: 3, last: "team/app" }))
      expect(second).toEqual({ items: ["team/other", "test/five-layers", "zeta"], next: undefined })
      expect(t.requests[1]!.url.searchParams.get("n")).toBe("3")
      expect(t.requests[1]!.url.searchParams.get("last")).toBe("team/app")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("asks a token server for registry:catalog:*", () => {
    // no scope in the challenge: what the token request asks for comes from the client alone
    const challenge = `Bearer realm="https://auth.example/token",service="${registry}"`
    const t = setup((request) => {
      if (request.url.host === "auth.example") return FakeHttp.json(200, { token: "cat" })
      return request.headers["authorization"] === "Bearer cat"
        ? page(["x"])
        : FakeHttp.errorBody(401, "UNAUTHORIZED", "", { "www-authenticate": challenge })
    })
    return Effect.gen(function*() {
      const all = yield* withRepo((r) => Stream.runCollect(r.catalog(registry)))
      expect(Chunk.toReadonlyArray(all)).toEqual(["x"])
      expect((yield* withRepo((r) => r.catalogPage(registry))).items).toEqual(["x"])
      const tokens = t.requests.filter((r) => r.url.host === "auth.example")
      expect(tokens.length).toBeGreaterThan(0)
      for (const token of tokens) expect(token.url.searchParams.getAll("scope")).toEqual(["registry:catalog:*"])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a page size the registry refuses is PaginationNumberInvalid", () => {
    const t = setup(() => FakeHttp.errorBody(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested"))
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => Stream.runCollect(r.catalog(registry, { pageSize: 5000 }))))
      expect(error._tag).toBe("PaginationNumberInvalid")
      expect(t.lines()).toEqual([`GET ${catalogPath}?n=5000`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a body that is not a catalog is InvalidResponse", () => {
    const t = setup(() => FakeHttp.json(200, { repositories: "nope" }))
    return Effect.gen(function*() {
      expect((yield* failureOf(withRepo((r) => r.catalogPage(registry))))._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(t.layer))
  })
})
