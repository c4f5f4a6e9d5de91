/**
 * Image references (`registry/repository[:tag][@digest]`): parsing by the distribution reference
 * grammar, Docker Hub normalisation, and the string forms used on the wire and for display.
 *
 * A {@link Reference} is always normalised: `ubuntu` is `docker.io/library/ubuntu`, and
 * `index.docker.io` is spelled `docker.io`. Formatting one and parsing the result gives it back.
 *
 * @example
 * import * as Reference from "effect-oci/Reference"
 *
 * const ref = yield* Reference.parse("ubuntu:24.04")
 * ref.registry            // "docker.io"
 * ref.repository          // "library/ubuntu"
 * Reference.format(ref)   // "docker.io/library/ubuntu:24.04"
 * Reference.familiar(ref) // "ubuntu:24.04"
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as Digest from "./Digest.js"
import * as internal from "./internal/reference.js"
import { InvalidReference } from "./RegistryError.js"

export {
  /** @since 0.1.0 */
  InvalidReference
}

/**
 * The longest `registry/repository` name accepted, in characters.
 *
 * @since 0.1.0
 * @category constants
 */
export const nameTotalLengthMax: number = internal.nameTotalLengthMax

/**
 * A normalised image reference. `registry` is a host with an optional port (`docker.io` for Docker
 * Hub), `repository` the path inside it; `tag` and `digest` are each optional, and both may be set.
 *
 * Constructing one checks the grammar and that it is normalised (it throws a `ParseError` otherwise);
 * use {@link parse} or {@link make} to get a typed {@link InvalidReference} instead.
 *
 * @since 0.1.0
 * @category models
 */
export class Reference extends Schema.Class<Reference>("effect-oci/Reference")(
  Schema.Struct({
    registry: Schema.String,
    repository: Schema.String,
    tag: Schema.optionalWith(Schema.String, { exact: true }),
    digest: Schema.optionalWith(Digest.Digest, { exact: true })
  }).pipe(Schema.filter((parts) => internal.checkParts(parts)))
) {
  /** The full reference string, as {@link format} gives it. */
  override toString(): string {
    return format(this)
  }
}

/** @since 0.1.0 */
export interface Reference extends Pipeable {}

// On the prototype rather than in the class body's fields, so it takes no part in equality or encoding;
// declared through the interface above so `ref.pipe(Reference.withTag("v2"))` is typed.
Reference.prototype.pipe = function(this: Reference) {
  // eslint-disable-next-line prefer-rest-params
  return pipeArguments(this, arguments)
}

/** Skips re-validation: the parts come from `internal.parse` / `internal.normalise` + `checkParts`. */
const unsafeMake = (parts: internal.Parts): Reference => new Reference(parts, { disableValidation: true })

/**
 * Parses a reference string, normalising Docker Hub names. Fails with an {@link InvalidReference}
 * whose `reason` names the broken rule (empty input, uppercase in the repository, a bad tag or digest,
 * an invalid character and its index, a name over 255 characters, …).
 *
 * @example
 * Reference.parse("ghcr.io/owner/app:v1@sha256:…") // Effect<Reference, InvalidReference>
 * Reference.parse("localhost:5000/app")            // registry "localhost:5000"
 * Reference.parse("user/app")                      // docker.io/user/app
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (input: string): Effect.Effect<Reference, InvalidReference> => parseEither(input)

/**
 * Like {@link parse}, as an `Either` (for pure code).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseEither = (input: string): Either.Either<Reference, InvalidReference> =>
  Either.match(internal.parse(input), {
    onLeft: (reason) => Either.left(new InvalidReference({ input, reason })),
    onRight: (parts) => Either.right(unsafeMake(parts))
  })

/**
 * Builds a reference from its parts, normalising Docker Hub (`index.docker.io` → `docker.io`, a
 * single-component repository gets `library/`) and checking the grammar.
 *
 * @example
 * Reference.make({ registry: "docker.io", repository: "ubuntu", tag: "24.04" })
 * // Right(docker.io/library/ubuntu:24.04)
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (parts: {
  readonly registry: string
  readonly repository: string
  readonly tag?: string
  readonly digest?: Digest.Digest
}): Either.Either<Reference, InvalidReference> => {
  const normalised = internal.normalise(parts)
  const problem = internal.checkParts(normalised)
  return problem === undefined
    ? Either.right(unsafeMake(normalised))
    : Either.left(
      new InvalidReference({
        input: `${parts.registry}/${parts.repository}${parts.tag !== undefined ? `:${parts.tag}` : ""}${
          parts.digest !== undefined ? `@${parts.digest}` : ""
        }`,
        reason: problem
      })
    )
}

/**
 * The full reference string `registry/repository[:tag][@digest]`.
 *
 * @example
 * Reference.format(ref) // "docker.io/library/ubuntu:24.04"
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (ref: Reference): string =>
  `${name(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`

/**
 * `registry/repository`, without tag or digest.
 *
 * @since 0.1.0
 * @category formatting
 */
export const name = (ref: Reference): string => `${ref.registry}/${ref.repository}`

/**
 * The short form people type and read: `docker.io/` is dropped, then `library/` when what remains
 * has no `/`. Unlike Docker's familiar form, `docker.io/` is kept when dropping it would make the
 * first component read as a registry (`docker.io/my.org/app`), so the result always parses back to
 * the same reference.
 *
 * @example
 * Reference.familiar(ref) // "ubuntu:24.04", "user/app", "library/a/b", "ghcr.io/o/app"
 *
 * @since 0.1.0
 * @category formatting
 */
export const familiar = (ref: Reference): string => {
  const full = format(ref)
  if (ref.registry !== internal.dockerHub) return full
  const rest = full.slice(internal.dockerHub.length + 1)
  const namespace = ref.repository.slice(0, ref.repository.indexOf("/"))
  if (namespace === "library" && ref.repository.indexOf("/") === ref.repository.lastIndexOf("/")) {
    return rest.slice("library/".length)
  }
  return internal.isDomainLike(namespace) ? full : rest
}

/**
 * The same repository at another tag. Any digest is dropped: the result names what the tag points
 * to, like `docker pull app:v2`. Fails if the tag breaks the tag rule.
 *
 * @example
 * Reference.withTag(ref, "v2") // app:v1@sha256:… → app:v2  (Effect<Reference, InvalidReference>)
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTag: {
  (tag: string): (self: Reference) => Effect.Effect<Reference, InvalidReference>
  (self: Reference, tag: string): Effect.Effect<Reference, InvalidReference>
} = dual(2, (self: Reference, tag: string): Effect.Effect<Reference, InvalidReference> => {
  const problem = internal.checkTag(tag)
  return problem === undefined
    ? Either.right(unsafeMake({ registry: self.registry, repository: self.repository, tag }))
    : Either.left(new InvalidReference({ input: tag, reason: problem }))
})

/**
 * The same repository at a digest — how an index's child manifest, a blob's repository or a pinned
 * image is addressed. Any tag is dropped, so the result is exactly `registry/repository@digest`.
 * To keep the tag as well (`app:v1@sha256:…`, a pinned form for display), use {@link pin}.
 *
 * @example
 * Reference.withDigest(ref, child.digest) // app:v1 → app@sha256:…
 *
 * @since 0.1.0
 * @category combinators
 */
export const withDigest: {
  (digest: Digest.Digest): (self: Reference) => Reference
  (self: Reference, digest: Digest.Digest): Reference
} = dual(
  2,
  (self: Reference, digest: Digest.Digest): Reference =>
    unsafeMake({ registry: self.registry, repository: self.repository, digest })
)

/**
 * Keeps the tag and adds (or replaces) the digest: `app:v1` → `app:v1@sha256:…`. Registries address
 * such a reference by its digest; the tag is only for people reading it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const pin: {
  (digest: Digest.Digest): (self: Reference) => Reference
  (self: Reference, digest: Digest.Digest): Reference
} = dual(2, (self: Reference, digest: Digest.Digest): Reference => unsafeMake({ ...fields(self), digest }))

const fields = (ref: Reference): internal.Parts => ({
  registry: ref.registry,
  repository: ref.repository,
  ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
  ...(ref.digest !== undefined ? { digest: ref.digest } : {})
})

/**
 * The host that serves the registry API: `registry-1.docker.io` for Docker Hub (`docker.io`, or the
 * legacy `index.docker.io`), any other registry unchanged.
 *
 * @since 0.1.0
 * @category registries
 */
export const apiHost = (registry: string): string =>
  registry === internal.dockerHub || registry === internal.legacyDockerHub ? internal.dockerHubApiHost : registry

/**
 * Whether a registry is on the loopback interface — `localhost`, 127.0.0.0/8, or `::1` — with or
 * without a port. Such registries may be spoken to over plain HTTP.
 *
 * @example
 * Reference.isLoopback("localhost:5000") // true
 * Reference.isLoopback("[::1]:5000")     // true
 * Reference.isLoopback("ghcr.io")        // false
 *
 * @since 0.1.0
 * @category registries
 */
export const isLoopback: (registry: string) => boolean = internal.isLoopback

/**
 * Schema between a reference string and a {@link Reference}; decoding normalises (`ubuntu` decodes to
 * `docker.io/library/ubuntu`), encoding gives the full form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ReferenceFromString: Schema.Schema<Reference, string> = Schema.transformOrFail(
  Schema.String,
  Schema.typeSchema(Reference),
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.mapLeft(parseEither(input), (e) => new ParseResult.Type(ast, input, `invalid reference: ${e.reason}`)),
    encode: (ref) => ParseResult.succeed(format(ref))
  }
).annotations({ identifier: "ReferenceFromString" })
