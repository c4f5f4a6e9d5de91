/**
 * The typed errors of a copy. Each names the endpoint (as `docker://…` or `oci:…`) and, for a
 * transfer, the blob or manifest, and carries the underlying typed error as its `cause`.
 *
 * @internal
 */
import * as Data from "effect/Data"
import type { LayoutError } from "../ociLayout/layout.js"
import type { RegistryFailure } from "./endpoint.js"

/** What an endpoint can fail with underneath a copy error. @internal */
export type EndpointFailure = RegistryFailure | LayoutError

const describe = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string" &&
    cause.message !== ""
    ? cause.message
    : typeof cause === "object" && cause !== null && "_tag" in cause
    ? String(cause._tag)
    : String(cause)

/** Text that is neither `docker://REFERENCE` nor `oci:DIRECTORY[:TAG]`. @internal */
export class EndpointInvalid extends Data.TaggedError("CopyEndpointInvalid")<{
  readonly input: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid endpoint ${JSON.stringify(this.input)}: ${this.reason}`
  }
}

/** The source has no image under the tag or digest given. @internal */
export class ImageNotFound extends Data.TaggedError("CopyImageNotFound")<{
  readonly endpoint: string
  readonly cause: EndpointFailure
}> {
  override get message(): string {
    return `no image at ${this.endpoint}: ${describe(this.cause)}`
  }
}

/** The source is an index without a manifest for the platform asked for. @internal */
export class PlatformNotFound extends Data.TaggedError("CopyPlatformNotFound")<{
  readonly endpoint: string
  readonly platform: string
  readonly available: ReadonlyArray<string>
}> {
  override get message(): string {
    return `${this.endpoint} has no manifest for ${this.platform} (it has: ${this.available.join(", ") || "none"})`
  }
}

/** Reading, checking, mounting or writing a blob failed. @internal */
export class BlobFailed extends Data.TaggedError("CopyBlobFailed")<{
  readonly endpoint: string
  readonly digest: string
  readonly operation: "stat" | "read" | "mount" | "write"
  readonly cause: EndpointFailure
}> {
  override get message(): string {
    return `blob ${this.digest}: ${this.operation} at ${this.endpoint} failed: ${describe(this.cause)}`
  }
}

/** Reading, checking or writing a manifest (or listing its referrers) failed. @internal */
export class ManifestFailed extends Data.TaggedError("CopyManifestFailed")<{
  readonly endpoint: string
  /** The manifest's digest, or the tag when no digest is known yet. */
  readonly manifest: string
  readonly operation: "read" | "stat" | "write" | "tag" | "referrers"
  readonly cause: EndpointFailure
}> {
  override get message(): string {
    return `manifest ${this.manifest}: ${this.operation} at ${this.endpoint} failed: ${describe(this.cause)}`
  }
}

/** An endpoint could not be opened (e.g. a directory that is not an OCI layout). @internal */
export class EndpointFailed extends Data.TaggedError("CopyEndpointFailed")<{
  readonly endpoint: string
  readonly cause: EndpointFailure
}> {
  override get message(): string {
    return `cannot open ${this.endpoint}: ${describe(this.cause)}`
  }
}

/** Every error of a copy. @internal */
export type CopyError = ImageNotFound | PlatformNotFound | BlobFailed | ManifestFailed | EndpointFailed
