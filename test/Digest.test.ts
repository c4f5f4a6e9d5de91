import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Digest from "../src/Digest.js"

const empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

describe("Digest.parse", () => {
  it.effect("accepts sha256 and sha512 with their exact lengths", () =>
    Effect.gen(function*() {
      expect(yield* Digest.parse(empty)).toBe(empty)
      const d512 = "sha512:" + "0".repeat(128)
      expect(yield* Digest.parse(d512)).toBe(d512)
    }))

  it.each([
    ["", "expected <algorithm>:<hex>"],
    ["sha256", "expected <algorithm>:<hex>"],
    [":abc", "expected <algorithm>:<hex>"],
    ["sha256:", "expected <algorithm>:<hex>"],
    ["md5:" + "a".repeat(32), "unsupported algorithm"],
    ["sha384:" + "a".repeat(96), "unsupported algorithm"],
    ["SHA256:" + "a".repeat(64), "unsupported algorithm"],
    ["sha256:" + "a".repeat(63), "needs 64 hex characters, got 63"],
    ["sha256:" + "a".repeat(65), "needs 64 hex characters, got 65"],
    ["sha512:" + "a".repeat(64), "needs 128 hex characters, got 64"],
    ["sha256:" + "A".repeat(64), "lowercase hexadecimal"],
    ["sha256:" + "g".repeat(64), "lowercase hexadecimal"]
  ])("rejects %j (%s)", (input, reason) => {
    const result = Digest.parseEither(input)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("InvalidDigest")
      expect(result.left.reason).toContain(reason)
    }
  })

  it.prop("never throws on arbitrary strings", [FastCheck.string()], ([s]) => {
    const result = Digest.parseEither(s)
    return Either.isLeft(result) || Digest.isDigest(s)
  })

  it("has a Schema that reports the reason", () => {
    const decode = Schema.decodeUnknownEither(Digest.Digest)
    expect(Either.isRight(decode(empty))).toBe(true)
    const bad = decode("sha256:xyz")
    expect(Either.isLeft(bad) && String(bad.left)).toContain("invalid digest")
  })

  it("is a Schema brand: Digest.make checks, and a plain string is no Digest to the type checker", () => {
    expect(Digest.Digest.make(empty)).toBe(empty)
    expect(() => Digest.Digest.make("sha256:xyz")).toThrow(/hex/)
    // @ts-expect-error a string must be parsed (or made) into a Digest
    const unchecked: Digest.Digest = "sha256:xyz"
    expect(Digest.isDigest(unchecked)).toBe(false)
  })
})

describe("Digest.compute", () => {
  it("hashes bytes and strings with sha256 and sha512", () => {
    expect(Digest.compute(new Uint8Array())).toBe(empty)
    expect(Digest.compute("hello", "sha512")).toBe("sha512:" + createHash("sha512").update("hello").digest("hex"))
    expect(Digest.algorithm(Digest.compute("x", "sha512"))).toBe("sha512")
    expect(Digest.hex(Digest.compute(""))).toBe(empty.slice(7))
  })

  it.effect("computes a digest from a stream without keeping it", () =>
    Effect.gen(function*() {
      const data = new TextEncoder().encode("some blob content")
      const stream = Stream.fromIterable([data.slice(0, 4), data.slice(4)])
      const result = yield* Digest.computeStream(stream)
      expect(result).toEqual({ digest: Digest.compute(data), size: data.byteLength })
    }))
})

describe("Digest.verify", () => {
  const data = new TextEncoder().encode("layer bytes")
  const digest = Digest.compute(data)
  const chunks = Stream.fromIterable([data.slice(0, 3), data.slice(3, 7), data.slice(7)])

  it.effect("passes matching content through unchanged", () =>
    Effect.gen(function*() {
      const out = yield* Stream.runCollect(chunks.pipe(Digest.verify({ digest, size: data.byteLength })))
      expect(Chunk.toReadonlyArray(out)).toEqual([data.slice(0, 3), data.slice(3, 7), data.slice(7)])
    }))

  it.effect("fails with DigestMismatch carrying expected and actual", () =>
    Effect.gen(function*() {
      const wrong = Digest.compute("other")
      const error = yield* Effect.flip(Stream.runDrain(chunks.pipe(Digest.verify({ digest: wrong }))))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: wrong, actual: digest })
    }))

  it.effect("fails with SizeMismatch on a short stream", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(chunks.pipe(Digest.verify({ digest, size: 100 }))))
      expect(error).toMatchObject({ _tag: "SizeMismatch", expected: 100, actual: data.byteLength })
    }))

  it.effect("fails as soon as a stream grows past the expected size, without reading the rest", () =>
    Effect.gen(function*() {
      let pulled = 0
      const endless = Stream.repeatEffect(Effect.sync(() => {
        pulled++
        return new Uint8Array(10)
      }))
      const error = yield* Effect.flip(Stream.runDrain(endless.pipe(Digest.verify({ digest, size: 25 }))))
      expect(error).toMatchObject({ _tag: "SizeMismatch", expected: 25 })
      expect(pulled).toBeLessThan(10)
    }))

  it.effect("verifies sha512 digests too", () =>
    Effect.gen(function*() {
      const d = Digest.compute(data, "sha512")
      yield* Stream.runDrain(chunks.pipe(Digest.verify({ digest: d })))
    }))
})
