/**
 * Signed schema 1 manifests for tests, laid out as libtrust prints them: the payload with 3-space
 * indents, and `,\n   "signatures": [...]` inserted before its closing `\n}`. The protected header's
 * `formatLength` / `formatTail` give back the payload, so its digest is the manifest's. The
 * signature itself is not a real one (nothing here verifies JWS signatures).
 */
import * as Digest from "../../src/Digest.js"

const b64url = (text: string) => Buffer.from(text, "utf8").toString("base64url")

/** The protected header for `payload`. */
export const protectedHeader = (payload: object): string =>
  b64url(JSON.stringify({
    formatLength: Buffer.byteLength(JSON.stringify(payload, null, 3)) - 2,
    formatTail: b64url("\n}"),
    time: "2016-01-01T00:00:00Z"
  }))

/** `payload` with one signature, as an object (print it with 3-space indents). */
export const signed = <A extends object>(payload: A) => ({
  ...payload,
  signatures: [{
    header: { jwk: { crv: "P-256", kid: "ABCD:EFGH", kty: "EC", x: "xx", y: "yy" }, alg: "ES256" },
    signature: "c2lnbmF0dXJl",
    protected: protectedHeader(payload)
  }]
})

/** The signed manifest's bytes and its (canonical) digest. */
export const sign = (payload: object): { readonly bytes: Uint8Array; readonly digest: Digest.Digest } => ({
  bytes: new TextEncoder().encode(JSON.stringify(signed(payload), null, 3)),
  digest: Digest.compute(JSON.stringify(payload, null, 3))
})

/** A schema 1 payload naming `blobSums` as its layers. */
export const payload = (name: string, tag: string, blobSums: ReadonlyArray<string>) => ({
  schemaVersion: 1,
  name,
  tag,
  architecture: "amd64",
  fsLayers: blobSums.map((blobSum) => ({ blobSum })),
  history: blobSums.map((_, i) => ({ v1Compatibility: JSON.stringify({ id: `layer${i}` }) }))
})
