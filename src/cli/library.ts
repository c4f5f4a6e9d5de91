/**
 * The library a registry verb needs, loaded on first use (a separate chunk of the bundle), so that
 * `effect-oci --help` and parse errors never pay for its start-up. Sync (its cluster, workflow and
 * SQL modules, and the SQLite addon) and the embedded registry are chunks of their own
 * (`librarySync.ts`, `libraryServe.ts`): `cp` or `inspect` loading them cost ~0.1 s of CPU.
 *
 * @internal
 */
export * as BlobFile from "../BlobFile.js"
export * as Manifest from "../Manifest.js"
export * as Reference from "../Reference.js"
export * as RegistryError from "../RegistryError.js"
export * as Repository from "../Repository.js"
export * as Common from "./common.js"
export * as Stack from "./stack.js"
export * as FileSystem from "@effect/platform/FileSystem"
export * as NodeContext from "@effect/platform-node/NodeContext"
export * as Auth from "../Auth.js"
export * as Credentials from "../Credentials.js"
export * as HttpClientRequest from "@effect/platform/HttpClientRequest"
export * as Transport from "../Transport.js"
export * as Copy from "../Copy.js"
