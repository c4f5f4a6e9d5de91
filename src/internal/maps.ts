/**
 * Copy-on-write updates of the `Map`s kept in `Ref`s (the Ref's old value stays untouched, so a
 * reader holding it sees a consistent map).
 *
 * @internal
 */

/** A copy of `map` with `key` set to `value`. @internal */
export const withEntry = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> => new Map(map).set(key, value)

/** A copy of `map` without `key`. @internal */
export const withoutEntry = <K, V>(map: ReadonlyMap<K, V>, key: K): Map<K, V> => {
  const next = new Map(map)
  next.delete(key)
  return next
}
