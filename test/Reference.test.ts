import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Digest from "../src/Digest.js"
import * as Reference from "../src/Reference.js"

const sha256 = Digest.compute("hello")
const sha512 = Digest.compute("hello", "sha512")

const ok = (input: string): Reference.Reference => Either.getOrThrow(Reference.parseEither(input))
const reason = (input: string): string =>
  Either.match(Reference.parseEither(input), {
    onLeft: (e) => e.reason,
    onRight: (r) => `unexpectedly parsed as ${Reference.format(r)}`
  })

describe("Reference.parse", () => {
  it.effect("splits a full reference into its parts", () =>
    Effect.gen(function*() {
      const ref = yield* Reference.parse(`ghcr.io/owner/app:v1.2@${sha256}`)
      expect(ref.registry).toBe("ghcr.io")
      expect(ref.repository).toBe("owner/app")
      expect(ref.tag).toBe("v1.2")
      expect(ref.digest).toBe(sha256)
      const bare = yield* Reference.parse("ghcr.io/owner/app")
      expect("tag" in bare).toBe(false)
      expect("digest" in bare).toBe(false)
    }))

  it.effect("fails with a typed InvalidReference", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Reference.parse("Ubuntu"))
      expect(error._tag).toBe("InvalidReference")
      expect(error).toBeInstanceOf(Reference.InvalidReference)
      expect(error.input).toBe("Ubuntu")
      expect(error.reason).toMatch(/must be lowercase/)
      const caught = yield* Reference.parse("").pipe(
        Effect.catchTag("InvalidReference", (e) => Effect.succeed(e.reason))
      )
      expect(caught).toBe("empty reference")
    }))

  describe("normalisation", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["ubuntu", "docker.io/library/ubuntu"],
      ["ubuntu:24.04", "docker.io/library/ubuntu:24.04"],
      ["user/repo", "docker.io/user/repo"],
      ["user/repo/sub", "docker.io/user/repo/sub"],
      ["library/foo/bar", "docker.io/library/foo/bar"],
      ["docker.io/ubuntu", "docker.io/library/ubuntu"],
      ["docker.io/library/ubuntu", "docker.io/library/ubuntu"],
      ["docker.io/user/repo", "docker.io/user/repo"],
      ["index.docker.io/ubuntu", "docker.io/library/ubuntu"],
      ["index.docker.io/user/repo:tag", "docker.io/user/repo:tag"],
      ["foo_bar/baz", "docker.io/foo_bar/baz"],
      ["localhost/foo", "localhost/foo"],
      ["localhost:5000/foo/bar:v1", "localhost:5000/foo/bar:v1"],
      // no "/": the ":5000" is a tag, as in Docker
      ["localhost:5000", "docker.io/library/localhost:5000"],
      ["example.com", "docker.io/library/example.com"],
      ["example.com/foo", "example.com/foo"],
      ["Example.COM/foo", "Example.COM/foo"],
      ["Foo/bar", "Foo/bar"],
      ["myhost:5000/app", "myhost:5000/app"],
      ["192.168.1.10:5000/app", "192.168.1.10:5000/app"],
      ["[::1]/app", "[::1]/app"],
      ["[::1]:5000/app:v1", "[::1]:5000/app:v1"],
      ["[2001:DB8::1]:443/a/b", "[2001:DB8::1]:443/a/b"],
      [`ubuntu@${sha256}`, `docker.io/library/ubuntu@${sha256}`],
      [`ubuntu@${sha512}`, `docker.io/library/ubuntu@${sha512}`],
      [`ubuntu:24.04@${sha256}`, `docker.io/library/ubuntu:24.04@${sha256}`]
    ]
    it.each(cases)("%s → %s", (input, expected) => {
      expect(Reference.format(ok(input))).toBe(expected)
    })

    it("keeps the tag when both tag and digest are given", () => {
      const ref = ok(`app:v1@${sha256}`)
      expect(ref.tag).toBe("v1")
      expect(ref.digest).toBe(sha256)
    })

    it("takes the registry and port apart from the path", () => {
      const ref = ok("[fe80::1]:5000/a/b:c")
      expect([ref.registry, ref.repository, ref.tag]).toEqual(["[fe80::1]:5000", "a/b", "c"])
    })
  })

  describe("grammar: accepted", () => {
    const accepted = [
      // path-component separators
      "a",
      "a0",
      "a.b",
      "a_b",
      "a__b",
      "a-b",
      "a---b",
      "a.b-c_d__e--f",
      "a/b/c/d/e",
      "0/1",
      // host names, IPv4, IPv6, ports
      "a-b.c/x",
      "a--b.example.com/x",
      "1.2.3.4/x",
      "example.com:0/x",
      "example.com:65535/x",
      "[a:B:c::]/x",
      "[::]:1/x",
      // tags
      "x:_",
      "x:A",
      "x:0",
      "x:v1.2-rc_3",
      "x:__",
      `x:${"t".repeat(128)}`,
      // a 64-hex string is fine as a path under a namespace, or with a tag
      `library/${"a".repeat(64)}`,
      `${"a".repeat(64)}:latest`
    ]
    it.each(accepted)("%s", (input) => {
      expect(Either.isRight(Reference.parseEither(input))).toBe(true)
    })
  })

  describe("grammar: rejected, with the rule that is broken", () => {
    const rejected: ReadonlyArray<readonly [string, RegExp]> = [
      ["", /^empty reference$/],
      ["a".repeat(64), /64-character hex string is an image ID/],
      ["0123456789abcdef".repeat(4), /image ID/],
      // uppercase in the repository
      ["Ubuntu", /repository name must be lowercase \("U" at index 0\)/],
      ["foo/Bar", /must be lowercase \("B" at index 4\)/],
      ["ghcr.io/o/App:v1", /must be lowercase \("A" at index 10\)/],
      // path components
      ["a..b", /path component "a\.\.b" at index 0 has an invalid separator/],
      ["a._b", /invalid separator/],
      ["a___b", /invalid separator/],
      ["a.-b", /invalid separator/],
      ["-a", /must start with a lowercase letter or digit/],
      ["_a", /must start with/],
      [".a", /must start with/],
      ["a-", /must end with a lowercase letter or digit/],
      ["a.", /must end with/],
      ["ghcr.io/o/a_", /path component "a_" at index 10 must end with/],
      ["foo//bar", /empty path component at index 4/],
      ["foo/", /empty path component at index 4/],
      ["/foo", /empty path component at index 0/],
      ["example.com/", /empty repository name/],
      ["foo bar", /invalid character " " at index 3 in repository/],
      ["ubunt\u00fc", /invalid character "\\u00fc" at index 5 in repository/],
      ["ghcr.io/o/a+b", /invalid character "\+" at index 11 in repository/],
      // registry: host name, IPv6, port
      ["ex_ample.com/foo", /invalid character "_" at index 2 in registry/],
      ["-example.com/foo", /host name label "-example" at index 0 must not start or end with "-"/],
      ["example-.com/foo", /must not start or end with "-"/],
      ["example..com/foo", /empty host name label at index 8/],
      [".example.com/foo", /empty host name label at index 0/],
      ["localhost:port/foo", /invalid port "port" at index 10/],
      ["localhost:/foo", /invalid port "" at index 10/],
      ["localhost:65536/foo", /invalid port "65536"/],
      ["localhost:123456/foo", /invalid port/],
      ["localhost:50:00/foo", /invalid port "50:00"/],
      ["[::1/foo", /unclosed "\[" at index 0 in registry/],
      ["[]:5000/foo", /empty IPv6 address at index 0/],
      ["[]/foo", /invalid character "\[" at index 0 in repository/],
      ["[::g]/foo", /invalid character "g" at index 3 in IPv6 address/],
      ["[fe80::1%25eth0]/foo", /invalid character "%" at index 8 in IPv6 address/],
      ["[::1]x/foo", /invalid character "x" at index 5 in registry/],
      ["[::1]:/foo", /invalid port "" at index 6/],
      ["\u00dcBER.de/foo", /invalid character "\\u00dc" at index 0 in registry/],
      // tags
      ["ubuntu:", /empty tag at index 7/],
      ["ubuntu:-x", /tag "-x" must start with a letter, digit or "_"/],
      ["ubuntu:.x", /must start with a letter, digit or "_"/],
      ["ubuntu:a b", /invalid character " " at index 8 in tag/],
      ["ubuntu:a+b", /invalid character "\+" at index 8 in tag/],
      ["ubuntu:a:b", /invalid character ":" at index 8 in tag/],
      [`ubuntu:${"t".repeat(129)}`, /tag is 129 characters long \(at most 128\)/],
      [`ubuntu:@${sha256}`, /empty tag/],
      // digests
      ["ubuntu@", /empty digest after "@" at index 6/],
      ["ubuntu@sha256:abc", /invalid digest "sha256:abc": sha256 needs 64 hex characters, got 3/],
      [`ubuntu@sha256:${"A".repeat(64)}`, /invalid digest .*lowercase hexadecimal/],
      [`ubuntu@md5:${"a".repeat(32)}`, /invalid digest .*unsupported algorithm "md5"/],
      [`ubuntu@sha384:${"a".repeat(96)}`, /unsupported algorithm "sha384"/],
      [`ubuntu@${sha256}@${sha256}`, /invalid digest/],
      ["ubuntu@latest", /invalid digest "latest"/],
      // no name
      [`@${sha256}`, /missing repository name/],
      [":tag", /missing repository name/]
    ]
    it.each(rejected)("%s", (input, pattern) => {
      expect(reason(input)).toMatch(pattern)
    })
  })

  describe("name length", () => {
    // "example.com" + "/" + path
    const named = (pathLength: number) => `example.com/${"a".repeat(pathLength)}`
    it("accepts exactly 255 characters", () => {
      expect(named(243)).toHaveLength(255)
      expect(Reference.name(ok(named(243)))).toHaveLength(255)
      expect(Reference.name(ok(`${named(243)}:tag@${sha256}`))).toHaveLength(255)
    })
    it("rejects 256 characters", () => {
      expect(reason(named(244))).toBe(
        `name too long: registry + "/" + repository is 256 characters (at most 255)`
      )
    })
    it("counts the normalised name (docker.io/library/ is 18 characters)", () => {
      expect(Reference.name(ok("a".repeat(237)))).toHaveLength(255)
      expect(reason("a".repeat(238))).toMatch(/name too long: .* is 256 characters/)
    })
    it("does not count the tag or digest", () => {
      expect(Either.isRight(Reference.parseEither(`${named(243)}:${"t".repeat(128)}@${sha512}`))).toBe(true)
    })
  })
})

describe("Reference formatting", () => {
  it("format, name and toString", () => {
    const ref = ok(`ghcr.io/o/app:v1@${sha256}`)
    expect(Reference.format(ref)).toBe(`ghcr.io/o/app:v1@${sha256}`)
    expect(Reference.name(ref)).toBe("ghcr.io/o/app")
    expect(String(ref)).toBe(`ghcr.io/o/app:v1@${sha256}`)
    expect(`${ok("ubuntu")}`).toBe("docker.io/library/ubuntu")
  })

  const familiar: ReadonlyArray<readonly [string, string]> = [
    ["ubuntu", "ubuntu"],
    ["ubuntu:24.04", "ubuntu:24.04"],
    [`ubuntu@${sha256}`, `ubuntu@${sha256}`],
    ["docker.io/library/ubuntu:1", "ubuntu:1"],
    ["user/app:v1", "user/app:v1"],
    ["docker.io/library/foo/bar", "library/foo/bar"],
    ["library/foo/bar:x", "library/foo/bar:x"],
    ["ghcr.io/o/app:v1", "ghcr.io/o/app:v1"],
    ["localhost:5000/app", "localhost:5000/app"],
    ["docker.io/library/localhost:5000", "localhost:5000"],
    // the namespace would read as a registry without docker.io/
    ["docker.io/my.org/app", "docker.io/my.org/app"],
    ["docker.io/localhost/app", "docker.io/localhost/app"]
  ]
  it.each(familiar)("familiar(%s) = %s", (input, expected) => {
    const ref = ok(input)
    expect(Reference.familiar(ref)).toBe(expected)
    expect(Equal.equals(ok(Reference.familiar(ref)), ref)).toBe(true)
  })
})

describe("Reference.withTag / withDigest / pin", () => {
  it.effect("withTag names the tag alone: the digest goes", () =>
    Effect.gen(function*() {
      const ref = ok(`app:v1@${sha256}`)
      const retagged = yield* Reference.withTag(ref, "v2")
      expect(Reference.format(retagged)).toBe("docker.io/library/app:v2")
      expect(retagged.digest).toBeUndefined()
      const piped = yield* ok("app").pipe(Reference.withTag("latest"))
      expect(Reference.format(piped)).toBe("docker.io/library/app:latest")
    }))

  it.effect("rejects a bad tag", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Reference.withTag(ok("app"), "-bad"))
      expect(error._tag).toBe("InvalidReference")
      expect(error.input).toBe("-bad")
      expect(error.reason).toMatch(/must start with/)
      const long = yield* Effect.flip(Reference.withTag(ok("app"), "t".repeat(129)))
      expect(long.reason).toMatch(/at most 128/)
    }))

  it("withDigest names the digest alone: the tag goes", () => {
    const ref = Reference.withDigest(ok(`app:v1@${sha256}`), sha512)
    expect(Reference.format(ref)).toBe(`docker.io/library/app@${sha512}`)
    expect(ref.tag).toBeUndefined()
    expect(Equal.equals(ref, ok(`app@${sha512}`))).toBe(true)
    expect(Reference.format(ok("ghcr.io/o/app:v1").pipe(Reference.withDigest(sha256)))).toBe(`ghcr.io/o/app@${sha256}`)
  })

  it("pin keeps the tag and sets the digest", () => {
    expect(Reference.format(Reference.pin(ok(`app:v1@${sha256}`), sha512))).toBe(`docker.io/library/app:v1@${sha512}`)
    expect(Reference.format(ok("app:v1").pipe(Reference.pin(sha256)))).toBe(`docker.io/library/app:v1@${sha256}`)
  })
})

describe("Reference.make and the constructor", () => {
  it("make normalises Docker Hub", () => {
    const ref = Either.getOrThrow(Reference.make({ registry: "index.docker.io", repository: "ubuntu", tag: "1" }))
    expect(Reference.format(ref)).toBe("docker.io/library/ubuntu:1")
    expect(Equal.equals(ref, ok("ubuntu:1"))).toBe(true)
  })

  it("make rejects what would not read back the same, or breaks the grammar", () => {
    const fail = (parts: Parameters<typeof Reference.make>[0]) =>
      Either.match(Reference.make(parts), { onLeft: (e) => e.reason, onRight: String })
    expect(fail({ registry: "myhost", repository: "app" })).toMatch(/would read as a Docker Hub namespace/)
    expect(fail({ registry: "ghcr.io", repository: "App" })).toMatch(/must be lowercase/)
    expect(fail({ registry: "ghcr.io", repository: "app", tag: "" })).toMatch(/empty tag/)
    expect(fail({ registry: "gh cr.io", repository: "app" })).toMatch(/invalid character " " at index 2 in registry/)
    expect(fail({ registry: "ghcr.io", repository: "a".repeat(300) })).toMatch(/name too long/)
  })

  it("the class constructor enforces the normalised form", () => {
    expect(() => new Reference.Reference({ registry: "docker.io", repository: "ubuntu" })).toThrow(
      /Docker Hub repositories have a namespace/
    )
    expect(() => new Reference.Reference({ registry: "index.docker.io", repository: "a/b" })).toThrow(
      /must be spelled "docker.io"/
    )
    expect(() => new Reference.Reference({ registry: "ghcr.io", repository: "a", tag: "-x" })).toThrow()
    const ref = new Reference.Reference({ registry: "ghcr.io", repository: "o/a", digest: sha256 })
    expect(Equal.equals(ref, ok(`ghcr.io/o/a@${sha256}`))).toBe(true)
  })

  it("references are compared by value", () => {
    expect(Equal.equals(ok("ubuntu"), ok("docker.io/library/ubuntu"))).toBe(true)
    expect(Equal.equals(ok("ubuntu"), ok("ubuntu:latest"))).toBe(false)
    expect(ok("index.docker.io/user/app")).toEqual(ok("user/app"))
  })
})

describe("registries", () => {
  it("apiHost maps Docker Hub to registry-1.docker.io", () => {
    expect(Reference.apiHost("docker.io")).toBe("registry-1.docker.io")
    expect(Reference.apiHost("index.docker.io")).toBe("registry-1.docker.io")
    expect(Reference.apiHost("ghcr.io")).toBe("ghcr.io")
    expect(Reference.apiHost("localhost:5000")).toBe("localhost:5000")
    expect(Reference.apiHost(ok("ubuntu").registry)).toBe("registry-1.docker.io")
  })

  const loopback: ReadonlyArray<readonly [string, boolean]> = [
    ["localhost", true],
    ["localhost:5000", true],
    ["LocalHost:5000", true],
    ["127.0.0.1", true],
    ["127.0.0.1:5000", true],
    ["127.255.3.4:80", true],
    ["[::1]", true],
    ["[::1]:5000", true],
    ["::1", true],
    ["[0:0:0:0:0:0:0:1]:5000", true],
    ["[::ffff:7f00:1]", true],
    ["127.0.0.256", false],
    ["128.0.0.1", false],
    ["127.0.0", false],
    ["10.0.0.1:5000", false],
    ["localhost.example.com", false],
    ["mylocalhost", false],
    ["localhost:abc", false],
    ["[::2]", false],
    ["[::1]x", false],
    ["[::1", false],
    ["[1::1::1]", false],
    ["::ffff:7f00:1:1", false],
    ["docker.io", false],
    ["", false]
  ]
  it.each(loopback)("isLoopback(%s) = %s", (registry, expected) => {
    expect(Reference.isLoopback(registry)).toBe(expected)
  })
})

describe("ReferenceFromString", () => {
  it("decodes with normalisation and encodes the full form", () => {
    const ref = Schema.decodeUnknownSync(Reference.ReferenceFromString)("ubuntu:24.04")
    expect(ref).toBeInstanceOf(Reference.Reference)
    expect(Reference.format(ref)).toBe("docker.io/library/ubuntu:24.04")
    expect(Schema.encodeSync(Reference.ReferenceFromString)(ref)).toBe("docker.io/library/ubuntu:24.04")
  })

  it("fails decoding with the reason", () => {
    const result = Schema.decodeUnknownEither(Reference.ReferenceFromString)("ubuntu:-x")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.message).toMatch(/invalid reference: tag "-x" must start with/)
    expect(Either.isLeft(Schema.decodeUnknownEither(Reference.ReferenceFromString)(42))).toBe(true)
  })

  it("works inside a struct", () => {
    const Image = Schema.Struct({ image: Reference.ReferenceFromString })
    const decoded = Schema.decodeUnknownSync(Image)({ image: "user/app" })
    expect(Schema.encodeSync(Image)(decoded)).toEqual({ image: "docker.io/user/app" })
  })
})

// ---------------------------------------------------------------------------------------------
// property tests
// ---------------------------------------------------------------------------------------------

const alnum = fc.stringMatching(/^[a-z0-9]{1,5}$/)
const separator = fc.constantFrom(".", "_", "__", "-", "--", "---")
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 3 }))
  .map(([head, tail]) => head + tail.map(([sep, part]) => sep + part).join(""))
const path = fc.array(pathComponent, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/"))

const hostLabel = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/)
const hostName = fc.array(hostLabel, { minLength: 1, maxLength: 4 }).map((labels) => labels.join("."))
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join("."))
const ipv6 = fc.oneof(
  fc.ipV6().filter((address) => !address.includes(".")),
  fc.stringMatching(/^[a-fA-F0-9:]{1,12}$/)
).map((address) => `[${address}]`)
const port = fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined })
const host = fc.oneof(hostName, ipv4, ipv6, fc.constant("localhost"))
const domainLike = (first: string) => /[.:A-Z]/.test(first) || first === "localhost"
const registry = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(host, port).map(([h, p]) => (p === undefined ? h : `${h}:${p}`)).filter(domainLike) },
  { weight: 1, arbitrary: fc.constant("docker.io") }
)
const tag = fc.stringMatching(/^\w[\w.-]{0,20}$/)
const digest = fc.oneof(
  fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`),
  fc.stringMatching(/^[a-f0-9]{128}$/).map((hex) => `sha512:${hex}`)
).map((s) => s as Digest.Digest)

/** Valid, normalised references, generated from the grammar. */
const reference = fc
  .record(
    {
      registry,
      repository: path,
      tag: fc.option(tag, { nil: undefined }),
      digest: fc.option(digest, { nil: undefined })
    },
    { requiredKeys: ["registry", "repository"] }
  )
  .map(({ digest, registry, repository, tag }) =>
    new Reference.Reference({
      registry,
      repository: registry === "docker.io" && !repository.includes("/") ? `library/${repository}` : repository,
      ...(tag !== undefined ? { tag } : {}),
      ...(digest !== undefined ? { digest } : {})
    })
  )

/** Strings over the grammar's alphabet: mostly invalid, but near the rules' edges. */
const grammarish = fc.string({
  unit: fc.constantFrom("a", "b", "0", "A", ".", "-", "_", "/", ":", "[", "]", "@", " "),
  maxLength: 24
})

const noise = fc
  .array(
    fc.constantFrom("a", "B", "0", ".", "-", "--", "_", "__", "/", ":", "65536", "[", "]", "::1", "localhost", " ", "\u00e9"),
    { maxLength: 4 }
  )
  .map((tokens) => tokens.join(""))
const nearly = <A extends string>(valid: fc.Arbitrary<A>) => fc.oneof({ weight: 3, arbitrary: valid }, noise)

/** Reference-shaped strings whose pieces are mostly valid: both outcomes are common. */
const nearlyValid = fc
  .tuple(
    fc.option(nearly(registry), { nil: undefined }),
    fc.array(nearly(pathComponent), { minLength: 1, maxLength: 3 }),
    fc.option(nearly(tag), { nil: undefined })
  )
  .map(([r, p, t]) => `${r === undefined ? "" : `${r}/`}${p.join("/")}${t === undefined ? "" : `:${t}`}`)

/** An independent oracle for strings without digests: the distribution regexps plus our port limit. */
const accepts = (s: string): boolean => {
  const label = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
  const domain = new RegExp(`^(?:${label}(?:\\.${label})*|\\[[a-fA-F0-9:]+\\])(?::([0-9]+))?$`)
  const component = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
  const pathTag = new RegExp(`^${component}(?:/${component})*(?::[\\w][\\w.-]{0,127})?$`)
  if (/^[a-f0-9]{64}$/.test(s)) return false
  const slash = s.indexOf("/")
  const first = slash === -1 ? "" : s.slice(0, slash)
  if (slash === -1 || !domainLike(first)) return pathTag.test(s)
  const match = domain.exec(first)
  if (match === null) return false
  const portText = match[1]
  if (portText !== undefined && (portText.length > 5 || Number(portText) > 65535)) return false
  return pathTag.test(s.slice(slash + 1))
}

const neverThrows = (input: string) => {
  const result = Reference.parseEither(input)
  if (Either.isLeft(result)) {
    expect(result.left).toBeInstanceOf(Reference.InvalidReference)
    expect(result.left.reason.length).toBeGreaterThan(0)
  } else {
    // what parse builds satisfies the class invariants, and is a fixed point of format∘parse
    const ref = result.right
    expect(() => new Reference.Reference({ ...ref })).not.toThrow()
    expect(Equal.equals(ok(Reference.format(ref)), ref)).toBe(true)
  }
}

describe("properties", () => {
  it.prop("parse(format(r)) = r for generated references", [reference], ([ref]) => {
    const parsed = ok(Reference.format(ref))
    expect(Equal.equals(parsed, ref)).toBe(true)
    expect(Reference.format(parsed)).toBe(Reference.format(ref))
  }, { fastCheck: { numRuns: 500 } })

  it.prop("parse(familiar(r)) = r for generated references", [reference], ([ref]) => {
    expect(Equal.equals(ok(Reference.familiar(ref)), ref)).toBe(true)
  }, { fastCheck: { numRuns: 500 } })

  it.prop("the Schema round-trips", [reference], ([ref]) => {
    const encoded = Schema.encodeSync(Reference.ReferenceFromString)(ref)
    expect(Equal.equals(Schema.decodeSync(Reference.ReferenceFromString)(encoded), ref)).toBe(true)
  })

  it.prop("a generated reference over 255 characters is rejected", [reference, fc.integer({ min: 1, max: 40 })], (
    [ref, extra]
  ) => {
    const padding = 255 - Reference.name(ref).length + extra
    const long = `${ref.registry}/${ref.repository}/${"a".repeat(Math.max(1, padding - 1))}`
    expect(reason(long)).toMatch(/name too long/)
  })

  it.prop("agrees with the distribution regexps on strings over the grammar's alphabet", [grammarish], ([input]) => {
    fc.pre(!input.includes("@"))
    expect(Either.isRight(Reference.parseEither(input))).toBe(accepts(input))
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("agrees with the distribution regexps on nearly valid references", [nearlyValid], ([input]) => {
    expect(Either.isRight(Reference.parseEither(input))).toBe(accepts(input))
    neverThrows(input)
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("never throws on strings over the grammar's alphabet", [grammarish], ([input]) => neverThrows(input), {
    fastCheck: { numRuns: 1000 }
  })

  it.prop("never throws on arbitrary strings", [fc.string({ maxLength: 300 })], ([input]) => neverThrows(input))

  it.prop("never throws on arbitrary Unicode", [fc.string({ unit: "binary", maxLength: 300 })], ([input]) =>
    neverThrows(input))

  it.prop("never throws on mutated valid references", [reference, fc.nat(), fc.string({ unit: "binary", maxLength: 3 })], (
    [ref, at, insert]
  ) => {
    const text = Reference.format(ref)
    const i = at % (text.length + 1)
    neverThrows(text.slice(0, i) + insert + text.slice(i + 1))
  })
})
