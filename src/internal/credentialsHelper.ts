/**
 * Runs a Docker credential helper: `docker-credential-NAME get`, the server URL on stdin, JSON
 * `{ServerURL, Username, Secret}` on stdout.
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
  if (exitCode !== 0) {
    const said = firstLine(stderr) || firstLine(stdout)
    return fail(`exited with code ${exitCode}${said === "" ? "" : `: ${said}`}`)
  }
  const answer = Schema.decodeUnknownEither(HelperAnswer)(stdout)
  if (Either.isLeft(answer)) return fail("answered with something other than {ServerURL, Username, Secret} JSON")
  const { Secret, Username } = answer.right
  if (Secret === "") return Either.right(Credential.Anonymous())
  if (Username === tokenUsername) {
    return Either.right(Credential.IdentityToken({ username: undefined, token: Redacted.make(Secret) }))
  }
  return Either.right(Credential.Basic({ username: Username, password: Redacted.make(Secret) }))
}

/**
 * Asks helper `name` for the credentials of `serverUrl`. "Not found" answers are `Anonymous`;
 * a missing, failing, hanging or incoherent helper is a `CredentialsError` naming the program.
 */
export const get = (
  name: string,
  serverUrl: string,
  options: HelperOptions
): Effect.Effect<Credential, CredentialsError, CommandExecutor.CommandExecutor> => {
  const program = `docker-credential-${name}`
  if (!helperNamePattern.test(name)) {
    return Effect.fail(new CredentialsError({ source: program, reason: "is not a valid credential helper name" }))
  }
  const base = Command.make(program, "get").pipe(Command.feed(serverUrl))
  const command = options.searchPath === undefined ? base : Command.env(base, { PATH: options.searchPath })
  return Effect.scoped(
    Effect.gen(function*() {
      const process = yield* Command.start(command)
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [collect(process.stdout), collect(process.stderr), process.exitCode],
        { concurrency: "unbounded" }
      )
      return { stdout, stderr, exitCode }
    })
  ).pipe(
    Effect.mapError((error) => new CredentialsError({ source: program, reason: describeSpawnFailure(error) })),
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () =>
        new CredentialsError({ source: program, reason: `did not answer within ${Duration.format(options.timeout)}` })
    }),
    Effect.flatMap(({ exitCode, stderr, stdout }) => interpret(program, exitCode, stdout, stderr)),
    Effect.withSpan("Credentials.helper", { attributes: { helper: program } })
  )
}
