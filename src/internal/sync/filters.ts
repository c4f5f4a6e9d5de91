/**
 * Tag filters of a sync mapping: `regex`, `semver` and `newest` combine (a tag must pass every one
 * given; `newest` picks among the tags the others let through).
 *
 * @internal
 */
import * as semver from "semver"
import type { TagFilter } from "./config.js"

/** The version a tag spells (`v1.2.3`, `1.2.3`, `=1.2.3`), or `null`. Strict: `1.2` is no version. */
export const versionOf = (tag: string): semver.SemVer | null => semver.parse(tag)

/**
 * Newest first: versions by semver precedence (highest first), then tags that are not versions in
 * reverse lexical order (registries report no creation time for a tag without reading its config).
 */
export const compareNewestFirst = (a: string, b: string): number => {
  const va = versionOf(a)
  const vb = versionOf(b)
  if (va !== null && vb !== null) return semver.rcompare(va, vb) || (a < b ? 1 : a > b ? -1 : 0)
  if (va !== null) return -1
  if (vb !== null) return 1
  return a < b ? 1 : a > b ? -1 : 0
}

/** The tags a filter selects, newest first when `newest` is given, else in the order given. */
export const selectTags = (tags: ReadonlyArray<string>, filter: TagFilter | undefined): ReadonlyArray<string> => {
  if (filter === undefined) return tags
  const regex = filter.regex === undefined ? undefined : new RegExp(filter.regex)
  const range = filter.semver === undefined ? undefined : new semver.Range(filter.semver)
  const passing = tags.filter((tag) => {
    if (regex !== undefined && !regex.test(tag)) return false
    if (range !== undefined) {
      const version = versionOf(tag)
      if (version === null || !range.test(version)) return false
    }
    return true
  })
  return filter.newest === undefined ? passing : [...passing].sort(compareNewestFirst).slice(0, filter.newest)
}
