/**
 * A running hash that keeps a copy of its state every MiB, so that an upload that must go on from
 * some offset without a known digest re-reads its body from the last checkpoint before that
 * offset, not from byte 0.
 *
 * @internal
 */
import { createHash, type Hash } from "node:crypto"
import type * as Digest from "../../Digest.js"

const MiB = 1024 * 1024

/** A {@link Digest.Hasher} over a Node hash that has already seen `size` bytes. */
const hasherOf = (algorithm: Digest.Algorithm, hash: Hash, size: number): Digest.Hasher => {
  let seen = size
  let result: Digest.Digest | undefined
  return {
    update: (chunk) => {
      seen += chunk.byteLength
      hash.update(chunk)
    },
    digest: () => (result ??= `${algorithm}:${hash.digest("hex")}` as Digest.Digest),
    size: () => seen
  }
}

/** A hasher of a body from its first byte, with checkpoints. @internal */
export interface Checkpointed extends Digest.Hasher {
  /** A fresh hasher standing at the last checkpoint at or before `offset` (undefined: none past 0). */
  readonly resumeAt: (offset: number) => { readonly hasher: Digest.Hasher; readonly at: number } | undefined
}

/** @internal */
export const make = (algorithm: Digest.Algorithm, every = MiB): Checkpointed => {
  const hash = createHash(algorithm)
  const saved = new Map<number, Hash>()
  let size = 0
  let result: Digest.Digest | undefined
  return {
    update: (chunk) => {
      let rest = chunk
      while (rest.byteLength > 0) {
        const part = rest.subarray(0, every - (size % every))
        hash.update(part)
        size += part.byteLength
        rest = rest.subarray(part.byteLength)
        if (size % every === 0) saved.set(size, hash.copy())
      }
    },
    digest: () => (result ??= `${algorithm}:${hash.digest("hex")}` as Digest.Digest),
    size: () => size,
    resumeAt: (offset) => {
      const at = Math.floor(Math.min(offset, size) / every) * every
      const state = saved.get(at)
      return state === undefined ? undefined : { hasher: hasherOf(algorithm, state.copy(), at), at }
    }
  }
}
