/**
 * The verbs of `effect-oci`, in the order `--help` lists them. A new verb is one file exporting a
 * `Command` (reading the global options with `yield* globals` and its stack with `Stack.provide`)
 * and one line here.
 *
 * @internal
 */
import { catalog } from "./catalog.js"
import { cp, pull, push } from "./copy.js"
import { blob } from "./blob.js"
import { inspect } from "./inspect.js"
import { login, logout } from "./login.js"
import { ls } from "./ls.js"
import { config, digest, manifest } from "./manifest.js"
import { referrers } from "./referrers.js"
import { rm } from "./rm.js"
import { serve } from "./serve.js"
import { sync } from "./sync.js"
import { tag } from "./tag.js"
import { version } from "./version.js"

export const commands = [
  cp,
  pull,
  push,
  ls,
  catalog,
  manifest,
  config,
  inspect,
  digest,
  blob,
  tag,
  rm,
  referrers,
  sync,
  login,
  logout,
  serve,
  version
] as const
