/**
 * The test registry as `@effect/platform` HTTP apps: the registry itself (`/v2/…` and `/token`) and
 * the second origin that redirected blob GETs land on. Each request goes through the log, then the
 * faults, then authentication, then its route. Nothing here depends on Node: the one capability
 * the platform must supply is closing a connection abruptly (`abort`).
 *
 * @internal
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Digest from "../../Digest.js"
import type { Options, RequestLogEntry } from "../index.js"
import * as Auth from "./auth.js"
import * as Blobs from "./blobs.js"
import * as Faults from "./faults.js"
import * as Http from "./http.js"
import * as Log from "./log.js"
import * as Manifests from "./manifests.js"
import type { Repositories } from "./repositories.js"
import * as Routes from "./routes.js"

/**
 * Everything one registry instance holds.
 *
 * @internal
 */
export interface Registry {
  readonly env: Http.Env
  readonly uploads: Blobs.Uploads
  readonly auth: Auth.Auth
  readonly faults: Faults.Faults
  readonly log: Log.Log
}

/** @internal */
export const make = (
  options: Options,
  repositories: Repositories,
  urls: { readonly url: string; readonly redirectUrl: string }
): Registry => {
  const baseUrl = (request: HttpServerRequest.HttpServerRequest) => {
    const host = request.headers["host"]
    return host === undefined || host === "" ? urls.url : `http://${host}`
  }
  return {
    env: {
      repositories,
      referrers: options.referrers ?? true,
      chunkMinLength: options.chunkMinLength,
      maxManifestBytes: options.maxManifestBytes ?? 4 * 1024 * 1024,
      redirectUrl: urls.redirectUrl,
      baseUrl
    },
    uploads: new Map(),
    auth: Auth.make(options.auth, baseUrl),
    faults: Faults.make(options.faults ?? []),
    log: Log.make()
  }
}

/**
 * Closes the connection a request came on, once the bytes already written are flushed.
 *
 * @internal
 */
export type Abort = (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<void>

const apiVersion = { "docker-distribution-api-version": "registry/2.0" }

const nameOf = (route: Routes.Route): string | undefined => ("name" in route ? route.name : undefined)

const v2 = (registry: Registry, request: HttpServerRequest.HttpServerRequest, route: Routes.Route) =>
  Effect.gen(function*() {
    const { env, uploads } = registry
    if (!Routes.methods[route._tag].includes(request.method)) {
      yield* Http.drain(request)
      return Http.error("UNSUPPORTED", { detail: { method: request.method } })
    }
    const name = nameOf(route)
    if (name !== undefined && !Routes.isValidName(name)) {
      yield* Http.drain(request)
      return Http.error("NAME_INVALID", { detail: { name } })
    }
    const denied = yield* registry.auth.check(
      request,
      Routes.requiredAccess(route, request.method, Http.query(request))
    )
    if (denied !== undefined) {
      yield* Http.drain(request)
      return denied
    }
    switch (route._tag) {
      case "Base":
        return Http.json({})
      case "Catalog":
        return Manifests.catalog(env, request)
      case "Tags":
        return Manifests.tags(env, request, route.name)
      case "Manifest":
        return yield* Manifests.manifest(env, request, route.name, route.reference)
      case "Referrers":
        return Manifests.referrers(env, request, route.name, route.digest)
      case "Blob":
        return yield* Blobs.blob(env, request, route.name, route.digest)
      case "UploadStart":
        return yield* Blobs.start(env, uploads, request, route.name)
      case "Upload":
        return yield* Blobs.session(env, uploads, request, route.name, route.id)
    }
  }).pipe(Effect.map((response) => HttpServerResponse.setHeaders(response, apiVersion)))

const registryRoutes = (registry: Registry) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = Http.path(request)
    if (path === "/token") return yield* registry.auth.token(request)
    const route = Routes.parse(path)
    if (route === undefined) {
      yield* Http.drain(request)
      return Http.pageNotFound()
    }
    return yield* v2(registry, request, route)
  })

const redirectRoutes = (registry: Registry) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const m = /^\/blobs\/([^/]+)$/.exec(Http.path(request))
    const digest = m === null ? undefined : Digest.parseEither(decodeURIComponent(m[1]!))
    if (digest === undefined || Either.isLeft(digest) || (request.method !== "GET" && request.method !== "HEAD")) {
      return Http.pageNotFound()
    }
    const size = yield* registry.env.repositories.anyBlobSize(digest.right)
    if (size === undefined) return Http.error("BLOB_UNKNOWN")
    return Blobs.serve(registry.env.repositories, digest.right, size, request)
  })

/**
 * Wraps routes with the log, the faults, a real clock (the registry must keep real time even when
 * the test that started it runs on `TestClock`) and a 500 for defects.
 */
const serve = (
  registry: Registry,
  origin: RequestLogEntry["origin"],
  routes: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>,
  abort: Abort
): HttpApp.Default<never, never> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const faults = registry.faults.match(origin, request.method, request.url)
    const entry = registry.log.start(request, origin, faults.map(Faults.nameOf))
    const response = yield* Faults.apply(request, faults, routes, abort(request)).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.as(
            Effect.logError("effect-oci test registry: a request failed", cause),
            Http.error("UNKNOWN", { message: Cause.pretty(cause).split("\n")[0] })
          )
      )
    )
    entry.status = response.status
    return response
  }).pipe(Effect.withClock(Clock.make()))

/**
 * The registry app (`/v2/…` and `/token`).
 *
 * @internal
 */
export const registryApp = (registry: Registry, abort: Abort): HttpApp.Default<never, never> =>
  serve(registry, "registry", registryRoutes(registry), abort)

/**
 * The redirect origin: `GET`/`HEAD /blobs/<digest>` of any stored blob, no authentication (like a
 * pre-signed storage URL).
 *
 * @internal
 */
export const redirectApp = (registry: Registry, abort: Abort): HttpApp.Default<never, never> =>
  serve(registry, "redirect", redirectRoutes(registry), abort)
