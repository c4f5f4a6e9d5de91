// `node --import ./loadLog.mjs program.mjs`: appends the URL of every module the program loads to
// the file named by LOAD_LOG (the hooks run on their own thread; each URL is written before its
// module runs). Used by test/Package.test.ts to see what importing effect-oci/node loads.
import { register } from "node:module"

register(new URL("./loadLogHooks.mjs", import.meta.url))
