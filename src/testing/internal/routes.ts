/**
 * Parsing `/v2/…` paths into routes, and the access each request needs.
 *
 * Repository names contain `/`, so the router cannot split them with `:param` segments; the tail
 * of the path is matched here, from the right.
 *
 * @internal
 */

/**
 * A parsed `/v2/` route.
 *
 * @internal
 */
export type Route =
  | { readonly _tag: "Base" }
  | { readonly _tag: "Catalog" }
  | { readonly _tag: "Tags"; readonly name: string }
  | { readonly _tag: "Manifest"; readonly name: string; readonly reference: string }
  | { readonly _tag: "Referrers"; readonly name: string; readonly digest: string }
  | { readonly _tag: "UploadStart"; readonly name: string }
  | { readonly _tag: "Upload"; readonly name: string; readonly id: string }
  | { readonly _tag: "Blob"; readonly name: string; readonly digest: string }

/**
 * One access request: `repository:<name>:<actions>` or `registry:catalog:*`.
 *
 * @internal
 */
export interface Access {
  readonly type: string
  readonly name: string
  readonly actions: ReadonlyArray<string>
}

const component = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
const nameRegExp = new RegExp(`^${component}(?:/${component})*$`)

/**
 * Whether a repository name follows the OCI grammar (and the 255-character limit).
 *
 * @internal
 */
export const isValidName = (name: string): boolean => name.length <= 255 && nameRegExp.test(name)

/**
 * Whether a string is a valid tag.
 *
 * @internal
 */
export const isValidTag = (tag: string): boolean => /^[\w][\w.-]{0,127}$/.test(tag)

const patterns: ReadonlyArray<readonly [RegExp, (m: ReadonlyArray<string | undefined>) => Route]> = [
  [/^(.+)\/tags\/list$/, (m) => ({ _tag: "Tags", name: m[1]! })],
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ _tag: "Manifest", name: m[1]!, reference: m[2]! })],
  [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ _tag: "Referrers", name: m[1]!, digest: m[2]! })],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ _tag: "UploadStart", name: m[1]! })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ _tag: "Upload", name: m[1]!, id: m[2]! })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ _tag: "Blob", name: m[1]!, digest: m[2]! })]
]

const decode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s)
  } catch {
    return undefined
  }
}

/**
 * Parses a request path; `undefined` for anything that is not a registry route.
 *
 * @internal
 */
export const parse = (path: string): Route | undefined => {
  if (path === "/v2" || path === "/v2/") return { _tag: "Base" }
  if (!path.startsWith("/v2/")) return undefined
  const tail = path.slice(4)
  if (tail === "_catalog") return { _tag: "Catalog" }
  for (const [regexp, make] of patterns) {
    const m = regexp.exec(tail)
    if (m === null) continue
    const decoded = m.map((part) => (part === undefined ? undefined : decode(part)))
    if (decoded.some((part, i) => part === undefined && m[i] !== undefined)) return undefined
    return make(decoded)
  }
  return undefined
}

/**
 * The methods each route answers.
 *
 * @internal
 */
export const methods: Record<Route["_tag"], ReadonlyArray<string>> = {
  Base: ["GET", "HEAD"],
  Catalog: ["GET"],
  Tags: ["GET"],
  Manifest: ["GET", "HEAD", "PUT", "DELETE"],
  Referrers: ["GET"],
  UploadStart: ["POST"],
  Upload: ["GET", "PATCH", "PUT", "DELETE"],
  Blob: ["GET", "HEAD", "DELETE"]
}

/**
 * The access a request needs, as distribution computes it: reads need `pull`, uploads and manifest
 * writes `pull,push`, deletes `delete`, the catalog `registry:catalog:*`, and a mount also `pull` on
 * the source repository. `/v2/` needs no scope, only a valid credential.
 *
 * @internal
 */
export const requiredAccess = (route: Route, method: string, params: URLSearchParams): ReadonlyArray<Access> => {
  const repository = (name: string, actions: ReadonlyArray<string>): Access => ({ type: "repository", name, actions })
  switch (route._tag) {
    case "Base":
      return []
    case "Catalog":
      return [{ type: "registry", name: "catalog", actions: ["*"] }]
    case "Tags":
    case "Referrers":
      return [repository(route.name, ["pull"])]
    case "Manifest":
    case "Blob":
      return method === "DELETE"
        ? [repository(route.name, ["delete"])]
        : method === "PUT"
        ? [repository(route.name, ["pull", "push"])]
        : [repository(route.name, ["pull"])]
    case "UploadStart": {
      const from = params.get("from")
      const own = repository(route.name, ["pull", "push"])
      return params.get("mount") !== null && from !== null && from !== route.name
        ? [own, repository(from, ["pull"])]
        : [own]
    }
    case "Upload":
      return [repository(route.name, ["pull", "push"])]
  }
}

/**
 * Parses a scope string (`repository:library/ubuntu:pull,push`, `registry:catalog:*`). The name
 * may itself contain `:` (a registry host with a port), so the actions are taken after the last one.
 *
 * @internal
 */
export const parseScope = (scope: string): Access | undefined => {
  const first = scope.indexOf(":")
  const last = scope.lastIndexOf(":")
  if (first <= 0 || last === first) return undefined
  const actions = scope.slice(last + 1).split(",").filter((a) => a !== "")
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions }
}

/**
 * Formats access as a scope string.
 *
 * @internal
 */
export const formatScope = (access: Access): string => `${access.type}:${access.name}:${access.actions.join(",")}`
