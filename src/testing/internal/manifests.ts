/**
 * Manifest, tag, catalog and referrers routes of the test registry.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Digest from "../../Digest.js"
import { concat } from "../../internal/body.js"
import * as Manifest from "../../Manifest.js"
import * as MediaType from "../../MediaType.js"
import * as Http from "./http.js"
import type { ManifestRecord } from "./repositories.js"
import { isValidTag } from "./routes.js"

/**
 * What the registry records about a decoded manifest. The artifact type of an image manifest
 * without `artifactType` is its config's media type, as the referrers API reports it.
 *
 * @internal
 */
export const record = (decoded: Manifest.Decoded): ManifestRecord => {
  const listed = Manifest.referrerDescriptor(decoded)
  return {
    digest: decoded.digest,
    size: decoded.size,
    mediaType: decoded.mediaType,
    subject: Manifest.subject(decoded.manifest)?.digest,
    artifactType: listed.artifactType,
    annotations: listed.annotations
  }
}

/**
 * Splits a manifest reference into a tag or a digest; `undefined` plus the error when it is neither.
 */
const parseReference = (
  reference: string
): { readonly tag?: string; readonly digest?: Digest.Digest } | HttpServerResponse.HttpServerResponse => {
  if (reference.includes(":")) {
    const digest = Digest.parseEither(reference)
    return Either.isLeft(digest)
      ? Http.error("DIGEST_INVALID", { message: digest.left.reason })
      : { digest: digest.right }
  }
  return isValidTag(reference) ? { tag: reference } : Http.error("TAG_INVALID", { detail: { tag: reference } })
}

const matchesEtag = (header: string | undefined, digest: string): boolean =>
  header !== undefined &&
  header.split(",").some((part) => {
    const tag = part.trim().replace(/^W\//, "")
    return tag === "*" || tag === `"${digest}"` || tag === digest
  })

/**
 * `GET`, `HEAD`, `PUT` and `DELETE` of `/v2/<name>/manifests/<reference>`.
 *
 * @internal
 */
export const manifest = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, name: string, reference: string) =>
  Effect.gen(function*() {
    const ref = parseReference(reference)
    if (HttpServerResponse.isServerResponse(ref)) {
      yield* Http.drain(request)
      return ref
    }
    switch (request.method) {
      case "PUT":
        return yield* put(env, request, name, ref)
      case "DELETE": {
        const done = ref.digest !== undefined
          ? yield* env.repositories.deleteManifest(name, ref.digest)
          : yield* env.repositories.untag(name, ref.tag!)
        return done ? Http.empty(202) : Http.error("MANIFEST_UNKNOWN", { detail: { reference } })
      }
    }
    const found = env.repositories.manifest(name, reference)
    if (found === undefined) return Http.error("MANIFEST_UNKNOWN", { detail: { reference } })
    const headers = { "docker-content-digest": found.digest, etag: `"${found.digest}"` }
    if (matchesEtag(request.headers["if-none-match"], found.digest)) {
      return HttpServerResponse.empty({ status: 304, headers })
    }
    if (request.method === "HEAD") {
      return Http.empty(200, { ...headers, "content-type": found.mediaType, "content-length": String(found.size) })
    }
    return Http.bytes(env.repositories.read(found.digest, 0, found.size), found.size, {
      contentType: found.mediaType,
      headers
    })
  })

const put = (
  env: Http.Env,
  request: HttpServerRequest.HttpServerRequest,
  name: string,
  ref: { readonly tag?: string; readonly digest?: Digest.Digest }
) =>
  Effect.gen(function*() {
    const contentType = MediaType.essence(request.headers["content-type"] ?? "")
    if (!MediaType.manifestTypes.includes(contentType)) {
      yield* Http.drain(request)
      return Http.error("MANIFEST_INVALID", {
        message: `the Content-Type must be a manifest media type, got "${contentType}"`
      })
    }
    const body = yield* Effect.either(Http.readBody(request, env.maxManifestBytes))
    if (Either.isLeft(body)) {
      return Http.error("SIZE_INVALID", { status: 413, message: `manifests are limited to ${env.maxManifestBytes} bytes` })
    }
    const decoded = yield* Manifest.decode(concat(body.right.parts, body.right.size), {
      contentType,
      expectedDigest: ref.digest
    }).pipe(Effect.either)
    if (Either.isLeft(decoded)) {
      const e = decoded.left
      switch (e._tag) {
        case "DigestMismatch":
          return Http.error("DIGEST_INVALID", { detail: { expected: e.expected, actual: e.actual } })
        case "BodyTooLarge":
          return Http.error("SIZE_INVALID", { status: 413, message: `manifests are limited to ${e.limit} bytes` })
        default:
          return Http.error("MANIFEST_INVALID", { message: e.message })
      }
    }
    const m = decoded.right.manifest
    // Signed schema 1 is accepted (as by distribution with schema 1 compatibility on), unsigned never.
    if (Manifest.isSchema1(m)) {
      if (decoded.right.mediaType !== MediaType.DockerSchema1Signed) {
        return Http.error("MANIFEST_INVALID", { message: "unsigned schema 1 manifests are not accepted" })
      }
      for (const { blobSum } of m.fsLayers) {
        if ((yield* env.repositories.blobSize(name, blobSum)) === undefined) {
          return Http.error("MANIFEST_BLOB_UNKNOWN", { detail: { digest: blobSum } })
        }
      }
    }
    for (const descriptor of Manifest.references(m)) {
      const known = Manifest.isIndex(m)
        ? env.repositories.manifest(name, descriptor.digest) !== undefined
        : descriptor.urls !== undefined && descriptor.urls.length > 0 // foreign layers live elsewhere
        ? true
        : (yield* env.repositories.blobSize(name, descriptor.digest)) !== undefined
      if (!known) return Http.error("MANIFEST_BLOB_UNKNOWN", { detail: { digest: descriptor.digest } })
    }
    const rec = record(decoded.right)
    yield* env.repositories.putManifest(name, rec, decoded.right.bytes, ref.tag)
    return Http.empty(201, {
      location: `${env.baseUrl(request)}/v2/${name}/manifests/${rec.digest}`,
      "docker-content-digest": rec.digest,
      ...(env.referrers && rec.subject !== undefined ? { "oci-subject": rec.subject } : {})
    })
  })

/**
 * `GET /v2/<name>/tags/list` with `n`/`last`.
 *
 * @internal
 */
export const tags = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, name: string) => {
  const all = env.repositories.tags(name)
  if (all === undefined) return Http.error("NAME_UNKNOWN", { detail: { name } })
  const page = Http.paginate(all, Http.query(request), `/v2/${name}/tags/list`, Number.POSITIVE_INFINITY)
  if (HttpServerResponse.isServerResponse(page)) return page
  return Http.json({ name, tags: page.page }, page.link === undefined ? {} : { headers: { link: page.link } })
}

/**
 * `GET /v2/_catalog` with `n`/`last` (at most 1000 per page by default, like distribution).
 *
 * @internal
 */
export const catalog = (env: Http.Env, request: HttpServerRequest.HttpServerRequest) => {
  const page = Http.paginate(env.repositories.names(), Http.query(request), "/v2/_catalog", Http.maxPageSize)
  if (HttpServerResponse.isServerResponse(page)) return page
  return Http.json({ repositories: page.page }, page.link === undefined ? {} : { headers: { link: page.link } })
}

/**
 * `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an image index of the manifests whose
 * subject is the digest (empty when there are none, even for an unknown subject). When referrers are
 * off, the plain 404 of distribution 2.8.
 *
 * @internal
 */
export const referrers = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, name: string, subject: string) => {
  if (!env.referrers) return Http.pageNotFound()
  const digest = Digest.parseEither(subject)
  if (Either.isLeft(digest)) return Http.error("DIGEST_INVALID", { message: digest.left.reason })
  const artifactType = Http.query(request).get("artifactType")
  const manifests = env.repositories.referrers(name, digest.right)
    .filter((m) => artifactType === null || m.artifactType === artifactType)
    .map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      ...(m.artifactType === undefined ? {} : { artifactType: m.artifactType }),
      ...(m.annotations === undefined ? {} : { annotations: m.annotations })
    }))
  return Http.json(
    { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests },
    {
      contentType: MediaType.OciIndex,
      ...(artifactType === null ? {} : { headers: { "oci-filters-applied": "artifactType" } })
    }
  )
}
