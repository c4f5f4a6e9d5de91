/**
 * The environment of one integration suite: a registry in a given mode, an isolated skopeo, a work
 * directory, and our client wired for that registry — all built in beforeAll and torn down in
 * afterAll (registry stopped by PID, temp dirs removed).
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import type * as Auth from "../../../src/Auth.js"
import type * as BlobCache from "../../../src/BlobCache.js"
import type * as Repository from "../../../src/Repository.js"
import type * as Transport from "../../../src/Transport.js"
import * as Client from "./client.js"
import * as OciLayout from "./ociLayout.js"
import { tempDir } from "./processes.js"
import { launch, type Mode, type Registry } from "./registry.js"
import * as Skopeo from "./skopeo.js"

/** What a test of the suite can reach besides the client. */
export class Fixture extends Context.Tag("effect-oci/test/integration/Fixture")<Fixture, {
  readonly registry: Registry
  readonly skopeo: Skopeo.Skopeo
  /** A scratch directory for layouts; each caller takes its own sub-directory. */
  readonly workDir: string
}>() {}

/** Everything a suite's tests need. */
export type Env = Fixture | Repository.Repository | Auth.Auth | Transport.Transport | BlobCache.BlobCache

/** The suite environment for `mode`. */
export const layer = (mode: Mode): Layer.Layer<Env, unknown> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const registry = yield* launch(mode)
    const skopeo = yield* Skopeo.make
    const workDir = yield* tempDir("work")
    return Layer.merge(Layer.succeed(Fixture, { registry, skopeo, workDir }), Client.layer(registry))
  }))

/** Options for `layer(...)` of @effect/vitest: real clock, and time to start servers. */
export const layerOptions = { excludeTestServices: true, timeout: Duration.seconds(90) } as const

let counter = 0
/** A fresh directory name under the work dir. */
export const scratch = (name: string) =>
  Effect.map(Fixture, ({ workDir }) => Path.join(workDir, `${name}-${++counter}`))

/**
 * Builds an image, writes it as an OCI layout and pushes it with skopeo to `repository:tag`.
 * Returns the image (exact bytes of every blob) for comparisons.
 */
export const skopeoPush = (repository: string, tag: string, seed: string = `${repository}:${tag}`) =>
  Effect.gen(function*() {
    const { registry, skopeo } = yield* Fixture
    const image = OciLayout.makeImage(seed)
    const dir = yield* OciLayout.writeLayout(yield* scratch("push"), image, tag)
    yield* Skopeo.push(skopeo, registry, dir, tag, repository)
    return image
  })
