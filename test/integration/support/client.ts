/**
 * Our client, wired for a test registry: `Repository.layer()` + `Auth` + `Transport.layer()` +
 * `Credentials.layerStatic` + `BlobCache.layerMemory()` over `layerHttpClient()` from src/node.ts.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Auth from "../../../src/Auth.js"
import * as BlobCache from "../../../src/BlobCache.js"
import * as Credentials from "../../../src/Credentials.js"
import * as Digest from "../../../src/Digest.js"
import * as Node from "../../../src/node.js"
import * as Reference from "../../../src/Reference.js"
import * as Repository from "../../../src/Repository.js"
import * as Transport from "../../../src/Transport.js"
import { concat } from "../../../src/internal/body.js"
import type { Registry, User } from "./registry.js"

/** How to build the client. */
export interface ClientOptions {
  /** What the client authenticates with; defaults to the registry's working user (or anonymous). */
  readonly credential?: Credentials.Credential | undefined
  /** Auth options (e.g. `forceOAuth`). */
  readonly auth?: Partial<Auth.AuthOptions> | undefined
  /** Transport options (e.g. a short retry schedule for tests that expect a failure). */
  readonly transport?: Transport.Options | undefined
  /** Whether the HTTP client trusts the test CA (tls mode; default true). */
  readonly trustCa?: boolean | undefined
}

/** A `Basic` credential for a user. */
export const basic = (user: User): Credentials.Credential =>
  Credentials.Credential.Basic({ username: user.username, password: Redacted.make(user.password) })

/** The HTTP client: undici trusting the test CA (never skipping verification). */
const httpClient = (registry: Registry, trustCa: boolean): Layer.Layer<HttpClient.HttpClient> =>
  Node.layerHttpClient(trustCa && registry.ca !== undefined ? { ca: registry.ca.certPem } : {})

/** The whole client stack for `registry`: Repository, Auth and Transport. */
export const layer = (
  registry: Registry,
  options: ClientOptions = {}
): Layer.Layer<Repository.Repository | Auth.Auth | Transport.Transport | BlobCache.BlobCache> => {
  const credential = options.credential ?? (registry.user === undefined ? undefined : basic(registry.user))
  // A TLS registry on loopback: the Transport would use plain http there unless told otherwise.
  const transportOptions = registry.mode === "tls"
    ? { ...options.transport, secure: [registry.host] }
    : options.transport
  const transport = Transport.layer(transportOptions).pipe(Layer.provide(httpClient(registry, options.trustCa ?? true)))
  const auth = Auth.layer(options.auth ?? {}).pipe(
    Layer.provide(Credentials.layerStatic(credential === undefined ? {} : { [registry.host]: credential }))
  )
  const authAndTransport = Layer.provideMerge(auth, transport)
  return Repository.layer().pipe(Layer.provideMerge(BlobCache.layerMemory()), Layer.provideMerge(authAndTransport))
}

/** A reference `127.0.0.1:PORT/REPO:TAG` or `…@DIGEST`. */
export const ref = (registry: Registry, repository: string, tagOrDigest?: string): Reference.Reference => {
  const text = tagOrDigest === undefined
    ? `${registry.host}/${repository}`
    : `${registry.host}/${repository}${tagOrDigest.includes(":") ? "@" : ":"}${tagOrDigest}`
  return Effect.runSync(Reference.parse(text))
}

/** A digest string (from a test fixture) as a checked `Digest`. */
export const digest = (text: string): Digest.Digest => Effect.runSync(Digest.parse(text))

/** A blob's bytes through `getBlob` (verified by the client), concatenated. */
export const readBlob = (repo: Reference.Reference, digest: Digest.Digest, size?: number) =>
  Effect.flatMap(Repository.Repository, (r) =>
    Stream.runCollect(r.getBlob(repo, digest, { size })).pipe(
      Effect.map((chunks) => concat(Chunk.toReadonlyArray(chunks)))
    ))
