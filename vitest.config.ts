import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // the CLI tests run the built bin as a subprocess: build it once per run
    globalSetup: ["test/cli/buildOnce.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start servers on loopback ports; two workers keep a 2-core machine responsive.
    maxWorkers: 2,
    minWorkers: 1
  }
})
