// Benchmark child: the floor of a registry → registry copy in Node, for bench/copyLayers.ts — no
// Effect, no retries, no resume, no auth: Node's `http` with keep-alive agents, 4 blobs at a time.
// Per blob: a mount (`POST ?mount=&from=`) within one registry; otherwise HEAD at the destination,
// the source GET into memory, a sha256 check, POST, and one PUT `?digest=`. Then the manifest.
// What is left between this and skopeo is the registries and the machine; between this and
// effect-oci, our client's own cost. Anonymous plain-http registries only.
//
//   node copyFloor.mjs HOST/REPO:TAG HOST/REPO:TAG      (prints `{ status, blobs }`)
import * as Crypto from "node:crypto"
import * as Http from "node:http"

const parse = (text) => {
  const slash = text.indexOf("/")
  const colon = text.lastIndexOf(":")
  return { host: text.slice(0, slash), repository: text.slice(slash + 1, colon), tag: text.slice(colon + 1) }
}
const [from, to] = process.argv.slice(2).map(parse)
const agent = new Http.Agent({ keepAlive: true, maxSockets: 8 })
const request = (method, url, headers = {}, body) =>
  new Promise((resolve, reject) => {
    const req = Http.request(url, { method, headers, agent }, (res) => {
      const parts = []
      res.on("data", (part) => parts.push(part))
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }))
    })
    req.on("error", reject)
    req.end(body)
  })
const expect = (response, status, what) => {
  if (response.status !== status) throw new Error(`${what}: ${response.status}`)
  return response
}

const accept = "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"
const source = expect(await request("GET", `http://${from.host}/v2/${from.repository}/manifests/${from.tag}`, { accept }), 200, "manifest")
const manifest = JSON.parse(source.body.toString("utf8"))
const blobs = [manifest.config, ...manifest.layers]
const destination = `http://${to.host}/v2/${to.repository}`

const copyBlob = async ({ digest }) => {
  if (from.host === to.host) {
    expect(await request("POST", `${destination}/blobs/uploads/?mount=${digest}&from=${from.repository}`, { "content-length": "0" }), 201, "mount")
    return
  }
  if ((await request("HEAD", `${destination}/blobs/${digest}`)).status === 200) return
  const blob = expect(await request("GET", `http://${from.host}/v2/${from.repository}/blobs/${digest}`), 200, "blob GET")
  if (`sha256:${Crypto.createHash("sha256").update(blob.body).digest("hex")}` !== digest) throw new Error(`${digest}: digest mismatch`)
  const started = expect(await request("POST", `${destination}/blobs/uploads/`, { "content-length": "0" }), 202, "POST")
  const location = new URL(started.headers.location, `http://${to.host}`)
  location.searchParams.set("digest", digest)
  expect(await request("PUT", location.toString(), { "content-type": "application/octet-stream", "content-length": String(blob.body.length) }, blob.body), 201, "PUT")
}

let next = 0
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < blobs.length) await copyBlob(blobs[next++])
}))
const put = expect(
  await request("PUT", `${destination}/manifests/${to.tag}`, { "content-type": source.headers["content-type"] }, source.body),
  201,
  "manifest PUT"
)
process.stdout.write(`${JSON.stringify({ status: put.status, blobs: blobs.length })}\n`)
agent.destroy()
