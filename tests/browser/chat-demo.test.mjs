// The chat demo end to end: chat_server serves its page (examples/web/) and
// the npm package (wasm/pkg/); a browser tab on that page chats with two
// terminal chat_clients, one over TCP and one over WebSocket, in one room.
// Then the server restarts on the same ports, and all three come back by
// themselves (reconnect) and chat on. Leaves a screenshot in
// artifacts/chat-demo.png.
//
// Needs: HISOCK_CHAT_SERVER and HISOCK_CHAT_CLIENT (paths of the example
// binaries) and a built package in wasm/pkg/; scripts/browser-tests.sh
// provides them. Run: npm test (in tests/browser).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_BIN = process.env.HISOCK_CHAT_SERVER;
const CLIENT_BIN = process.env.HISOCK_CHAT_CLIENT;
const SCREENSHOT = join(here, "artifacts", "chat-demo.png");
const STEP = 15_000; // every wait is bounded by this

/** A child process whose stdout is kept as lines, to wait for. */
class Program {
  constructor(name, path, args) {
    this.name = name;
    this.lines = [];
    this.stderr = "";
    this.waiters = new Set();
    this.exited = new Promise((resolve) => {
      this.child = spawn(path, args, { stdio: ["pipe", "pipe", "pipe"] });
      this.child.on("exit", (code, signal) => {
        this.done = `exited (${signal ?? code})`;
        for (const check of this.waiters) check();
        resolve();
      });
      this.child.on("error", (err) => {
        this.done = `could not start: ${err.message}`;
        for (const check of this.waiters) check();
        resolve();
      });
    });
    let partial = "";
    this.child.stdout.setEncoding("utf8").on("data", (chunk) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop();
      this.lines.push(...parts);
      for (const check of this.waiters) check();
    });
    this.child.stderr.setEncoding("utf8").on("data", (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
  }

  /** The first stdout line matching `pattern` (earlier lines count), as a match. */
  waitFor(pattern, ms = STEP) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const found = line.match(pattern);
          if (found) return finish(() => resolve(found));
        }
        if (this.done) finish(() => reject(this.failure(`${this.done} without printing ${pattern}`)));
      };
      const timer = setTimeout(() => finish(() => reject(this.failure(`no line matching ${pattern} in ${ms} ms`))), ms);
      const finish = (settle) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Types one line on its stdin, as a user at the terminal would. */
  type(line) {
    this.child.stdin.write(`${line}\n`);
  }

  failure(what) {
    return new Error(`${this.name} ${what}; stdout:\n${this.lines.join("\n")}\nstderr:\n${this.stderr}`);
  }

  /** Ends it (SIGTERM, then SIGKILL after 3 s); resolves once it is gone. */
  async stop() {
    if (this.done) return;
    this.child.kill("SIGTERM");
    const gone = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!gone) {
      this.child.kill("SIGKILL");
      await Promise.race([this.exited, sleep(3000)]);
    }
  }
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * Starts chat_server on free ports (or on those of `at`, the addresses of
 * an earlier server); resolves to { server, tcp, ws, http }.
 */
async function startServer(children, extraArgs = [], at = null) {
  const hostPort = (url) => new URL(url).host;
  const ports = at
    ? ["--addr", at.tcp, "--ws", hostPort(at.ws), "--http", hostPort(at.http)]
    : ["--addr", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--http", "127.0.0.1:0"];
  const server = new Program("chat_server", SERVER_BIN, [...ports, ...extraArgs]);
  children.push(server);
  const [, tcp] = await server.waitFor(/listening on tcp:\/\/(\S+)/);
  const [, ws] = await server.waitFor(/listening on (ws:\/\/\S+)/);
  const [, http] = await server.waitFor(/listening on (http:\/\/\S+\/)/);
  return { server, tcp, ws, http };
}

async function openPage(browser, url, pageErrors) {
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  page.setDefaultTimeout(STEP);
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("console", (msg) => {
    if (msg.type() === "error") process.stderr.write(`[page console] ${msg.text()}\n`);
  });
  await page.goto(url);
  await page.waitForSelector("body[data-ready]");
  return page;
}

/** Waits until the page's log has a line whose text is exactly `text`. */
function logLine(page, text) {
  return page.waitForFunction(
    (want) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === want),
    text,
    { timeout: STEP },
  );
}

async function say(page, line) {
  await page.fill("#line", line);
  await page.press("#line", "Enter");
}

function launch() {
  assert.ok(SERVER_BIN && CLIENT_BIN, "HISOCK_CHAT_SERVER / HISOCK_CHAT_CLIENT are not set: run scripts/browser-tests.sh");
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
}

test("a browser tab, a TCP terminal client and a WebSocket terminal client chat in one room", { timeout: 120_000 }, async () => {
  const children = [];
  const pageErrors = [];
  let browser;
  try {
    const first = await startServer(children);
    const { server, tcp, ws, http } = first;

    // Terminal clients that read their input from stdin, like a person at
    // a terminal; --exit-after bounds them even if this test is killed.
    const terminal = (name, transport) => {
      const args = [...transport, "--name", name, "--room", "demo", "--exit-after", "120"];
      const client = new Program(`chat_client ${name}`, CLIENT_BIN, args);
      children.push(client);
      return client;
    };
    const tess = terminal("tess", ["--addr", tcp]);
    await tess.waitFor(/^connected as tess/);
    const walt = terminal("walt", ["--ws", ws]);
    await walt.waitFor(/^connected as walt/);

    browser = await launch();
    const page = await openPage(browser, http, pageErrors);
    assert.equal(await page.evaluate(() => document.body.dataset.ready), "yes", "the package loads from /pkg/");

    await page.fill("#name", "ada");
    await page.fill("#room", "demo");
    await page.click("#connect");
    await logLine(page, "* welcome ada! you are in demo; /help lists the commands");
    await tess.waitFor(/^\* ada joined demo$/);
    await walt.waitFor(/^\* ada joined demo$/);

    // Terminal -> browser (and the other terminal), over TCP and over WS.
    tess.type("hi from the TCP terminal");
    await logLine(page, "[demo] tess: hi from the TCP terminal");
    await walt.waitFor(/^\[demo\] tess: hi from the TCP terminal$/);
    walt.type("and hello from the WebSocket terminal");
    await logLine(page, "[demo] walt: and hello from the WebSocket terminal");
    await tess.waitFor(/^\[demo\] walt: and hello from the WebSocket terminal$/);

    // Browser -> both terminals.
    await say(page, "hello from the browser tab!");
    await tess.waitFor(/^\[demo\] ada: hello from the browser tab!$/);
    await walt.waitFor(/^\[demo\] ada: hello from the browser tab!$/);
    await logLine(page, "[demo] ada: hello from the browser tab!");

    // A direct message and /who, as in the terminal client.
    await say(page, "/msg walt see you at the WebSocket end");
    await walt.waitFor(/^\[dm\] ada: see you at the WebSocket end$/);
    await say(page, "/who");
    await logLine(page, "*   tess in demo via tcp");
    await logLine(page, "*   walt in demo via ws");
    await logLine(page, "*   ada in demo via ws (you)");

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    // The server goes away: the page and the terminals say so in words,
    // once, and show that they are reconnecting.
    await server.stop();
    await logLine(page, "! lost the connection to the server; reconnecting…");
    await page.waitForFunction(() => document.body.classList.contains("reconnecting"));
    await tess.waitFor(/^! lost the connection to the server; reconnecting/);
    await walt.waitFor(/^! lost the connection to the server; reconnecting/);

    // It comes back on the same ports: everyone reconnects by themselves,
    // with their names and room, and chats on.
    await startServer(children, [], first);
    await logLine(page, "* reconnected as ada in demo");
    await tess.waitFor(/^\* reconnected as tess in demo$/);
    await walt.waitFor(/^\* reconnected as walt in demo$/);
    assert.equal(await page.evaluate(() => document.body.classList.contains("reconnecting")), false);
    assert.match(await page.textContent("#status"), /^connected as ada \(id \d+\) in demo$/);
    tess.type("back again");
    await logLine(page, "[demo] tess: back again");
    await say(page, "me too");
    await tess.waitFor(/^\[demo\] ada: me too$/);

    assert.equal(tess.lines.filter((line) => line.startsWith("!")).length, 1, "one line in the terminal");
    const alerts = await page.$$eval("#log li", (items) => items.filter((li) => li.textContent.startsWith("!")).length);
    assert.equal(alerts, 1, "one line in the page");
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  } finally {
    await browser?.close();
    await Promise.all(children.map((child) => child.stop()));
  }
});

test("the page says how to build the browser client when it is missing", { timeout: 60_000 }, async () => {
  const children = [];
  const pageErrors = [];
  const empty = mkdtempSync(join(tmpdir(), "hisock-no-pkg-"));
  let browser;
  try {
    const { server, http } = await startServer(children, ["--pkg", empty]);
    await server.waitFor(/scripts\/build-npm\.sh/);
    browser = await launch();
    const page = await openPage(browser, http, pageErrors);
    assert.equal(await page.evaluate(() => document.body.dataset.ready), "missing");
    const hint = await page.locator("#missing").innerText();
    assert.match(hint, /bash scripts\/build-npm\.sh/);
    assert.ok(await page.locator("#missing").isVisible(), "the hint is shown");
    assert.ok(await page.locator("#connect").isDisabled(), "nothing to connect with");
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  } finally {
    await browser?.close();
    await Promise.all(children.map((child) => child.stop()));
    rmSync(empty, { recursive: true, force: true });
  }
});
