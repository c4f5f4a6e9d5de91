/**
 * Blob routes of the test registry: `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>` and the upload
 * protocol (`POST` to start, monolithic or mount; `PATCH` chunks; `PUT ?digest=` to finish; `GET`
 * status; `DELETE` to cancel). Upload bytes are held in memory and hashed as they arrive.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Digest from "../../Digest.js"
import { Directives } from "./faults.js"
import * as Http from "./http.js"
import type { Repositories } from "./repositories.js"

type Response = HttpServerResponse.HttpServerResponse

/**
 * Answers a blob `GET` with its bytes: the whole blob, or one range (`206` + `Content-Range`;
 * `416` when the range is outside the blob).
 *
 * @internal
 */
export const serve = (
  repositories: Repositories,
  digest: Digest.Digest,
  size: number,
  request: HttpServerRequest.HttpServerRequest
): Response => {
  const headers = { "docker-content-digest": digest, etag: `"${digest}"`, "accept-ranges": "bytes" }
  if (request.method === "HEAD") {
    return Http.empty(200, { ...headers, "content-type": "application/octet-stream", "content-length": String(size) })
  }
  const range = Http.parseRange(request.headers["range"], size)
  if (range === "unsatisfiable") {
    return Http.error("BLOB_UNKNOWN", {
      status: 416,
      message: "requested range not satisfiable",
      headers: { "content-range": `bytes */${size}` }
    })
  }
  if (range === undefined) {
    return Http.bytes(repositories.read(digest, 0, size), size, { contentType: "application/octet-stream", headers })
  }
  return Http.bytes(repositories.read(digest, range.start, range.end), range.end - range.start, {
    status: 206,
    contentType: "application/octet-stream",
    headers: { ...headers, "content-range": `bytes ${range.start}-${range.end - 1}/${size}` }
  })
}

/**
 * `GET`, `HEAD` and `DELETE` of `/v2/<name>/blobs/<digest>`.
 *
 * @internal
 */
export const blob = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, name: string, reference: string) =>
  Effect.gen(function*() {
    const parsed = Digest.parseEither(reference)
    if (Either.isLeft(parsed)) return Http.error("DIGEST_INVALID", { message: parsed.left.reason })
    const digest = parsed.right
    if (request.method === "DELETE") {
      return (yield* env.repositories.deleteBlob(name, digest)) ? Http.empty(202) : Http.error("BLOB_UNKNOWN")
    }
    const size = yield* env.repositories.blobSize(name, digest)
    if (size === undefined) return Http.error("BLOB_UNKNOWN", { detail: { digest } })
    if (request.method === "GET" && (yield* Directives).redirectBlob) {
      return Http.empty(307, { location: `${env.redirectUrl}/blobs/${digest}`, "docker-content-digest": digest })
    }
    return serve(env.repositories, digest, size, request)
  })

interface Upload {
  readonly id: string
  readonly name: string
  readonly parts: Array<Uint8Array>
  readonly hasher: Digest.Hasher
  size: number
  /** The size the registry last told the client (its `Range`); less than `size` after a cut chunk. */
  reported: number
}

/**
 * The upload sessions of one registry.
 *
 * @internal
 */
export type Uploads = Map<string, Upload>

const rangeOf = (size: number) => `0-${size > 0 ? size - 1 : 0}`

/** The session's headers; what their `Range` tells the client is what it may continue from. */
const sessionHeaders = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, upload: Upload) => {
  upload.reported = upload.size
  return {
    location: `${env.baseUrl(request)}/v2/${upload.name}/blobs/uploads/${upload.id}`,
    range: rangeOf(upload.size),
    "docker-upload-uuid": upload.id
  }
}

const blobCreated = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, name: string, digest: Digest.Digest) =>
  Http.empty(201, { location: `${env.baseUrl(request)}/v2/${name}/blobs/${digest}`, "docker-content-digest": digest })

/** Whether parts hash to `digest`; the running sha256 is reused when it is the algorithm asked for. */
const matches = (parts: ReadonlyArray<Uint8Array>, digest: Digest.Digest, running?: Digest.Hasher): boolean => {
  if (running !== undefined && Digest.algorithm(digest) === "sha256") return running.digest() === digest
  const h = Digest.hasher(Digest.algorithm(digest))
  for (const part of parts) h.update(part)
  return h.digest() === digest
}

/**
 * `POST /v2/<name>/blobs/uploads/`: mount (`?mount=&from=`), single-request monolithic upload
 * (`?digest=` with the body), or a new session.
 *
 * @internal
 */
export const start = (env: Http.Env, uploads: Uploads, request: HttpServerRequest.HttpServerRequest, name: string) =>
  Effect.gen(function*() {
    const params = Http.query(request)
    const mount = params.get("mount")
    const from = params.get("from")
    if (mount !== null) {
      const digest = Digest.parseEither(mount)
      if (Either.isLeft(digest)) return Http.error("DIGEST_INVALID", { message: digest.left.reason })
      if (from !== null && (yield* env.repositories.mount(name, from, digest.right))) {
        return blobCreated(env, request, name, digest.right)
      }
      // not mountable: a new session, as distribution does
    } else {
      const digestParam = params.get("digest")
      if (digestParam !== null) {
        const digest = Digest.parseEither(digestParam)
        if (Either.isLeft(digest)) {
          yield* Http.drain(request)
          return Http.error("DIGEST_INVALID", { message: digest.left.reason })
        }
        const body = yield* Http.readBody(request).pipe(Effect.orDie)
        if (!matches(body.parts, digest.right)) return Http.error("DIGEST_INVALID", { detail: { digest: digestParam } })
        yield* env.repositories.putBlob(name, digest.right, body.parts)
        return blobCreated(env, request, name, digest.right)
      }
    }
    yield* Http.drain(request)
    const upload: Upload = { id: crypto.randomUUID(), name, parts: [], hasher: Digest.hasher(), size: 0, reported: 0 }
    uploads.set(upload.id, upload)
    return Http.empty(202, {
      ...sessionHeaders(env, request, upload),
      ...(env.chunkMinLength === undefined ? {} : { "oci-chunk-min-length": String(env.chunkMinLength) })
    })
  })

/** Checks a `Content-Range` against the session: undefined when absent or right, else the 416. */
const checkContentRange = (
  env: Http.Env,
  request: HttpServerRequest.HttpServerRequest,
  upload: Upload
): { readonly start: number; readonly end: number } | Response | undefined => {
  const header = request.headers["content-range"]
  if (header === undefined) return undefined
  const range = Http.parseContentRange(header)
  if (range !== undefined && range.start === upload.size && range.end >= range.start) return range
  return Http.error("BLOB_UPLOAD_INVALID", {
    status: 416,
    message: `expected a chunk starting at ${upload.size}, got Content-Range ${header}`,
    headers: sessionHeaders(env, request, upload)
  })
}

const append = (upload: Upload, parts: ReadonlyArray<Uint8Array>) => {
  for (const part of parts) {
    upload.parts.push(part)
    upload.hasher.update(part)
    upload.size += part.byteLength
  }
}

/**
 * The `CutRequest` fault: keeps the first bytes of the body in the session, as a registry that
 * streams chunks to storage does, then closes the connection without an answer.
 */
const cutRequest = (request: HttpServerRequest.HttpServerRequest, upload: Upload) =>
  Effect.gen(function*() {
    const cut = (yield* Directives).cutRequest
    if (cut === undefined) return
    const parts: Array<Uint8Array> = []
    let size = 0
    yield* request.stream.pipe(
      Stream.runForEachWhile((chunk) =>
        Effect.sync(() => {
          const part = chunk.subarray(0, Math.max(0, cut.afterBytes - size))
          if (part.byteLength > 0) parts.push(part)
          size += part.byteLength
          return size < cut.afterBytes
        })
      ),
      Effect.ignore
    )
    append(upload, parts)
    yield* cut.abort
    return yield* Effect.never
  })

/**
 * `GET`, `PATCH`, `PUT` and `DELETE` of `/v2/<name>/blobs/uploads/<id>`.
 *
 * @internal
 */
export const session = (
  env: Http.Env,
  uploads: Uploads,
  request: HttpServerRequest.HttpServerRequest,
  name: string,
  id: string
) =>
  Effect.gen(function*() {
    const upload = uploads.get(id)
    if (upload === undefined || upload.name !== name) {
      yield* Http.drain(request)
      return Http.error("BLOB_UPLOAD_UNKNOWN", { detail: { uuid: id } })
    }
    if (request.method !== "DELETE" && upload.size !== upload.reported && (yield* Directives).refusePartialChunk) {
      yield* Http.drain(request)
      return Http.error("BLOB_UPLOAD_INVALID", {
        status: 404,
        message: `upload resumed at wrong offset: ${upload.size} != ${upload.reported}`
      })
    }
    switch (request.method) {
      case "GET":
        return Http.empty(204, sessionHeaders(env, request, upload))
      case "DELETE":
        uploads.delete(id)
        return Http.empty(204)
      case "PATCH":
        return yield* patch(env, request, upload)
      default:
        return yield* finish(env, uploads, request, upload)
    }
  })

const patch = (env: Http.Env, request: HttpServerRequest.HttpServerRequest, upload: Upload) =>
  Effect.gen(function*() {
    const range = checkContentRange(env, request, upload)
    if (HttpServerResponse.isServerResponse(range)) {
      yield* Http.drain(request)
      return range
    }
    yield* cutRequest(request, upload)
    const { chunkCap } = yield* Directives
    const tooLarge = Http.error("BLOB_UPLOAD_INVALID", {
      status: 416,
      message: `chunks may not be larger than ${chunkCap} bytes`,
      headers: sessionHeaders(env, request, upload)
    })
    const body = yield* Http.readBody(request, chunkCap).pipe(Effect.either)
    if (Either.isLeft(body)) return tooLarge
    if (range !== undefined && range.end - range.start + 1 !== body.right.size) {
      return Http.error("BLOB_UPLOAD_INVALID", {
        status: 416,
        message: `Content-Range ${range.start}-${range.end} does not match the ${body.right.size} bytes sent`,
        headers: sessionHeaders(env, request, upload)
      })
    }
    append(upload, body.right.parts)
    return Http.empty(202, sessionHeaders(env, request, upload))
  })

const finish = (env: Http.Env, uploads: Uploads, request: HttpServerRequest.HttpServerRequest, upload: Upload) =>
  Effect.gen(function*() {
    const digestParam = Http.query(request).get("digest")
    const digest = digestParam === null ? undefined : Digest.parseEither(digestParam)
    if (digest === undefined || Either.isLeft(digest)) {
      yield* Http.drain(request)
      return Http.error("DIGEST_INVALID", {
        message: digest === undefined ? "the digest parameter is required" : digest.left.reason
      })
    }
    const range = checkContentRange(env, request, upload)
    if (HttpServerResponse.isServerResponse(range)) {
      yield* Http.drain(request)
      return range
    }
    yield* cutRequest(request, upload)
    const body = yield* Http.readBody(request).pipe(Effect.orDie)
    append(upload, body.parts)
    uploads.delete(upload.id)
    if (!matches(upload.parts, digest.right, upload.hasher)) {
      return Http.error("DIGEST_INVALID", { detail: { digest: digest.right, actual: upload.hasher.digest() } })
    }
    yield* env.repositories.putBlob(upload.name, digest.right, upload.parts)
    return blobCreated(env, request, upload.name, digest.right)
  })
