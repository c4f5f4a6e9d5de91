import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as RegistryError from "../src/RegistryError.js"

const allCodes: Array<[string, number, string]> = [
  ["UNKNOWN", 500, "UnknownError"],
  ["UNSUPPORTED", 405, "Unsupported"],
  ["UNAUTHORIZED", 401, "Unauthorized"],
  ["DENIED", 403, "Denied"],
  ["UNAVAILABLE", 503, "Unavailable"],
  ["TOOMANYREQUESTS", 429, "TooManyRequests"],
  ["DIGEST_INVALID", 400, "DigestInvalid"],
  ["SIZE_INVALID", 400, "SizeInvalid"],
  ["NAME_INVALID", 400, "NameInvalid"],
  ["TAG_INVALID", 400, "TagInvalid"],
  ["NAME_UNKNOWN", 404, "NameUnknown"],
  ["MANIFEST_UNKNOWN", 404, "ManifestUnknown"],
  ["MANIFEST_INVALID", 400, "ManifestInvalid"],
  ["MANIFEST_UNVERIFIED", 400, "ManifestUnverified"],
  ["MANIFEST_BLOB_UNKNOWN", 400, "ManifestBlobUnknown"],
  ["BLOB_UNKNOWN", 404, "BlobUnknown"],
  ["BLOB_UPLOAD_UNKNOWN", 404, "BlobUploadUnknown"],
  ["BLOB_UPLOAD_INVALID", 404, "BlobUploadInvalid"],
  ["PAGINATION_NUMBER_INVALID", 400, "PaginationNumberInvalid"]
]

const decode = (status: number, body: string, contentType = "application/json") =>
  RegistryError.fromResponseText({ method: "GET", url: "https://r.example/v2/x", status, contentType, body })

describe("RegistryError", () => {
  it("covers every Distribution error code with its status and default message", () => {
    expect(Object.keys(RegistryError.codes).sort()).toEqual(allCodes.map(([c]) => c).sort())
    for (const [code, status, tag] of allCodes) {
      const spec = RegistryError.codes[code as RegistryError.Code]
      expect(spec.status).toBe(status)
      const error = decode(status, JSON.stringify({ errors: [{ code }] }))
      expect(error._tag).toBe(tag)
      expect(error.message).toBe(spec.message)
    }
  })

  it("keeps the message, the detail and every entry of a response", () => {
    const body = JSON.stringify({
      errors: [
        { code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "latest" } },
        { code: "NAME_UNKNOWN", message: "no such repo" }
      ]
    })
    const error = decode(404, body)
    expect(error._tag).toBe("ManifestUnknown")
    if (error._tag === "ManifestUnknown") {
      expect(error.detail).toEqual({ Tag: "latest" })
      expect(error.errors.map((e) => e.code)).toEqual(["MANIFEST_UNKNOWN", "NAME_UNKNOWN"])
      expect(error.status).toBe(404)
    }
  })

  it("maps an unknown code to UnknownError, keeping the original code", () => {
    const error = decode(400, JSON.stringify({ errors: [{ code: "SOMETHING_NEW", message: "new" }] }))
    expect(error._tag).toBe("UnknownError")
    if (error._tag === "UnknownError") expect(error.errors[0]?.code).toBe("SOMETHING_NEW")
  })

  it.each([
    [401, "Unauthorized"],
    [403, "Denied"],
    [429, "TooManyRequests"],
    [503, "Unavailable"],
    [405, "Unsupported"],
    [404, "UnexpectedStatus"],
    [500, "UnexpectedStatus"]
  ])("decodes a %i without a JSON body by its status", (status, tag) => {
    expect(decode(status, "404 page not found", "text/plain")._tag).toBe(tag)
    expect(decode(status, "{not json")._tag).toBe(tag)
    expect(decode(status, JSON.stringify({ errors: [] }))._tag).toBe(tag)
  })

  it("keeps only a short excerpt of an unexpected body", () => {
    const error = decode(500, "x".repeat(5000), "text/html")
    expect(error._tag).toBe("UnexpectedStatus")
    if (error._tag === "UnexpectedStatus") expect(error.body.length).toBeLessThanOrEqual(513)
  })

  it("a 401 / 403 without the errors envelope keeps the server's own words", () => {
    const cases: ReadonlyArray<readonly [number, string, string, string]> = [
      [401, "Unauthorized: bad credentials\n", "text/plain", "authentication required: Unauthorized: bad credentials"],
      [401, JSON.stringify({ details: "incorrect username or password" }), "application/json",
        "authentication required: incorrect username or password"],
      [403, "<html><head><title>403 Forbidden</title><style>h1 { x }</style></head>\n<body><h1>403   Forbidden</h1>" +
        "<hr><center>nginx</center></body></html>", "text/html",
        "requested access to the resource is denied: 403 Forbidden 403 Forbidden nginx"],
      [403, JSON.stringify({ message: "IP not allowed" }), "application/json",
        "requested access to the resource is denied: IP not allowed"],
      // Nothing said: the default message alone.
      [401, "", "text/plain", "authentication required"],
      [401, JSON.stringify({ errors: [] }), "application/json", "authentication required"],
      [403, JSON.stringify({ unrelated: 1 }), "application/json", "requested access to the resource is denied"]
    ]
    for (const [status, body, contentType, message] of cases) {
      const error = decode(status, body, contentType)
      expect(error._tag).toBe(status === 401 ? "Unauthorized" : "Denied")
      expect(error).toMatchObject({ status, message })
    }
    const long = decode(403, `denied ${"x".repeat(1000)}`, "text/plain")
    expect(long.message.length).toBeLessThan(300)
    expect(long.message.endsWith("…")).toBe(true)
  })

  it("never puts user-info or query strings (pre-signed URLs) into errors", () => {
    const error = RegistryError.fromResponseText({
      method: "GET",
      url: "https://user:hunter2@storage.example/blob?X-Amz-Signature=secret",
      status: 500,
      body: ""
    })
    const text = JSON.stringify(error) + String(error)
    expect(text).not.toContain("hunter2")
    expect(text).not.toContain("secret")
    expect(RegistryError.safeUrl("not a url")).toBe("<invalid url>")
  })

  it.effect("lets callers catch by tag", () =>
    Effect.gen(function*() {
      const failing = Effect.fail(decode(404, JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN" }] })))
      const result = yield* failing.pipe(
        Effect.catchTag("BlobUnknown", (e) => Effect.succeed(`caught ${e.status}`)),
        Effect.orElseSucceed(() => "wrong")
      )
      expect(result).toBe("caught 404")
    }))
})
