/**
 * effect-oci: an Effect-native client for OCI / Docker registries.
 *
 * Each public module is re-exported as a namespace. The Node wiring (`effect-oci/node`) and the
 * embedded test registry (`effect-oci/testing`) have their own entry points, so that importing the
 * library does not load Node's HTTP stack; so does `effect-oci/Sync` (it loads SQLite, Postgres and
 * @effect/cluster).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Auth from "./Auth.js"
/** @since 0.1.0 */
export * as BlobCache from "./BlobCache.js"
/** @since 0.1.0 */
export * as BlobFile from "./BlobFile.js"
/** @since 0.1.0 */
export * as Copy from "./Copy.js"
/** @since 0.1.0 */
export * as Credentials from "./Credentials.js"
/** @since 0.1.0 */
export * as Digest from "./Digest.js"
/** @since 0.1.0 */
export * as Manifest from "./Manifest.js"
/** @since 0.1.0 */
export * as MediaType from "./MediaType.js"
/** @since 0.1.0 */
export * as Metrics from "./Metrics.js"
/** @since 0.1.0 */
export * as OciLayout from "./OciLayout.js"
/** @since 0.1.0 */
export * as Reference from "./Reference.js"
/** @since 0.1.0 */
export * as RegistryError from "./RegistryError.js"
/** @since 0.1.0 */
export * as Repository from "./Repository.js"
/** @since 0.1.0 */
export * as Stack from "./Stack.js"
/** @since 0.1.0 */
export * as Transport from "./Transport.js"
