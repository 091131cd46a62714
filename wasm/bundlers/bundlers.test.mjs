// The npm package in each common setup: a tiny app (shared/roundtrip.js)
// built with Vite, esbuild and webpack 5, and a plain page with no build
// step, each served on loopback and run in Chromium against the native
// hisock test server: it connects, makes two requests, and checks that a
// bad URL is a HisockError. The recipes are the files next to this one,
// and the npm README's.
//
// scripts/browser-tests.sh runs this through run.sh, which copies this
// directory to target/bundlers/, installs the pinned tools there (npm ci,
// skipped when the lockfile has not changed) and passes
// HISOCK_TEST_WS_URL and HISOCK_NPM_TARBALL.

import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const WS_URL = process.env.HISOCK_TEST_WS_URL;
const TARBALL = process.env.HISOCK_NPM_TARBALL;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** How each recipe builds its app into `out` (a fresh directory). */
const RECIPES = {
  async plain(out) {
    cpSync(join(here, "plain", "index.html"), join(out, "index.html"));
    cpSync(join(here, "shared"), join(out, "shared"), { recursive: true });
    cpSync(join(here, "node_modules", "hisock"), join(out, "node_modules", "hisock"), { recursive: true });
  },
  async vite(out) {
    const { build } = await import("vite");
    await build({
      root: join(here, "vite"),
      base: "./",
      configFile: false,
      logLevel: "warn",
      build: { outDir: out, emptyOutDir: true },
    });
  },
  async esbuild(out) {
    const { buildEsbuild } = await import("./esbuild/build.mjs");
    await buildEsbuild(out);
    cpSync(join(here, "esbuild", "index.html"), join(out, "index.html"));
  },
  async webpack(out) {
    const { default: webpack } = await import("webpack");
    const { webpackConfig } = await import("./webpack/webpack.config.mjs");
    const stats = await new Promise((resolve, reject) =>
      webpack(webpackConfig(out), (err, stats) => (err ? reject(err) : resolve(stats))),
    );
    assert.ok(!stats.hasErrors(), stats.toString("errors-only"));
    cpSync(join(here, "webpack", "index.html"), join(out, "index.html"));
  },
};

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Serves `dir` on a free loopback port: { url, requests, close }. */
function serve(dir) {
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    requests.push(path);
    if (path === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return;
    }
    const file = normalize(join(dir, path));
    try {
      if (!file.startsWith(dir)) throw new Error("outside");
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end("not found");
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}/`,
        requests,
        close: () => new Promise((done) => server.close(done)),
      }),
    );
  });
}

let browser;

before(async () => {
  assert.ok(WS_URL, "HISOCK_TEST_WS_URL is not set: run scripts/browser-tests.sh");
  assert.ok(TARBALL, "HISOCK_NPM_TARBALL is not set: run scripts/browser-tests.sh");
  // The package as npm installs it: node_modules/hisock.
  const modules = join(here, "node_modules");
  rmSync(join(modules, "hisock"), { recursive: true, force: true });
  rmSync(join(modules, "package"), { recursive: true, force: true });
  execFileSync("tar", ["-xzf", TARBALL, "-C", modules]);
  execFileSync("mv", [join(modules, "package"), join(modules, "hisock")]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
});

after(async () => {
  await browser?.close();
});

for (const [name, build] of Object.entries(RECIPES)) {
  test(`${name}: the app makes a round trip with the native server in Chromium`, { timeout: 180_000 }, async () => {
    const out = join(here, "dist", name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    await build(out);

    const site = await serve(out);
    const page = await browser.newPage();
    const problems = [];
    page.on("pageerror", (err) => problems.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error" || msg.type() === "warning") problems.push(msg.text());
    });
    try {
      await page.goto(`${site.url}index.html?ws=${encodeURIComponent(WS_URL)}`);
      await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 });
      const result = await page.evaluate(() => window.result);
      assert.deepEqual(result, { ok: { sum: 5, bytes: [1, 2, 3], invalidAddress: "invalid_address" } });
      const wasm = site.requests.filter((path) => path.endsWith(".wasm"));
      assert.equal(wasm.length, 1, `the page fetched one .wasm from the build: ${site.requests}`);
      assert.deepEqual(problems, [], "no errors or warnings in the page");
    } finally {
      await page.close();
      await site.close();
    }
  });
}
