// webpack 5: `type: "asset/resource"` emits hisock_bg.wasm and makes its
// import the file's URL. (hisock.js's own `new URL("hisock_bg.wasm",
// import.meta.url)` resolves to the same asset.)
export function webpackConfig(outdir) {
  return {
    mode: "production",
    context: new URL(".", import.meta.url).pathname,
    entry: "./main.js",
    output: { path: outdir, filename: "main.js", clean: true },
    module: { rules: [{ test: /\.wasm$/, type: "asset/resource" }] },
    performance: { hints: false },
  };
}
