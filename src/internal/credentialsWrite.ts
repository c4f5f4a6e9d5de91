/**
 * Writing auth files (Docker `config.json`, containers `auth.json`) the way `docker login` /
 * `docker logout` do: one host's `auths` entry changes, every other key of the file stays as it
 * was, and the new file replaces the old one atomically (a temporary file in the same directory,
 * mode 0600, renamed over it), so a reader never sees half a file and a crash never loses it.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as File from "./credentialsFile.js"
import { Credential, CredentialsError } from "./credentialsModel.js"

/** An auth file as read for an update: its JSON object as it is, and the parsed view of it. */
export interface RawFile {
  readonly json: Readonly<Record<string, unknown>>
  readonly parsed: File.ParsedFile
}

/**
 * The `auths` entry Docker writes for a credential: `auth` is base64 `user:pass` (for an identity
 * token `user:` with an empty password, as `docker login` leaves it), `identitytoken` /
 * `registrytoken` hold the tokens. `undefined` for `Anonymous`, which has no entry.
 */
export const encodeEntry = (credential: Credential): Record<string, string> | undefined =>
  Credential.$match(credential, {
    Anonymous: () => undefined,
    Basic: ({ password, username }) => ({ auth: Encoding.encodeBase64(`${username}:${Redacted.value(password)}`) }),
    IdentityToken: ({ token, username }) => ({
      ...(username === undefined ? {} : { auth: Encoding.encodeBase64(`${username}:`) }),
      identitytoken: Redacted.value(token)
    }),
    RegistryToken: ({ token }) => ({ registrytoken: Redacted.value(token) })
  })

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Reads a file for an update. A missing file is `None` (an update starts from `{}`); a file that
 * is not a JSON object, or whose known fields have the wrong shape, is refused rather than
 * overwritten, since writing it back would lose whatever it held.
 */
export const read = (
  source: string,
  flavour: File.Flavour
): Effect.Effect<Option.Option<RawFile>, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(source).pipe(
      Effect.map(Option.some),
      Effect.catchTags({
        BadArgument: (error) => Effect.fail(failure(source, `could not be read (${error._tag})`)),
        SystemError: (error) =>
          error.reason === "NotFound"
            ? Effect.succeedNone
            : Effect.fail(failure(source, `could not be read (${error.reason})`))
      })
    )
    if (Option.isNone(text)) return Option.none()
    const parsed = yield* File.parse(text.value, source, flavour)
    // `parse` accepted it, so it is a JSON object; the check only tells the compiler so.
    const json: unknown = JSON.parse(text.value)
    if (!isObject(json)) return yield* failure(source, "is not a JSON object")
    return Option.some({ json, parsed })
  })

const failure = (source: string, reason: string) => new CredentialsError({ source, reason })

/**
 * `file` with `auths[key]` set to `entry`, or (with `entry` undefined) with every `auths` key
 * that names `host` removed. Everything else, including the order of keys, is kept.
 */
export const withEntry = (
  json: Readonly<Record<string, unknown>>,
  flavour: File.Flavour,
  host: string,
  key: string,
  entry: Record<string, string> | undefined
): Record<string, unknown> => {
  const auths = isObject(json["auths"]) ? json["auths"] : {}
  const kept = entry === undefined
    ? Object.fromEntries(Object.entries(auths).filter(([k]) => File.normaliseKey(k, flavour) !== host))
    : { ...auths, [key]: entry }
  return { ...json, auths: kept }
}

/** Whether `json` has an `auths` key that names `host`, i.e. whether erasing `host` changes it. */
export const mentions = (json: Readonly<Record<string, unknown>>, flavour: File.Flavour, host: string): boolean =>
  isObject(json["auths"]) && Object.keys(json["auths"]).some((k) => File.normaliseKey(k, flavour) === host)

/**
 * Replaces `target` with `json` atomically: the text goes to a new file next to it (created with
 * mode 0600, never an existing file), which is then renamed over the target. A symlinked target is
 * followed, so the link survives. A missing directory is created (mode 0700, as Docker does).
 */
export const write = (
  target: string,
  json: Readonly<Record<string, unknown>>
): Effect.Effect<void, CredentialsError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const real = yield* fs.realPath(target).pipe(Effect.orElseSucceed(() => target))
    yield* fs.makeDirectory(path.dirname(real), { recursive: true, mode: 0o700 })
    const temp = `${real}.${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}.tmp`
    // Docker writes tab-indented JSON; keeping its layout keeps diffs of the file small.
    const text = JSON.stringify(json, null, "\t")
    yield* fs.writeFileString(temp, text, { flag: "wx", mode: 0o600 }).pipe(
      // The mode given at creation is reduced by the umask; a credentials file is the owner's alone.
      Effect.zipRight(fs.chmod(temp, 0o600)),
      Effect.zipRight(fs.rename(temp, real)),
      Effect.onError(() => Effect.ignore(fs.remove(temp)))
    )
  }).pipe(
    Effect.mapError((error) =>
      failure(target, `could not be written (${error._tag === "SystemError" ? error.reason : error._tag})`)
    ),
    Effect.withSpan("Credentials.writeFile")
  )
