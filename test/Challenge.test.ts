import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Auth from "../src/Auth.js"
import { endpointKey, parse } from "../src/internal/challenge.js"

describe("WWW-Authenticate parsing", () => {
  it("parses a registry Bearer challenge", () => {
    expect(parse(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`))
      .toEqual([{
        scheme: "bearer",
        params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull" }
      }])
  })

  it("splits several challenges in one header", () => {
    expect(parse(`Bearer realm="a", service="s", Basic realm="b"`)).toEqual([
      { scheme: "bearer", params: { realm: "a", service: "s" } },
      { scheme: "basic", params: { realm: "b" } }
    ])
    // what a runtime makes of two header lines
    expect(parse(`Basic realm="registry", Bearer realm="https://t/token"`).map((c) => c.scheme))
      .toEqual(["basic", "bearer"])
    // a bare known scheme after another challenge is a challenge, not a parameter
    expect(parse(`Bearer realm="a", Basic`)).toEqual([
      { scheme: "bearer", params: { realm: "a" } },
      { scheme: "basic", params: {} }
    ])
  })

  it("unescapes quoted strings", () => {
    expect(parse(`Bearer realm="a\\"b\\\\c\\d", service="with, comma"`)).toEqual([
      { scheme: "bearer", params: { realm: `a"b\\cd`, service: "with, comma" } }
    ])
  })

  it("keeps parameters without values", () => {
    expect(parse(`Bearer realm="r", insecure, service=s`)).toEqual([
      { scheme: "bearer", params: { realm: "r", insecure: "", service: "s" } }
    ])
  })

  it("is case-insensitive for schemes and parameter names", () => {
    expect(parse(`BEARER Realm="R", SERVICE=Svc`)).toEqual([
      { scheme: "bearer", params: { realm: "R", service: "Svc" } }
    ])
    expect(parse(`bAsIc realm="x"`)[0]?.scheme).toBe("basic")
  })

  it("tolerates whitespace around = and missing commas", () => {
    expect(parse(`Bearer realm = "r" ,\tservice\t=\ts`)).toEqual([
      { scheme: "bearer", params: { realm: "r", service: "s" } }
    ])
    expect(parse(`Bearer realm="r" service="s"`)).toEqual([{ scheme: "bearer", params: { realm: "r", service: "s" } }])
  })

  it("reads token68 and schemes without parameters", () => {
    expect(parse("Negotiate abc+/=="), "token68").toEqual([{ scheme: "negotiate", params: {}, token68: "abc+/==" }])
    expect(parse("Basic")).toEqual([{ scheme: "basic", params: {} }])
  })

  it("keeps the first of a repeated parameter", () => {
    expect(parse(`Bearer realm="one", realm="two"`)[0]?.params.realm).toBe("one")
  })

  it("returns what it could parse from garbage, never throwing", () => {
    expect(parse(undefined)).toEqual([])
    expect(parse("")).toEqual([])
    expect(parse("   ,,, ")).toEqual([])
    expect(parse(`"just a quote`)).toEqual([])
    expect(parse(`realm="no scheme"`)).toEqual([])
    expect(parse("=== (((")).toEqual([])
    // an unterminated quote loses that parameter only
    expect(parse(`Bearer service="s", realm="unterminated`)).toEqual([{ scheme: "bearer", params: { service: "s" } }])
    // junk between challenges is skipped
    expect(parse(`Bearer realm="a", @@@, Basic realm="b"`)).toEqual([
      { scheme: "bearer", params: { realm: "a" } },
      { scheme: "basic", params: { realm: "b" } }
    ])
    expect(parse(`Bearer service="s", realm=, other`)).toEqual([
      { scheme: "bearer", params: { service: "s", other: "" } }
    ])
  })

  it("cannot be tricked into polluting prototypes", () => {
    const [c] = parse(`Bearer __proto__="x", constructor="y"`)
    expect(Object.getPrototypeOf(c!.params)).toBe(Object.prototype)
    expect(c!.params["__proto__"]).toBe("x")
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined()
  })

  it.prop("never throws on arbitrary input", [FastCheck.string({ unit: "binary", maxLength: 200 })], ([s]) => {
    const out = parse(s)
    expect(Array.isArray(out)).toBe(true)
  })

  it.prop(
    "round-trips quoted values",
    [FastCheck.string({ maxLength: 40 }), FastCheck.string({ maxLength: 40 })],
    ([realm, service]) => {
      const quote = (s: string) => `"${s.replace(/["\\]/g, (m) => `\\${m}`)}"`
      expect(parse(`Bearer realm=${quote(realm)}, service=${quote(service)}`)).toEqual([
        { scheme: "bearer", params: { realm, service } }
      ])
    }
  )
})

describe("endpoint keys", () => {
  it("normalise scheme, host case and default ports", () => {
    expect(endpointKey("https://Registry.Example/v2/a/manifests/x")).toBe("https://registry.example:443")
    expect(endpointKey("https://registry.example:443/v2/")).toBe("https://registry.example:443")
    expect(endpointKey("http://localhost:5000/v2/")).toBe("http://localhost:5000")
    expect(endpointKey("http://localhost/v2/")).toBe("http://localhost:80")
    expect(endpointKey("not a url")).toBeUndefined()
  })
})

describe("scopes", () => {
  it("format the standard scopes", () => {
    expect(Auth.formatScope(Auth.pullScope("library/alpine"))).toBe("repository:library/alpine:pull")
    expect(Auth.formatScope(Auth.pushScope("a/b"))).toBe("repository:a/b:pull,push")
    expect(Auth.formatScope(Auth.catalogScope)).toBe("registry:catalog:*")
    expect(Auth.formatScope(Auth.repositoryScope("a", "push", "pull", "push"))).toBe("repository:a:pull,push")
  })

  it("parse scope strings in either action order", () => {
    expect(Auth.parseScope("repository:a/b:push,pull")).toEqual(Auth.pushScope("a/b"))
    expect(Auth.parseScope("repository(plugin):x:pull")).toEqual({
      type: "repository(plugin)",
      name: "x",
      actions: ["pull"]
    })
    expect(Auth.parseScope("nonsense")).toBeUndefined()
    expect(Auth.parseScope("repository::pull")).toBeUndefined()
  })

  it("merge per repository, deduplicated and sorted", () => {
    const merged = Auth.mergeScopes(
      [Auth.pullScope("b"), Auth.pullScope("a")],
      [Auth.repositoryScope("a", "push"), Auth.pullScope("a"), Auth.catalogScope]
    )
    expect(merged.map(Auth.formatScope)).toEqual([
      "registry:catalog:*",
      "repository:a:pull,push",
      "repository:b:pull"
    ])
  })

  it.prop(
    "merging does not depend on order",
    [FastCheck.array(
      FastCheck.tuple(
        FastCheck.constantFrom("a", "b/c", "d"),
        FastCheck.subarray(["pull", "push", "delete"], { minLength: 1 })
      ),
      { maxLength: 8 }
    )],
    ([entries]) => {
      const scopes = entries.map(([name, actions]) => Auth.repositoryScope(name, ...actions))
      const forward = Auth.mergeScopes(scopes).map(Auth.formatScope)
      const backward = Auth.mergeScopes([...scopes].reverse()).map(Auth.formatScope)
      expect(backward).toEqual(forward)
      expect(new Set(forward.map((s) => s.split(":")[1])).size).toBe(forward.length)
    }
  )
})
