/**
 * The one interface a copy talks to: a place that holds images. Implemented over the Repository
 * service for registries and over OciLayout for layout directories, so the copy engine never
 * speaks HTTP nor touches a file itself.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Manifest from "../../Manifest.js"
import * as Reference from "../../Reference.js"
import type * as Repository from "../../Repository.js"
import type { InvalidReference, InvalidResponse } from "../../RegistryError.js"
import type { FileReader } from "../iterableBody.js"
import type { PlatformNotFound } from "../repository/manifests.js"

/** What a copy reads from or writes to: a repository of a registry, or an OCI layout (with a tag). @internal */
export type Endpoint =
  | { readonly _tag: "Registry"; readonly reference: Reference.Reference }
  | { readonly _tag: "Layout"; readonly directory: string; readonly tag?: string | undefined }

/** Everything a registry call of a copy can fail with. @internal */
export type RegistryFailure =
  | Repository.ManifestReadError
  | Repository.ManifestWriteError
  | Repository.BlobReadError
  | Repository.BlobWriteError
  | Repository.MountError
  | Repository.UploadSessionError
  | PlatformNotFound
  | InvalidReference
  | InvalidResponse

/** `docker://REFERENCE` or `oci:DIRECTORY[:TAG]`, skopeo's syntax. @internal */
export const format = (endpoint: Endpoint): string =>
  endpoint._tag === "Registry"
    ? `docker://${Reference.format(endpoint.reference)}`
    : `oci:${endpoint.directory}${endpoint.tag === undefined ? "" : `:${endpoint.tag}`}`

/**
 * Bytes of a blob from `offset` on (a re-readable source: a resend opens it again); with `file`,
 * the same bytes as a file an upload may read into buffers of its own (a layout's blobs).
 *
 * @internal
 */
export type Source<E> = ((offset: number) => Stream.Stream<Uint8Array, E>) & {
  readonly file?: FileReader<E> | undefined
}

/** Where a manifest goes: the top one under the endpoint's tag, a child by digest, a referrer listed. @internal */
export type Placement = "top" | "child" | "referrer"

/** An open endpoint. `E` is its failure type. @internal */
export interface Handle<E> {
  /** For messages: `docker://…` / `oci:…`. */
  readonly name: string
  /** The registry and repository, for mounts (registries only). */
  readonly repository: { readonly registry: string; readonly repository: string } | undefined
  /** The manifest the endpoint names (its tag, its digest, or its only image). */
  readonly top: Effect.Effect<Manifest.Decoded, E>
  readonly getManifest: (descriptor: Manifest.Descriptor) => Effect.Effect<Manifest.Decoded, E>
  readonly hasManifest: (descriptor: Manifest.Descriptor) => Effect.Effect<boolean, E>
  readonly putManifest: (manifest: Manifest.Decoded, placement: Placement) => Effect.Effect<void, E>
  readonly hasBlob: (descriptor: Manifest.Descriptor) => Effect.Effect<boolean, E>
  /**
   * A blob's bytes, unverified: `writeBlob` verifies what it writes against the descriptor's digest
   * and size, so a copy hashes each blob once (and a blob that does not match never lands).
   */
  readonly readBlob: (descriptor: Manifest.Descriptor) => Source<E>
  /**
   * Writes a blob from `source`, verified against the descriptor's digest and size before it is
   * committed: a layout renames its file into place only then, a registry upload commits only then.
   */
  readonly writeBlob: <E2>(descriptor: Manifest.Descriptor, source: Source<E2>) => Effect.Effect<void, E | E2>
  /** Mounts a blob from another repository of the same registry: true when it worked (registries only). */
  readonly mount: (descriptor: Manifest.Descriptor, from: string) => Effect.Effect<boolean, E>
  readonly referrers: (subject: Manifest.Descriptor) => Effect.Effect<ReadonlyArray<Manifest.Descriptor>, E>
}
