/**
 * Registry 2.8 with htpasswd (bcrypt) basic auth over plain http.
 */
import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Credential } from "../../src/Credentials.js"
import * as Repository from "../../src/Repository.js"
import { integrationSuite } from "./support/binaries.js"
import * as Client from "./support/client.js"
import * as Environment from "./support/environment.js"
import { Fixture, skopeoPush } from "./support/environment.js"
import { CommandFailed } from "./support/processes.js"
import { admin } from "./support/registry.js"
import * as Scenarios from "./support/scenarios.js"
import * as Skopeo from "./support/skopeo.js"

const wrongPassword = Credential.Basic({ username: admin.username, password: Redacted.make("not-the-password") })

integrationSuite("registry 2.8 with htpasswd basic auth", ["docker-registry", "skopeo", "htpasswd"], () => {
  layer(Environment.layer("basic"), Environment.layerOptions)((it) => {
    Scenarios.skopeoToClient(it)
    Scenarios.clientToSkopeo(it)

    it.effect("lists the catalog with basic credentials", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        const repo = yield* Repository.Repository
        yield* skopeoPush("it/basic-catalog", "v1")
        const names = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.catalog(registry.host, { pageSize: 1 })))
        expect(names).toContain("it/basic-catalog")
      }))

    it.effect("a wrong password fails with Unauthorized, and so does no credential", () =>
      Effect.gen(function*() {
        const { registry } = yield* Fixture
        yield* skopeoPush("it/basic-denied", "v1")
        const read = Effect.flatMap(Repository.Repository, (repo) =>
          repo.getManifest(Client.ref(registry, "it/basic-denied", "v1")))
        const wrong = yield* Effect.flip(Effect.provide(read, Client.layer(registry, { credential: wrongPassword })))
        expect(wrong._tag).toBe("Unauthorized")
        expect(JSON.stringify(wrong)).not.toContain("not-the-password")
        const anonymous = yield* Effect.flip(
          Effect.provide(read, Client.layer(registry, { credential: Credential.Anonymous() }))
        )
        expect(anonymous._tag).toBe("Unauthorized")
      }))

    it.effect("the registry really checks the password (skopeo with a wrong one is refused)", () =>
      Effect.gen(function*() {
        const { registry, skopeo } = yield* Fixture
        const failed = yield* Effect.flip(
          skopeo.run([
            "inspect",
            "--raw",
            ...Skopeo.flags(registry, undefined, { username: admin.username, password: "nope" }),
            Skopeo.dockerRef(registry, "it/anything", "v1")
          ])
        )
        expect(failed).toBeInstanceOf(CommandFailed)
        expect(failed.output).toMatch(/unauthorized|authentication required/i)
      }))
  })
})
