/**
 * Docker `config.json` and containers `auth.json`: parsing, key normalisation, entry decoding.
 *
 * Both files share the `auths` map (`{ "<key>": { auth, username, password, identitytoken,
 * registrytoken } }`) and may name credential helpers (`credsStore`, `credHelpers`). They differ
 * in what a key means: Docker keys are URLs or hosts (any path is dropped), while containers keys
 * without a scheme may carry a namespace (`quay.io/org`) that only applies to that namespace.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Credential, CredentialsError } from "./credentialsModel.js"

/** Which program wrote the file; decides how keys are read and what Docker Hub is called. */
export type Flavour = "docker" | "containers"

/** The host every Docker Hub alias normalises to. */
export const dockerHub = "docker.io"

const dockerHubAliases: ReadonlySet<string> = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com"
])

/** The server URL Docker uses for Docker Hub: its `auths` key and what its helpers are asked for. */
export const dockerHubServerUrl = "https://index.docker.io/v1/"

const schemePattern = /^[a-z][a-z0-9+.-]*:\/\//i

/**
 * Normalises a key (`https://Index.Docker.io/v1/`, `http://host:5000/v2/`, `ghcr.io`,
 * `quay.io/org/`) to `host[/namespace]`: lower-case host, Docker Hub aliases folded into
 * `docker.io`, no scheme, no trailing slash. A path survives only for `containers` keys
 * written without a scheme; everything else is treated as a URL whose path does not matter.
 */
export const normaliseKey = (key: string, flavour: Flavour): string => {
  const trimmed = key.trim()
  const hasScheme = schemePattern.test(trimmed)
  const rest = hasScheme ? trimmed.replace(schemePattern, "") : trimmed
  const slash = rest.indexOf("/")
  const host = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase()
  const path = slash < 0 || hasScheme || flavour === "docker" ? "" : rest.slice(slash + 1).replace(/\/+$/, "")
  const canonicalHost = dockerHubAliases.has(host) ? dockerHub : host
  return path === "" ? canonicalHost : `${canonicalHost}/${path}`
}

/** Normalises the registry a caller asks about (always host-level). */
export const normaliseRegistry = (registry: string): string => normaliseKey(registry, "docker")

/** The server URL handed to a credential helper for a (normalised) registry host. */
export const helperServerUrl = (host: string, flavour: Flavour): string =>
  host === dockerHub && flavour === "docker" ? dockerHubServerUrl : host

const optionalString = Schema.optional(Schema.NullOr(Schema.String))

const Entry = Schema.Struct({
  auth: optionalString,
  username: optionalString,
  password: optionalString,
  identitytoken: optionalString,
  registrytoken: optionalString
})

/** One `auths` entry as written in the file. */
export type Entry = typeof Entry.Type

// Excess properties (`email`, `HttpHeaders`, `proxies`, …) are ignored: only these fields matter here.
const AuthFile = Schema.Struct({
  auths: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.NullOr(Entry) }))),
  credsStore: optionalString,
  credHelpers: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })))
})

/** A parsed auth file, keys normalised, entries not yet decoded (a bad entry only fails its own host). */
export interface ParsedFile {
  readonly source: string
  readonly flavour: Flavour
  readonly entries: ReadonlyArray<{ readonly key: string; readonly normalised: string; readonly entry: Entry }>
  readonly credsStore: string | undefined
  readonly credHelpers: ReadonlyArray<{ readonly normalised: string; readonly helper: string }>
}

// `auths["ghcr.io"].password`: the place in the file, in the notation `decodeEntry` uses too.
const describePath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "the top level" : path.map((key, i) => {
    const name = String(key)
    return /^[A-Za-z_$][\w$]*$/.test(name) ? (i === 0 ? name : `.${name}`) : `[${JSON.stringify(name)}]`
  }).join("")

/**
 * Parses the text of an auth file. Error reasons name the file and the place in it, never the
 * offending value (which may be a password): `JSON.parse` and Schema messages quote the input,
 * so neither is passed on.
 */
export const parse = (text: string, source: string, flavour: Flavour): Either.Either<ParsedFile, CredentialsError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(new CredentialsError({ source, reason: "is not valid JSON" }))
  }
  return Schema.decodeUnknownEither(AuthFile)(json).pipe(
    Either.mapLeft((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const where = issue === undefined ? "the top level" : describePath(issue.path)
      return new CredentialsError({ source, reason: `has an unexpected value at ${where}` })
    }),
    Either.map((file): ParsedFile => ({
      source,
      flavour,
      entries: Object.entries(file.auths ?? {}).flatMap(([key, entry]) =>
        entry === null ? [] : [{ key, normalised: normaliseKey(key, flavour), entry }]
      ),
      credsStore: nonEmpty(file.credsStore),
      credHelpers: Object.entries(file.credHelpers ?? {}).map(([key, helper]) => ({
        normalised: normaliseKey(key, flavour),
        helper
      }))
    }))
  )
}

const nonEmpty = (value: string | null | undefined): string | undefined =>
  value === undefined || value === null || value === "" ? undefined : value

/**
 * Decodes one `auths` entry. `registrytoken` wins over `identitytoken`, which wins over a
 * username and password; `auth` (base64 `user:pass`, the password may contain `:`) overrides the
 * separate `username` / `password` fields, as Docker does. An empty entry (Docker writes `{}`
 * placeholders when a helper holds the secret) is `Anonymous`.
 */
export const decodeEntry = (
  entry: Entry,
  key: string,
  source: string
): Either.Either<Credential, CredentialsError> => {
  const fail = (reason: string) =>
    Either.left(new CredentialsError({ source, reason: `auths[${JSON.stringify(key)}] ${reason}` }))
  let username = nonEmpty(entry.username)
  let password = nonEmpty(entry.password)
  const auth = nonEmpty(entry.auth?.trim())
  if (auth !== undefined) {
    const decoded = Encoding.decodeBase64String(auth)
    // The decoder's message quotes the offending character; keep it out of the error.
    if (Either.isLeft(decoded)) return fail("has an `auth` value that is not valid base64")
    const colon = decoded.right.indexOf(":")
    if (colon < 0) return fail("has an `auth` value that does not decode to \"username:password\"")
    username = nonEmpty(decoded.right.slice(0, colon))
    password = nonEmpty(decoded.right.slice(colon + 1))
  }
  const registryToken = nonEmpty(entry.registrytoken)
  if (registryToken !== undefined) return Either.right(Credential.RegistryToken({ token: Redacted.make(registryToken) }))
  const identityToken = nonEmpty(entry.identitytoken)
  if (identityToken !== undefined) {
    return Either.right(Credential.IdentityToken({ username, token: Redacted.make(identityToken) }))
  }
  if (username !== undefined && password !== undefined) {
    return Either.right(Credential.Basic({ username, password: Redacted.make(password) }))
  }
  if (username === undefined && password === undefined) return Either.right(Credential.Anonymous())
  return fail(username === undefined ? "has a password but no username" : "has a username but no password")
}

/**
 * The entries of a file that apply to a host, best first: the key exactly as the host's own
 * program would write it (Docker Hub's `https://index.docker.io/v1/`, or the bare host), then
 * the other spellings in file order.
 */
export const entriesFor = (file: ParsedFile, host: string): ParsedFile["entries"] => {
  const preferred = helperServerUrl(host, file.flavour)
  const matching = file.entries.filter((e) => e.normalised === host)
  return [...matching.filter((e) => e.key === preferred), ...matching.filter((e) => e.key !== preferred)]
}

/** The helper that holds a host's credentials: its `credHelpers` entry, else `credsStore`. */
export const helperFor = (file: ParsedFile, host: string): string | undefined =>
  file.credHelpers.find((h) => h.normalised === host)?.helper ?? file.credsStore
