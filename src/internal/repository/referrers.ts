/**
 * OCI 1.1 referrers: the referrers API, and the `sha256-<hex>` tag schema where a registry lacks it.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { pullScope } from "../../Auth.js"
import * as Digest from "../../Digest.js"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import * as Reference from "../../Reference.js"
import { type Context, get, invalid, isSuccess, nextLink, paginate, refusal, repoUrl, send, type Target } from "./http.js"
import * as Manifests from "./manifests.js"

/** Options of a referrers query. @internal */
export interface ReferrersOptions {
  /** Only referrers with this artifact type. */
  readonly artifactType?: string | undefined
}

/** The tag under which the fallback index of `subject` lives: `<alg>-<hex>`. @internal */
export const fallbackTag = (subject: Digest.Digest): string => `${Digest.algorithm(subject)}-${Digest.hex(subject)}`

const byArtifactType = (artifactType: string | undefined) => (descriptors: ReadonlyArray<Manifest.Descriptor>) =>
  artifactType === undefined ? descriptors : descriptors.filter((d) => d.artifactType === artifactType)

const indexEntries = (decoded: Manifest.Decoded, url?: string) =>
  Manifest.isImageIndex(decoded.manifest)
    ? Effect.succeed(decoded.manifest.manifests)
    : invalid(`expected an OCI image index, got ${decoded.mediaType}`, url)

/**
 * What the referrers API said: its entries; `Absent` for a 404 (no API); `Unsure` for a 404
 * NAME_UNKNOWN, which a registry with the API also answers for a repository it does not know.
 */
type ApiAnswer =
  | { readonly _tag: "Found"; readonly entries: ReadonlyArray<Manifest.Descriptor> }
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Unsure" }

/** The referrers API. */
const fromApi = (ctx: Context, target: Target, subject: Digest.Digest, options: ReferrersOptions) => {
  const first = new URL(repoUrl(ctx, target, `referrers/${subject}`))
  if (options.artifactType !== undefined) first.searchParams.set("artifactType", options.artifactType)
  let notFound: ApiAnswer | undefined
  const pages = paginate(first.toString(), (url) =>
    Effect.gen(function*() {
      const response = yield* send(ctx, target.registry, get(url, { accept: MediaType.OciIndex }), [
        pullScope(target.repository)
      ])
      if (response.status === 404 && url === first.toString()) {
        const error = yield* Effect.flip(refusal(response))
        notFound = error._tag === "NameUnknown" ? { _tag: "Unsure" } : { _tag: "Absent" }
        return { items: [], next: undefined }
      }
      if (!isSuccess(response.status)) return yield* refusal(response)
      const entries = yield* Effect.flatMap(Manifest.fromResponse(response), (d) => indexEntries(d, url))
      // A registry that did not apply the filter says so by leaving it out of OCI-Filters-Applied.
      const applied = (response.headers["oci-filters-applied"] ?? "").split(",").map((s) => s.trim())
      const items = applied.includes("artifactType") ? entries : byArtifactType(options.artifactType)(entries)
      return { items, next: nextLink(response.headers["link"], url) }
    }))
  return Stream.runCollect(pages).pipe(
    Effect.map((all): ApiAnswer => notFound ?? { _tag: "Found", entries: Chunk.toReadonlyArray(all) })
  )
}

/** The fallback: the index tagged `<alg>-<hex>`, or nothing when there is no such tag. */
const fromTagSchema = (ctx: Context, target: Target, subject: Digest.Digest, options: ReferrersOptions) =>
  Effect.gen(function*() {
    // The target came from a valid reference and the tag is `<alg>-<hex>`: this cannot fail.
    const ref = yield* Effect.orDie(
      Reference.make({ registry: target.registry, repository: target.repository, tag: fallbackTag(subject) })
    )
    const index = yield* Manifests.get(ctx, ref, { accept: [MediaType.OciIndex] }).pipe(
      Effect.map((d) => d as Manifest.Decoded | undefined),
      Effect.catchTags({ ManifestUnknown: () => Effect.succeed(undefined), NameUnknown: () => Effect.succeed(undefined) })
    )
    if (index === undefined) return []
    return byArtifactType(options.artifactType)(yield* indexEntries(index))
  })

/**
 * The manifests that refer to `subject`. Uses the referrers API, and remembers per registry when it
 * is missing so that later queries go straight to the tag schema.
 *
 * @internal
 */
export const list = (ctx: Context, target: Target, subject: Digest.Digest, options: ReferrersOptions = {}) =>
  Effect.gen(function*() {
    if (ctx.referrersApi.get(target.registry) !== false) {
      const answer = yield* fromApi(ctx, target, subject, options)
      if (answer._tag === "Found") {
        ctx.referrersApi.set(target.registry, true)
        return answer.entries
      }
      // Unsure: ask the tag schema this time, but do not give up on the API for the registry.
      if (answer._tag === "Absent") ctx.referrersApi.set(target.registry, false)
    }
    return yield* fromTagSchema(ctx, target, subject, options)
  })
