/**
 * The wire schemas of manifests, descriptors and platforms, and the errors of decoding them.
 * Re-exported (and documented) by `Manifest.ts`; kept here so the decoder can use them without an
 * import cycle.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import * as Digest from "../Digest.js"
import * as MediaType from "../MediaType.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

const Annotations = Schema.Record({ key: Schema.String, value: Schema.String })

// Standard base64 with padding, as the OCI image spec requires for `data`.
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** @internal */
export const Base64 = Schema.String.pipe(
  Schema.filter((s) => base64.test(s) || "expected standard base64 with padding"),
  Schema.annotations({ identifier: "Base64" })
)

/** @internal */
export const Platform = Schema.Struct({
  architecture: Schema.String,
  os: Schema.String,
  "os.version": optional(Schema.String),
  "os.features": optional(Schema.Array(Schema.String)),
  variant: optional(Schema.String),
  features: optional(Schema.Array(Schema.String))
}).annotations({ identifier: "Platform" })

/** @internal */
export interface Platform extends Schema.Schema.Type<typeof Platform> {}

/** @internal */
export const Descriptor = Schema.Struct({
  mediaType: Schema.String,
  digest: Digest.Digest,
  size: Schema.NonNegativeInt,
  urls: optional(Schema.Array(Schema.String)),
  annotations: optional(Annotations),
  platform: optional(Platform),
  artifactType: optional(Schema.String),
  data: optional(Base64)
}).annotations({ identifier: "Descriptor" })

/** @internal */
export interface Descriptor extends Schema.Schema.Type<typeof Descriptor> {}

/** @internal */
export const ImageManifest = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: optional(Schema.Literal(MediaType.OciManifest)),
  artifactType: optional(Schema.String),
  config: Descriptor,
  layers: Schema.Array(Descriptor),
  subject: optional(Descriptor),
  annotations: optional(Annotations)
}).annotations({ identifier: "ImageManifest" })

/** @internal */
export interface ImageManifest extends Schema.Schema.Type<typeof ImageManifest> {}

/** @internal */
export const ImageIndex = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: optional(Schema.Literal(MediaType.OciIndex)),
  artifactType: optional(Schema.String),
  manifests: Schema.Array(Descriptor),
  subject: optional(Descriptor),
  annotations: optional(Annotations)
}).annotations({ identifier: "ImageIndex" })

/** @internal */
export interface ImageIndex extends Schema.Schema.Type<typeof ImageIndex> {}

/** @internal */
export const DockerManifest = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.Literal(MediaType.DockerManifest),
  config: Descriptor,
  layers: Schema.Array(Descriptor)
}).annotations({ identifier: "DockerManifest" })

/** @internal */
export interface DockerManifest extends Schema.Schema.Type<typeof DockerManifest> {}

/** @internal */
export const DockerManifestList = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.Literal(MediaType.DockerManifestList),
  manifests: Schema.Array(Descriptor)
}).annotations({ identifier: "DockerManifestList" })

/** @internal */
export interface DockerManifestList extends Schema.Schema.Type<typeof DockerManifestList> {}

/** @internal */
export const FsLayer = Schema.Struct({ blobSum: Digest.Digest }).annotations({ identifier: "FsLayer" })

/** @internal */
export const History = Schema.Struct({ v1Compatibility: Schema.String }).annotations({ identifier: "History" })

/** @internal */
export const Signature = Schema.Struct({
  header: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  signature: Schema.String,
  protected: Schema.String
}).annotations({ identifier: "Signature" })

const schema1Fields = {
  schemaVersion: Schema.Literal(1),
  name: Schema.String,
  tag: Schema.String,
  architecture: Schema.String,
  fsLayers: Schema.Array(FsLayer),
  history: Schema.Array(History)
}

/** @internal */
export const DockerSchema1 = Schema.Struct({
  ...schema1Fields,
  signatures: optional(Schema.Array(Signature))
}).annotations({ identifier: "DockerSchema1" })

/** @internal */
export interface DockerSchema1 extends Schema.Schema.Type<typeof DockerSchema1> {}

/** @internal */
export const DockerSchema1Signed = Schema.Struct({
  ...schema1Fields,
  signatures: Schema.NonEmptyArray(Signature)
}).annotations({ identifier: "DockerSchema1Signed" })

/** @internal */
export interface DockerSchema1Signed extends Schema.Schema.Type<typeof DockerSchema1Signed> {}

/** @internal */
export const Manifest = Schema.Union(
  ImageManifest,
  ImageIndex,
  DockerManifest,
  DockerManifestList,
  DockerSchema1Signed,
  DockerSchema1
)

/** @internal */
export type Manifest = Schema.Schema.Type<typeof Manifest>

/** The manifests this client can build and push. @internal */
export type Pushable = ImageManifest | ImageIndex | DockerManifest | DockerManifestList

/** @internal */
export interface Decoded {
  readonly mediaType: string
  readonly digest: Digest.Digest
  readonly size: number
  readonly bytes: Uint8Array
  readonly manifest: Manifest
}

/** @internal */
export class InvalidManifest extends Schema.TaggedError<InvalidManifest>()("InvalidManifest", {
  reason: Schema.String,
  mediaType: optional(Schema.String)
}) {
  override get message(): string {
    return `invalid manifest${this.mediaType === undefined ? "" : ` (${this.mediaType})`}: ${this.reason}`
  }
}

/** @internal */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  mediaType: Schema.String
}) {
  override get message(): string {
    return `unsupported manifest media type: ${this.mediaType}`
  }
}

/** @internal */
export class InvalidPlatform extends Schema.TaggedError<InvalidPlatform>()("InvalidPlatform", {
  input: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid platform ${JSON.stringify(this.input)}: ${this.reason}`
  }
}
