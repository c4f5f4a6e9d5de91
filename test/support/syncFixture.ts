/**
 * Sync test fixtures: seeding small images into the embedded registry, the client stack against
 * it, and a SQLite state file in a temp directory.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Credentials from "../../src/Credentials.js"
import * as node from "../../src/node.js"
import * as Sync from "../../src/Sync.js"
import * as Images from "./images.js"
import type * as Testing from "../../src/testing/index.js"

/** Seeds a one-layer image whose bytes depend on `repository` and `tag`; returns its manifest digest. */
export const seedImage = (registry: Testing.TestRegistryService, repository: string, tag: string, size = 2048) =>
  Effect.gen(function*() {
    const img = Images.image(`${repository}:${tag}`, { layers: 1, layerSize: size })
    yield* Images.seed(registry, repository, img, tag)
    return img.manifest.digest
  })

/** The Node client stack, anonymous, with quick retries. */
export const clientLayer = node.layer({
  credentials: Credentials.layerAnonymous,
  transport: { retry: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(3))) }
})

/** A fresh temp directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-oci-sync-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** The state file in `dir`. */
export const stateFile = (dir: string): string => path.join(dir, "state.db")

/** The SQLite state in `dir`, to read `Sync.status`. */
export const stateLayer = (dir: string): Layer.Layer<SqlClient.SqlClient> => Sync.layerSqlite(stateFile(dir))

/** One process's sync engine on the state file in `dir`, with the client stack and Copy. */
export const singleLayer = (dir: string) =>
  Sync.layerSingle({ stateFile: stateFile(dir) }).pipe(
    Layer.provideMerge(Sync.layerCopier),
    Layer.provideMerge(clientLayer)
  )
