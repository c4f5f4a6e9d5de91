/**
 * Shared by the Credentials tests: run a store with a given environment (never the real HOME),
 * temp directories of auth files, and assertions on credentials and errors.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Credentials from "../../src/Credentials.js"

export const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** Runs `use` against a store layer, with only `env` as the environment (never the real HOME). */
export const withStore = <A, E, E2, R extends NodeContext.NodeContext>(
  layer: Layer.Layer<Credentials.Credentials, E, R>,
  use: (store: Credentials.Credentials["Type"]) => Effect.Effect<A, E2>,
  env: Record<string, string> = {}
) =>
  Effect.flatMap(Credentials.Credentials, use).pipe(
    Effect.provide(layer),
    Effect.provide(NodeContext.layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

/** Runs `get` against a store layer, with only `env` as the environment. */
export const lookup = <E, R extends NodeContext.NodeContext>(
  layer: Layer.Layer<Credentials.Credentials, E, R>,
  registry: string,
  env: Record<string, string> = {}
) => withStore(layer, (store) => store.get(registry), env)

/** A fresh temp directory holding `files` (relative path → contents). */
export const tempDir = (files: Record<string, unknown>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-oci-credentials-" })
    for (const [name, contents] of Object.entries(files)) {
      const path = `${dir}/${name}`
      yield* fs.makeDirectory(path.slice(0, path.lastIndexOf("/")), { recursive: true })
      yield* fs.writeFileString(path, typeof contents === "string" ? contents : JSON.stringify(contents))
    }
    return dir
  }).pipe(Effect.provide(NodeContext.layer))

export const expectBasic = (credential: Credentials.Credential, username: string, password: string) => {
  expect(credential._tag).toBe("Basic")
  if (credential._tag !== "Basic") return
  expect(credential.username).toBe(username)
  expect(Redacted.value(credential.password)).toBe(password)
}

export const expectFailure = <A, E>(exit: Exit.Exit<A, E>) => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  expect(error).toBeInstanceOf(Credentials.CredentialsError)
  return error as Credentials.CredentialsError
}

export const everything = (error: Credentials.CredentialsError) =>
  `${error.message} ${JSON.stringify(error)} ${String(error)}`
