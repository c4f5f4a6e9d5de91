import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"
import * as MediaType from "../src/MediaType.js"
import * as FakeHttp from "./support/FakeHttp.js"
import {
  base,
  failureOf,
  headerValues,
  headResponse,
  jsonBytes,
  manifestResponse,
  ref,
  repository,
  setup,
  withRepo
} from "./support/RepositoryFixture.js"

const listPath = `/v2/${repository}/tags/list`
const tagList = (tags: ReadonlyArray<string> | null, link?: string) =>
  FakeHttp.json(200, { name: repository, tags }, link === undefined ? {} : { link })

const allTags = (pageSize?: number) =>
  withRepo((r) => Stream.runCollect(r.tags(ref(""), pageSize === undefined ? {} : { pageSize }))).pipe(
    Effect.map(Chunk.toReadonlyArray)
  )

describe("tags", () => {
  it.effect("follows relative and absolute Link headers, sending n on the first page", () => {
    const t = setup((request) => {
      const last = request.url.searchParams.get("last")
      if (last === null) return tagList(["a", "b"], `<${listPath}?n=2&last=b>; rel="next"`)
      if (last === "b") return tagList(["c", "d"], `<${base}${listPath}?n=2&last=d>; rel="next"`)
      return tagList(["e"])
    })
    return Effect.gen(function*() {
      expect(yield* allTags(2)).toEqual(["a", "b", "c", "d", "e"])
      expect(t.lines()).toEqual([
        `GET ${listPath}?n=2`,
        `GET ${listPath}?n=2&last=b`,
        `GET ${listPath}?n=2&last=d`
      ])
      for (const r of t.requests) {
        expect(r.url.host).toBe("registry.example")
        expect(r.headers["accept"]).toBe("application/json")
      }
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("without a page size no n is sent", () => {
    const t = setup(() => tagList(["x"]))
    return Effect.gen(function*() {
      expect(yield* allTags()).toEqual(["x"])
      expect(t.lines()).toEqual([`GET ${listPath}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a registry that ignores pagination (all tags, no Link) takes one request", () => {
    const tags = Array.from({ length: 250 }, (_, i) => `t${249 - i}`)
    const t = setup(() => tagList(tags))
    return Effect.gen(function*() {
      expect(yield* allTags(10)).toEqual(tags)
      expect(t.lines()).toEqual([`GET ${listPath}?n=10`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a Link that points at a page already read ends the walk", () => {
    // the registry ignores `last` and keeps announcing the same next page
    const loop = setup((request) =>
      request.url.searchParams.has("last")
        ? tagList(["c"], `<${listPath}?n=2&last=b>; rel="next"`)
        : tagList(["a", "b"], `<${listPath}?n=2&last=b>; rel="next"`)
    )
    // the second page sends us back to the first
    const back = setup((request) =>
      request.url.searchParams.has("last")
        ? tagList(["c"], `<${listPath}?n=2>; rel="next"`)
        : tagList(["a", "b"], `<${listPath}?n=2&last=b>; rel="next"`)
    )
    // at most 20 tags, so that a client that does loop fails here instead of hanging
    const bounded = withRepo((r) => Stream.runCollect(Stream.take(r.tags(ref(""), { pageSize: 2 }), 20))).pipe(
      Effect.map(Chunk.toReadonlyArray)
    )
    return Effect.gen(function*() {
      expect(yield* bounded.pipe(Effect.provide(loop.layer))).toEqual(["a", "b", "c"])
      expect(loop.requests).toHaveLength(2)
      expect(yield* bounded.pipe(Effect.provide(back.layer))).toEqual(["a", "b", "c"])
      expect(back.requests).toHaveLength(2)
    })
  })

  it.effect("`tags: null` is an empty list", () => {
    const t = setup(() => tagList(null))
    return Effect.gen(function*() {
      expect(yield* allTags()).toEqual([])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("picks the rel=\"next\" link among several; a Link without rel counts as next", () => {
    const t = setup((request) => {
      const last = request.url.searchParams.get("last")
      if (last === null) {
        return tagList(["a"], `<${listPath}?last=zzz>; rel="prev", <${listPath}?last=a>; rel="next"`)
      }
      if (last === "a") return tagList(["b"], `<${listPath}?last=b>`)
      return tagList(["c"])
    })
    return Effect.gen(function*() {
      expect(yield* allTags()).toEqual(["a", "b", "c"])
      expect(t.lines()).toEqual([`GET ${listPath}`, `GET ${listPath}?last=a`, `GET ${listPath}?last=b`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a failing later page fails the stream after the earlier tags were emitted", () => {
    const t = setup((_, i) =>
      i === 0 ? tagList(["a", "b"], `<${listPath}?last=b>; rel="next"`) : FakeHttp.errorBody(403, "DENIED", "no")
    )
    return Effect.gen(function*() {
      const seen: Array<string> = []
      const result = yield* withRepo((r) =>
        Stream.runForEach(r.tags(ref("")), (tag) => Effect.sync(() => seen.push(tag)))
      ).pipe(Effect.either)
      expect(seen).toEqual(["a", "b"])
      expect(Either.isLeft(result) && result.left._tag).toBe("Denied")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect.each([
    ["a NAME_UNKNOWN body", () => FakeHttp.errorBody(404, "NAME_UNKNOWN", "repository name not known to registry")],
    ["no body", () => new Response(null, { status: 404 })]
  ] as const)("a 404 with %s is NameUnknown", ([, answer]) => {
    const t = setup(answer)
    return Effect.gen(function*() {
      const error = yield* failureOf(allTags())
      expect(error._tag).toBe("NameUnknown")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a body that is not a tag list is InvalidResponse", () => {
    const t = setup((_, i) => (i === 0 ? new Response("<html>", { status: 200 }) : FakeHttp.json(200, { tags: [1] })))
    return Effect.gen(function*() {
      expect((yield* failureOf(allTags()))._tag).toBe("InvalidResponse")
      expect((yield* failureOf(allTags()))._tag).toBe("InvalidResponse")
    }).pipe(Effect.provide(t.layer))
  })
})

describe("tagsPage", () => {
  it.effect("sends n and last, and returns the next page's absolute URL", () => {
    const t = setup((request) =>
      request.url.searchParams.get("last") === "b"
        ? tagList(["c", "d"], `<${listPath}?n=2&last=d>; rel="next"`)
        : tagList(["e"])
    )
    return Effect.gen(function*() {
      const page = yield* withRepo((r) => r.tagsPage(ref(""), { n: 2, last: "b" }))
      expect(page).toEqual({ items: ["c", "d"], next: `${base}${listPath}?n=2&last=d` })
      expect(t.lines()).toEqual([`GET ${listPath}?n=2&last=b`])
      const lastPage = yield* withRepo((r) => r.tagsPage(ref(""), { n: 2, last: "d" }))
      expect(lastPage).toEqual({ items: ["e"], next: undefined })
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 404 without body is NameUnknown here too", () => {
    const t = setup(() => new Response(null, { status: 404 }))
    return Effect.gen(function*() {
      expect((yield* failureOf(withRepo((r) => r.tagsPage(ref("")))))._tag).toBe("NameUnknown")
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("`last` is URL-encoded", () => {
    const t = setup(() => tagList([]))
    return Effect.gen(function*() {
      yield* withRepo((r) => r.tagsPage(ref(""), { last: "a&b=c" }))
      expect(t.requests[0]!.url.searchParams.get("last")).toBe("a&b=c")
      expect([...t.requests[0]!.url.searchParams.keys()]).toEqual(["last"])
    }).pipe(Effect.provide(t.layer))
  })
})

describe("resolve", () => {
  const bytes = jsonBytes({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: "application/vnd.example+type",
    config: { mediaType: MediaType.OciEmpty, digest: Digest.compute("{}"), size: 2 },
    layers: []
  })
  const digest = Digest.compute(bytes)
  const path = (id: string) => `/v2/${repository}/manifests/${id}`

  it.effect("a HEAD with Docker-Content-Digest gives the descriptor without a GET", () => {
    const t = setup(() =>
      headResponse(200, {
        "content-type": `${MediaType.OciManifest}; charset=utf-8`,
        "content-length": String(bytes.byteLength),
        "docker-content-digest": digest
      })
    )
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((r) => r.resolve(ref(":v1")))
      expect(descriptor).toEqual({ mediaType: MediaType.OciManifest, digest, size: bytes.byteLength })
      expect(t.lines()).toEqual([`HEAD ${path("v1")}`])
      expect(headerValues(t.requests[0]!.headers["accept"])).toEqual(MediaType.defaultAccept)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a HEAD without Docker-Content-Digest falls back to a GET and computes the digest", () => {
    const t = setup((request) =>
      request.method === "HEAD"
        ? headResponse(200, { "content-type": MediaType.OciManifest, "content-length": String(bytes.byteLength) })
        : manifestResponse(bytes, MediaType.OciManifest, { digest: null })
    )
    return Effect.gen(function*() {
      const descriptor = yield* withRepo((r) => r.resolve(ref(":v1")))
      expect(descriptor).toEqual({
        mediaType: MediaType.OciManifest,
        digest,
        size: bytes.byteLength,
        artifactType: "application/vnd.example+type"
      })
      expect(t.lines()).toEqual([`HEAD ${path("v1")}`, `GET ${path("v1")}`])
      expect(headerValues(t.requests[1]!.headers["accept"])).toEqual(MediaType.defaultAccept)
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a HEAD refused with 405 falls back to a GET too", () => {
    const t = setup((request) =>
      request.method === "HEAD" ? headResponse(405) : manifestResponse(bytes, MediaType.OciManifest)
    )
    return Effect.gen(function*() {
      expect((yield* withRepo((r) => r.resolve(ref(":v1")))).digest).toBe(digest)
      expect(t.lines()).toEqual([`HEAD ${path("v1")}`, `GET ${path("v1")}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("an unknown tag: the GET's error body decides (NAME_UNKNOWN vs MANIFEST_UNKNOWN)", () => {
    const t = setup((request, i) =>
      request.method === "HEAD"
        ? headResponse(404)
        : i === 1
        ? FakeHttp.errorBody(404, "NAME_UNKNOWN", "repository name not known to registry")
        : FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")
    )
    return Effect.gen(function*() {
      expect((yield* failureOf(withRepo((r) => r.resolve(ref(":v1")))))._tag).toBe("NameUnknown")
      expect((yield* failureOf(withRepo((r) => r.resolve(ref(":v1")))))._tag).toBe("ManifestUnknown")
      expect(t.lines()).toEqual([`HEAD ${path("v1")}`, `GET ${path("v1")}`, `HEAD ${path("v1")}`, `GET ${path("v1")}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("by digest: a HEAD naming another digest is a DigestMismatch", () => {
    const other = Digest.compute("other")
    const t = setup(() =>
      headResponse(200, {
        "content-type": MediaType.OciManifest,
        "content-length": "10",
        "docker-content-digest": other
      })
    )
    return Effect.gen(function*() {
      const error = yield* failureOf(withRepo((r) => r.resolve(ref(`@${digest}`))))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: digest, actual: other })
      expect(t.lines()).toEqual([`HEAD ${path(digest)}`])
    }).pipe(Effect.provide(t.layer))
  })

  it.effect("a 403 on the HEAD is Denied without a GET", () => {
    const t = setup(() => headResponse(403))
    return Effect.gen(function*() {
      expect((yield* failureOf(withRepo((r) => r.resolve(ref(":v1")))))._tag).toBe("Denied")
      expect(t.requests).toHaveLength(1)
    }).pipe(Effect.provide(t.layer))
  })
})
