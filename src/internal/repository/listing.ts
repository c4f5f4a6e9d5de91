/**
 * Paginated listings: tags of a repository and the registry's catalog.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { catalogScope, pullScope, type Scope } from "../../Auth.js"
import { BodyTooLarge, InvalidResponse, NameUnknown, safeUrl } from "../../RegistryError.js"
import { readBoundedText } from "../body.js"
import {
  type Context,
  get,
  isSuccess,
  nameUnknown,
  nextLink,
  type Page,
  paginate,
  refusal,
  repoUrl,
  send,
  type Target,
  withPaging
} from "./http.js"

/** Paging options: `n` entries per page, starting after `last`. @internal */
export interface PageOptions {
  readonly n?: number | undefined
  readonly last?: string | undefined
}

const TagList = Schema.parseJson(Schema.Struct({ tags: Schema.NullOr(Schema.Array(Schema.String)) }))
const Catalog = Schema.parseJson(Schema.Struct({ repositories: Schema.NullOr(Schema.Array(Schema.String)) }))

/** Listing bodies are small JSON; 16 MiB holds a million tags. */
const listingLimit = 16 * 1024 * 1024

const fetchPage = <A>(
  ctx: Context,
  registry: string,
  scopes: ReadonlyArray<Scope>,
  schema: Schema.Schema<A, string>,
  items: (a: A) => ReadonlyArray<string> | null,
  onNotFound?: () => NameUnknown
) =>
(url: string) =>
  Effect.gen(function*() {
    const response = yield* send(ctx, registry, get(url, { accept: "application/json" }), scopes)
    if (!isSuccess(response.status)) return yield* refusal(response, onNotFound)
    const text = yield* readBoundedText(response, listingLimit, "listing")
    const body = yield* Schema.decode(schema)(text).pipe(
      Effect.mapError((e) => new InvalidResponse({ reason: `listing body: ${e.message}`, url: safeUrl(url) }))
    )
    return { items: items(body) ?? [], next: nextLink(response.headers["link"], url) } satisfies Page<string>
  })


/** One page of tags. @internal */
export const tagsPage = (ctx: Context, target: Target, options: PageOptions = {}) =>
  fetchPage(ctx, target.registry, [pullScope(target.repository)], TagList, (b) => b.tags, nameUnknown)(
    withPaging(repoUrl(ctx, target, "tags/list"), options)
  )

/** Every tag, following `Link` headers (a registry that ignores `n` sends them all at once). @internal */
export const tags = (ctx: Context, target: Target, options: { readonly pageSize?: number | undefined } = {}) =>
  paginate(
    withPaging(repoUrl(ctx, target, "tags/list"), { n: options.pageSize }),
    fetchPage(ctx, target.registry, [pullScope(target.repository)], TagList, (b) => b.tags, nameUnknown)
  )

const catalogUrl = (ctx: Context, registry: string) => `${ctx.transport.baseUrl(registry)}/v2/_catalog`

/** One page of the catalog. @internal */
export const catalogPage = (ctx: Context, registry: string, options: PageOptions = {}) =>
  fetchPage(ctx, registry, [catalogScope], Catalog, (b) => b.repositories)(withPaging(catalogUrl(ctx, registry), options))

/** Every repository name of the catalog, following `Link` headers. @internal */
export const catalog = (ctx: Context, registry: string, options: { readonly pageSize?: number | undefined } = {}) =>
  paginate(
    withPaging(catalogUrl(ctx, registry), { n: options.pageSize }),
    fetchPage(ctx, registry, [catalogScope], Catalog, (b) => b.repositories)
  )

/** Re-exported for the error channel types. @internal */
export type ListingFailure = BodyTooLarge | InvalidResponse
