// The npm package holds exactly what it should: what `npm pack --dry-run`
// would publish from wasm/pkg/, and the tarball scripts/build-npm.sh made,
// are the JS, its typings, the .wasm and its URL typings, the README,
// package.json and the license files if the repository has any. Every
// `exports` entry points at a shipped file.

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { tarball } from "./support.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = join(root, "wasm", "pkg");

const expected = [
  "README.md",
  "hisock.d.ts",
  "hisock.js",
  "hisock_bg.wasm",
  "hisock_bg.wasm.d.ts",
  "package.json",
  ...readdirSync(root).filter((name) => /^LICEN[CS]E/i.test(name)),
].sort();

test("npm pack --dry-run lists exactly the files that should ship", () => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--silent"], {
    cwd: pkgDir,
    encoding: "utf8",
  });
  const [info] = JSON.parse(out);
  assert.equal(info.name, "hisock");
  assert.deepEqual(info.files.map((f) => f.path).sort(), expected);
});

test("the built tarball holds the same files", () => {
  const listed = execFileSync("tar", ["-tzf", tarball()], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((path) => path.replace(/^package\//, ""))
    .sort();
  assert.deepEqual(listed, expected);
});

test("every exports entry of package.json names a shipped file", () => {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const targets = [];
  const collect = (entry) => {
    if (typeof entry === "string") targets.push(entry.replace(/^\.\//, ""));
    else for (const value of Object.values(entry)) collect(value);
  };
  collect(pkg.exports);
  assert.ok(pkg.exports["./hisock_bg.wasm"], "the .wasm has an entry of its own");
  for (const target of [...targets, pkg.main, pkg.module, pkg.types]) {
    assert.ok(expected.includes(target), `${target} is shipped`);
  }
});
