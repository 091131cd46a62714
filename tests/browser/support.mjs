// Helpers of the end-to-end tests: unpack the npm package, serve it with a
// test page on loopback, launch Debian's Chromium through playwright-core.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

/** Chromium flags that keep it off every network but loopback. */
export const CHROMIUM_ARGS = [
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

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** The tarball to test: $HISOCK_NPM_TARBALL, else the newest in target/npm/. */
export function tarball() {
  if (process.env.HISOCK_NPM_TARBALL) return resolve(process.env.HISOCK_NPM_TARBALL);
  const dir = join(root, "target", "npm");
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
  } catch {
    // handled below
  }
  if (files.length === 0) {
    throw new Error(`no package in ${dir}: run scripts/build-npm.sh first`);
  }
  files.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs);
  return join(dir, files[0]);
}

/**
 * Unpacks the tarball as <tmp>/node_modules/hisock, the way npm installs it.
 * Returns { dir: <tmp>, pkg: <tmp>/node_modules/hisock, cleanup }.
 */
export function unpack(tgz) {
  const dir = mkdtempSync(join(tmpdir(), "hisock-e2e-"));
  const modules = join(dir, "node_modules");
  execFileSync("mkdir", ["-p", modules]);
  execFileSync("tar", ["-xzf", tgz, "-C", modules]);
  execFileSync("mv", [join(modules, "package"), join(modules, "hisock")]);
  return {
    dir,
    pkg: join(modules, "hisock"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain; charset=utf-8",
};

/**
 * Serves the test page at / and the package under /hisock/ on a free
 * loopback port. Resolves to { url, close, requests } (`requests`: the
 * path of every request, in order).
 */
export function serve(pkgDir) {
  const page = readFileSync(join(here, "page.html"));
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    requests.push(path);
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": TYPES[".html"] });
      res.end(page);
      return;
    }
    if (path === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return;
    }
    if (path.startsWith("/hisock/")) {
      const file = normalize(join(pkgDir, path.slice("/hisock/".length)));
      if (file.startsWith(pkgDir)) {
        try {
          const body = readFileSync(file);
          res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
          res.end(body);
          return;
        } catch {
          // fall through to 404
        }
      }
    }
    res.writeHead(404);
    res.end("not found");
  });
  return new Promise((resolveServe, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolveServe({
        url: `http://127.0.0.1:${port}/`,
        requests,
        close: () => new Promise((done) => server.close(done)),
      });
    });
  });
}

/**
 * Runs the pinned TypeScript compiler on a tsconfig. Returns { status,
 * output } (status 0 when it type-checks; output is what tsc printed).
 */
export function tsc(tsconfig) {
  const bin = join(here, "node_modules", "typescript", "bin", "tsc");
  const run = spawnSync(process.execPath, [bin, "-p", tsconfig], { encoding: "utf8", timeout: 120_000 });
  return { status: run.status, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
}

/**
 * Serves the package in `pkgDir` with the test page, launches Chromium and
 * opens the page once the package has loaded. `args` are extra Chromium
 * flags; `step` bounds every wait of the page. Resolves to { page, site,
 * pageErrors, messages, close }: `site.requests` lists the paths the page's
 * server was asked for, `messages` the page's console messages as
 * { type, text }, `pageErrors` its uncaught errors.
 */
export async function openTestPage(pkgDir, { args = [], step = 15_000 } = {}) {
  const { chromium } = await import("playwright-core");
  const site = await serve(pkgDir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...args],
    headless: true,
    timeout: 30_000,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(step);
  const pageErrors = [];
  const messages = [];
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("console", (msg) => {
    messages.push({ type: msg.type(), text: msg.text() });
    if (msg.type() === "error") process.stderr.write(`[page console] ${msg.text()}\n`);
  });
  await page.goto(site.url);
  await page.waitForFunction(() => window.ready !== undefined);
  const ready = await page.evaluate(() => window.ready);
  if (ready !== "ok") throw new Error(`the package did not load in the test page: ${ready}`);
  return {
    page,
    site,
    pageErrors,
    messages,
    close: async () => {
      await browser.close();
      await site.close();
    },
  };
}

/**
 * Runs `scenario(...args)` in the page, with `hisock` (the package's
 * exports) and `h` (the page's helpers) in scope; `scenario` must not
 * close over anything else.
 */
export function inPage(page, scenario, ...args) {
  return page.evaluate(
    async ([source, args]) => {
      const fn = new Function("hisock", "h", "args", `return (${source})(...args);`);
      return fn(window.hisock, window.helpers, args);
    },
    [scenario.toString(), args],
  );
}
