/** Tiny `--name value` / `--flag` command-line reading for the benchmark scripts. */

/** Whether `--name` is on the command line. */
export const flag = (name: string, argv: ReadonlyArray<string> = process.argv): boolean => argv.includes(`--${name}`)

/** The value after `--name`; without a fallback, a missing option is fatal. */
export const option = (name: string, fallback?: string, argv: ReadonlyArray<string> = process.argv): string => {
  const i = argv.indexOf(`--${name}`)
  const value = i === -1 ? undefined : argv[i + 1]
  if (value !== undefined && !value.startsWith("--")) return value
  if (fallback !== undefined) return fallback
  process.stderr.write(`missing option --${name}\n`)
  process.exit(2)
}

/** `--name N` as a positive integer. */
export const integer = (name: string, fallback: number, argv: ReadonlyArray<string> = process.argv): number => {
  const text = option(name, String(fallback), argv)
  const value = Number(text)
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`--${name} must be a positive integer, got ${text}\n`)
    process.exit(2)
  }
  return value
}
