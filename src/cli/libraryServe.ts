/**
 * The embedded registry of `effect-oci serve`, a chunk of its own (see `library.ts`).
 *
 * @internal
 */
export * as TestRegistry from "../testing/index.js"
