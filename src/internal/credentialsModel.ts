/**
 * The credential values and the error of the Credentials service. They live here rather than in
 * `Credentials.ts` so the internal file and helper readers can build them without an import cycle.
 *
 * @internal
 */
import * as Data from "effect/Data"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * What a credential store knows about one registry.
 *
 * - `Anonymous`: nothing; requests go out without credentials.
 * - `Basic`: a username and password (Basic auth, or the token endpoint's `account` + password).
 * - `IdentityToken`: an OAuth2 refresh token (Docker's `identitytoken`, or a helper answering with
 *   the username `<token>`); exchanged at the token endpoint with `grant_type=refresh_token`.
 * - `RegistryToken`: a bearer token sent as it is (Docker's `registrytoken`).
 *
 * @example
 * ```ts
 * import * as Redacted from "effect/Redacted"
 * import { Credential } from "effect-oci/Credentials"
 *
 * const basic = Credential.Basic({ username: "ci", password: Redacted.make("s3cret") })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Credential = Data.TaggedEnum<{
  Anonymous: {}
  Basic: { readonly username: string; readonly password: Redacted.Redacted<string> }
  IdentityToken: { readonly username: string | undefined; readonly token: Redacted.Redacted<string> }
  RegistryToken: { readonly token: Redacted.Redacted<string> }
}>

/**
 * Constructors (`Credential.Basic({...})`, `Credential.Anonymous()`, …) and `$is` / `$match`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Credential = Data.taggedEnum<Credential>()

/**
 * A credential store could not answer: a malformed `config.json` / `auth.json`, a credential
 * helper that is missing, failed or answered nonsense. `source` names the file path or the helper
 * program; `reason` says what was wrong. Neither ever contains a password or token.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsError extends Schema.TaggedError<CredentialsError>()("CredentialsError", {
  /** The file path or the helper program (`docker-credential-NAME`) that failed. */
  source: Schema.String,
  /** What was wrong, without any secret. */
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.source}: ${this.reason}`
  }
}
