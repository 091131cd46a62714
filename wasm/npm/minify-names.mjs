// Shortens the names between hisock_bg.wasm and its JS glue (build step of
// scripts/build-npm.sh).
//
// wasm-bindgen names every import after the JS function it wraps plus a
// 16-digit hash (`__wbg_close_5ee9c5fe4e8754a4`), and the glue reaches the
// exports by their Rust names. Those names appear in both files, and the
// hashes do not compress. binaryen's --minify-imports-and-exports-and-modules
// renames them in the .wasm to one or two letters and prints the mapping;
// this script applies the mapping to the JS glue and the typings.
//
// Usage: node minify-names.mjs MAPPING.json MINIFIED.wasm PKG_DIR
// Rewrites PKG_DIR/hisock.js, hisock.d.ts and hisock_bg.wasm.d.ts in place
// to match MINIFIED.wasm (which the caller then moves into PKG_DIR).
// Exits non-zero, changing nothing, when any name is not found exactly where
// the glue is expected to hold it (a newer wasm-bindgen may lay the glue out
// differently): the build then keeps the unminified files.
import { readFileSync, writeFileSync } from "node:fs";

const [mappingFile, wasmFile, pkg] = process.argv.slice(2);
const mapping = JSON.parse(readFileSync(mappingFile, "utf8"));
const files = {
  js: `${pkg}/hisock.js`,
  dts: `${pkg}/hisock.d.ts`,
  wasmDts: `${pkg}/hisock_bg.wasm.d.ts`,
};
let js = readFileSync(files.js, "utf8");
let dts = readFileSync(files.dts, "utf8");
let wasmDts = readFileSync(files.wasmDts, "utf8");

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
function fail(why) {
  console.error(`minify-names: ${why}; keeping the long names`);
  process.exit(1);
}
// Replaces every match of `pattern` (a global RegExp), which must match
// between `min` and `max` times.
function replace(text, pattern, replacement, min, max, what) {
  const count = (text.match(pattern) || []).length;
  if (count < min || count > max) fail(`${what}: ${count} matches`);
  return text.replace(pattern, replacement);
}

// Imports: keys of the import object(s), one per import name. wasm-bindgen
// writes them one per line as `name: function(...)`.
const modules = new Map();
for (const [module, name, short] of mapping.imports) {
  if (!modules.has(module)) modules.set(module, null);
  js = replace(
    js,
    new RegExp(`^(\\s+)${escape(name)}(?=:)`, "gm"),
    (_, indent) => `${indent}${JSON.stringify(short)}`,
    1,
    1,
    `import ${name}`,
  );
}
// Modules: the keys of the object that __wbg_get_imports returns. The
// mapping names no modules, so the new names are read from the minified
// .wasm: every import there must be (new module, short name).
const minified = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmFile)));
const newModuleOf = new Map(minified.map((i) => [i.name, i.module]));
for (const [module, , short] of mapping.imports) {
  const newModule = newModuleOf.get(short);
  if (newModule === undefined) fail(`import ${short} is not in the .wasm`);
  if (modules.get(module) !== null && modules.get(module) !== newModule) {
    fail(`module ${module} was split`);
  }
  modules.set(module, newModule);
}
for (const [module, short] of modules) {
  js = replace(
    js,
    new RegExp(`${escape(JSON.stringify(module))}(?=:)`, "g"),
    JSON.stringify(short),
    1,
    1,
    `module ${module}`,
  );
}

// Exports: the glue reads them as `wasm.name`; the typings list them as
// `readonly name:` (InitOutput) and `export const name:`.
for (const [name, short] of mapping.exports) {
  js = replace(js, new RegExp(`\\bwasm\\.${escape(name)}\\b`, "g"), `wasm.${short}`, 0, Infinity, name);
  dts = replace(dts, new RegExp(`(readonly )${escape(name)}(?=:)`, "g"), `$1${short}`, 0, 1, name);
  wasmDts = replace(
    wasmDts,
    new RegExp(`(export const )${escape(name)}(?=:)`, "g"),
    `$1${short}`,
    0,
    1,
    name,
  );
  if (name !== short && new RegExp(`\\b(?:exports|instance)\\.${escape(name)}\\b`).test(js)) {
    fail(`export ${name} is read in another way`);
  }
}

writeFileSync(files.js, js);
writeFileSync(files.dts, dts);
writeFileSync(files.wasmDts, wasmDts);
