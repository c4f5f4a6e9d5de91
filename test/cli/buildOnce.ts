/**
 * vitest global setup: builds the CLI bundle once per test run (what `npm run build` builds), so
 * every CLI test runs the real `bin` as a subprocess. The entry's path is provided as `cliPath`.
 */
import type { TestProject } from "vitest/node"
import { buildCli } from "../../scripts/build-cli.js"

declare module "vitest" {
  export interface ProvidedContext {
    cliPath: string
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide("cliPath", await buildCli())
}
