// webpack 5 (and esbuild): the bundler's config turns .wasm imports into
// the URL of the emitted file (see webpack.config.mjs / ../esbuild/build.mjs).
import init, { connect, HisockError } from "hisock";
import wasmUrl from "hisock/hisock_bg.wasm";

import { publish, roundTrip } from "../shared/roundtrip.js";

publish(async () => {
  await init({ module_or_path: wasmUrl });
  return roundTrip({ connect, HisockError });
});
