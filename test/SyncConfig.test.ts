/**
 * The sync config file: the shape parses; wrong types, unknown keys and bad values give one
 * line naming the file, line and key; JSON keeps line numbers too.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as config from "../src/internal/sync/config.js"
import * as Sync from "../src/Sync.js"

const parse = (text: string) => config.parse(text, "sync.yaml")

const errorOf = (text: string): string => {
  const result = parse(text)
  if (Either.isRight(result)) throw new Error(`expected an error for:\n${text}`)
  return result.left.message
}

const mapping = (extra: string) =>
  `mappings:
  - from: docker://src.example:5000/team/app
    to: docker://dst.example:5000/mirror/team/app
${extra}`

describe("Sync config", () => {
  it("reads the issue's example", () => {
    const result = parse(mapping(`    tags: { regex: "^v[0-9]", semver: ">=1.2.0", newest: 5 }
    platforms: [linux/amd64, linux/arm64]
    referrers: true
`))
    expect(Either.getOrThrow(result).mappings[0]).toEqual({
      from: "docker://src.example:5000/team/app",
      to: "docker://dst.example:5000/mirror/team/app",
      tags: { regex: "^v[0-9]", semver: ">=1.2.0", newest: 5 },
      platforms: ["linux/amd64", "linux/arm64"],
      referrers: true
    })
  })

  it("reads the registry limits", () => {
    const result = Either.getOrThrow(parse(`maxConcurrentRequests: 4
registries:
  src.example:5000: { maxConcurrentRequests: 2 }
  docker.io: {}
${mapping("")}`))
    expect(Sync.politenessOf(result)).toEqual({
      maxConcurrentRequests: 4,
      registries: { "src.example:5000": { maxConcurrentRequests: 2 }, "docker.io": {} }
    })
  })

  it("reads prefixes and references without the scheme", () => {
    expect(config.parseLocation("docker://src.example:5000/team/*")).toEqual(
      Either.right({ _tag: "Prefix", registry: "src.example:5000", prefix: "team" })
    )
    expect(config.parseLocation("localhost:5000/*")).toEqual(
      Either.right({ _tag: "Prefix", registry: "localhost:5000", prefix: "" })
    )
    expect(config.parseLocation("src.example/a/b")).toEqual(
      Either.right({ _tag: "Repository", registry: "src.example", repository: "a/b" })
    )
  })

  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["a wrong type", mapping(`    tags: { regex: "^v", newest: five }\n`), "sync.yaml:4: mappings[0].tags.newest: expected a whole number above 0"],
    ["a zero count", mapping(`    tags:\n      newest: 0\n`), "sync.yaml:5: mappings[0].tags.newest: expected a whole number above 0"],
    ["an unknown key", mapping(`    tagz: {}\n`), "sync.yaml:4: mappings[0].tagz: unknown key"],
    ["an unknown filter", mapping(`    tags: { newst: 3 }\n`), "sync.yaml:4: mappings[0].tags.newst: unknown key"],
    ["an unknown top-level key", `mapings: []\n`, "sync.yaml:1: mapings: unknown key"],
    ["a missing key", `mappings:\n  - to: docker://dst.example/a\n`, "sync.yaml:2: mappings[0].from: is required"],
    ["no mappings", `mappings: []\n`, "sync.yaml:1: mappings: needs at least one mapping"],
    ["a registry limit of zero", `maxConcurrentRequests: 0\n${mapping("")}`, "sync.yaml:1: maxConcurrentRequests: expected a whole number above 0"],
    ["a registry that is not a host", `registries:\n  src.example/team: { maxConcurrentRequests: 2 }\n${mapping("")}`, "sync.yaml:2: registries.src.example/team: not a registry (host or host:port)"],
    ["an unknown registry setting", `registries:\n  src.example:5000: { maxRequests: 2 }\n${mapping("")}`, "sync.yaml:2: registries.src.example:5000.maxRequests: unknown key"],
    ["a bad regex", mapping(`    tags: { regex: "(" }\n`), "sync.yaml:4: mappings[0].tags.regex: not a regular expression: Invalid regular expression: /(/: Unterminated group"],
    ["a bad range", mapping(`    tags: { semver: "soon" }\n`), `sync.yaml:4: mappings[0].tags.semver: not a semver range: "soon"`],
    ["a bad boolean", mapping(`    referrers: yes\n`), `sync.yaml:4: mappings[0].referrers: Expected boolean, actual "yes"`],
    ["a tag in from", `mappings:\n  - from: docker://src.example/app:v1\n    to: docker://dst.example/app\n`, "sync.yaml:2: mappings[0].from: names a tag or digest; select tags with `tags` instead"],
    ["a prefix into one repository", `mappings:\n  - from: docker://src.example/app\n    to: docker://dst.example/mirror/*\n`, "sync.yaml:3: mappings[0].to: a single repository maps to a single repository (drop the /*)"],
    ["a bad name", `mappings:\n  - from: docker://src.example/App\n    to: docker://dst.example/app\n`, `sync.yaml:2: mappings[0].from: not a repository: repository name must be lowercase ("A" at index 12)`],
    ["another scheme", `mappings:\n  - from: oci://dir\n    to: docker://dst.example/app\n`, "sync.yaml:2: mappings[0].from: only docker:// locations are supported"],
    ["a bad platform", mapping(`    platforms:\n      - linux/amd64\n      - linux\n`), "sync.yaml:6: mappings[0].platforms[1]:"],
    ["broken YAML", `mappings:\n  - from: [a\n`, "sync.yaml:"]
  ]
  for (const [name, text, expected] of cases) {
    it(`reports ${name} in one line`, () => {
      const message = errorOf(text)
      expect(message.startsWith(expected)).toBe(true)
      expect(message).not.toContain("\n")
    })
  }

  it("keeps line numbers for JSON", () => {
    const json = `{
  "mappings": [
    {
      "from": "docker://src.example/app",
      "to": "docker://dst.example/app",
      "tags": { "newest": "3" }
    }
  ]
}`
    expect(errorOf(json)).toBe("sync.yaml:6: mappings[0].tags.newest: expected a whole number above 0")
  })

  it.effect("parseConfig fails with a typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Sync.parseConfig("mappings: 3", "x.yaml"))
      expect(error._tag).toBe("SyncConfigError")
      expect(error).toMatchObject({ file: "x.yaml", line: 1, key: "mappings" })
    }))
})
