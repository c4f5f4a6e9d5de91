/**
 * The Effect metrics effect-oci records. Export them with any Effect metrics exporter, e.g.
 * `@effect/opentelemetry` (see the README).
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

export {
  /**
   * Blob descriptor cache hits.
   *
   * @since 0.1.0
   * @category metrics
   */
  hits as cacheHits,
  /**
   * Blob descriptor cache misses.
   *
   * @since 0.1.0
   * @category metrics
   */
  misses as cacheMisses
} from "./BlobCache.js"

/**
 * Blob descriptor cache operations that failed or timed out (answered as a miss or a no-op), tagged
 * with `operation` (`get`, `set`, `clear`, `repositories`). Only caches with a backend that can fail (Redis) count.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cacheErrors = Metric.counter("effect_oci_blob_cache_errors_total", {
  description: "blob descriptor cache operations that failed or timed out (answered as a miss or a no-op)",
  incremental: true
})

/**
 * Registry requests sent (each attempt and each redirect hop), tagged with `status` (the HTTP status,
 * or `error` when no response came) and `method`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const requests = Metric.counter("effect_oci_requests_total", {
  description: "registry requests sent, by status",
  incremental: true
})

/**
 * Retries of registry requests (attempts after the first).
 *
 * @since 0.1.0
 * @category metrics
 */
export const retries = Metric.counter("effect_oci_retries_total", {
  description: "registry requests retried",
  incremental: true
})

/**
 * Response body bytes received.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesReceived = Metric.counter("effect_oci_bytes_received_total", {
  description: "response body bytes received from registries",
  incremental: true
})

/**
 * Request body bytes sent (when their length is known up front).
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesSent = Metric.counter("effect_oci_bytes_sent_total", {
  description: "request body bytes sent to registries",
  incremental: true
})

/**
 * Token fetches from token endpoints.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenFetches = Metric.counter("effect_oci_token_fetches_total", {
  description: "bearer token fetches",
  incremental: true
})

/**
 * Blob reads resumed after their body broke off.
 *
 * @since 0.1.0
 * @category metrics
 */
export const resumedDownloads = Metric.counter("effect_oci_resumed_downloads_total", {
  description: "blob downloads resumed with a Range request",
  incremental: true
})

/**
 * The route template of a registry URL path, for span names and attributes: repository names,
 * digests, tags and upload ids are replaced by placeholders, so spans group by operation.
 *
 * @example
 * routeTemplate("/v2/library/alpine/blobs/sha256:abc…") // "/v2/<name>/blobs/<digest>"
 *
 * @since 0.1.0
 * @category utils
 */
export const routeTemplate = (path: string): string => {
  if (path === "/v2/" || path === "/v2") return "/v2/"
  if (path === "/v2/_catalog") return "/v2/_catalog"
  const match = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\/(.*)$/.exec(path)
  if (match === null) return path.startsWith("/v2/") ? "/v2/<other>" : "<external>"
  const [, , kind, rest = ""] = match
  switch (kind) {
    case "manifests":
      return /^[a-z0-9]+:/.test(rest) ? "/v2/<name>/manifests/<digest>" : "/v2/<name>/manifests/<tag>"
    case "blobs":
      if (rest === "uploads/" || rest === "uploads") return "/v2/<name>/blobs/uploads/"
      if (rest.startsWith("uploads/")) return "/v2/<name>/blobs/uploads/<uuid>"
      return "/v2/<name>/blobs/<digest>"
    case "tags":
      return "/v2/<name>/tags/list"
    default:
      return "/v2/<name>/referrers/<digest>"
  }
}
