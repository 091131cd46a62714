// The chat page is TypeScript typed by the events Rust declares: chat.ts
// type-checks against chat-events.d.ts (generated from `ChatEvents`) and
// the npm package's declarations; the committed chat.js is exactly what
// tsc makes of it; and a wrong payload or event name does not compile.
//
// Needs the npm package in wasm/pkg (scripts/build-npm.sh, which
// scripts/browser-tests.sh runs first).

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { tsc } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "../../examples/web");
const pkg = resolve(here, "../../wasm/pkg");

/** A scratch copy of the page's sources with chat.ts edited by `edit`. */
function scratch(edit) {
  const dir = mkdtempSync(join(tmpdir(), "hisock-chat-ts-"));
  writeFileSync(join(dir, "chat.ts"), edit(readFileSync(join(web, "chat.ts"), "utf8")));
  copyFileSync(join(web, "chat-events.d.ts"), join(dir, "chat-events.d.ts"));
  const config = JSON.parse(readFileSync(join(web, "tsconfig.json"), "utf8"));
  config.compilerOptions.paths = { hisock: [pkg] };
  config.compilerOptions.outDir = join(dir, "out");
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("the chat page type-checks, and chat.js is what tsc makes of chat.ts", { timeout: 120_000 }, () => {
  const copy = scratch((source) => source);
  try {
    const run = tsc(join(copy.dir, "tsconfig.json"));
    assert.equal(run.status, 0, `tsc failed:\n${run.output}`);
    const emitted = readFileSync(join(copy.dir, "out", "chat.js"), "utf8");
    const committed = readFileSync(join(web, "chat.js"), "utf8");
    assert.ok(emitted === committed, "examples/web/chat.js is stale: run `npx tsc -p examples/web` (tests/browser has tsc)");
  } finally {
    copy.cleanup();
  }
});

test("a payload or an event name the Rust declaration does not allow fails to type-check", { timeout: 120_000 }, () => {
  const cases = [
    {
      what: "a number where `say` carries a string",
      edit: (s) => s.replace('client.send("say", input.text)', 'client.send("say", input.text.length)'),
      expect: /TS2345.*'number' is not assignable to parameter of type 'string'/,
    },
    {
      what: "a listener of an event the server never sends",
      edit: (s) => s.replace('client.on("chat",', 'client.on("chatter",'),
      expect: /chat.ts\(\d+,\d+\): error TS2769: No overload matches this call/,
    },
    {
      what: "a field `ChatLine` does not have",
      edit: (s) => s.replace("line.text, `[dm] ${line.from}`", "line.body, `[dm] ${line.from}`"),
      expect: /TS2339.*'body' does not exist on type 'ChatLine'/,
    },
  ];
  for (const { what, edit, expect } of cases) {
    const original = readFileSync(join(web, "chat.ts"), "utf8");
    assert.notEqual(edit(original), original, `the edit for "${what}" applies to chat.ts`);
    const copy = scratch(edit);
    try {
      const run = tsc(join(copy.dir, "tsconfig.json"));
      assert.notEqual(run.status, 0, `${what} type-checked`);
      assert.match(run.output, expect, what);
    } finally {
      copy.cleanup();
    }
  }
});
