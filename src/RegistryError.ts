/**
 * Typed errors for everything a registry call can fail with.
 *
 * Two families:
 * - **wire errors**: one class per Distribution / OCI error code (`MANIFEST_UNKNOWN` →
 *   {@link ManifestUnknown}, …), decoded from the `{"errors":[…]}` body of a response;
 * - **client errors**: failures seen on our side (transport, timeout, unexpected status,
 *   invalid response, digest / size mismatch, invalid reference, body too large).
 *
 * Every class is a `Schema.TaggedError`, so callers write `Effect.catchTag("ManifestUnknown", …)`.
 * No error carries a credential: URLs are stored without user-info and headers are never copied.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Predicate from "effect/Predicate"
import * as Option from "effect/Option"

/**
 * One entry of the `errors` array of a registry error body.
 *
 * @since 0.1.0
 * @category models
 */
export class ErrorEntry extends Schema.Class<ErrorEntry>("effect-oci/ErrorEntry")({
  code: Schema.String,
  message: Schema.optionalWith(Schema.String, { default: () => "" }),
  detail: Schema.optionalWith(Schema.Unknown, { exact: true })
}) {}

/**
 * The error envelope registries send: `{"errors":[{code,message,detail}]}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ErrorBody = Schema.Struct({ errors: Schema.Array(ErrorEntry) })

/** Fields shared by every wire error. */
const wireFields = {
  /** The HTTP status of the response that carried the error (0 when synthesised). */
  status: Schema.Number,
  /** The registry's message, or the code's default message. */
  message: Schema.String,
  /** The registry's `detail`, when it sent one. */
  detail: Schema.optionalWith(Schema.Unknown, { exact: true }),
  /** Every entry of the response, this one first; registries may send several. */
  errors: Schema.optionalWith(Schema.Array(ErrorEntry), { default: () => [] })
}

/** The constructor arguments of every wire error. */
type WireArgs = {
  readonly status: number
  readonly message: string
  readonly detail?: unknown
  readonly errors?: ReadonlyArray<ErrorEntry>
}

/** `UNKNOWN` (500): unknown error. @since 0.1.0 @category wire errors */
export class UnknownError extends Schema.TaggedError<UnknownError>()("UnknownError", wireFields) {}
/** `UNSUPPORTED` (405): the operation is unsupported. @since 0.1.0 @category wire errors */
export class Unsupported extends Schema.TaggedError<Unsupported>()("Unsupported", wireFields) {}
/** `UNAUTHORIZED` (401): authentication required. @since 0.1.0 @category wire errors */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", wireFields) {}
/** `DENIED` (403): requested access to the resource is denied. @since 0.1.0 @category wire errors */
export class Denied extends Schema.TaggedError<Denied>()("Denied", wireFields) {}
/**
 * `UNAVAILABLE` (503): service unavailable. `retryAfterMillis` is the wait the registry asked for
 * (`Retry-After`), when it gave one.
 *
 * @since 0.1.0
 * @category wire errors
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  ...wireFields,
  retryAfterMillis: Schema.optionalWith(Schema.Number, { exact: true })
}) {}
/**
 * `TOOMANYREQUESTS` (429): too many requests. `retryAfterMillis` is the wait the registry asked
 * for (`Retry-After`), when it gave one.
 *
 * @since 0.1.0
 * @category wire errors
 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", {
  ...wireFields,
  retryAfterMillis: Schema.optionalWith(Schema.Number, { exact: true })
}) {}
/** `DIGEST_INVALID` (400): provided digest did not match uploaded content. @since 0.1.0 @category wire errors */
export class DigestInvalid extends Schema.TaggedError<DigestInvalid>()("DigestInvalid", wireFields) {}
/** `SIZE_INVALID` (400): provided length did not match content length. @since 0.1.0 @category wire errors */
export class SizeInvalid extends Schema.TaggedError<SizeInvalid>()("SizeInvalid", wireFields) {}
/** `NAME_INVALID` (400): invalid repository name. @since 0.1.0 @category wire errors */
export class NameInvalid extends Schema.TaggedError<NameInvalid>()("NameInvalid", wireFields) {}
/** `TAG_INVALID` (400): manifest tag did not match URI. @since 0.1.0 @category wire errors */
export class TagInvalid extends Schema.TaggedError<TagInvalid>()("TagInvalid", wireFields) {}
/** `NAME_UNKNOWN` (404): repository name not known to registry. @since 0.1.0 @category wire errors */
export class NameUnknown extends Schema.TaggedError<NameUnknown>()("NameUnknown", wireFields) {}
/** `MANIFEST_UNKNOWN` (404): manifest unknown. @since 0.1.0 @category wire errors */
export class ManifestUnknown extends Schema.TaggedError<ManifestUnknown>()("ManifestUnknown", wireFields) {}
/** `MANIFEST_INVALID` (400): manifest invalid. @since 0.1.0 @category wire errors */
export class ManifestInvalid extends Schema.TaggedError<ManifestInvalid>()("ManifestInvalid", wireFields) {}
/** `MANIFEST_UNVERIFIED` (400): manifest failed signature verification. @since 0.1.0 @category wire errors */
export class ManifestUnverified extends Schema.TaggedError<ManifestUnverified>()("ManifestUnverified", wireFields) {}
/** `MANIFEST_BLOB_UNKNOWN` (400): blob unknown to registry. @since 0.1.0 @category wire errors */
export class ManifestBlobUnknown extends Schema.TaggedError<ManifestBlobUnknown>()("ManifestBlobUnknown", wireFields) {}
/** `BLOB_UNKNOWN` (404): blob unknown to registry. @since 0.1.0 @category wire errors */
export class BlobUnknown extends Schema.TaggedError<BlobUnknown>()("BlobUnknown", wireFields) {}
/** `BLOB_UPLOAD_UNKNOWN` (404): blob upload unknown to registry. @since 0.1.0 @category wire errors */
export class BlobUploadUnknown extends Schema.TaggedError<BlobUploadUnknown>()("BlobUploadUnknown", wireFields) {}
/** `BLOB_UPLOAD_INVALID` (404 in distribution, sic): blob upload invalid. @since 0.1.0 @category wire errors */
export class BlobUploadInvalid extends Schema.TaggedError<BlobUploadInvalid>()("BlobUploadInvalid", wireFields) {}
/** `PAGINATION_NUMBER_INVALID` (400): invalid number of results requested. @since 0.1.0 @category wire errors */
export class PaginationNumberInvalid
  extends Schema.TaggedError<PaginationNumberInvalid>()("PaginationNumberInvalid", wireFields)
{}

/**
 * Any error decoded from a registry error code.
 *
 * @since 0.1.0
 * @category models
 */
export type WireError =
  | UnknownError
  | Unsupported
  | Unauthorized
  | Denied
  | Unavailable
  | TooManyRequests
  | DigestInvalid
  | SizeInvalid
  | NameInvalid
  | TagInvalid
  | NameUnknown
  | ManifestUnknown
  | ManifestInvalid
  | ManifestUnverified
  | ManifestBlobUnknown
  | BlobUnknown
  | BlobUploadUnknown
  | BlobUploadInvalid
  | PaginationNumberInvalid

/**
 * The error-code table: wire code → HTTP status, default message and error class.
 *
 * @since 0.1.0
 * @category codes
 */
export const codes = {
  UNKNOWN: { status: 500, message: "unknown error", make: (a: WireArgs) => new UnknownError(a) },
  UNSUPPORTED: { status: 405, message: "The operation is unsupported.", make: (a: WireArgs) => new Unsupported(a) },
  UNAUTHORIZED: { status: 401, message: "authentication required", make: (a: WireArgs) => new Unauthorized(a) },
  DENIED: { status: 403, message: "requested access to the resource is denied", make: (a: WireArgs) => new Denied(a) },
  UNAVAILABLE: { status: 503, message: "service unavailable", make: (a: WireArgs) => new Unavailable(a) },
  TOOMANYREQUESTS: { status: 429, message: "too many requests", make: (a: WireArgs) => new TooManyRequests(a) },
  DIGEST_INVALID: {
    status: 400,
    message: "provided digest did not match uploaded content",
    make: (a: WireArgs) => new DigestInvalid(a)
  },
  SIZE_INVALID: {
    status: 400,
    message: "provided length did not match content length",
    make: (a: WireArgs) => new SizeInvalid(a)
  },
  NAME_INVALID: { status: 400, message: "invalid repository name", make: (a: WireArgs) => new NameInvalid(a) },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI", make: (a: WireArgs) => new TagInvalid(a) },
  NAME_UNKNOWN: {
    status: 404,
    message: "repository name not known to registry",
    make: (a: WireArgs) => new NameUnknown(a)
  },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown", make: (a: WireArgs) => new ManifestUnknown(a) },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid", make: (a: WireArgs) => new ManifestInvalid(a) },
  MANIFEST_UNVERIFIED: {
    status: 400,
    message: "manifest failed signature verification",
    make: (a: WireArgs) => new ManifestUnverified(a)
  },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    message: "blob unknown to registry",
    make: (a: WireArgs) => new ManifestBlobUnknown(a)
  },
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry", make: (a: WireArgs) => new BlobUnknown(a) },
  BLOB_UPLOAD_UNKNOWN: {
    status: 404,
    message: "blob upload unknown to registry",
    make: (a: WireArgs) => new BlobUploadUnknown(a)
  },
  BLOB_UPLOAD_INVALID: {
    status: 404,
    message: "blob upload invalid",
    make: (a: WireArgs) => new BlobUploadInvalid(a)
  },
  PAGINATION_NUMBER_INVALID: {
    status: 400,
    message: "invalid number of results requested",
    make: (a: WireArgs) => new PaginationNumberInvalid(a)
  }
} as const satisfies Record<string, {
  readonly status: number
  readonly message: string
  readonly make: (a: WireArgs) => WireError
}>

/**
 * A wire error code known to this client.
 *
 * @since 0.1.0
 * @category codes
 */
export type Code = keyof typeof codes

/**
 * Tells whether a string is a known wire error code.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCode = (u: string): u is Code => Predicate.hasProperty(codes, u)

/**
 * Builds the wire error for a code; unknown codes become {@link UnknownError} (as the Go client does)
 * with the original code kept in `errors`.
 *
 * @example
 * fromEntries(404, [{ code: "MANIFEST_UNKNOWN", message: "" }]) // ManifestUnknown, default message
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEntries = (status: number, entries: ReadonlyArray<ErrorEntry>): WireError => {
  const first = entries[0]
  if (first === undefined) return fromStatus(status, "")
  const spec = isCode(first.code) ? codes[first.code] : codes.UNKNOWN
  return spec.make({
    status,
    message: first.message === "" ? spec.message : first.message,
    ...(first.detail === undefined ? {} : { detail: first.detail }),
    errors: entries
  })
}

/**
 * The wire error a bare status implies, used when a response has no parseable error body
 * (401 → Unauthorized, 403 → Denied, 404 → NameUnknown is *not* guessed, 429 → TooManyRequests,
 * 503 → Unavailable, 405 → Unsupported; anything else → UnknownError).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStatus = (status: number, message: string): WireError => {
  const code: Code = status === 401
    ? "UNAUTHORIZED"
    : status === 403
    ? "DENIED"
    : status === 429
    ? "TOOMANYREQUESTS"
    : status === 503
    ? "UNAVAILABLE"
    : status === 405
    ? "UNSUPPORTED"
    : "UNKNOWN"
  const spec = codes[code]
  return spec.make({ status, message: message === "" ? spec.message : message, errors: [] })
}

// ---------------------------------------------------------------------------------------------
// client-side errors
// ---------------------------------------------------------------------------------------------

/**
 * The request never got a response: connection refused, reset, DNS failure, TLS failure, or the
 * body broke off part-way.
 *
 * @since 0.1.0
 * @category client errors
 */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  method: Schema.String,
  url: Schema.String,
  reason: Schema.String,
  cause: Schema.optionalWith(Schema.Defect, { exact: true }),
  /**
   * True when trying again cannot help, so it is not retried: a TLS failure (an untrusted
   * certificate, a port that does not speak TLS) or response headers over the client's limit.
   */
  permanent: Schema.optionalWith(Schema.Boolean, { exact: true })
}) {
  override get message(): string {
    return `${this.method} ${this.url}: ${this.reason}`
  }
}

/**
 * A timeout fired: `phase` is `"headers"` (connect + response headers) or `"body"` (no bytes
 * arrived for `millis`).
 *
 * @since 0.1.0
 * @category client errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  method: Schema.String,
  url: Schema.String,
  phase: Schema.Literal("headers", "body"),
  millis: Schema.Number
}) {}

/**
 * The registry answered with a status the operation does not expect and no error body explained it
 * (or a 5xx). `body` is a short excerpt (at most 512 characters).
 *
 * @since 0.1.0
 * @category client errors
 */
export class UnexpectedStatus extends Schema.TaggedError<UnexpectedStatus>()("UnexpectedStatus", {
  method: Schema.String,
  url: Schema.String,
  status: Schema.Number,
  body: Schema.String
}) {}

/**
 * The registry answered, but the response is not what the protocol says: a missing header, a body
 * that does not decode, a `Content-Range` that does not fit.
 *
 * @since 0.1.0
 * @category client errors
 */
export class InvalidResponse extends Schema.TaggedError<InvalidResponse>()("InvalidResponse", {
  reason: Schema.String,
  url: Schema.optionalWith(Schema.String, { exact: true })
}) {}

/**
 * Content did not hash to the digest it was expected to have.
 *
 * @since 0.1.0
 * @category client errors
 */
export class DigestMismatch extends Schema.TaggedError<DigestMismatch>()("DigestMismatch", {
  expected: Schema.String,
  actual: Schema.String
}) {}

/**
 * Content did not have the size it was expected to have.
 *
 * @since 0.1.0
 * @category client errors
 */
export class SizeMismatch extends Schema.TaggedError<SizeMismatch>()("SizeMismatch", {
  expected: Schema.Number,
  actual: Schema.Number
}) {}

/**
 * A body was larger than the limit for its kind (manifests: 4 MiB, token responses: 64 KiB).
 *
 * @since 0.1.0
 * @category client errors
 */
export class BodyTooLarge extends Schema.TaggedError<BodyTooLarge>()("BodyTooLarge", {
  what: Schema.String,
  limit: Schema.Number,
  size: Schema.optionalWith(Schema.Number, { exact: true })
}) {}

/**
 * An upload had to read its body again to recover (a connection cut, a session the registry
 * dropped) but the body is a one-shot `Stream`, which cannot be re-read. The upload's sessions
 * were cancelled. Pass `Repository.reopenable(…)`, bytes, or use `BlobFile.upload` for a file.
 *
 * @since 0.1.0
 * @category client errors
 */
export class BodyNotReplayable extends Schema.TaggedError<BodyNotReplayable>()("BodyNotReplayable", {
  /** Why the body was needed again. */
  reason: Schema.String
}) {
  override get message(): string {
    return `the upload body cannot be re-read (${this.reason}): a Stream runs once; ` +
      "pass Repository.reopenable(…), bytes, or a file (BlobFile.upload) so that the upload can recover"
  }
}

/**
 * A string is not a valid image reference; `reason` says which rule it breaks.
 *
 * @since 0.1.0
 * @category client errors
 */
export class InvalidReference extends Schema.TaggedError<InvalidReference>()("InvalidReference", {
  input: Schema.String,
  reason: Schema.String
}) {}

/**
 * A string is not a valid digest (`algorithm:hex`, sha256 or sha512 with the exact hex length).
 *
 * @since 0.1.0
 * @category client errors
 */
export class InvalidDigest extends Schema.TaggedError<InvalidDigest>()("InvalidDigest", {
  input: Schema.String,
  reason: Schema.String
}) {}

// ---------------------------------------------------------------------------------------------
// decoding error responses
// ---------------------------------------------------------------------------------------------

/** How much of an unexpected body an error keeps. */
const excerptLimit = 512

/**
 * Error bodies larger than this are not parsed (a registry's are a few hundred bytes).
 *
 * @since 0.1.0
 * @category utils
 */
export const errorBodyLimit = 64 * 1024

const decodeErrorBody = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

/**
 * Removes user-info and the query (which may carry tokens, e.g. pre-signed blob URLs) from a URL
 * before it goes into an error or a log.
 *
 * @since 0.1.0
 * @category utils
 */
export const safeUrl = (url: string | URL): string => {
  try {
    const u = new URL(url)
    u.username = ""
    u.password = ""
    const hadQuery = u.search !== ""
    u.search = ""
    return u.toString() + (hadQuery ? "?…" : "")
  } catch {
    return "<invalid url>"
  }
}

/**
 * Turns the text of an error response into the matching typed error: a known JSON error body gives
 * the wire error for its first code (all entries kept in `errors`); otherwise 401/403/429/503/405 give
 * the wire error their status implies and anything else an {@link UnexpectedStatus} with an excerpt.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResponseText = (options: {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly contentType?: string | undefined
  readonly body: string
}): WireError | UnexpectedStatus => {
  const { body, status } = options
  const parsed = body.length <= errorBodyLimit ? decodeErrorBody(body) : Option.none()
  if (Option.isSome(parsed) && parsed.value.errors.length > 0) {
    return fromEntries(status, parsed.value.errors)
  }
  const excerpt = body.length > excerptLimit ? body.slice(0, excerptLimit) + "…" : body
  if (status === 401 || status === 403 || status === 429 || status === 503 || status === 405) {
    return withServerText(fromStatus(status, ""), serverText(body))
  }
  return new UnexpectedStatus({ method: options.method, url: safeUrl(options.url), status, body: excerpt })
}

/** How much of a server's own words an error message keeps. */
const serverTextLimit = 200

const legacyFields = ["details", "detail", "message", "error_description", "error"] as const

/**
 * The server's own words in an error body that is not the `{"errors":[…]}` envelope, short and on
 * one line: the legacy `{"details": "…"}` (or `message`, `error_description`, `error`) of a JSON
 * body, else the text itself, HTML tags removed. Empty when there are none.
 *
 * @since 0.1.0
 * @category utils
 */
export const serverText = (body: string): string => {
  const trimmed = body.trim()
  if (trimmed === "") return ""
  let text = trimmed
  if (trimmed.startsWith("{")) {
    let json: unknown
    try {
      json = JSON.parse(trimmed)
    } catch {
      json = undefined
    }
    if (Predicate.isRecord(json)) {
      const field = legacyFields.map((name) => json[name]).find((v): v is string => typeof v === "string" && v.trim() !== "")
      if (field === undefined) return ""
      text = field
    }
  } else if (trimmed.startsWith("<")) {
    text = trimmed.replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, " ").replace(/<[^>]*>/g, " ")
  }
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > serverTextLimit ? `${line.slice(0, serverTextLimit)}…` : line
}

const codeByTag: ReadonlyMap<string, Code> = new Map(
  Object.entries(codes).map(([code, spec]) => [spec.make({ status: 0, message: "" })._tag, code as Code])
)

/**
 * `error` with the server's words (see {@link serverText}) after its message: `authentication
 * required: token expired`. Unchanged when `text` is empty.
 *
 * @since 0.1.0
 * @category constructors
 */
export const withServerText = (error: WireError, text: string): WireError => {
  const code = codeByTag.get(error._tag)
  if (text === "" || code === undefined) return error
  return codes[code].make({
    status: error.status,
    message: `${error.message}: ${text}`,
    errors: error.errors,
    ...(error.detail === undefined ? {} : { detail: error.detail })
  })
}
