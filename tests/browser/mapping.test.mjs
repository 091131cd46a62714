// Every row of the Rust → MessagePack → JS mapping (README, "Typed
// events") in Chromium: the npm client receives each Rust sample from the
// test server as the row says, and what a page sends decodes in Rust as
// the row's type. The rows' values live once, in mapping-rows.mjs; their
// generated TypeScript types are checked against them with tsc.
//
// Needs: HISOCK_TEST_WS_URL, a package in target/npm/, and
// generated/mapping-events.ts (hisock-test-server --write-typescript);
// scripts/browser-tests.sh provides all three.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { openTestPage, tarball, tsc, unpack } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const WS_URL = process.env.HISOCK_TEST_WS_URL;

let unpacked, session;

before(async () => {
  assert.ok(WS_URL, "HISOCK_TEST_WS_URL is not set: run scripts/browser-tests.sh");
  unpacked = unpack(tarball());
  session = await openTestPage(unpacked.pkg);
});

after(async () => {
  await session?.close();
  unpacked?.cleanup();
  assert.deepEqual(session?.pageErrors ?? [], [], "no uncaught errors in the page");
});

test("every row of the mapping arrives in the browser as the table says, and goes back", { timeout: 60_000 }, async () => {
  const rowsSource = readFileSync(join(here, "mapping-rows.mjs"), "utf8");
  const result = await session.page.evaluate(
    async ([source, wsUrl]) => {
      const { ROWS } = await import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
      // A canonical text of a received value that tells every JS type
      // apart: bigint from number, Uint8Array from Array, Map from object.
      const show = (v) => {
        if (v === null) return "null";
        if (typeof v === "bigint") return `bigint:${v}`;
        if (typeof v !== "object") return `${typeof v}:${JSON.stringify(v)}`;
        if (v instanceof Uint8Array) return `Uint8Array[${[...v]}]`;
        if (Array.isArray(v)) return `[${v.map(show).join(",")}]`;
        if (v instanceof Map) return `Map{${[...v].map(([k, x]) => `${show(k)}=>${show(x)}`).join(",")}}`;
        if (Object.getPrototypeOf(v) !== Object.prototype) return `object of another kind: ${v}`;
        return `{${Object.keys(v).sort().map((k) => `${k}:${show(v[k])}`).join(",")}}`;
      };
      const client = await window.hisock.connect(wsUrl, { name: window.helpers.unique("mapping") });
      const rows = {};
      for (const [row, { received, sent }] of Object.entries(ROWS)) {
        const got = await client.request("mapping_sample", row);
        const back = await client.request("mapping_check", [row, sent === undefined ? received : sent]);
        rows[row] = { got: show(got), expected: show(received), back };
      }
      await client.close();
      return rows;
    },
    [rowsSource, WS_URL],
  );
  const rows = Object.keys(result);
  assert.ok(rows.length >= 20, `all rows ran: ${rows}`);
  for (const [row, { got, expected, back }] of Object.entries(result)) {
    assert.equal(got, expected, `row ${row}: what the browser received`);
    assert.equal(back, null, `row ${row}: what the browser sent, decoded in Rust`);
  }
  // Spot checks of the table's notable rows, in the canonical text.
  assert.equal(result.large_i64.got, "bigint:9007199254740993");
  assert.equal(result.small_i64.got, "number:-42");
  assert.equal(result.bytes.got, "{data:Uint8Array[0,1,255]}");
  assert.equal(result.vec_u8.got, "[number:0,number:1,number:255]");
  assert.equal(result.tuple_keys.got, "{hops:Map{[number:1,number:2]=>string:\"a\"}}");
});

test("the generated TypeScript of the rows accepts what the browser receives", { timeout: 120_000 }, () => {
  const generated = join(here, "generated", "mapping-events.ts");
  assert.ok(readFileSync(generated, "utf8").includes("export interface Mapping"), `${generated} is written by the test server`);
  // The unpacked package is <tmp>/node_modules/hisock, so `import("hisock")`
  // in the rows' JSDoc resolves as in an application.
  const tsconfig = join(unpacked.dir, "tsconfig.mapping.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        allowJs: true,
        checkJs: true,
        target: "es2022",
        module: "es2022",
        moduleResolution: "bundler",
        lib: ["es2022", "dom"],
        typeRoots: [],
        baseUrl: unpacked.dir,
        paths: { hisock: [join(unpacked.pkg)] },
      },
      files: [join(here, "mapping-rows.mjs"), generated],
    }),
  );
  const check = tsc(tsconfig);
  assert.equal(check.status, 0, `tsc failed:\n${check.output}`);
});
