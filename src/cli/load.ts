/**
 * Access to the {@link library} from a verb's handler: `withLibrary((lib) => …)` for local work,
 * `onRegistry((lib) => …)` for work on the client stack the global options describe.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { globals } from "./global.js"

/** The lazily loaded library (see library.ts). */
export type Library = typeof import("./library.js")

/** The library with `Sync` (see librarySync.ts). */
export type SyncLibrary = typeof import("./librarySync.js")

/** The embedded registry (see libraryServe.ts). */
export type ServeLibrary = typeof import("./libraryServe.js")

const load: Effect.Effect<Library> = Effect.promise(() => import("./library.js"))

/** Runs `f` with the library loaded. */
export const withLibrary = <A, E, R>(f: (lib: Library) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(load, f)

/** Runs `f` with the library and `Sync` loaded. */
export const withSyncLibrary = <A, E, R>(f: (lib: SyncLibrary) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.promise(() => import("./librarySync.js")), f)

/** Runs `f` with the embedded registry loaded. */
export const withServeLibrary = <A, E, R>(f: (lib: ServeLibrary) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.promise(() => import("./libraryServe.js")), f)

/**
 * Runs `f` with the library loaded and the client stack (Repository, Auth, Transport, …) built
 * from the global options provided.
 */
export const onRegistry = <A, E, R>(f: (lib: Library) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(load, (lib) => Effect.flatMap(globals, (g) => Effect.provide(f(lib), lib.Stack.layer(g))))
