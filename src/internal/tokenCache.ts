/**
 * A single-flight token cache: one entry per key (registry + realm + service + scopes), holding
 * either a usable token or the one fetch in progress that every concurrent caller waits on.
 *
 * The fetch runs in a fiber forked into the cache's scope rather than in the caller that started
 * it, so interrupting that caller (a cancelled pull) does not fail the others waiting for the same
 * token.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { withEntry, withoutEntry } from "./maps.js"
import type { Token } from "./token.js"

type Slot<E> =
  | { readonly _tag: "Pending"; readonly deferred: Deferred.Deferred<Token, E> }
  | { readonly _tag: "Ready"; readonly token: Token }

/** @internal */
export interface TokenCache<E> {
  /** The cached token for `key` while it is fresh; otherwise the result of one shared `fetch`. */
  readonly get: (key: string, fetch: Effect.Effect<Token, E>) => Effect.Effect<Token, E>
  /** Forgets `key`'s token if it is still `token` (a newer one is kept). */
  readonly invalidate: (key: string, token: Token) => Effect.Effect<void>
}

/** @internal */
export const make = <E>(): Effect.Effect<TokenCache<E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const ref = yield* SynchronizedRef.make(new Map<string, Slot<E>>())

    const settle = (key: string, deferred: Deferred.Deferred<Token, E>, exit: Exit.Exit<Token, E>) =>
      SynchronizedRef.update(ref, (map) => {
        const slot = map.get(key)
        if (slot?._tag !== "Pending" || slot.deferred !== deferred) return map
        return Exit.isSuccess(exit) ? withEntry(map, key, { _tag: "Ready", token: exit.value }) : withoutEntry(map, key)
      }).pipe(Effect.zipRight(Deferred.done(deferred, exit)))

    const get = (key: string, fetch: Effect.Effect<Token, E>): Effect.Effect<Token, E> =>
      Effect.flatten(SynchronizedRef.modifyEffect(ref, (map) =>
        Effect.gen(function*() {
          const slot = map.get(key)
          const now = yield* Clock.currentTimeMillis
          if (slot?._tag === "Ready" && now < slot.token.renewAt) {
            return [Effect.succeed(slot.token), map] as const
          }
          if (slot?._tag === "Pending") return [Deferred.await(slot.deferred), map] as const
          const deferred = yield* Deferred.make<Token, E>()
          yield* fetch.pipe(
            Effect.onExit((exit) => settle(key, deferred, exit)),
            Effect.forkIn(scope)
          )
          const next = new Map<string, Slot<E>>()
          // drop tokens that expired, so the map does not grow with every scope ever used
          for (const [k, s] of map) if (s._tag === "Pending" || s.token.expiresAt > now) next.set(k, s)
          next.set(key, { _tag: "Pending", deferred })
          return [Deferred.await(deferred), next] as const
        })))

    const invalidate = (key: string, token: Token) =>
      SynchronizedRef.update(ref, (map) => {
        const slot = map.get(key)
        return slot?._tag === "Ready" && slot.token === token ? withoutEntry(map, key) : map
      })

    return { get, invalidate } satisfies TokenCache<E>
  })
