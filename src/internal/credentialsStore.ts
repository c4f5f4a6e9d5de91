/**
 * Credential stores backed by auth files (Docker `config.json`, containers `auth.json`) and the
 * credential helpers they name.
 *
 * @internal
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Credentials, FileOptions } from "../Credentials.js"
import * as File from "./credentialsFile.js"
import * as Helper from "./credentialsHelper.js"
import * as Write from "./credentialsWrite.js"
import { Credential, CredentialsError } from "./credentialsModel.js"

const isAnonymous = Credential.$is("Anonymous")

/** Runs the lookups in order and returns the first credential that is not `Anonymous`. */
export const firstKnown = <R>(
  lookups: Iterable<Effect.Effect<Credential, CredentialsError, R>>
): Effect.Effect<Credential, CredentialsError, R> =>
  Effect.gen(function*() {
    for (const lookup of lookups) {
      const credential = yield* lookup
      if (!isAnonymous(credential)) return credential
    }
    return Credential.Anonymous()
  })

// An unset or unreadable environment variable reads as absent: these only pick default paths.
const env = (name: string) => Config.option(Config.nonEmptyString(name)).pipe(Effect.orElseSucceed(Option.none))

const home = Effect.map(
  Effect.all([env("HOME"), env("USERPROFILE")]),
  ([home, profile]) => Option.orElse(home, () => profile)
)

/** The Docker config file: `options.path`, else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export const dockerConfigPaths = (options: FileOptions) =>
  Effect.gen(function*() {
    if (options.path !== undefined) return [options.path]
    const path = yield* Path.Path
    const dir = yield* env("DOCKER_CONFIG")
    if (Option.isSome(dir)) return [path.join(dir.value, "config.json")]
    return Option.toArray(Option.map(yield* home, (h) => path.join(h, ".docker", "config.json")))
  })

/**
 * The containers auth files, in lookup order: `options.path`, else `$REGISTRY_AUTH_FILE` alone,
 * else `$XDG_RUNTIME_DIR/containers/auth.json` then `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`.
 */
export const podmanAuthPaths = (options: FileOptions) =>
  Effect.gen(function*() {
    if (options.path !== undefined) return [options.path]
    const authFile = yield* env("REGISTRY_AUTH_FILE")
    if (Option.isSome(authFile)) return [authFile.value]
    const path = yield* Path.Path
    const runtime = Option.map(yield* env("XDG_RUNTIME_DIR"), (dir) => path.join(dir, "containers", "auth.json"))
    const userHome = yield* home
    const configHome = Option.orElse(yield* env("XDG_CONFIG_HOME"), () => Option.map(userHome, (h) => path.join(h, ".config")))
    const config = Option.map(configHome, (dir) => path.join(dir, "containers", "auth.json"))
    return [...Option.toArray(runtime), ...Option.toArray(config)]
  })

/**
 * A store reading `paths` (looked up in order, missing files skipped) on every `get`, so a
 * `docker login` made while the program runs is seen. Files are small; helpers are only run for
 * the host asked about.
 */
export const makeFileStore = (
  flavour: File.Flavour,
  paths: ReadonlyArray<string>,
  options: FileOptions
): Effect.Effect<
  Credentials["Type"],
  never,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor>()
    const searchPath = options.helperPath !== undefined
      ? Option.some(options.helperPath)
      : yield* env("PATH")
    const helperOptions: Helper.HelperOptions = {
      searchPath: Option.getOrUndefined(searchPath),
      timeout: Duration.decode(options.helperTimeout ?? "1 minute")
    }

    // A missing file means "nothing stored here"; any other failure to read it is reported.
    const read = (source: string) =>
      Write.read(source, flavour).pipe(Effect.map(Option.map((file) => file.parsed)), Effect.provide(context))

    const lookup = (file: File.ParsedFile, host: string) => {
      const helper = File.helperFor(file, host)
      const fromHelper = helper === undefined
        ? []
        : [Helper.get(helper, File.helperServerUrl(host, flavour), helperOptions)]
      const fromEntries = File.entriesFor(file, host).map(({ entry, key }) => File.decodeEntry(entry, key, file.source))
      // The helper holds the secret when one is configured; `auths` entries are the fallback.
      return firstKnown<CommandExecutor.CommandExecutor>([...fromHelper, ...fromEntries])
    }

    const get = Effect.fn("Credentials.get")(function*(registry: string) {
      const host = File.normaliseRegistry(registry)
      yield* Effect.annotateCurrentSpan("registry", host)
      return yield* firstKnown(paths.map((source) =>
        Effect.flatMap(read(source), Option.match({
          onNone: () => Effect.succeed(Credential.Anonymous()),
          onSome: (file) => lookup(file, host)
        }))
      )).pipe(Effect.provide(context))
    })

    // Writes from this process are serialised, so two updates of the same file never race.
    const lock = yield* Effect.makeSemaphore(1)
    const target = paths[0]
    const noFile = new CredentialsError({
      source: flavour === "docker" ? "Docker config" : "containers auth.json",
      reason: "has no location (set DOCKER_CONFIG, REGISTRY_AUTH_FILE or HOME, or pass a path)"
    })

    const erase = Effect.fn("Credentials.erase")(function*(registry: string) {
      const host = File.normaliseRegistry(registry)
      yield* Effect.annotateCurrentSpan("registry", host)
      // Every file this store reads from forgets the host, so `get` no longer finds it anywhere.
      for (const source of paths) {
        const file = yield* Write.read(source, flavour)
        if (Option.isNone(file)) continue
        const helper = File.helperFor(file.value.parsed, host)
        if (helper !== undefined) yield* Helper.erase(helper, File.helperServerUrl(host, flavour), helperOptions)
        if (!Write.mentions(file.value.json, flavour, host)) continue
        yield* Write.write(source, Write.withEntry(file.value.json, flavour, host, "", undefined))
      }
    }, (effect) => lock.withPermits(1)(Effect.provide(effect, context)))

    const store = Effect.fn("Credentials.store")(function*(registry: string, credential: Credential) {
      const host = File.normaliseRegistry(registry)
      yield* Effect.annotateCurrentSpan("registry", host)
      if (target === undefined) return yield* noFile
      const file = Option.getOrUndefined(yield* Write.read(target, flavour))
      const key = File.helperServerUrl(host, flavour)
      const helper = file === undefined ? undefined : File.helperFor(file.parsed, host)
      // With a helper the secret goes to the helper and the file keeps an empty entry, as Docker does.
      if (helper !== undefined) yield* Helper.store(helper, key, credential, helperOptions)
      const entry = helper === undefined ? Write.encodeEntry(credential) : {}
      yield* Write.write(target, Write.withEntry(file?.json ?? {}, flavour, host, key, entry))
    }, (effect) => lock.withPermits(1)(Effect.provide(effect, context)))

    return {
      get,
      erase,
      // Storing `Anonymous` is forgetting: there is nothing to write for it.
      store: (registry: string, credential: Credential) =>
        Credential.$is("Anonymous")(credential) ? erase(registry) : store(registry, credential),
      writable: true
    }
  })
