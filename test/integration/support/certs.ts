/**
 * Certificates made with the `openssl` CLI at test time: a CA and a server certificate for
 * 127.0.0.1 (TLS mode), and a self-signed signer for the token server's JWTs (token mode).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import { type CommandFailed, run } from "./processes.js"

/** PEM files on disk, and their text. */
export interface KeyPair {
  readonly certPath: string
  readonly keyPath: string
  readonly certPem: string
  readonly keyPem: string
}

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

const read = (certPath: string, keyPath: string): KeyPair => ({
  certPath,
  keyPath,
  certPem: Fs.readFileSync(certPath, "utf8"),
  keyPem: Fs.readFileSync(keyPath, "utf8")
})

/** A self-signed certificate (P-256), optionally a CA. */
export const selfSigned = (
  dir: string,
  name: string,
  options: { readonly subject: string; readonly ca: boolean }
): Effect.Effect<KeyPair, CommandFailed> => {
  const certPath = Path.join(dir, `${name}.crt`)
  const keyPath = Path.join(dir, `${name}.key`)
  const extensions = options.ca
    ? ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    : ["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature"]
  return run("openssl", [
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "2",
    "-sha256",
    "-subj",
    options.subject,
    ...extensions
  ]).pipe(Effect.map(() => read(certPath, keyPath)))
}

/** A server certificate for `127.0.0.1` and `localhost`, signed by `ca`. */
export const serverCert = (dir: string, ca: KeyPair, name = "server"): Effect.Effect<KeyPair, CommandFailed> =>
  Effect.gen(function*() {
    const certPath = Path.join(dir, `${name}.crt`)
    const keyPath = Path.join(dir, `${name}.key`)
    const csrPath = Path.join(dir, `${name}.csr`)
    const extPath = Path.join(dir, `${name}.ext`)
    Fs.writeFileSync(
      extPath,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost"
      ].join("\n") + "\n"
    )
    yield* run("openssl", ["req", "-new", ...ecKey, "-keyout", keyPath, "-out", csrPath, "-subj", "/CN=127.0.0.1"])
    yield* run("openssl", [
      "x509",
      "-req",
      "-in",
      csrPath,
      "-CA",
      ca.certPath,
      "-CAkey",
      ca.keyPath,
      "-set_serial",
      String(Date.now()),
      "-days",
      "2",
      "-sha256",
      "-extfile",
      extPath,
      "-out",
      certPath
    ])
    return read(certPath, keyPath)
  })

/** The DER bytes of a PEM certificate, base64 (the form JWT `x5c` entries take). */
export const derBase64 = (certPem: string): string =>
  certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "")
