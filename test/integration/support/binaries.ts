/**
 * The third-party programs the integration suites need, and what to do when one is missing: the
 * suite becomes one failing test naming the program and its Debian package (`.ci/run` installs
 * them all), so neither a broken CI image nor a developer's machine passes without running it.
 */
import { describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The Debian packages that provide each program (see `.ci/apt-packages`). */
export const packageOf = {
  "docker-registry": "docker-registry",
  skopeo: "skopeo",
  htpasswd: "apache2-utils",
  openssl: "openssl",
  tmux: "tmux",
  postgres: "postgresql"
} as const

/** Programs Debian installs off `PATH`, and where. */
const extraDirs: Partial<Record<string, string>> = { postgres: "/usr/lib/postgresql/15/bin" }

/** A program the suites may require. */
export type Binary = keyof typeof packageOf

/** The absolute path of `name` on `PATH`, or undefined. */
export const findBinary = (name: string, path: string = process.env["PATH"] ?? ""): string | undefined => {
  for (const dir of path.split(Path.delimiter)) {
    if (dir === "") continue
    const candidate = Path.join(dir, name)
    try {
      Fs.accessSync(candidate, Fs.constants.X_OK)
      if (Fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** The programs of `required` that are not on `PATH`. */
export const missingBinaries = (required: ReadonlyArray<Binary>): ReadonlyArray<Binary> =>
  required.filter((name) => {
    const extra = extraDirs[name]
    const path = (process.env["PATH"] ?? "") + (extra === undefined ? "" : Path.delimiter + extra)
    return findBinary(name, path) === undefined
  })

/** The message for missing programs: `docker-registry not installed (Debian package docker-registry)`. */
export const describeMissing = (missing: ReadonlyArray<Binary>): string =>
  missing.map((name) => `${name} not installed (Debian package ${packageOf[name]})`).join(", ")

/** What a suite does given the missing programs: run, or fail naming them. */
export const decide = (
  missing: ReadonlyArray<Binary>
): { readonly _tag: "Run" } | { readonly _tag: "Fail"; readonly message: string } =>
  missing.length === 0
    ? { _tag: "Run" }
    : { _tag: "Fail", message: `${describeMissing(missing)}: install it, or run the tests through .ci/run` }

/**
 * Declares an integration suite that needs `required` programs. With all of them present it is an
 * ordinary `describe`; otherwise it is replaced by a failing test that says what is missing.
 */
export const integrationSuite = (name: string, required: ReadonlyArray<Binary>, body: () => void): void => {
  const decision = decide(missingBinaries(required))
  switch (decision._tag) {
    case "Run":
      describe(name, body)
      return
    case "Fail":
      describe(name, () => {
        it("has every program it needs", () => {
          throw new Error(decision.message)
        })
      })
      return
  }
}
