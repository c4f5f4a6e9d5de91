/**
 * Registry 2.8 over TLS with a CA and server certificate made by openssl at test time. Our client
 * trusts the CA through `layerHttpClient({ ca })`; certificate verification stays on.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Tls from "node:tls"
import * as Credentials from "../../src/Credentials.js"
import * as node from "../../src/node.js"
import * as Repository from "../../src/Repository.js"
import { integrationSuite } from "./support/binaries.js"
import { derBase64 } from "./support/certs.js"
import * as Client from "./support/client.js"
import * as Environment from "./support/environment.js"
import { Fixture, skopeoPush } from "./support/environment.js"
import * as Scenarios from "./support/scenarios.js"

/** The `code`s along an error's `cause` chain. */
const causeCodes = (error: unknown): ReadonlyArray<string> => {
  const codes: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 10 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string") codes.push(code)
    current = (current as { readonly cause?: unknown }).cause
  }
  return codes
}

integrationSuite("registry 2.8 over TLS", ["docker-registry", "skopeo", "openssl"], () => {
  layer(Environment.layer("tls"), Environment.layerOptions)((it) => {
    Scenarios.skopeoToClient(it)
    Scenarios.clientToSkopeo(it)

    it.effect("the registry is really served over https with our CA", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        expect(registry.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
        const port = Number(new URL(registry.url).port)
        // A TLS handshake that verifies the server against our CA alone (not the system's roots).
        const peer = yield* Effect.async<{ readonly authorized: boolean; readonly issuer: string; readonly der: Buffer }, Error>(
          (resume) => {
            const socket = Tls.connect({ host: "127.0.0.1", port, ca: registry.ca!.certPem, servername: "localhost" }, () => {
              const certificate = socket.getPeerCertificate(true)
              resume(Effect.succeed({
                authorized: socket.authorized,
                issuer: certificate.issuerCertificate?.raw.toString("base64") ?? "",
                der: certificate.raw
              }))
              socket.end()
            })
            socket.on("error", (e) => resume(Effect.fail(e)))
          }
        )
        expect(peer.authorized).toBe(true)
        expect(peer.issuer).toBe(derBase64(registry.ca!.certPem))
        // …and a plain-http request to the same port is no registry answer.
        const plain = yield* Effect.either(Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/v2/`)))
        expect(plain._tag === "Left" || plain.right.status === 400).toBe(true)
        if (plain._tag === "Right") expect(plain.right.headers.get("docker-distribution-api-version")).toBeNull()
      }))

    it.effect("a client that does not trust the CA fails with TransportError, not a silent downgrade", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        yield* skopeoPush("it/untrusted", "v1")
        const error = yield* Repository.Repository.pipe(
          Effect.flatMap((repo) => repo.getManifest(Client.ref(registry, "it/untrusted", "v1"))),
          Effect.flip,
          Effect.provide(Client.layer(registry, { trustCa: false, transport: { retry: Schedule.stop } }))
        )
        expect(error._tag).toBe("TransportError")
        // it failed on the certificate (undici's error code is somewhere down the cause chain)
        expect(causeCodes(error).some((code) => /CERT|SIGNATURE|ISSUER/.test(code))).toBe(true)
      }))

    it.effect("node.layer({ http: { ca } }) reaches a TLS registry on loopback with nothing else configured", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const image = yield* skopeoPush("it/tls-rule", "v1")
        const stack = node.layer({
          http: { ca: registry.ca!.certPem },
          credentials: Credentials.layerAnonymous,
          transport: { retry: Schedule.stop }
        })
        const fetched = yield* Repository.Repository.pipe(
          Effect.flatMap((repo) =>
            Effect.zipRight(
              repo.getManifest(Client.ref(registry, "it/tls-rule", "v1")),
              repo.getManifest(Client.ref(registry, "it/tls-rule", "v1"))
            )
          ),
          Effect.provide(stack)
        )
        expect(fetched.digest).toBe(image.manifest.digest)
        // With the port marked insecure (plain http on purpose), the answer says the port speaks TLS.
        const error = yield* Repository.Repository.pipe(
          Effect.flatMap((repo) => repo.getManifest(Client.ref(registry, "it/tls-rule", "v1"))),
          Effect.flip,
          Effect.provide(node.layer({
            http: { ca: registry.ca!.certPem },
            credentials: Credentials.layerAnonymous,
            transport: { retry: Schedule.stop, insecure: [registry.host] }
          }))
        )
        expect(error).toMatchObject({ _tag: "InvalidResponse", reason: expect.stringContaining("speaks TLS") })
      }))
  })
})
