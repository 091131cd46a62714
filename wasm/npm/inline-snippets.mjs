// Inlines wasm-bindgen's snippet modules into hisock.js (build step of
// scripts/build-npm.sh).
//
// The crate's hand-written JS (wasm/src/js/errors.js) reaches the glue as a
// snippet: wasm-bindgen copies it to snippets/<crate>-<hash>/… and imports it
// from there. The package ships one JS file instead, which also exports the
// snippet's public classes (HisockError), so this script replaces each
// snippet import with the snippet's text. Everything the snippet exports
// stays module-private except the names given as PUBLIC.
//
// Usage: node inline-snippets.mjs PKG_DIR PUBLIC...
// Rewrites PKG_DIR/hisock.js and deletes PKG_DIR/snippets. Exits non-zero,
// changing nothing, when an import or export is not laid out as expected.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [pkg, ...publicNames] = process.argv.slice(2);
const file = join(pkg, "hisock.js");
let js = readFileSync(file, "utf8");

function fail(why) {
  console.error(`inline-snippets: ${why}`);
  process.exit(1);
}

const importLine = /^import \{([^}]*)\} from '(\.\/snippets\/[^']+)';\n/gm;
const exported = new Set();
js = js.replace(importLine, (_, names, path) => {
  let snippet = readFileSync(join(pkg, path), "utf8");
  for (const name of names.split(",").map((n) => n.trim())) {
    const declaration = new RegExp(`^export ((?:async )?function|class) ${name}\\b`, "m");
    if (!declaration.test(snippet)) fail(`${path} does not declare ${name} at the top level`);
    if (!publicNames.includes(name)) snippet = snippet.replace(declaration, "$1 " + name);
    else exported.add(name);
  }
  for (const [, name] of snippet.matchAll(/^export (?:(?:async )?function |class )?(\w*)/gm)) {
    if (!exported.has(name)) fail(`${path} exports ${name || "something"} that the glue does not import`);
  }
  return `${snippet}\n`;
});
for (const name of publicNames) {
  if (!exported.has(name)) fail(`no snippet declares the public ${name}`);
}
if (js.includes("./snippets/")) fail("hisock.js still refers to a snippet");
writeFileSync(file, js);
rmSync(join(pkg, "snippets"), { recursive: true, force: true });
