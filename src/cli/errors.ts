/**
 * How a failure ends the program: one line on stderr saying what failed and why (no stack trace),
 * and an exit code by class — 2 usage or bad reference, 3 not found, 4 unauthorized or denied,
 * 5 network or timeout (after retries), 6 verification failed (digest or size), 1 anything else.
 *
 * @internal
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"

/**
 * A command line that cannot be run as given (beyond what the parser checks).
 *
 * @internal
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * A failure with what was being done when it happened (`manifest localhost:5000/app:1`); its exit
 * code is the cause's.
 *
 * @internal
 */
export class InContext extends Data.TaggedError("InContext")<{ readonly context: string; readonly cause: unknown }> {}

/**
 * Names what a verb was doing in its failures.
 *
 * @internal
 */
export const inContext = (context: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, InContext, R> =>
  Effect.mapError(effect, (cause) => new InContext({ context, cause }))

/** The exit codes. */
export const ExitCode = {
  failure: 1,
  usage: 2,
  notFound: 3,
  denied: 4,
  network: 5,
  verification: 6
} as const

const byTag: Readonly<Record<string, number>> = {
  UsageError: ExitCode.usage,
  InvalidReference: ExitCode.usage,
  InvalidDigest: ExitCode.usage,
  InvalidPlatform: ExitCode.usage,
  SyncConfigError: ExitCode.usage,
  CopyEndpointInvalid: ExitCode.usage,
  NameInvalid: ExitCode.usage,
  TagInvalid: ExitCode.usage,
  ManifestUnknown: ExitCode.notFound,
  NameUnknown: ExitCode.notFound,
  BlobUnknown: ExitCode.notFound,
  PlatformNotFound: ExitCode.notFound,
  CopyImageNotFound: ExitCode.notFound,
  LayoutNotFound: ExitCode.notFound,
  CopyPlatformNotFound: ExitCode.notFound,
  Unauthorized: ExitCode.denied,
  Denied: ExitCode.denied,
  TokenError: ExitCode.denied,
  TransportError: ExitCode.network,
  RequestTimeout: ExitCode.network,
  TooManyRequests: ExitCode.network,
  Unavailable: ExitCode.network,
  DigestMismatch: ExitCode.verification,
  SizeMismatch: ExitCode.verification,
  DigestInvalid: ExitCode.verification,
  SizeInvalid: ExitCode.verification,
  ManifestUnverified: ExitCode.verification
}

const field = (u: unknown, key: string): unknown => (Predicate.hasProperty(u, key) ? u[key] : undefined)
const text = (u: unknown, key: string): string | undefined => {
  const v = field(u, key)
  return typeof v === "string" ? v : undefined
}

/** A tagged error wrapped by another (e.g. a copy failure naming the blob) decides the class. */
const inner = (error: unknown): unknown => field(error, "cause") ?? field(error, "error")

/**
 * The exit code for a failure.
 *
 * @internal
 */
export const exitCode = (error: unknown): number => {
  if (ValidationError.isValidationError(error)) return ExitCode.usage
  const tag = text(error, "_tag")
  // a wrapper (a failure in context, a copy failure naming the blob) takes its cause's class
  const cause = inner(error)
  const fromCause = cause !== undefined && cause !== error && Predicate.hasProperty(cause, "_tag")
    ? exitCode(cause)
    : ExitCode.failure
  if (fromCause !== ExitCode.failure) return fromCause
  if (tag === "SystemError") return text(error, "reason") === "NotFound" ? ExitCode.notFound : ExitCode.failure
  return tag !== undefined && tag in byTag ? byTag[tag]! : ExitCode.failure
}

/** What went wrong, in words, for the tags whose fields say more than their `message`. */
const describeTagged = (tag: string, e: unknown): string | undefined => {
  switch (tag) {
    case "TransportError": {
      // the reason is often generic ("Transport error"): the innermost cause says what happened
      let root: unknown = field(e, "cause")
      for (let depth = 0; depth < 8 && field(root, "cause") !== undefined; depth++) root = field(root, "cause")
      const detail = root === field(e, "cause") || text(root, "message") === undefined ? text(e, "reason") : text(root, "message")
      return `${text(e, "method")} ${text(e, "url")}: ${detail}`
    }
    case "RequestTimeout":
      return `${text(e, "method")} ${text(e, "url")}: timed out waiting for ${
        text(e, "phase") === "body" ? "the body" : "the response"
      } (${String(field(e, "millis"))} ms)`
    case "UnexpectedStatus":
      return `${text(e, "method")} ${text(e, "url")}: unexpected status ${String(field(e, "status"))}`
    case "InvalidResponse":
      return `invalid response${text(e, "url") === undefined ? "" : ` from ${text(e, "url")}`}: ${text(e, "reason")}`
    case "DigestMismatch":
      return `digest mismatch: expected ${text(e, "expected")}, got ${text(e, "actual")}`
    case "SizeMismatch":
      return `size mismatch: expected ${String(field(e, "expected"))} bytes, got ${String(field(e, "actual"))}`
    case "BodyTooLarge":
      return `${text(e, "what")} larger than ${String(field(e, "limit"))} bytes`
    case "InvalidReference":
      return `invalid reference ${JSON.stringify(text(e, "input"))}: ${text(e, "reason")}`
    case "InvalidDigest":
      return `invalid digest ${JSON.stringify(text(e, "input"))}: ${text(e, "reason")}`
    case "PlatformNotFound": {
      const available = field(e, "available")
      return `no manifest for platform ${text(e, "platform")} in ${text(e, "index")}${
        Array.isArray(available) && available.length > 0 ? ` (available: ${available.join(", ")})` : ""
      }`
    }
    case "TooManyRequests":
      return "too many requests (rate limited)"
    case "InContext":
      return `${text(e, "context")}: ${describe(field(e, "cause"))}`
    case "CopyBlobFailed":
      return `blob ${text(e, "digest")}: ${text(e, "operation")} at ${text(e, "endpoint")} failed: ${
        describe(field(e, "cause"))
      }`
    case "CopyManifestFailed":
      return `manifest ${text(e, "manifest")}: ${text(e, "operation")} at ${text(e, "endpoint")} failed: ${
        describe(field(e, "cause"))
      }`
    case "CopyImageNotFound":
      return `no image at ${text(e, "endpoint")}: ${describe(field(e, "cause"))}`
    case "CopyEndpointFailed":
      return `${text(e, "endpoint")}: ${describe(field(e, "cause"))}`
    case "SqlError": {
      // "Failed to execute statement" alone says nothing: the driver's message is in the cause
      const reason = text(field(e, "cause"), "message")
      return `state database: ${text(e, "message")}${reason === undefined ? "" : `: ${reason}`}`
    }
    case "SystemError":
    case "BadArgument":
      return text(e, "message")
    default:
      return undefined
  }
}

/**
 * One line saying what failed and why; never a stack trace, never a credential (errors carry none).
 *
 * @internal
 */
export const describe = (error: unknown): string => {
  const tag = text(error, "_tag")
  const described = tag === undefined ? undefined : describeTagged(tag, error)
  const message = described ?? text(error, "message") ?? (error instanceof Error ? error.message : String(error))
  return message.replace(/\s*\n\s*/g, "; ").trim()
}
