/**
 * Content digests (`algorithm:hex`): parsing, computing, and verifying streams.
 *
 * Only `sha256` (64 hex) and `sha512` (128 hex) are accepted — the algorithms the OCI image spec
 * registers; anything else is an {@link InvalidDigest}.
 *
 * @since 0.1.0
 */
import { createHash, type Hash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { DigestMismatch, InvalidDigest, SizeMismatch } from "./RegistryError.js"

export {
  /** @since 0.1.0 */
  DigestMismatch,
  /** @since 0.1.0 */
  InvalidDigest,
  /** @since 0.1.0 */
  SizeMismatch
}

/**
 * The digest algorithms this client computes and accepts.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "sha256" | "sha512"

const hexLength: Record<Algorithm, number> = { sha256: 64, sha512: 128 }

/** Why `input` is not a digest, or undefined when it is one. */
const problem = (input: string): string | undefined => {
  const colon = input.indexOf(":")
  if (colon <= 0 || colon === input.length - 1) return "expected <algorithm>:<hex>"
  const algorithm = input.slice(0, colon)
  const hex = input.slice(colon + 1)
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    return `unsupported algorithm "${algorithm.slice(0, 32)}" (expected sha256 or sha512)`
  }
  if (!/^[a-f0-9]+$/.test(hex)) return "the hex part must be lowercase hexadecimal"
  if (hex.length !== hexLength[algorithm]) {
    return `${algorithm} needs ${hexLength[algorithm]} hex characters, got ${hex.length}`
  }
  return undefined
}

/**
 * Schema for a digest string, branded `Digest`; decoding fails with the reason {@link parse} gives.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Digest = Schema.String.pipe(
  Schema.filter((s, _, ast) => {
    const reason = problem(s)
    return reason === undefined ? undefined : new ParseResult.Type(ast, s, `invalid digest: ${reason}`)
  }),
  Schema.brand("Digest"),
  Schema.annotations({ identifier: "Digest" })
)

/**
 * A validated digest string such as `sha256:e3b0c442…`.
 *
 * @since 0.1.0
 * @category models
 */
export type Digest = typeof Digest.Type

/** A digest from a string already known to be valid (computed here, or checked by `problem`). */
const trusted = (input: string): Digest => Digest.make(input, { disableValidation: true })

const validate = (input: string): Either.Either<Digest, InvalidDigest> => {
  const reason = problem(input)
  return reason === undefined ? Either.right(trusted(input)) : Either.left(new InvalidDigest({ input, reason }))
}

/**
 * Parses and validates a digest.
 *
 * @example
 * Digest.parse("sha256:" + "a".repeat(64)) // Effect<Digest, InvalidDigest>
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (input: string): Effect.Effect<Digest, InvalidDigest> => validate(input)

/**
 * Like {@link parse}, as an `Either` (for pure code).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseEither: (input: string) => Either.Either<Digest, InvalidDigest> = validate

/**
 * Tells whether a string is a valid digest.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDigest = (u: unknown): u is Digest => typeof u === "string" && problem(u) === undefined

/**
 * The algorithm part of a digest.
 *
 * @since 0.1.0
 * @category getters
 */
export const algorithm = (digest: Digest): Algorithm => digest.slice(0, digest.indexOf(":")) as Algorithm

/**
 * The hex part of a digest.
 *
 * @since 0.1.0
 * @category getters
 */
export const hex = (digest: Digest): string => digest.slice(digest.indexOf(":") + 1)

/**
 * The digest of some bytes (or a UTF-8 string).
 *
 * @example
 * Digest.compute(new Uint8Array()) // "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 *
 * @since 0.1.0
 * @category constructors
 */
export const compute = (data: Uint8Array | string, alg: Algorithm = "sha256"): Digest =>
  trusted(`${alg}:${createHash(alg).update(data).digest("hex")}`)

/**
 * An incremental hasher: feed it chunks, then ask for the digest and the number of bytes seen.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hasher {
  readonly update: (chunk: Uint8Array) => void
  readonly digest: () => Digest
  readonly size: () => number
}

/**
 * Creates an incremental {@link Hasher}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hasher = (alg: Algorithm = "sha256"): Hasher => {
  const hash: Hash = createHash(alg)
  let size = 0
  let result: Digest | undefined
  return {
    update: (chunk) => {
      size += chunk.byteLength
      hash.update(chunk)
    },
    digest: () => (result ??= trusted(`${alg}:${hash.digest("hex")}`)),
    size: () => size
  }
}

/**
 * Passes a byte stream through unchanged while hashing it; at the end the stream fails with
 * {@link SizeMismatch} (when `size` is given and differs) or {@link DigestMismatch}. A stream that
 * grows past `size` fails as soon as it does, without reading the rest.
 *
 * @example
 * response.stream.pipe(Digest.verify({ digest, size }))
 *
 * @since 0.1.0
 * @category combinators
 */
export const verify = (expected: { readonly digest: Digest; readonly size?: number | undefined }) =>
<E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | DigestMismatch | SizeMismatch, R> =>
  Stream.suspend(() => {
    const h = hasher(algorithm(expected.digest))
    const checked = self.pipe(
      Stream.mapChunksEffect((chunk) =>
        Effect.suspend(() => {
          for (const bytes of chunk) h.update(bytes)
          return expected.size !== undefined && h.size() > expected.size
            ? Effect.fail(new SizeMismatch({ expected: expected.size, actual: h.size() }))
            : Effect.succeed(chunk)
        })
      )
    )
    const atEnd = Effect.suspend((): Effect.Effect<void, DigestMismatch | SizeMismatch> => {
      if (expected.size !== undefined && h.size() !== expected.size) {
        return Effect.fail(new SizeMismatch({ expected: expected.size, actual: h.size() }))
      }
      const actual = h.digest()
      return actual === expected.digest
        ? Effect.void
        : Effect.fail(new DigestMismatch({ expected: expected.digest, actual }))
    })
    return Stream.concat(checked, Stream.fromEffect(atEnd).pipe(Stream.drain))
  })

/**
 * Hashes a whole stream (without keeping it) and returns its digest and size.
 *
 * @since 0.1.0
 * @category constructors
 */
export const computeStream = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  alg: Algorithm = "sha256"
): Effect.Effect<{ readonly digest: Digest; readonly size: number }, E, R> =>
  Effect.suspend(() => {
    const h = hasher(alg)
    return Stream.runForEach(self, (bytes) => Effect.sync(() => h.update(bytes))).pipe(
      Effect.map(() => ({ digest: h.digest(), size: h.size() }))
    )
  })
