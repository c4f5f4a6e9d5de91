/**
 * Token scopes (`repository:NAME:pull,push`, `registry:catalog:*`): construction, parsing,
 * formatting and merging.
 *
 * Scopes are kept normalised — actions deduplicated and sorted — so that two scopes that grant the
 * same access compare and format equally whatever order a server listed the actions in (registry
 * 2.8 emits `pull,push` and `push,pull` at random).
 *
 * @internal
 */
import type { Scope } from "../Auth.js"

const normaliseActions = (actions: Iterable<string>): ReadonlyArray<string> =>
  Array.from(new Set(Array.from(actions, (a) => a.trim()).filter((a) => a !== ""))).sort()

/** @internal */
export const make = (type: string, name: string, actions: Iterable<string>): Scope => ({
  type,
  name,
  actions: normaliseActions(actions)
})

/** @internal */
export const repository = (name: string, ...actions: ReadonlyArray<string>): Scope =>
  make("repository", name, actions)

/** @internal */
export const pull = (name: string): Scope => repository(name, "pull")

/** @internal */
export const push = (name: string): Scope => repository(name, "pull", "push")

/** @internal */
export const catalog: Scope = make("registry", "catalog", ["*"])

/** @internal */
export const format = (scope: Scope): string => `${scope.type}:${scope.name}:${scope.actions.join(",")}`

/**
 * Parses one scope; the name is everything between the first and the last `:` (names never
 * contain `:`, but a resource type like `repository(plugin)` is allowed).
 *
 * @internal
 */
export const parse = (input: string): Scope | undefined => {
  const s = input.trim()
  const first = s.indexOf(":")
  const last = s.lastIndexOf(":")
  if (first <= 0 || last === first || last === first + 1) return undefined
  return make(s.slice(0, first), s.slice(first + 1, last), s.slice(last + 1).split(","))
}

/** Parses a space-separated list of scopes (a challenge's `scope` parameter), dropping bad ones. @internal */
export const parseAll = (input: string | undefined): ReadonlyArray<Scope> =>
  input === undefined
    ? []
    : input.split(/\s+/).flatMap((part) => {
      const scope = parse(part)
      return scope === undefined ? [] : [scope]
    })

/**
 * Merges scopes per resource (`repository:a:pull` + `repository:a:push` → `repository:a:pull,push`)
 * and sorts the result, so equal access always gives an equal list.
 *
 * @internal
 */
export const merge = (...lists: ReadonlyArray<ReadonlyArray<Scope>>): ReadonlyArray<Scope> => {
  const byResource = new Map<string, { type: string; name: string; actions: Set<string> }>()
  for (const list of lists) {
    for (const scope of list) {
      const key = `${scope.type}:${scope.name}`
      const entry = byResource.get(key)
      if (entry === undefined) {
        byResource.set(key, { type: scope.type, name: scope.name, actions: new Set(scope.actions) })
      } else {
        for (const action of scope.actions) entry.actions.add(action)
      }
    }
  }
  return Array.from(byResource.entries())
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, e]) => make(e.type, e.name, e.actions))
}

/** A stable key for a set of scopes (merged, sorted, formatted). @internal */
export const key = (scopes: ReadonlyArray<Scope>): string => merge(scopes).map(format).join(" ")
