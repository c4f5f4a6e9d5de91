/**
 * The Credentials service: what to authenticate with at a registry.
 *
 * Stores, each a Layer:
 * - {@link layerAnonymous} and {@link layerStatic}: fixed answers (tests, programs that hold secrets);
 *   a static store's writes stay in memory;
 * - {@link layerConfig}: one registry's credentials from `Config` (`REGISTRY_HOST`, `REGISTRY_USERNAME`,
 *   `REGISTRY_PASSWORD`, …), read-only;
 * - {@link layerDockerConfig}: Docker's `config.json`, including `credsStore` / `credHelpers`, which run
 *   `docker-credential-NAME get` (and `store` / `erase` when writing);
 * - {@link layerPodmanAuth}: podman / skopeo / buildah's `auth.json`;
 * - {@link layerChain}: several stores tried in order, writing to the first writable one.
 *
 * `store` and `erase` are what `docker login` / `docker logout` do; the Auth service also uses
 * `store` to keep an OAuth2 server's rotated refresh token.
 *
 * Secrets are `Redacted` throughout, and a {@link CredentialsError} names the file or helper that
 * failed but never quotes a secret.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as File from "./internal/credentialsFile.js"
import { Credential, CredentialsError } from "./internal/credentialsModel.js"
import * as Store from "./internal/credentialsStore.js"

export {
  /**
   * What a store knows about one registry: `Anonymous`, `Basic`, `IdentityToken` (an OAuth2
   * refresh token) or `RegistryToken` (a bearer token sent as it is).
   *
   * @since 0.1.0
   */
  Credential,
  /**
   * A store could not answer; `source` names the file or helper program.
   *
   * @since 0.1.0
   */
  CredentialsError
}

/**
 * The Credentials service.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Credentials } from "effect-oci/Credentials"
 *
 * const program = Effect.flatMap(Credentials, (store) => store.get("ghcr.io"))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Credentials extends Context.Tag("effect-oci/Credentials")<Credentials, {
  /**
   * Credentials for a registry host as written in a Reference (`"docker.io"`, `"ghcr.io"`,
   * `"localhost:5000"`). `Anonymous` when none is known. Docker Hub's aliases
   * (`index.docker.io`, `registry-1.docker.io`) all find Docker Hub's entry.
   */
  readonly get: (registry: string) => Effect.Effect<Credential, CredentialsError>
  /**
   * Remembers `credential` for a registry host, replacing what the store knew: `login`, or an
   * OAuth2 server's rotated refresh token (an `IdentityToken`) kept for the next process. Storing
   * `Anonymous` is the same as {@link erase}. A read-only store fails with a
   * {@link CredentialsError}; see `writable`.
   */
  readonly store: (registry: string, credential: Credential) => Effect.Effect<void, CredentialsError>
  /**
   * Forgets a registry host (`logout`): afterwards `get` answers `Anonymous` for it, unless a
   * read-only source still knows it. Erasing a host the store does not know is no error.
   */
  readonly erase: (registry: string) => Effect.Effect<void, CredentialsError>
  /** Whether `store` / `erase` can succeed; `false` for stores whose source cannot be written (`Config`). */
  readonly writable: boolean
}>() {}

/**
 * Options of the file-backed stores ({@link layerDockerConfig}, {@link layerPodmanAuth}).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileOptions {
  /** The file to read, instead of the one the environment points at. */
  readonly path?: string | undefined
  /**
   * Where to look for `docker-credential-*` helpers, PATH-style (`dir1:dir2`). Defaults to the
   * `PATH` config value (the process environment unless another `ConfigProvider` is installed).
   */
  readonly helperPath?: string | undefined
  /** How long a helper may take before it is killed and the lookup fails. Default: 1 minute. */
  readonly helperTimeout?: Duration.DurationInput | undefined
}

/**
 * A store that answers from a map keyed by registry host, starting with `entries`. Keys are
 * normalised like Docker keys, so `"https://index.docker.io/v1/"`, `"docker.io"` and
 * `"index.docker.io"` are the same. `store` and `erase` change the map in memory (a rotated refresh
 * token is used for the rest of the program, and nothing is persisted).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStatic = (entries: Readonly<Record<string, Credential>>): Credentials["Type"] => {
  const byHost = new Map<string, Credential>()
  for (const [key, credential] of Object.entries(entries)) {
    const host = File.normaliseRegistry(key)
    if (!byHost.has(host)) byHost.set(host, credential)
  }
  const erase = (registry: string) => Effect.sync(() => void byHost.delete(File.normaliseRegistry(registry)))
  return Credentials.of({
    get: (registry) => Effect.sync(() => byHost.get(File.normaliseRegistry(registry)) ?? Credential.Anonymous()),
    store: (registry, credential) =>
      Credential.$is("Anonymous")(credential)
        ? erase(registry)
        : Effect.sync(() => void byHost.set(File.normaliseRegistry(registry), credential)),
    erase,
    writable: true
  })
}

/**
 * A store answering from a fixed map, whose `store` and `erase` fail: the answers come from a
 * source the program cannot write to (such as `Config`). `source` names it in those errors.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeReadOnly = (entries: Readonly<Record<string, Credential>>, source: string): Credentials["Type"] => {
  const { get } = makeStatic(entries)
  const refuse = () => Effect.fail(new CredentialsError({ source, reason: "is read-only" }))
  return Credentials.of({ get, store: refuse, erase: refuse, writable: false })
}

/**
 * A store that tries `stores` in order; the first answer that is not `Anonymous` wins. An error
 * from a store ends the lookup (a broken helper is reported, not silently skipped). `store` writes
 * to the first writable store; `erase` erases from every writable store, so no later store in the
 * chain still answers for the host. A chain without a writable store is read-only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeChain = (stores: Iterable<Credentials["Type"]>): Credentials["Type"] => {
  const all = Array.from(stores)
  const writable = all.filter((store) => store.writable)
  const first = writable[0]
  const refuse = () =>
    Effect.fail(new CredentialsError({ source: "credential chain", reason: "has no writable store" }))
  return Credentials.of({
    get: (registry) => Store.firstKnown(all.map((store) => store.get(registry))),
    store: (registry, credential) => first === undefined ? refuse() : first.store(registry, credential),
    erase: (registry) =>
      first === undefined ? refuse() : Effect.forEach(writable, (store) => store.erase(registry), { discard: true }),
    writable: first !== undefined
  })
}

/**
 * Reads Docker's `config.json`: `options.path`, else `$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`. The file is read on every `get`, so a later `docker login` is seen.
 *
 * For a host, its `credHelpers` helper (else the `credsStore` helper) is asked first, with the
 * server URL on stdin (`https://index.docker.io/v1/` for Docker Hub); when it knows nothing, the
 * host's `auths` entry (`auth`, `username`/`password`, `identitytoken`, `registrytoken`) answers.
 * A missing file is `Anonymous`; malformed JSON, a bad entry or a missing / failing helper is a
 * {@link CredentialsError}.
 *
 * `store` writes what `docker login` writes: with a helper for the host, `docker-credential-NAME
 * store` gets the secret and the file an empty `auths` entry; otherwise `auths[host]` gets `auth`
 * (base64 `user:pass`), `identitytoken` or `registrytoken`. `erase` runs the helper's `erase` and
 * removes every `auths` key naming the host. Every other key of the file is kept; the new file
 * (mode 0600) replaces the old one atomically. A file that cannot be parsed is never overwritten.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDockerConfig = (
  options: FileOptions = {}
): Effect.Effect<Credentials["Type"], never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.flatMap(Store.dockerConfigPaths(options), (paths) => Store.makeFileStore("docker", paths, options))

/**
 * Reads the containers `auth.json` (podman, skopeo, buildah): `options.path`, else
 * `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json` then
 * `~/.config/containers/auth.json` (first file that knows the host wins). Same entry format and
 * helper support as {@link makeDockerConfig}; keys with a namespace path (`quay.io/org`) apply only
 * to that namespace, so a host-level lookup ignores them. `store` writes to the first of those files
 * (as `podman login` does), under the bare host; `erase` removes the host from all of them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePodmanAuth = (
  options: FileOptions = {}
): Effect.Effect<Credentials["Type"], never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.flatMap(Store.podmanAuthPaths(options), (paths) => Store.makeFileStore("containers", paths, options))

/**
 * Options of {@link config} / {@link layerConfig}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOptions {
  /** The prefix of the config names. Default: `"REGISTRY"` (`REGISTRY_HOST`, `REGISTRY_USERNAME`, …). */
  readonly prefix?: string | undefined
}

/**
 * One registry's credentials from `Config`, all optional (with the default prefix):
 * `REGISTRY_HOST` (required as soon as a secret is set, so a secret never goes to every registry),
 * then `REGISTRY_TOKEN` (a registry token), or `REGISTRY_IDENTITY_TOKEN` (an identity token, with an
 * optional `REGISTRY_USERNAME`), or `REGISTRY_USERNAME` + `REGISTRY_PASSWORD`. Secrets are read with
 * `Config.redacted`. Nothing set gives no entries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (options: ConfigOptions = {}): Config.Config<Readonly<Record<string, Credential>>> => {
  const name = (suffix: string) => `${options.prefix ?? "REGISTRY"}_${suffix}`
  const secret = (suffix: string) => Config.option(Config.redacted(Config.nonEmptyString(name(suffix))))
  return Config.all({
    host: Config.option(Config.nonEmptyString(name("HOST"))),
    username: Config.option(Config.nonEmptyString(name("USERNAME"))),
    password: secret("PASSWORD"),
    identityToken: secret("IDENTITY_TOKEN"),
    token: secret("TOKEN")
  }).pipe(Config.mapOrFail(({ host, identityToken, password, token, username }) => {
    const invalid = (suffix: string, message: string) => Either.left(ConfigError.InvalidData([name(suffix)], message))
    const credential: Either.Either<Credential | undefined, ConfigError.ConfigError> = Option.isSome(token)
      ? Either.right(Credential.RegistryToken({ token: token.value }))
      : Option.isSome(identityToken)
      ? Either.right(Credential.IdentityToken({ username: Option.getOrUndefined(username), token: identityToken.value }))
      : Option.isSome(username) && Option.isSome(password)
      ? Either.right(Credential.Basic({ username: username.value, password: password.value }))
      : Option.isSome(password)
      ? invalid("USERNAME", `${name("PASSWORD")} is set but ${name("USERNAME")} is not`)
      : Option.isSome(username)
      ? invalid("PASSWORD", `${name("USERNAME")} is set but ${name("PASSWORD")} is not`)
      : Either.right(undefined)
    return Either.flatMap(credential, (credential) =>
      credential === undefined
        ? Either.right({})
        : Option.isNone(host)
        ? invalid("HOST", `${name("HOST")} must name the registry these credentials are for`)
        : Either.right({ [host.value]: credential }))
  }))
}

/**
 * A store that knows nothing and keeps nothing: every registry is `Anonymous`, and it is read-only.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAnonymous: Layer.Layer<Credentials> = Layer.succeed(Credentials, makeReadOnly({}, "anonymous store"))

/**
 * A store answering from a map keyed by registry host, written to in memory only; see {@link makeStatic}.
 *
 * @example
 * ```ts
 * import * as Redacted from "effect/Redacted"
 * import * as Credentials from "effect-oci/Credentials"
 *
 * const layer = Credentials.layerStatic({
 *   "ghcr.io": Credentials.Credential.Basic({ username: "me", password: Redacted.make("ghp_…") })
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (entries: Readonly<Record<string, Credential>>): Layer.Layer<Credentials> =>
  Layer.sync(Credentials, () => makeStatic(entries))

/**
 * A store built from {@link config} (environment variables by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: ConfigOptions = {}): Layer.Layer<Credentials, ConfigError.ConfigError> =>
  Layer.effect(
    Credentials,
    Effect.map(config(options), (entries) => makeReadOnly(entries, `${options.prefix ?? "REGISTRY"}_* config`))
  )

/**
 * Docker's `config.json` and its credential helpers; see {@link makeDockerConfig}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDockerConfig = (
  options: FileOptions = {}
): Layer.Layer<Credentials, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Layer.effect(Credentials, makeDockerConfig(options))

/**
 * The containers `auth.json` (podman, skopeo, buildah); see {@link makePodmanAuth}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPodmanAuth = (
  options: FileOptions = {}
): Layer.Layer<Credentials, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Layer.effect(Credentials, makePodmanAuth(options))

/**
 * Several stores tried in order; the first answer that is not `Anonymous` wins. See {@link makeChain}.
 *
 * @example
 * ```ts
 * import * as Credentials from "effect-oci/Credentials"
 *
 * const layer = Credentials.layerChain(Credentials.layerConfig(), Credentials.layerDockerConfig())
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerChain = <const Layers extends ReadonlyArray<Layer.Layer<Credentials, any, any>>>(
  ...layers: Layers
): Layer.Layer<Credentials, Layer.Layer.Error<Layers[number]>, Layer.Layer.Context<Layers[number]>> =>
  Layer.scoped(
    Credentials,
    Effect.map(
      Effect.forEach(layers, (layer) => Effect.map(Layer.build(layer), Context.get(Credentials))),
      makeChain
    )
  )

/**
 * The usual stores of a developer machine: Docker's `config.json`, then podman's `auth.json`
 * (`helperPath` and `helperTimeout` apply to both; use `layerChain` to point at other files).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Omit<FileOptions, "path"> = {}
): Layer.Layer<Credentials, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  layerChain(layerDockerConfig(options), layerPodmanAuth(options))
