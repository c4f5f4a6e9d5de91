/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1) and the endpoint key challenges are remembered under.
 *
 * The parser is total: malformed input never throws, it yields the challenges it could make sense
 * of (possibly none). Unlike the Go client it splits several challenges out of one header value
 * (`Bearer realm="a", Basic realm="b"`), which is also what a runtime gives us when a response
 * carries several `WWW-Authenticate` lines (they are joined with `, `).
 *
 * @internal
 */

/**
 * One authentication challenge: a lower-cased scheme and its parameters (lower-cased names).
 *
 * @internal
 */
export interface Challenge {
  readonly scheme: string
  readonly params: Readonly<Record<string, string>>
  /** The `token68` form some schemes use instead of parameters (`Negotiate abc==`). */
  readonly token68?: string
}

// RFC 7230 tchar: visible ASCII except separators.
const isTokenChar = (c: string): boolean => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(c)
const isToken68Char = (c: string): boolean => /^[A-Za-z0-9\-._~+/]$/.test(c)
const isSpace = (c: string | undefined): boolean => c === " " || c === "\t"

/**
 * Scheme names recognised even where a bare token could also be a value-less parameter
 * (`Bearer realm="a", Basic`): a parameter with one of these names is not plausible.
 */
const knownSchemes = new Set(["basic", "bearer", "digest", "negotiate", "ntlm"])

class Cursor {
  i = 0
  constructor(readonly s: string) {}
  get done() {
    return this.i >= this.s.length
  }
  peek(offset = 0): string | undefined {
    return this.s[this.i + offset]
  }
  skipSpace() {
    while (isSpace(this.peek())) this.i++
  }
  token(): string {
    const start = this.i
    while (!this.done && isTokenChar(this.s[this.i]!)) this.i++
    return this.s.slice(start, this.i)
  }
  /** A quoted-string, or undefined (cursor unchanged) when it is not terminated. */
  quoted(): string | undefined {
    const start = this.i
    this.i++ // opening quote
    let out = ""
    while (!this.done) {
      const c = this.s[this.i++]!
      if (c === "\"") return out
      if (c === "\\" && !this.done) out += this.s[this.i++]!
      else out += c
    }
    this.i = start
    return undefined
  }
  /** Moves past the next comma (or to the end); used to resynchronise after garbage. */
  skipPastComma() {
    while (!this.done && this.s[this.i] !== ",") {
      if (this.s[this.i] === "\"") {
        if (this.quoted() === undefined) {
          this.i = this.s.length
          return
        }
      } else this.i++
    }
    if (!this.done) this.i++
  }
}

/** What follows a token, looking past optional whitespace, without consuming anything. */
const lookahead = (cur: Cursor): string | undefined => {
  let j = cur.i
  while (isSpace(cur.s[j])) j++
  return cur.s[j]
}

/** Reads `token68` right after a scheme when the text there has that form, else undefined. */
const readToken68 = (cur: Cursor): string | undefined => {
  let j = cur.i
  while (j < cur.s.length && isToken68Char(cur.s[j]!)) j++
  if (j === cur.i) return undefined
  while (cur.s[j] === "=") j++
  // `name=value` is a parameter, not token68: token68 ends with its `=` padding.
  let k = j
  while (isSpace(cur.s[k])) k++
  if (k < cur.s.length && cur.s[k] !== ",") return undefined
  const value = cur.s.slice(cur.i, j)
  cur.i = j
  return value
}

/**
 * Parses a `WWW-Authenticate` value into its challenges. Scheme and parameter names are
 * lower-cased; quoted values are unescaped; whitespace around `=` is tolerated; a parameter given
 * twice keeps its first value.
 *
 * @example
 * parse(`Bearer realm="https://auth.example/token",service="reg", Basic realm="x"`)
 * // [{ scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg" } },
 * //  { scheme: "basic", params: { realm: "x" } }]
 *
 * @internal
 */
export const parse = (header: string | undefined): ReadonlyArray<Challenge> => {
  if (header === undefined) return []
  const out: Array<Challenge> = []
  let scheme: string | undefined
  let params = new Map<string, string>()
  let token68: string | undefined
  const flush = () => {
    if (scheme !== undefined) {
      out.push({
        scheme,
        params: Object.fromEntries(params),
        ...(token68 === undefined ? {} : { token68 })
      })
    }
    scheme = undefined
    params = new Map()
    token68 = undefined
  }
  const startChallenge = (name: string, cur: Cursor) => {
    flush()
    scheme = name.toLowerCase()
    cur.skipSpace()
    token68 = readToken68(cur)
  }
  const cur = new Cursor(header)
  while (true) {
    cur.skipSpace()
    while (cur.peek() === "," || isSpace(cur.peek())) cur.i++
    if (cur.done) break
    const name = cur.token()
    if (name === "") {
      cur.skipPastComma()
      continue
    }
    const next = lookahead(cur)
    if (next === "=") {
      // `name = value`: a parameter of the current challenge
      cur.skipSpace()
      cur.i++
      cur.skipSpace()
      let value: string | undefined
      if (cur.peek() === "\"") value = cur.quoted()
      else {
        const t = cur.token()
        if (t !== "") value = t
      }
      if (value === undefined || scheme === undefined) {
        cur.skipPastComma()
        continue
      }
      const key = name.toLowerCase()
      if (!params.has(key)) params.set(key, value)
    } else if (next === undefined || next === ",") {
      // a bare token: a value-less parameter, unless it can only be a scheme
      cur.skipSpace()
      if (scheme === undefined || knownSchemes.has(name.toLowerCase())) startChallenge(name, cur)
      else if (!params.has(name.toLowerCase())) params.set(name.toLowerCase(), "")
    } else if (isSpace(cur.peek())) {
      // `scheme param=…` or `scheme token68`
      startChallenge(name, cur)
    } else {
      cur.skipPastComma()
      continue
    }
    // after an item: only whitespace then a comma (or the end) may follow
    cur.skipSpace()
    if (!cur.done && cur.peek() !== ",") {
      // `Bearer realm="x" service="y"` (no comma) – be lenient and read on as parameters
      if (!isTokenChar(cur.peek()!)) cur.skipPastComma()
    }
  }
  flush()
  return out
}

/**
 * The key challenges are remembered under: `scheme://host:port` (host lower-cased, default port
 * filled in), or undefined for a URL that does not parse.
 *
 * @internal
 */
export const endpointKey = (url: string | URL): string | undefined => {
  try {
    const u = new URL(url)
    const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : u.protocol === "http:" ? "80" : ""
    return `${u.protocol}//${u.hostname.toLowerCase()}:${port}`
  } catch {
    return undefined
  }
}
