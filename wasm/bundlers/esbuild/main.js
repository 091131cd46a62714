// esbuild (and webpack 5): the bundler's config turns .wasm imports into
// the URL of the emitted file (see build.mjs / webpack.config.mjs).
import init, { connect, HisockError } from "hisock";
import wasmUrl from "hisock/hisock_bg.wasm";

import { publish, roundTrip } from "../shared/roundtrip.js";

publish(async () => {
  await init({ module_or_path: wasmUrl });
  return roundTrip({ connect, HisockError });
});
