/**
 * Manifest and tag writes: put (by tag or digest, with the manifest's exact `Content-Type`, the
 * registry's digest checked against ours, referrers kept up to date), delete, tag and untag; and
 * blob deletion.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { pushScope, repositoryScope } from "../../Auth.js"
import * as Digest from "../../Digest.js"
import * as Manifest from "../../Manifest.js"
import * as Reference from "../../Reference.js"
import {
  DigestMismatch,
  InvalidReference,
  Unsupported,
  type UnexpectedStatus,
  type WireError
} from "../../RegistryError.js"
import { blobUnknown, isSuccess, manifestUnknown, refusal, repoUrl, send, type Target } from "./http.js"
import * as Manifests from "./manifests.js"
import { addReferrer, type ManifestWriteContext, removeReferrer } from "./referrersPush.js"
import { discard } from "../body.js"
import { checkDigestHeader } from "./uploadSession.js"

/** A manifest to push: one we encoded or decoded, or raw bytes with their media type. @internal */
export type ManifestInput = Manifest.Decoded | { readonly bytes: Uint8Array; readonly mediaType: string }

const deleteScope = (target: Target) => [repositoryScope(target.repository, "delete")]

/**
 * `PUT /v2/<name>/manifests/<tag or digest>` with `Content-Type` = the media type, exactly. The
 * digest (of the bytes — of the canonical form for a signed schema 1 —, in the algorithm of the
 * reference's digest when it has one) is checked against the reference before sending and against
 * `Docker-Content-Digest` after.
 */
const put = (ctx: ManifestWriteContext, ref: Reference.Reference, bytes: Uint8Array, mediaType: string) =>
  Effect.gen(function*() {
    const digest = yield* Manifest.digestOf(bytes, mediaType, ref.digest === undefined ? "sha256" : Digest.algorithm(ref.digest))
    if (ref.digest !== undefined && ref.digest !== digest) {
      return yield* new DigestMismatch({ expected: ref.digest, actual: digest })
    }
    const request = HttpClientRequest.put(repoUrl(ctx, ref, `manifests/${ref.tag ?? digest}`)).pipe(
      HttpClientRequest.bodyUint8Array(bytes, mediaType)
    )
    const response = yield* send(ctx, ref.registry, request, [pushScope(ref.repository)])
    if (!isSuccess(response.status)) return yield* refusal(response)
    yield* discard(response)
    yield* checkDigestHeader(response, digest)
    return { digest, indexed: response.headers["oci-subject"] !== undefined }
  })

/**
 * `putManifest`: by the reference's tag when it has one (its digest, if any, is then an
 * assertion), else by digest. When the manifest has a `subject` the registry did not index, the
 * subject's fallback index is updated.
 *
 * @internal
 */
export const putManifest = (ctx: ManifestWriteContext, ref: Reference.Reference, input: ManifestInput) =>
  Effect.gen(function*() {
    const decoded = "manifest" in input
      ? Option.some(input as Manifest.Decoded)
      : yield* Effect.option(Manifest.decode(input.bytes, { contentType: input.mediaType }))
    const { digest, indexed } = yield* put(ctx, ref, input.bytes, input.mediaType)
    yield* Effect.annotateCurrentSpan({ "oci.manifest.digest": digest, "oci.manifest.media_type": input.mediaType })
    const subject = Option.flatMapNullable(decoded, (d) => Manifest.subject(d.manifest))
    if (Option.isNone(subject) || Option.isNone(decoded)) return digest
    // A registry with the referrers API answers a manifest with a subject with `OCI-Subject`.
    ctx.referrersApi.set(ref.registry, indexed)
    if (indexed || !ctx.referrersFallback.enabled) return digest
    const descriptor = Manifest.referrerDescriptor({ ...decoded.value, digest, size: input.bytes.byteLength })
    const outcome = yield* addReferrer(ctx, ref, subject.value.digest, descriptor)
    yield* Effect.logDebug("referrers fallback index updated").pipe(
      Effect.annotateLogs({ subject: subject.value.digest, outcome })
    )
    return digest
  })

/**
 * `deleteManifest`: by digest only (removing a tag is `untag`). On a registry known to lack the
 * referrers API, a manifest with a `subject` is also removed from its subject's fallback index.
 *
 * @internal
 */
export const deleteManifest = (ctx: ManifestWriteContext, ref: Reference.Reference) =>
  Effect.gen(function*() {
    if (ref.digest === undefined) {
      return yield* new InvalidReference({
        input: Reference.format(ref),
        reason: "deleting a manifest needs its digest (to remove a tag, untag it)"
      })
    }
    // Where the client keeps referrers itself (the registry is known to lack the referrers API), the
    // deleted manifest must leave its subject's fallback index too: learn its subject before it is
    // gone. Elsewhere a delete stays one request.
    const keepsFallback = ctx.referrersFallback.enabled && ctx.referrersApi.get(ref.registry) === false
    const subject = keepsFallback
      ? yield* Manifests.get(ctx, ref).pipe(
        Effect.map((fetched) => Manifest.subject(fetched.manifest)?.digest),
        Effect.orElseSucceed(() => undefined)
      )
      : undefined
    const request = HttpClientRequest.del(repoUrl(ctx, ref, `manifests/${ref.digest}`))
    const response = yield* send(ctx, ref.registry, request, deleteScope(ref))
    if (!isSuccess(response.status)) return yield* refusal(response, manifestUnknown)
    yield* discard(response)
    if (subject !== undefined) {
      // The manifest is gone either way: a fallback index that cannot be updated is worth a warning,
      // not a failed delete.
      yield* removeReferrer(ctx, ref, subject, ref.digest).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning("could not update the referrers fallback index").pipe(
            Effect.annotateLogs({ subject, error: error._tag })
          )
        )
      )
    }
  })

/** `deleteBlob`: the BlobCache forgets the blob in this repository whatever the answer. @internal */
export const deleteBlob = (ctx: ManifestWriteContext, target: Target, digest: Digest.Digest) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.del(repoUrl(ctx, target, `blobs/${digest}`))
    const response = yield* send(ctx, target.registry, request, deleteScope(target))
    if (!isSuccess(response.status)) return yield* refusal(response, blobUnknown)
    yield* discard(response)
  }).pipe(Effect.ensuring(ctx.cache.clear(digest, `${target.registry}/${target.repository}`)))

/**
 * `tag`: the exact bytes of `source` (tag or digest) put under `newTag` in the same repository,
 * with the same `Content-Type`. Returns the manifest's descriptor.
 *
 * @internal
 */
export const tag = (ctx: ManifestWriteContext, source: Reference.Reference, newTag: string) =>
  Effect.gen(function*() {
    const target = yield* Reference.make({ registry: source.registry, repository: source.repository, tag: newTag })
    const fetched = yield* Manifests.get(ctx, source)
    const { digest } = yield* put(ctx, target, fetched.bytes, fetched.mediaType)
    return { mediaType: fetched.mediaType, digest, size: fetched.bytes.byteLength } as Manifest.Descriptor
  })

const isRefusedDelete = (error: WireError | UnexpectedStatus) =>
  error._tag === "Unsupported" || error.status === 400 || error.status === 405

/**
 * `untag`: `DELETE /v2/<name>/manifests/<tag>`. A registry that does not delete by tag (400 — which
 * distribution 2.8 sends as DIGEST_INVALID —, 405, or UNSUPPORTED) gives `Unsupported`.
 *
 * @internal
 */
export const untag = (ctx: ManifestWriteContext, ref: Reference.Reference) =>
  Effect.gen(function*() {
    if (ref.tag === undefined) {
      return yield* new InvalidReference({ input: Reference.format(ref), reason: "untag needs a tag" })
    }
    const request = HttpClientRequest.del(repoUrl(ctx, ref, `manifests/${ref.tag}`))
    const response = yield* send(ctx, ref.registry, request, deleteScope(ref))
    if (isSuccess(response.status)) return yield* discard(response)
    return yield* refusal(response, manifestUnknown).pipe(
      Effect.catchIf(isRefusedDelete, (error) =>
        Effect.fail(
          new Unsupported({
            status: error.status,
            message: `the registry does not delete tags (${
              error._tag === "UnexpectedStatus" ? error.status : error.message
            })`,
            errors: error._tag === "UnexpectedStatus" ? [] : error.errors
          })
        ))
    )
  })
