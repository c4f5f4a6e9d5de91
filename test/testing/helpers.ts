/**
 * Helpers for the embedded registry's tests: a plain undici `HttpClient` (not the layerTest
 * client, which prefixes URLs) and small request/response shortcuts.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import * as Digest from "../../src/Digest.js"
import * as Manifest from "../../src/Manifest.js"
import * as MediaType from "../../src/MediaType.js"
import * as TestRegistry from "../../src/testing/index.js"

/** The registry plus a real HTTP client. */
export const live = (options?: TestRegistry.Options) =>
  Layer.mergeAll(TestRegistry.layer(options), NodeHttpClient.layerUndici)

export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  readonly text: string
  readonly json: any
}

export interface Send {
  readonly headers?: Record<string, string>
  readonly body?: Uint8Array | string
  readonly contentType?: string
  readonly stream?: Stream.Stream<Uint8Array>
  readonly contentLength?: number
}

const encoder = new TextEncoder()
export const bytes = (s: string): Uint8Array => encoder.encode(s)

/** Sends a request to an absolute URL, or to a path of the test registry, and reads the whole body. */
export const send = (method: string, target: string, options: Send = {}) =>
  Effect.gen(function*() {
    const registry = yield* TestRegistry.TestRegistry
    const client = yield* HttpClient.HttpClient
    const url = target.startsWith("http") ? target : registry.url + target
    let request = HttpClientRequest.make(method as "GET")(url).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (options.body !== undefined) {
      const body = typeof options.body === "string" ? bytes(options.body) : options.body
      request = HttpClientRequest.bodyUint8Array(request, body, options.contentType ?? "application/octet-stream")
    } else if (options.stream !== undefined) {
      request = HttpClientRequest.bodyStream(request, options.stream, {
        contentType: options.contentType ?? "application/octet-stream",
        ...(options.contentLength === undefined ? {} : { contentLength: options.contentLength })
      })
    }
    const response = yield* client.execute(request)
    const body = new Uint8Array(yield* response.arrayBuffer)
    const text = new TextDecoder().decode(body)
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON
    }
    const reply: Reply = { status: response.status, headers: response.headers, body, text, json }
    return reply
  })

/** The first error code of an OCI error body. */
export const code = (reply: Reply): string | undefined => reply.json?.errors?.[0]?.code

/** Pushes a blob in one POST … ?digest= request. */
export const pushBlob = (repository: string, content: Uint8Array | string, headers: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const body = typeof content === "string" ? bytes(content) : content
    const digest = Digest.compute(body)
    const reply = yield* send("POST", `/v2/${repository}/blobs/uploads/?digest=${digest}`, { body, headers })
    return { digest, size: body.byteLength, reply }
  })

/** An OCI image manifest over the given config and layers (descriptors from raw contents). */
export const imageManifest = (
  config: Uint8Array | string,
  layers: ReadonlyArray<Uint8Array | string>,
  extra: { readonly subject?: Manifest.Descriptor; readonly artifactType?: string; readonly annotations?: Record<string, string> } =
    {}
): Manifest.Decoded => {
  const describe = (content: Uint8Array | string, mediaType: string): Manifest.Descriptor => {
    const b = typeof content === "string" ? bytes(content) : content
    return { mediaType, digest: Digest.compute(b), size: b.byteLength }
  }
  return Manifest.encode({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: describe(config, MediaType.OciConfig),
    layers: layers.map((layer) => describe(layer, MediaType.OciLayerGzip)),
    ...extra
  })
}

/** Pushes config and layers as blobs and then the manifest (by tag or digest). */
export const pushImage = (
  repository: string,
  reference: string | undefined,
  manifest: Manifest.Decoded,
  contents: ReadonlyArray<Uint8Array | string>,
  headers: Record<string, string> = {}
) =>
  Effect.gen(function*() {
    for (const content of contents) yield* pushBlob(repository, content, headers)
    return yield* send("PUT", `/v2/${repository}/manifests/${reference ?? manifest.digest}`, {
      body: manifest.bytes,
      contentType: manifest.mediaType,
      headers
    })
  })

/** `Authorization: Basic …` for a user. */
export const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`
})

/** `Authorization: Bearer …` */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** Parses `Bearer realm="…",service="…",scope="…",error="…"`. */
export const parseChallenge = (header: string | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (header === undefined) return out
  for (const m of header.replace(/^Bearer\s+/i, "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!
  return out
}
