// Benchmark child: the floor of start-up on this machine — only the Effect and @effect/platform
// modules that any registry client on `HttpClient` loads (Effect's core and Stream; Schema, with the
// fast-check it imports, through @effect/platform's Headers; the HTTP client; FileSystem). The
// start-up row of effect-oci is this plus our code, the default layer and Node's file system.
// Prints `{}` (run.ts reads one JSON line from every child).
import "@effect/platform/FileSystem"
import "@effect/platform/HttpClient"
import "effect/Stream"

process.stdout.write("{}\n")
