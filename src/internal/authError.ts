/**
 * The errors only authentication produces (re-exported by `Auth`). Registry refusals reuse
 * `Unauthorized` / `Denied` from RegistryError.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

/**
 * The token endpoint did not give us a usable token: it refused (`status` is its HTTP status), its
 * body was not a token response, the token was empty, or the Bearer challenge had no realm. `realm`
 * has no user-info or query; `reason` never contains a credential.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenError extends Schema.TaggedError<TokenError>()("TokenError", {
  realm: Schema.String,
  status: Schema.optionalWith(Schema.Number, { exact: true }),
  reason: Schema.String
}) {
  override get message(): string {
    const status = this.status === undefined ? "" : ` (status ${this.status})`
    return `token request to ${this.realm}${status} failed: ${this.reason}`
  }
}

/**
 * A token realm we will not talk to: not http(s), or plain http while credentials would be sent
 * to a host that is neither loopback nor marked insecure.
 *
 * @since 0.1.0
 * @category errors
 */
export class InsecureRealm extends Schema.TaggedError<InsecureRealm>()("InsecureRealm", {
  realm: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `refusing token realm ${this.realm}: ${this.reason}`
  }
}
