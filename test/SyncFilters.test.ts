/** Tag filters: regex, semver range and newest N combine; newest orders by semver. */
import { describe, expect, it } from "@effect/vitest"
import { compareNewestFirst, selectTags } from "../src/internal/sync/filters.js"

const tags = ["latest", "v1.0.0", "v1.10.0", "v1.2.0", "v2.0.0-rc.1", "v2.0.0", "1.9.0", "dev", "v0.9.0"]

describe("Sync tag filters", () => {
  it("keeps every tag without filters, in order", () => {
    expect(selectTags(tags, undefined)).toEqual(tags)
    expect(selectTags(tags, {})).toEqual(tags)
  })

  it("filters by regex", () => {
    expect(selectTags(tags, { regex: "^v1\\." })).toEqual(["v1.0.0", "v1.10.0", "v1.2.0"])
  })

  it("filters by semver range; tags that are no version fail it", () => {
    expect(selectTags(tags, { semver: ">=1.2.0 <2.0.0" })).toEqual(["v1.10.0", "v1.2.0", "1.9.0"])
    expect(selectTags(tags, { semver: "*" })).not.toContain("latest")
  })

  it("orders newest by semver, not lexically, and puts other tags after versions", () => {
    expect(selectTags(tags, { newest: 4 })).toEqual(["v2.0.0", "v2.0.0-rc.1", "v1.10.0", "1.9.0"])
    expect([...tags].sort(compareNewestFirst).slice(-3)).toEqual(["v0.9.0", "latest", "dev"])
  })

  it("combines: newest picks among the tags the other filters let through", () => {
    expect(selectTags(tags, { regex: "^v", semver: "<2.0.0", newest: 2 })).toEqual(["v1.10.0", "v1.2.0"])
    expect(selectTags(tags, { regex: "^v", semver: ">=3.0.0", newest: 2 })).toEqual([])
  })
})
