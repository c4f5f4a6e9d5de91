/** The fake HttpClient the tests script; it is public as `FakeHttp` of `effect-oci/testing`. */
export * from "../../src/testing/FakeHttp.js"
