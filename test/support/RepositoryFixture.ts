/**
 * The real Repository stack (Repository + Auth + Transport + BlobCache + Credentials) over the
 * scripted fake HttpClient, plus builders for registry responses: manifests, blobs with `Range`
 * support, and bodies that break off after N bytes.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Auth from "../../src/Auth.js"
import * as BlobCache from "../../src/BlobCache.js"
import * as Credentials from "../../src/Credentials.js"
import * as Digest from "../../src/Digest.js"
import * as Reference from "../../src/Reference.js"
import * as Repository from "../../src/Repository.js"
import * as Transport from "../../src/Transport.js"
import * as FakeHttp from "./FakeHttp.js"

export const registry = "registry.example"
export const base = `https://${registry}`
export const repository = "team/app"

/** A reference on the fake registry (`team/app` unless told). */
export const ref = (suffix = ":v1", repo = repository, host = registry): Reference.Reference =>
  Either.getOrThrowWith(Reference.parseEither(`${host}/${repo}${suffix}`), (e) => new Error(e.reason))

export interface SetupOptions {
  /** The transport's retry schedule (default: no retries, so faults reach the code under test). */
  readonly retry?: Schedule.Schedule<unknown, Transport.RetryableFailure> | undefined
  /** The Repository's resume schedule (default: 5 resumes, no delay). */
  readonly resume?: Schedule.Schedule<unknown, unknown> | undefined
  /** The Repository's `resumeTimeLimit` (default none). */
  readonly resumeTimeLimit?: Repository.Options["resumeTimeLimit"]
  /** The Repository's upload retry schedule (default: the same as `resume`). */
  readonly uploadResume?: Schedule.Schedule<unknown, unknown> | undefined
  readonly credentials?: Layer.Layer<Credentials.Credentials> | undefined
  readonly cache?: Layer.Layer<BlobCache.BlobCache> | undefined
}

/** The real layers over a fake HttpClient answering with `handler`. */
export const setup = (handler: FakeHttp.Handler, options: SetupOptions = {}) => {
  const fake = FakeHttp.make(handler)
  const transport = Transport.layer({ retry: options.retry ?? Schedule.recurs(0) }).pipe(Layer.provide(fake.layer))
  const auth = Auth.layer().pipe(
    Layer.provide(Layer.merge(transport, options.credentials ?? Credentials.layerAnonymous))
  )
  const layer = Repository.layer({
    resume: options.resume ?? Schedule.recurs(5),
    resumeTimeLimit: options.resumeTimeLimit,
    uploadResume: options.uploadResume
  }).pipe(
    Layer.provide(Layer.mergeAll(auth, transport, options.cache ?? BlobCache.layerMemory()))
  )
  /** The requests to the registry host, as `METHOD path?query`. */
  const lines = () => fake.requests.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)
  return { fake, requests: fake.requests, lines, layer }
}

/** Runs `f` with the Repository service. */
export const withRepo = <A, E>(f: (repo: Repository.Repository["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(Repository.Repository, f)

/** Collects a byte stream into one array. */
export const collectBytes = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Effect.Effect<Uint8Array, E, R> =>
  Stream.runFold(stream, new Uint8Array(0), (acc, chunk) => {
    const out = new Uint8Array(acc.byteLength + chunk.byteLength)
    out.set(acc)
    out.set(chunk, acc.byteLength)
    return out
  })

/** The values of a (comma-joined) header, trimmed. */
export const headerValues = (value: string | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : value.split(",").map((s) => s.trim()).filter((s) => s !== "")

const encoder = new TextEncoder()

/** The bytes of a JSON value as a registry would store them (not re-serialised later). */
export const jsonBytes = (value: unknown, indent?: number): Uint8Array =>
  encoder.encode(JSON.stringify(value, null, indent))

/** A manifest GET answer: exact bytes, Content-Type, and Docker-Content-Digest (unless `digest` is null). */
export const manifestResponse = (
  bytes: Uint8Array,
  mediaType: string,
  options: { readonly digest?: string | null; readonly status?: number; readonly headers?: Record<string, string> } =
    {}
): Response => {
  const digest = options.digest === undefined ? Digest.compute(bytes) : options.digest
  return new Response(bytes, {
    status: options.status ?? 200,
    headers: {
      "content-type": mediaType,
      "content-length": String(bytes.byteLength),
      ...(digest === null ? {} : { "docker-content-digest": digest }),
      ...options.headers
    }
  })
}

/** A HEAD answer with the given headers and no body. */
export const headResponse = (status: number, headers: Record<string, string> = {}): Response =>
  new Response(null, { status, headers })

/**
 * A body that delivers `bytes` in chunks of `chunkSize` and, when `cutAt` is given, fails with a
 * network error once `cutAt` bytes have been read (the bytes before the cut do arrive).
 */
export const body = (bytes: Uint8Array, options: { readonly cutAt?: number; readonly chunkSize?: number } = {}) => {
  const limit = options.cutAt === undefined ? bytes.byteLength : Math.min(options.cutAt, bytes.byteLength)
  const chunkSize = Math.max(1, options.chunkSize ?? 4096)
  let offset = 0
  // pull-based: the error is raised only once every earlier chunk has been taken by the reader
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset < limit) {
        const end = Math.min(limit, offset + chunkSize)
        controller.enqueue(bytes.slice(offset, end))
        offset = end
        return
      }
      if (options.cutAt !== undefined) controller.error(new Error("connection reset by peer"))
      else controller.close()
    }
  }, { highWaterMark: 0 })
}

/** A parsed `Range: bytes=a-` / `bytes=a-b` request header. */
export const parseRange = (value: string | undefined): { readonly start: number; readonly end?: number } | undefined => {
  const match = /^bytes=(\d+)-(\d*)$/.exec(value ?? "")
  if (match === null) return undefined
  return match[2] === "" ? { start: Number(match[1]) } : { start: Number(match[1]), end: Number(match[2]) }
}

/** How a simulated blob server misbehaves on one GET (index = n-th GET of the blob, from 0). */
export interface BlobFault {
  /** The body breaks off after this many bytes of this response. */
  readonly cutAt?: number
  /** Answer 200 with the whole blob, ignoring `Range`. */
  readonly ignoreRange?: boolean
  /** Send `Content-Range: bytes a-b/*` instead of the total. */
  readonly unknownTotal?: boolean
  /** Claim (in Content-Range) and serve from this offset instead of the one asked for. */
  readonly startAt?: number
  /** Send a 200 without Content-Length (as a chunked response would). */
  readonly chunked?: boolean
  /** Serve (and claim in Content-Range) only the bytes before this absolute offset. */
  readonly stopAt?: number
}

/**
 * A blob server honouring `Range` (206 + Content-Range, 416 past the end) with scripted faults per
 * GET. HEAD answers the size and digest.
 */
export const blobServer = (
  bytes: Uint8Array,
  faults: (getIndex: number) => BlobFault = () => ({}),
  options: { readonly chunkSize?: number } = {}
) => {
  const digest = Digest.compute(bytes)
  let gets = 0
  const handler: FakeHttp.Handler = (request) => {
    if (request.url.pathname !== `/v2/${repository}/blobs/${digest}`) {
      return FakeHttp.errorBody(404, "BLOB_UNKNOWN", "blob unknown to registry")
    }
    if (request.method === "HEAD") {
      return headResponse(200, {
        "content-length": String(bytes.byteLength),
        "content-type": "application/octet-stream",
        "docker-content-digest": digest
      })
    }
    const fault = faults(gets++)
    const range = fault.ignoreRange ? undefined : parseRange(request.headers["range"])
    const common = { "docker-content-digest": digest, "accept-ranges": "bytes" }
    const chunkSize = options.chunkSize ?? 4096
    if (range === undefined) {
      return new Response(body(bytes, { chunkSize, ...(fault.cutAt === undefined ? {} : { cutAt: fault.cutAt }) }), {
        status: 200,
        headers: fault.chunked ? common : { ...common, "content-length": String(bytes.byteLength) }
      })
    }
    if (range.start >= bytes.byteLength) {
      return new Response(null, { status: 416, headers: { "content-range": `bytes */${bytes.byteLength}` } })
    }
    const start = fault.startAt ?? range.start
    const last = Math.min(range.end ?? bytes.byteLength - 1, bytes.byteLength - 1, (fault.stopAt ?? Infinity) - 1)
    const part = bytes.slice(start, last + 1)
    return new Response(body(part, { chunkSize, ...(fault.cutAt === undefined ? {} : { cutAt: fault.cutAt }) }), {
      status: 206,
      headers: {
        ...common,
        "content-length": String(part.byteLength),
        "content-range": `bytes ${start}-${last}/${fault.unknownTotal ? "*" : bytes.byteLength}`
      }
    })
  }
  return { digest, handler, gets: () => gets }
}

/** Deterministic pseudo-random bytes (so failures reproduce). */
export const randomBytes = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** A manifest a simulated registry holds, reachable by digest and by each of its tags. */
export interface StoredManifest {
  readonly bytes: Uint8Array
  readonly mediaType: string
  readonly tags?: ReadonlyArray<string>
}

/**
 * A manifest endpoint: HEAD and GET of `/v2/<repository>/manifests/<tag|digest>` with
 * Content-Type, Content-Length, Docker-Content-Digest and a quoted ETag; 404 MANIFEST_UNKNOWN
 * otherwise (HEAD: no body).
 */
export const manifestStore = (manifests: ReadonlyArray<StoredManifest>): FakeHttp.Handler => (request) => {
  const prefix = `/v2/${repository}/manifests/`
  const id = request.url.pathname.startsWith(prefix) ? request.url.pathname.slice(prefix.length) : undefined
  const found = manifests.find((m) => Digest.compute(m.bytes) === id || (m.tags ?? []).includes(id ?? ""))
  if (found === undefined) {
    return request.method === "HEAD"
      ? headResponse(404)
      : FakeHttp.errorBody(404, "MANIFEST_UNKNOWN", "manifest unknown")
  }
  const digest = Digest.compute(found.bytes)
  const headers = {
    "content-type": found.mediaType,
    "content-length": String(found.bytes.byteLength),
    "docker-content-digest": digest,
    etag: `"${digest}"`
  }
  return request.method === "HEAD"
    ? headResponse(200, headers)
    : new Response(found.bytes, { status: 200, headers })
}

/**
 * The error an operation fails with. Unlike `Effect.flip`, an unexpected success fails the test
 * with a short message: a flipped success carrying bytes becomes an error whose JSON message makes
 * vitest's reporter hang.
 */
export const failureOf = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  Effect.matchEffect(self, {
    onFailure: Effect.succeed,
    onSuccess: () => Effect.dieMessage("expected the operation to fail, but it succeeded")
  })
