/**
 * The library of `effect-oci sync`: the core (`library.ts`) and `Sync`, a chunk of its own.
 *
 * @internal
 */
export * from "./library.js"
export * as Sync from "../Sync.js"
