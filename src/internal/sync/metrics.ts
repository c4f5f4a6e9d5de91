/**
 * Sync's metrics: per-mapping tag counters and the duration of a pass.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/** Tags sync looked at, tagged with `mapping`. */
export const tagsChecked = Metric.counter("effect_oci_sync_tags_checked_total", {
  description: "tags sync compared between source and destination",
  incremental: true
})

/** Tags copied, tagged with `mapping`. */
export const tagsCopied = Metric.counter("effect_oci_sync_tags_copied_total", {
  description: "tags sync copied",
  incremental: true
})

/** Tags left alone because the destination was up to date, tagged with `mapping`. */
export const tagsSkipped = Metric.counter("effect_oci_sync_tags_skipped_total", {
  description: "tags sync found up to date",
  incremental: true
})

/** Tags whose check or copy failed, tagged with `mapping`. */
export const tagsFailed = Metric.counter("effect_oci_sync_tags_failed_total", {
  description: "tags sync failed to check or copy",
  incremental: true
})

/** Seconds a sync pass took (all mappings). */
export const duration = Metric.histogram(
  "effect_oci_sync_duration_seconds",
  MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 16 }),
  "duration of a sync pass"
)

/** The four counters tagged with a mapping's label. */
export const forMapping = (mapping: string) => ({
  checked: Metric.tagged(tagsChecked, "mapping", mapping),
  copied: Metric.tagged(tagsCopied, "mapping", mapping),
  skipped: Metric.tagged(tagsSkipped, "mapping", mapping),
  failed: Metric.tagged(tagsFailed, "mapping", mapping)
})
