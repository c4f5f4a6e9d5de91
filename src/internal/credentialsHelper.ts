/**
 * Runs Docker credential helpers: `docker-credential-NAME get` (the server URL on stdin, JSON
 * `{ServerURL, Username, Secret}` on stdout), `store` (that JSON on stdin) and `erase` (the server URL).
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Credential, CredentialsError } from "./credentialsModel.js"

/** How to run helpers. */
export interface HelperOptions {
  /** A PATH-style directory list to find `docker-credential-*` in; the inherited PATH when undefined. */
  readonly searchPath: string | undefined
  /** How long a helper may take before it is killed (desktop keychains can hang waiting for a prompt). */
  readonly timeout: Duration.Duration
}

// The reference helpers (docker-credential-helpers) print this, with exit code 1, for an unknown server.
const notFoundPattern = /credentials not found/i

// Helper names come from a config file; a `/` would turn `docker-credential-NAME` into a path.
const helperNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const HelperAnswer = Schema.parseJson(
  Schema.Struct({
    ServerURL: Schema.optional(Schema.String),
    Username: Schema.String,
    Secret: Schema.String
  })
)

/** The username a helper answers with when the secret is an identity (refresh) token. */
const tokenUsername = "<token>"

const firstLine = (text: string): string => {
  const line = text.trim().split(/\r?\n/, 1)[0] ?? ""
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

const describeSpawnFailure = (error: PlatformError.PlatformError): string =>
  error._tag === "SystemError" && error.reason === "NotFound"
    ? "was not found on the PATH"
    : error._tag === "SystemError" && error.reason === "PermissionDenied"
    ? "is not executable"
    : `could not be run (${error._tag === "SystemError" ? error.reason : error._tag})`

const collect = (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString)

// Failure output is an error message (the secret goes in on stdin, and `get` output is never quoted).
const exitedWith = (program: string, exitCode: number, stdout: string, stderr: string) => {
  const said = firstLine(stderr) || firstLine(stdout)
  return new CredentialsError({ source: program, reason: `exited with code ${exitCode}${said === "" ? "" : `: ${said}`}` })
}

/** Turns a helper's answer into a credential; never quotes stdout, which may hold the secret. */
const interpret = (
  program: string,
  exitCode: number,
  stdout: string,
  stderr: string
): Either.Either<Credential, CredentialsError> => {
  const fail = (reason: string) => Either.left(new CredentialsError({ source: program, reason }))
  if (notFoundPattern.test(stdout) || (exitCode !== 0 && notFoundPattern.test(stderr))) {
    return Either.right(Credential.Anonymous())
  }
  if (exitCode !== 0) return Either.left(exitedWith(program, exitCode, stdout, stderr))
  const answer = Schema.decodeUnknownEither(HelperAnswer)(stdout)
  if (Either.isLeft(answer)) return fail("answered with something other than {ServerURL, Username, Secret} JSON")
  const { Secret, Username } = answer.right
  if (Secret === "") return Either.right(Credential.Anonymous())
  if (Username === tokenUsername) {
    return Either.right(Credential.IdentityToken({ username: undefined, token: Redacted.make(Secret) }))
  }
  return Either.right(Credential.Basic({ username: Username, password: Redacted.make(Secret) }))
}

/** Runs `docker-credential-NAME action` with `input` on stdin; spawn failures and hangs are typed. */
const run = (
  name: string,
  action: "get" | "store" | "erase",
  input: string,
  options: HelperOptions
): Effect.Effect<
  { readonly program: string; readonly stdout: string; readonly stderr: string; readonly exitCode: number },
  CredentialsError,
  CommandExecutor.CommandExecutor
> => {
  const program = `docker-credential-${name}`
  if (!helperNamePattern.test(name)) {
    return Effect.fail(new CredentialsError({ source: program, reason: "is not a valid credential helper name" }))
  }
  const base = Command.make(program, action).pipe(Command.feed(input))
  const command = options.searchPath === undefined ? base : Command.env(base, { PATH: options.searchPath })
  return Effect.scoped(
    Effect.gen(function*() {
      const process = yield* Command.start(command)
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [collect(process.stdout), collect(process.stderr), process.exitCode],
        { concurrency: "unbounded" }
      )
      return { program, stdout, stderr, exitCode }
    })
  ).pipe(
    Effect.mapError((error) => new CredentialsError({ source: program, reason: describeSpawnFailure(error) })),
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () =>
        new CredentialsError({ source: program, reason: `did not answer within ${Duration.format(options.timeout)}` })
    }),
    Effect.withSpan("Credentials.helper", { attributes: { helper: program, action } })
  )
}

/**
 * Asks helper `name` for the credentials of `serverUrl`. "Not found" answers are `Anonymous`;
 * a missing, failing, hanging or incoherent helper is a `CredentialsError` naming the program.
 */
export const get = (
  name: string,
  serverUrl: string,
  options: HelperOptions
): Effect.Effect<Credential, CredentialsError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(
    run(name, "get", serverUrl, options),
    ({ exitCode, program, stderr, stdout }) => interpret(program, exitCode, stdout, stderr)
  )

/**
 * Hands a credential to helper `name` (`store`, `{ServerURL, Username, Secret}` JSON on stdin).
 * An identity token goes in as Docker stores it: the username `<token>`, the token as the secret.
 * Helpers know nothing of registry tokens, so one is refused; `Anonymous` is not a credential to store.
 */
export const store = (
  name: string,
  serverUrl: string,
  credential: Credential,
  options: HelperOptions
): Effect.Effect<void, CredentialsError, CommandExecutor.CommandExecutor> => {
  const program = `docker-credential-${name}`
  const refuse = (reason: string) => Effect.fail(new CredentialsError({ source: program, reason }))
  const payload = Credential.$match(credential, {
    Anonymous: () => undefined,
    Basic: ({ password, username }) => ({ Username: username, Secret: Redacted.value(password) }),
    IdentityToken: ({ token }) => ({ Username: tokenUsername, Secret: Redacted.value(token) }),
    RegistryToken: () => undefined
  })
  if (payload === undefined) {
    return refuse(`cannot store ${credential._tag === "Anonymous" ? "an anonymous credential" : "a registry token"}`)
  }
  return Effect.flatMap(
    run(name, "store", JSON.stringify({ ServerURL: serverUrl, ...payload }), options),
    ({ exitCode, stderr, stdout }) =>
      exitCode === 0 ? Effect.void : Effect.fail(exitedWith(program, exitCode, stdout, stderr))
  )
}

/** Asks helper `name` to forget `serverUrl`; one that never knew it ("credentials not found") is fine. */
export const erase = (
  name: string,
  serverUrl: string,
  options: HelperOptions
): Effect.Effect<void, CredentialsError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(
    run(name, "erase", serverUrl, options),
    ({ exitCode, program, stderr, stdout }) =>
      exitCode === 0 || notFoundPattern.test(stdout) || notFoundPattern.test(stderr)
        ? Effect.void
        : Effect.fail(exitedWith(program, exitCode, stdout, stderr))
  )
