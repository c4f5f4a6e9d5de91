/**
 * Running the test registry on Node: two `node:http` servers (the registry and its redirect
 * origin) served through `@effect/platform-node`, the Node way of cutting a connection, and the
 * service handed to tests.
 *
 * @internal
 */
import type * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Digest from "../../Digest.js"
import * as Manifest from "../../Manifest.js"
import type { Options, TestRegistryService } from "../index.js"
import * as App from "./app.js"
import { record } from "./manifests.js"
import * as Repositories from "./repositories.js"
import * as Storage from "./storage.js"

/**
 * Why the registry could not start (the port is taken, the interface does not exist, …).
 *
 * @internal
 */
export type StartError = ServeError

const listen = (host: string, port: number) =>
  Effect.gen(function*() {
    const node = Http.createServer()
    const server = yield* NodeHttpServer.make(() => node, { host, port })
    // runs before the server's own close, which would otherwise wait for keep-alive connections
    yield* Effect.addFinalizer(() => Effect.sync(() => node.closeAllConnections()))
    const address = server.address as HttpServer.TcpAddress
    const hostPart = host.includes(":") ? `[${host}]` : host
    return { server, authority: `${hostPart}:${address.port}` }
  })

// Half-closes after the bytes already written, so the client gets exactly those and then EOF.
const abort: App.Abort = (request) =>
  Effect.sync(() => {
    NodeHttpServerRequest.toServerResponse(request).socket?.destroySoon()
  })

const encoder = new TextEncoder()

/** @internal */
export const make = (options: Options = {}): Effect.Effect<TestRegistryService, StartError, Scope.Scope> =>
  Effect.gen(function*() {
    const storage = options.storageDirectory === undefined
      ? Storage.memory()
      : yield* Effect.provide(Storage.directory(options.storageDirectory), NodeFileSystem.layer)
    const repositories = yield* Repositories.make(storage)
    const host = options.host ?? "127.0.0.1"
    const redirect = yield* listen(host, options.redirectPort ?? 0)
    const main = yield* listen(host, options.port ?? 0)
    const url = `http://${main.authority}`
    const redirectUrl = `http://${redirect.authority}`
    const registry = App.make(options, repositories, { url, redirectUrl })
    yield* main.server.serve(App.registryApp(registry, abort))
    yield* redirect.server.serve(App.redirectApp(registry, abort))

    const service: TestRegistryService = {
      url,
      host: main.authority,
      redirectUrl,
      requests: Effect.sync(() => registry.log.snapshot()),
      clearRequests: Effect.sync(() => registry.log.clear()),
      setFaults: (faults) => Effect.sync(() => registry.faults.set(faults)),
      uploadSessions: Effect.sync(() =>
        Array.from(registry.uploads.values(), (upload) => ({
          id: upload.id,
          repository: upload.name,
          size: upload.size
        }))
      ),
      putBlob: Effect.fn("TestRegistry.putBlob")(function*(repository: string, content: Uint8Array | string) {
        // a private copy: the caller may reuse its array
        const bytes = typeof content === "string" ? encoder.encode(content) : new Uint8Array(content)
        const digest = Digest.compute(bytes)
        yield* repositories.putBlob(repository, digest, [bytes])
        return { digest, size: bytes.byteLength }
      }),
      putManifest: Effect.fn("TestRegistry.putManifest")(
        function*(
          repository: string,
          content: Uint8Array | string | object,
          opts?: { readonly tag?: string | undefined; readonly mediaType?: string | undefined }
        ) {
          const bytes = typeof content === "string"
            ? encoder.encode(content)
            : content instanceof Uint8Array
            ? content
            : encoder.encode(JSON.stringify(content))
          const decoded = yield* Effect.either(Manifest.decode(bytes, { contentType: opts?.mediaType }))
          // an undecodable manifest can still be seeded, to test clients against broken registries
          if (decoded._tag === "Left" && opts?.mediaType === undefined) return yield* Effect.die(decoded.left)
          const rec = decoded._tag === "Right"
            ? record(decoded.right)
            : { digest: Digest.compute(bytes), size: bytes.byteLength, mediaType: opts!.mediaType! }
          yield* repositories.putManifest(repository, rec, new Uint8Array(bytes), opts?.tag)
          return { digest: rec.digest, size: rec.size, mediaType: rec.mediaType }
        }
      ),
      hasBlob: (repository, digest) =>
        Effect.map(
          Digest.isDigest(digest) ? repositories.blobSize(repository, digest) : Effect.succeed(undefined),
          (size) => size !== undefined
        ),
      hasManifest: (repository, reference) => Effect.sync(() => repositories.manifest(repository, reference) !== undefined)
    }
    return service
  })
