/**
 * The reference grammar of distribution/reference (v0.5.0), checked piece by piece so a rejection can
 * say which rule is broken and where. Every checker returns `undefined` when the input is fine and a
 * human-readable reason otherwise; `at` is the offset of the piece inside the string the user gave,
 * so positions in reasons point into that string.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Digest from "../Digest.js"

/** The longest `registry/repository` accepted (the grammar's `NameTotalLengthMax`). @internal */
export const nameTotalLengthMax = 255

/** The registry Docker Hub references are normalised to. @internal */
export const dockerHub = "docker.io"

/** A legacy spelling of Docker Hub, rewritten to {@link dockerHub}. @internal */
export const legacyDockerHub = "index.docker.io"

/** The host that serves the registry API for Docker Hub. @internal */
export const dockerHubApiHost = "registry-1.docker.io"

/** Highest TCP port; the grammar allows any digit run, but a larger one can never be dialled. */
const maxPort = 65535

/** @internal */
export interface Parts {
  readonly registry: string
  readonly repository: string
  readonly tag?: string
  readonly digest?: Digest.Digest
}

/** A character for a reason: quoted, with control and non-ASCII characters escaped. */
const show = (s: string): string => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** A piece of user input for a reason, shortened so a huge input does not make a huge message. */
const quote = (s: string): string => show(s.length > 64 ? `${s.slice(0, 61)}...` : s)

/** The code point at `i` (so a reason never shows half a surrogate pair). */
const charAt = (s: string, i: number): string => String.fromCodePoint(s.codePointAt(i) ?? 0)

const invalidChar = (s: string, i: number, at: number, where: string): string =>
  `invalid character ${show(charAt(s, i))} at index ${at + i} in ${where}`

/**
 * Whether the first component of a name is a registry rather than a Docker Hub namespace: it contains
 * `.` or `:`, is `localhost`, or has an uppercase letter (namespaces are lowercase).
 *
 * @internal
 */
export const isDomainLike = (first: string): boolean =>
  first.includes(".") || first.includes(":") || first === "localhost" || first.toLowerCase() !== first

const label = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/

const checkPort = (port: string, at: number): string | undefined =>
  /^[0-9]{1,5}$/.test(port) && Number(port) <= maxPort
    ? undefined
    : `invalid port ${quote(port)} at index ${at} in registry (expected 0-${maxPort})`

/**
 * Checks a registry: a host name (labels of letters, digits and inner `-`, separated by `.`), an IPv4
 * address (a host name by that rule), or a bracketed IPv6 address; then an optional `:port`.
 *
 * @internal
 */
export const checkRegistry = (registry: string, at = 0): string | undefined => {
  if (registry === "") return "empty registry"
  let rest: string
  let restAt: number
  if (registry.startsWith("[")) {
    const close = registry.indexOf("]")
    if (close === -1) return `unclosed "[" at index ${at} in registry`
    const address = registry.slice(1, close)
    if (address === "") return `empty IPv6 address at index ${at} in registry`
    const bad = address.search(/[^a-fA-F0-9:]/)
    if (bad !== -1) return invalidChar(address, bad, at + 1, "IPv6 address")
    rest = registry.slice(close + 1)
    restAt = at + close + 1
  } else {
    const colon = registry.indexOf(":")
    const host = colon === -1 ? registry : registry.slice(0, colon)
    let offset = at
    for (const part of host.split(".")) {
      if (part === "") return `empty host name label at index ${offset} in registry`
      const bad = part.search(/[^a-zA-Z0-9-]/)
      if (bad !== -1) return invalidChar(part, bad, offset, "registry")
      if (!label.test(part)) return `host name label ${quote(part)} at index ${offset} must not start or end with "-"`
      offset += part.length + 1
    }
    rest = colon === -1 ? "" : registry.slice(colon)
    restAt = at + host.length
  }
  if (rest === "") return undefined
  if (!rest.startsWith(":")) return invalidChar(rest, 0, restAt, "registry")
  return checkPort(rest.slice(1), restAt + 1)
}

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

/**
 * Checks a repository path: `/`-separated components of lowercase letters and digits, joined inside
 * a component by one `.`, one `_`, `__`, or a run of `-`.
 *
 * @internal
 */
export const checkRepository = (repository: string, at = 0): string | undefined => {
  if (repository === "") return "empty repository name"
  let offset = at
  for (const part of repository.split("/")) {
    if (part === "") return `empty path component at index ${offset} in repository`
    const bad = part.search(/[^a-z0-9._-]/)
    if (bad !== -1) {
      return /[A-Z]/.test(part.charAt(bad))
        ? `repository name must be lowercase (${show(part.charAt(bad))} at index ${offset + bad})`
        : invalidChar(part, bad, offset, "repository")
    }
    if (!pathComponent.test(part)) {
      const why = /^[._-]/.test(part)
        ? "must start with a lowercase letter or digit"
        : /[._-]$/.test(part)
        ? "must end with a lowercase letter or digit"
        : `has an invalid separator (allowed: ".", "_", "__", or a run of "-")`
      return `path component ${quote(part)} at index ${offset} ${why}`
    }
    offset += part.length + 1
  }
  return undefined
}

/**
 * Checks a tag: 1 to 128 characters of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
 *
 * @internal
 */
export const checkTag = (tag: string, at = 0): string | undefined => {
  if (tag === "") return `empty tag at index ${at}`
  const bad = tag.search(/[^\w.-]/)
  if (bad !== -1) return invalidChar(tag, bad, at, "tag")
  if (!/^\w/.test(tag)) return `tag ${quote(tag)} must start with a letter, digit or "_"`
  if (tag.length > 128) return `tag is ${tag.length} characters long (at most 128)`
  return undefined
}

const checkLength = (registry: string, repository: string): string | undefined => {
  const length = registry.length + 1 + repository.length
  return length > nameTotalLengthMax
    ? `name too long: registry + "/" + repository is ${length} characters (at most ${nameTotalLengthMax})`
    : undefined
}

/**
 * What is wrong with a set of fields as a normalised reference, if anything: each piece must follow
 * the grammar, and the reference must read back the same after formatting (so a registry has to look
 * like one, `index.docker.io` is spelled `docker.io`, and Docker Hub repositories have a namespace).
 *
 * @internal
 */
export const checkParts = (parts: Parts): string | undefined => {
  const { registry, repository, tag } = parts
  const registryProblem = checkRegistry(registry)
  if (registryProblem !== undefined) return registryProblem
  if (!isDomainLike(registry)) {
    return `registry ${quote(registry)} would read as a Docker Hub namespace (a registry needs a ".", a port, or to be localhost)`
  }
  if (registry === legacyDockerHub) return `registry must be spelled ${show(dockerHub)}, not ${show(legacyDockerHub)}`
  const repositoryProblem = checkRepository(repository)
  if (repositoryProblem !== undefined) return repositoryProblem
  if (registry === dockerHub && !repository.includes("/")) {
    return `Docker Hub repositories have a namespace (${show(`library/${repository}`)}, not ${show(repository)})`
  }
  if (tag !== undefined) {
    const tagProblem = checkTag(tag)
    if (tagProblem !== undefined) return tagProblem
  }
  return checkLength(registry, repository)
}

/**
 * Normalises the parts of a reference given separately: `index.docker.io` → `docker.io`, and a
 * single-component Docker Hub repository gets `library/`.
 *
 * @internal
 */
export const normalise = (parts: Parts): Parts => {
  const registry = parts.registry === legacyDockerHub ? dockerHub : parts.registry
  const repository = registry === dockerHub && !parts.repository.includes("/")
    ? `library/${parts.repository}`
    : parts.repository
  return { ...parts, registry, repository }
}

/**
 * Splits and checks a reference string, with Docker Hub normalisation. The pieces are found from the
 * right: the first `@` starts the digest; the first `:` after the last `/` starts the tag; the first component is the
 * registry when {@link isDomainLike} says so, else the registry is Docker Hub.
 *
 * @internal
 */
export const parse = (input: string): Either.Either<Parts, string> => {
  if (input === "") return Either.left("empty reference")
  if (/^[a-f0-9]{64}$/.test(input)) {
    return Either.left("a 64-character hex string is an image ID, not a repository name")
  }
  let rest = input
  let digest: Digest.Digest | undefined
  const atSign = input.indexOf("@")
  if (atSign !== -1) {
    const text = input.slice(atSign + 1)
    if (text === "") return Either.left(`empty digest after "@" at index ${atSign}`)
    const parsed = Digest.parseEither(text)
    if (Either.isLeft(parsed)) return Either.left(`invalid digest ${quote(text)}: ${parsed.left.reason}`)
    digest = parsed.right
    rest = input.slice(0, atSign)
  }
  let tag: string | undefined
  const colon = rest.indexOf(":", rest.lastIndexOf("/") + 1)
  if (colon !== -1) {
    tag = rest.slice(colon + 1)
    const tagProblem = checkTag(tag, colon + 1)
    if (tagProblem !== undefined) return Either.left(tagProblem)
    rest = rest.slice(0, colon)
  }
  if (rest === "") return Either.left("missing repository name")
  const slash = rest.indexOf("/")
  let registry = dockerHub
  let repository = rest
  let repositoryAt = 0
  if (slash !== -1 && isDomainLike(rest.slice(0, slash))) {
    registry = rest.slice(0, slash)
    const registryProblem = checkRegistry(registry)
    if (registryProblem !== undefined) return Either.left(registryProblem)
    repository = rest.slice(slash + 1)
    repositoryAt = slash + 1
  }
  const repositoryProblem = checkRepository(repository, repositoryAt)
  if (repositoryProblem !== undefined) return Either.left(repositoryProblem)
  const parts = normalise({
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {})
  })
  const lengthProblem = checkLength(parts.registry, parts.repository)
  return lengthProblem === undefined ? Either.right(parts) : Either.left(lengthProblem)
}

/** The 8 groups of an IPv6 address (no zone, no embedded IPv4), or `undefined` if it is not one. */
const ipv6Groups = (address: string): ReadonlyArray<number> | undefined => {
  const halves = address.split("::")
  if (halves.length > 2) return undefined
  const groups = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":"))
  const head = groups(halves[0])
  const tail = groups(halves[1])
  if (![...head, ...tail].every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined
  const zeros = 8 - head.length - tail.length
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined
  return [...head, ...Array<string>(zeros).fill("0"), ...tail].map((g) => parseInt(g, 16))
}

const isLoopbackIpv6 = (address: string): boolean => {
  const g = ipv6Groups(address)
  if (g === undefined) return false
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  // ::1, or an IPv4-mapped 127.0.0.0/8 address (::ffff:7f00:0/104)
  return (zeroUpTo(7) && g[7] === 1) || (zeroUpTo(5) && g[5] === 0xffff && (g[6] ?? 0) >> 8 === 127)
}

/**
 * Whether a registry (host with or without port) is a loopback address: `localhost`, 127.0.0.0/8, or
 * `::1` (bracketed, or bare without a port).
 *
 * @internal
 */
export const isLoopback = (registry: string): boolean => {
  if (registry.startsWith("[")) {
    const close = registry.indexOf("]")
    if (close === -1 || !/^(?::[0-9]+)?$/.test(registry.slice(close + 1))) return false
    return isLoopbackIpv6(registry.slice(1, close))
  }
  const colons = registry.split(":").length - 1
  if (colons > 1) return isLoopbackIpv6(registry)
  const [host = "", port] = registry.split(":")
  if (port !== undefined && !/^[0-9]+$/.test(port)) return false
  if (host.toLowerCase() === "localhost") return true
  const ipv4 = /^127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(host)
  return ipv4 !== null && ipv4.slice(1).every((octet) => Number(octet) <= 255)
}
