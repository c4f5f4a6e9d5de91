/**
 * The sync config file: its Schema, parsing YAML or JSON (one parser: JSON is read as YAML 1.2, so
 * both keep line numbers), and errors that name the file, line and key.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as semver from "semver"
import * as YAML from "yaml"
import * as Manifest from "../../Manifest.js"
import * as Reference from "../../Reference.js"

/** A sync config file could not be read or does not follow the schema. */
export class SyncConfigError extends Schema.TaggedError<SyncConfigError>()("SyncConfigError", {
  file: Schema.String,
  line: Schema.optional(Schema.Number),
  key: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    const where = this.line === undefined ? this.file : `${this.file}:${this.line}`
    return this.key === undefined ? `${where}: ${this.reason}` : `${where}: ${this.key}: ${this.reason}`
  }
}

const schemePrefix = "docker://"

/** Where a mapping reads or writes: one repository, or every repository under a prefix. */
export type Location =
  | { readonly _tag: "Repository"; readonly registry: string; readonly repository: string }
  | { readonly _tag: "Prefix"; readonly registry: string; readonly prefix: string }

/**
 * Parses `docker://host[:port]/path`, `…/prefix/*` or `docker://host/*` (the scheme may be left
 * out). A prefix is kept without its trailing `/` (empty for the whole registry).
 */
export const parseLocation = (input: string): Either.Either<Location, string> => {
  const body = input.startsWith(schemePrefix) ? input.slice(schemePrefix.length) : input
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(body)) return Either.left(`only docker:// locations are supported`)
  const isPrefix = body.endsWith("/*")
  const path = isPrefix ? body.slice(0, -2) : body
  // A prefix must name a registry: check it as a repository `x` below it.
  const probe = isPrefix ? `${path}/x` : path
  const parsed = Reference.parseEither(probe)
  if (Either.isLeft(parsed)) return Either.left(`not a repository: ${parsed.left.reason}`)
  const ref = parsed.right
  if (ref.tag !== undefined || ref.digest !== undefined) {
    return Either.left("names a tag or digest; select tags with `tags` instead")
  }
  if (!isPrefix) return Either.right({ _tag: "Repository", registry: ref.registry, repository: ref.repository })
  const hasRegistry = path.includes("/") || path.includes(".") || path.includes(":") || path === "localhost"
  if (!hasRegistry) return Either.left("a prefix needs a registry host, e.g. docker://host:5000/team/*")
  return Either.right({ _tag: "Prefix", registry: ref.registry, prefix: ref.repository.slice(0, -"/x".length) })
}

const LocationString = Schema.String.pipe(
  Schema.filter((s) => Either.match(parseLocation(s), { onLeft: (reason) => reason, onRight: () => true }), {
    identifier: "Location"
  })
)

const RegexString = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      new RegExp(s)
      return true
    } catch (e) {
      return `not a regular expression: ${e instanceof Error ? e.message : String(e)}`
    }
  })
)

const SemverRange = Schema.String.pipe(
  Schema.filter((s) => semver.validRange(s) !== null || `not a semver range: ${JSON.stringify(s)}`)
)

const PlatformString = Schema.String.pipe(
  Schema.filter((s) =>
    Either.match(Manifest.parsePlatformEither(s), { onLeft: (e) => e.message, onRight: () => true })
  )
)

const strict = { onExcessProperty: "error" } as const

const PositiveInteger = Schema.Number.pipe(Schema.filter((n) => Number.isInteger(n) && n > 0)).annotations({
  message: () => ({ message: "expected a whole number above 0", override: true })
})

/** The tag filters of a mapping; a tag must pass every one given. */
export const TagFilter = Schema.Struct({
  regex: Schema.optional(RegexString),
  semver: Schema.optional(SemverRange),
  newest: Schema.optional(PositiveInteger)
}).annotations({ parseOptions: strict })

/** The tag filters of a mapping. */
export type TagFilter = typeof TagFilter.Type

/** One source → destination mapping as written in the file. */
export const Mapping = Schema.Struct({
  from: LocationString,
  to: LocationString,
  tags: Schema.optional(TagFilter),
  platforms: Schema.optional(Schema.Array(PlatformString)),
  referrers: Schema.optional(Schema.Boolean)
}).pipe(
  Schema.filter((m) => {
    const from = parseLocation(m.from)
    const to = parseLocation(m.to)
    if (Either.isRight(from) && Either.isRight(to) && from.right._tag === "Repository" && to.right._tag === "Prefix") {
      return { path: ["to"], message: "a single repository maps to a single repository (drop the /*)" }
    }
    return true
  })
).annotations({ parseOptions: strict })

/** One mapping as written in the file. */
export type Mapping = typeof Mapping.Type

/** Whether a key names a registry as mappings do: `host` or `host:port`. */
const isRegistryName = (s: string) => {
  const parsed = Reference.parseEither(`${s}/x`)
  return Either.isRight(parsed) && parsed.right.registry.toLowerCase() === s.toLowerCase()
}

/** Settings of one registry. */
export const RegistrySettings = Schema.Struct({
  /** Requests in flight to this registry at once, counting every runner (overrides the top-level default). */
  maxConcurrentRequests: Schema.optional(PositiveInteger)
}).annotations({ parseOptions: strict })

/** Settings of one registry. */
export type RegistrySettings = typeof RegistrySettings.Type

/** The whole config file. */
export const Config = Schema.Struct({
  mappings: Schema.Array(Mapping).pipe(Schema.filter((ms) => ms.length > 0 || "needs at least one mapping")),
  /** Requests in flight to any one registry at once, counting every runner (default 8). */
  maxConcurrentRequests: Schema.optional(PositiveInteger),
  /** Settings per registry (`host[:port]` as the mappings write it). */
  registries: Schema.optional(
    Schema.Record({ key: Schema.String, value: RegistrySettings }).pipe(
      Schema.filter((registries) => {
        const bad = Object.keys(registries).find((name) => !isRegistryName(name))
        return bad === undefined || { path: [bad], message: "not a registry (host or host:port)" }
      })
    )
  )
}).annotations({ parseOptions: strict })

/** The whole config file. */
export type Config = typeof Config.Type

type PathSegment = PropertyKey

/** The line of the node at `path` (the key itself for a map entry), or of the deepest node found. */
const locate = (doc: YAML.Document.Parsed, counter: YAML.LineCounter, path: ReadonlyArray<PathSegment>) => {
  let node: unknown = doc.contents
  let offset: number | undefined = doc.contents?.range?.[0]
  for (const segment of path) {
    if (YAML.isMap(node)) {
      const pair = node.items.find((p) => YAML.isScalar(p.key) && p.key.value === segment)
      if (pair === undefined) break
      offset = YAML.isScalar(pair.key) ? pair.key.range?.[0] ?? offset : offset
      node = pair.value
      // A wrong value is reported at the value's line (it may sit below its key).
      if (segment === path[path.length - 1] && YAML.isNode(pair.value) && !YAML.isCollection(pair.value)) {
        offset = pair.value.range?.[0] ?? offset
      }
    } else if (YAML.isSeq(node) && typeof segment === "number") {
      const item = node.items[segment]
      if (!YAML.isNode(item)) break
      offset = item.range?.[0] ?? offset
      node = item
    } else {
      break
    }
  }
  return offset === undefined ? undefined : counter.linePos(offset).line
}

/** `mappings[0].tags.newest` */
const formatPath = (path: ReadonlyArray<PathSegment>): string | undefined =>
  path.length === 0
    ? undefined
    : path.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("")

const firstLine = (s: string) => s.split("\n")[0]?.trim() ?? s

const describeIssue = (issue: ParseResult.ArrayFormatterIssue): string => {
  if (issue._tag === "Unexpected") return "unknown key"
  if (issue._tag === "Missing") return "is required"
  return firstLine(issue.message)
}

/**
 * Parses a config file's text (YAML, or JSON, which YAML 1.2 reads too) and checks it against the
 * schema. `file` is only used in messages.
 */
export const parse = (text: string, file: string): Either.Either<Config, SyncConfigError> => {
  const counter = new YAML.LineCounter()
  const doc = YAML.parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true })
  const syntax = doc.errors[0]
  if (syntax !== undefined) {
    const line = counter.linePos(syntax.pos[0]).line
    return Either.left(
      new SyncConfigError({ file, ...(line === undefined ? {} : { line }), reason: firstLine(syntax.message) })
    )
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 })
  return Schema.decodeUnknownEither(Config, { errors: "first", onExcessProperty: "error" })(value).pipe(
    Either.mapLeft((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      if (issue === undefined) return new SyncConfigError({ file, reason: "invalid config" })
      const line = locate(doc, counter, issue.path)
      const key = formatPath(issue.path)
      return new SyncConfigError({
        file,
        ...(line === undefined ? {} : { line }),
        ...(key === undefined ? {} : { key }),
        reason: describeIssue(issue)
      })
    })
  )
}
