/**
 * `effect-oci login REGISTRY -u USER --password-stdin` and `effect-oci logout REGISTRY`: what
 * `docker login` / `docker logout` do. Login first checks the credentials against the registry
 * (`GET /v2/`, through its Basic or token challenge), then stores them where Docker keeps them:
 * `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), or the credential helper it names.
 * In a terminal, a missing user name or password is asked for (the password without echo), as
 * `docker login` does. JSON: login `{ "registry", "username" }`; logout `{ "registry" }`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Prompt from "@effect/cli/Prompt"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { registryHost } from "./args.js"
import { inContext, UsageError } from "./errors.js"
import { globals } from "./global.js"
import { withLibrary } from "./load.js"
import * as Output from "./output.js"

/** All of stdin, without its final line break. */
const readStdin = Effect.async<string>((resume) => {
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (c: Buffer) => chunks.push(c))
  process.stdin.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, ""))))
  process.stdin.resume()
})

/** Asks in the terminal, or fails with `usage` when stdin is not one (a script must pass the value). */
const ask = <A>(prompt: Prompt.Prompt<A>, usage: string) =>
  process.stdin.isTTY === true
    ? Effect.catchTag(prompt, "QuitException", () => new UsageError({ message: "login cancelled" }))
    : new UsageError({ message: usage })

export const login = Command.make(
  "login",
  {
    registry: Args.text({ name: "REGISTRY" }),
    username: Options.text("username").pipe(
      Options.withAlias("u"),
      Options.optional,
      Options.withDescription("The user name (asked for in a terminal when not given).")
    ),
    passwordStdin: Options.boolean("password-stdin").pipe(Options.withDescription("Read the password from stdin.")),
    password: Options.redacted("password").pipe(
      Options.withAlias("p"),
      Options.optional,
      Options.withDescription("The password (visible to other users of the machine; prefer --password-stdin).")
    )
  },
  ({ password, passwordStdin, registry, username: givenUsername }) =>
    withLibrary(({ Auth, Credentials, HttpClientRequest, NodeContext, RegistryError, Stack, Transport }) =>
      Effect.gen(function*() {
        const g = yield* globals
        const host = yield* registryHost(registry)
        const username = Option.isSome(givenUsername)
          ? givenUsername.value
          : yield* ask(Prompt.text({ message: "Username" }), "login needs -u USER when stdin is not a terminal")
        const secret = passwordStdin
          ? Redacted.make(yield* readStdin)
          : Option.isSome(password)
          ? password.value
          : yield* ask(
            Prompt.hidden({ message: `Password for ${username} at ${host}` }),
            "login needs --password-stdin (or -p PASSWORD) when stdin is not a terminal"
          )
        if (Redacted.value(secret) === "") return yield* new UsageError({ message: "the password is empty" })
        const credential = Credentials.Credential.Basic({ username, password: secret })

        // check them first: GET /v2/ answered 200 through the registry's challenge (Basic or a token)
        const check = Effect.gen(function*() {
          const auth = yield* Auth.Auth
          const transport = yield* Transport.Transport
          const response = yield* auth.execute(host, HttpClientRequest.get(`${transport.baseUrl(host)}/v2/`), [])
          if (response.status !== 200) {
            return yield* new RegistryError.UnexpectedStatus({
              method: "GET",
              url: `${transport.baseUrl(host)}/v2/`,
              status: response.status,
              body: ""
            })
          }
        })
        yield* Effect.provide(check, Stack.layer(g, Credentials.layerStatic({ [host]: credential })))

        // then store them as docker login does
        yield* Effect.flatMap(Credentials.Credentials, (store) => store.store(host, credential)).pipe(
          Effect.provide(Credentials.layer().pipe(Layer.provide(NodeContext.layer)))
        )
        yield* Output.result({ registry: host, username }, [])
        yield* Output.status(`Login Succeeded (${username} at ${host})`)
      })
    ).pipe(inContext(`login ${registry}`))
).pipe(Command.withDescription("Check credentials against a registry and store them as docker login does."))

export const logout = Command.make("logout", { registry: Args.text({ name: "REGISTRY" }) }, ({ registry }) =>
  withLibrary(({ Credentials, NodeContext }) =>
    Effect.gen(function*() {
      const host = yield* registryHost(registry)
      yield* Effect.flatMap(Credentials.Credentials, (store) => store.erase(host)).pipe(
        Effect.provide(Credentials.layer().pipe(Layer.provide(NodeContext.layer)))
      )
      yield* Output.result({ registry: host }, [])
      yield* Output.status(`Removed the credentials for ${host}`)
    })
  ).pipe(inContext(`logout ${registry}`))).pipe(
    Command.withDescription("Forget the stored credentials of a registry.")
  )
