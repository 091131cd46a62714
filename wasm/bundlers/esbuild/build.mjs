// esbuild: `loader: { ".wasm": "file" }` copies hisock_bg.wasm to the
// output and makes its import the file's URL (relative to the page; set
// `publicPath` when the page is not next to the bundle).
import { build } from "esbuild";

export function buildEsbuild(outdir) {
  return build({
    entryPoints: [new URL("./main.js", import.meta.url).pathname],
    bundle: true,
    format: "esm",
    outdir,
    loader: { ".wasm": "file" },
    logLevel: "warning",
  });
}
