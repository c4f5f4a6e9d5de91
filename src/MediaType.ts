/**
 * Media types of manifests, configs and layers (OCI image spec 1.1 and Docker distribution).
 *
 * @since 0.1.0
 */

/** OCI image manifest. @since 0.1.0 @category manifests */
export const OciManifest = "application/vnd.oci.image.manifest.v1+json"
/** OCI image index. @since 0.1.0 @category manifests */
export const OciIndex = "application/vnd.oci.image.index.v1+json"
/** Docker image manifest v2, schema 2. @since 0.1.0 @category manifests */
export const DockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
/** Docker manifest list (schema 2). @since 0.1.0 @category manifests */
export const DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
/** Docker schema 1, signed; its digest is of the payload without signatures. @since 0.1.0 @category manifests */
export const DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
/** Docker schema 1, unsigned (registries refuse it on push). @since 0.1.0 @category manifests */
export const DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"

/** OCI image config. @since 0.1.0 @category configs */
export const OciConfig = "application/vnd.oci.image.config.v1+json"
/** Docker image config. @since 0.1.0 @category configs */
export const DockerConfig = "application/vnd.docker.container.image.v1+json"
/** The OCI empty descriptor's media type (`{}`), used for artifacts without a config. @since 0.1.0 @category configs */
export const OciEmpty = "application/vnd.oci.empty.v1+json"

/** OCI layer, gzip. @since 0.1.0 @category layers */
export const OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
/** OCI layer, zstd. @since 0.1.0 @category layers */
export const OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
/** OCI layer, uncompressed tar. @since 0.1.0 @category layers */
export const OciLayer = "application/vnd.oci.image.layer.v1.tar"
/** Docker layer, gzip. @since 0.1.0 @category layers */
export const DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
/** Docker foreign layer. @since 0.1.0 @category layers */
export const DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/**
 * Every manifest media type this client decodes, in the order it asks for them.
 *
 * @since 0.1.0
 * @category manifests
 */
export const manifestTypes: ReadonlyArray<string> = [
  OciIndex,
  OciManifest,
  DockerManifestList,
  DockerManifest,
  DockerSchema1Signed,
  DockerSchema1
]

/**
 * The manifest types sent in `Accept` by default, most preferred first: every type this client
 * decodes, schema 1 last. Registries with strict negotiation serve a schema 1 manifest only to a
 * client that lists it; listing schema 2 too keeps distribution from converting a schema 2 manifest
 * to schema 1 (it converts only when schema 2 is missing from `Accept`).
 *
 * @since 0.1.0
 * @category manifests
 */
export const defaultAccept: ReadonlyArray<string> = manifestTypes

/**
 * Index-like media types (they list other manifests).
 *
 * @since 0.1.0
 * @category guards
 */
export const isIndex = (mediaType: string): boolean => mediaType === OciIndex || mediaType === DockerManifestList

/**
 * Strips parameters and whitespace from a `Content-Type` value and lowercases it
 * (`application/json; charset=utf-8` → `application/json`).
 *
 * @since 0.1.0
 * @category utils
 */
export const essence = (contentType: string): string => {
  const semi = contentType.indexOf(";")
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
}
