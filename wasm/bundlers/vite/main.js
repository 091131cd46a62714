// Vite: the ?url suffix makes the import the URL of the emitted .wasm.
import init, { connect, HisockError } from "hisock";
import wasmUrl from "hisock/hisock_bg.wasm?url";

import { publish, roundTrip } from "../shared/roundtrip.js";

publish(async () => {
  await init({ module_or_path: wasmUrl });
  return roundTrip({ connect, HisockError });
});
