/**
 * The URL of hisock's WebAssembly module, for `init({ module_or_path })`:
 * `import wasmUrl from "hisock/hisock_bg.wasm"` with a bundler that turns
 * `.wasm` imports into URLs (esbuild `--loader:.wasm=file`, webpack
 * `type: "asset/resource"`; with Vite import `"hisock/hisock_bg.wasm?url"`).
 */
declare const wasmUrl: string;
export default wasmUrl;
