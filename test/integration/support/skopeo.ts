/**
 * skopeo 1.9 against a test registry, isolated from the machine: its blob-info cache, auth file and
 * config live in a temp dir (as root skopeo otherwise uses `/var/lib/containers/cache` and would try
 * cross-repository mounts from what other runs pushed), and the signature policy is skipped.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type CommandFailed, type Output, run, tempDir } from "./processes.js"
import type { Registry, User } from "./registry.js"

/** A skopeo bound to one isolated home directory. */
export interface Skopeo {
  /** Runs `skopeo ARGS` (with `--insecure-policy`). */
  readonly run: (args: ReadonlyArray<string>) => Effect.Effect<Output, CommandFailed>
}

/** A skopeo with its own cache and config dirs, removed when the scope closes. */
export const make: Effect.Effect<Skopeo, never, Scope.Scope> = Effect.gen(function*() {
  const home = yield* tempDir("skopeo")
  const env: Record<string, string> = {
    // With a non-root "rootless" UID skopeo takes its blob-info cache from XDG_DATA_HOME.
    _CONTAINERS_ROOTLESS_UID: "65534",
    XDG_DATA_HOME: Path.join(home, "data"),
    XDG_CONFIG_HOME: Path.join(home, "config"),
    XDG_RUNTIME_DIR: Path.join(home, "run"),
    XDG_CACHE_HOME: Path.join(home, "cache"),
    REGISTRY_AUTH_FILE: Path.join(home, "auth.json"),
    TMPDIR: Path.join(home, "tmp")
  }
  for (const dir of ["data", "config", "run", "cache", "tmp"]) Fs.mkdirSync(Path.join(home, dir), { mode: 0o700 })
  return {
    run: (args) => run("skopeo", ["--insecure-policy", ...args], { env, timeout: Duration.seconds(120) })
  }
})

/** The TLS and credential flags of one side (`src`, `dest`, or none for inspect) for a registry. */
export const flags = (
  registry: Registry,
  side: "src" | "dest" | undefined,
  user: User | undefined = registry.user
): ReadonlyArray<string> => {
  const prefix = side === undefined ? "--" : `--${side}-`
  const out: Array<string> = []
  if (registry.certDir !== undefined) out.push(`${prefix}cert-dir`, registry.certDir, `${prefix}tls-verify=true`)
  else out.push(`${prefix}tls-verify=false`)
  if (user !== undefined) out.push(`${prefix}creds`, `${user.username}:${user.password}`)
  else out.push(`${prefix}no-creds`)
  return out
}

/** `docker://HOST/REPO:TAG` (or `@DIGEST`). */
export const dockerRef = (registry: Registry, repository: string, tagOrDigest: string): string =>
  `docker://${registry.host}/${repository}${tagOrDigest.includes(":") ? "@" : ":"}${tagOrDigest}`

/** Pushes the image tagged `tag` in the layout at `layout` to `repository:tag`. */
export const push = (skopeo: Skopeo, registry: Registry, layout: string, tag: string, repository: string) =>
  skopeo.run(["copy", "--quiet", ...flags(registry, "dest"), `oci:${layout}:${tag}`, dockerRef(registry, repository, tag)])

/** The raw manifest bytes skopeo gets for `repository` at a tag or digest. */
export const inspectRaw = (skopeo: Skopeo, registry: Registry, repository: string, tagOrDigest: string) =>
  skopeo.run(["inspect", "--raw", ...flags(registry, undefined), dockerRef(registry, repository, tagOrDigest)]).pipe(
    Effect.map((o) => o.stdout)
  )

/** Pulls `repository` at a tag or digest into an OCI layout at `layout` (tagged `tag`). */
export const pull = (
  skopeo: Skopeo,
  registry: Registry,
  repository: string,
  tagOrDigest: string,
  layout: string,
  tag: string
) =>
  skopeo.run([
    "copy",
    "--quiet",
    "--preserve-digests",
    ...flags(registry, "src"),
    dockerRef(registry, repository, tagOrDigest),
    `oci:${layout}:${tag}`
  ])
