// A browser connect that fails says why, in Chromium: each kind of
// failure (src/js/errors.js in the hisock-wasm crate) against a real peer
// on loopback, with its `kind`, the key words of its message, and a real
// HisockError class behind it.
//
// Needs: HISOCK_TEST_TCP_ADDR (the test server's hisock TCP port) and a
// package in target/npm/; scripts/browser-tests.sh provides both.

import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { inPage, openTestPage, tarball, unpack } from "./support.mjs";

const TCP_ADDR = process.env.HISOCK_TEST_TCP_ADDR;

let unpacked, tab;
const servers = [];

before(async () => {
  assert.ok(TCP_ADDR, "HISOCK_TEST_TCP_ADDR is not set: run scripts/browser-tests.sh");
  unpacked = unpack(tarball());
  tab = await openTestPage(unpacked.pkg);
});

after(async () => {
  await tab?.close();
  unpacked?.cleanup();
  for (const server of servers) server.close();
  assert.deepEqual(tab?.pageErrors ?? [], [], "no uncaught errors in the page");
});

/** Listens on a free loopback port; resolves to the port. */
function listen(server) {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

/** A loopback port nothing listens on. */
async function freePort() {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * `connect(url, options)` in the page; resolves to what it rejected with:
 * { isHisockError, isError, name, kind, code, message }.
 */
function connectError(url, options = {}) {
  return inPage(
    tab.page,
    async (url, options) => {
      try {
        const client = await hisock.connect(url, options);
        await client.close();
        return "connected";
      } catch (err) {
        return {
          isHisockError: err instanceof hisock.HisockError,
          isError: err instanceof Error,
          name: err.name,
          kind: err.kind,
          code: err.code,
          message: err.message,
        };
      }
    },
    url,
    options,
  );
}

/** What every connect error has, whatever its kind. */
function assertWellFormed(err, url) {
  assert.notEqual(err, "connected");
  assert.equal(err.isHisockError, true, "instanceof HisockError");
  assert.equal(err.isError, true, "instanceof Error");
  assert.equal(err.name, "HisockError");
  assert.ok(err.message.includes(url), `the message names ${url}: ${err.message}`);
  assert.doesNotMatch(err.message, /closed by peer/, "no peer closed anything");
  assert.doesNotMatch(err.message, / {2}|: \(|: $/, "no gap where a reason is missing");
}

test("a URL that is not ws:// or wss:// is invalid_address, and nothing is connected", { timeout: 30_000 }, async () => {
  for (const url of ["127.0.0.1:7071", "http://127.0.0.1:7071/", "/chat", "ftp://127.0.0.1:9/"]) {
    const err = await connectError(url);
    assertWellFormed(err, url);
    assert.equal(err.kind, "invalid_address", url);
    assert.match(err.message, /ws:\/\/host:port/, url);
  }
  // Resolved against the page's URL, "127.0.0.1:7071" and "/chat" would have
  // asked the page's own server for an upgrade.
  assert.deepEqual(
    tab.site.requests.filter((path) => !["/", "/favicon.ico"].includes(path) && !path.startsWith("/hisock/")),
    [],
    "no request reached the page's server",
  );
});

test("nothing listening is unreachable", { timeout: 30_000 }, async () => {
  const url = `ws://127.0.0.1:${await freePort()}/`;
  const err = await connectError(url);
  assertWellFormed(err, url);
  assert.equal(err.kind, "unreachable");
  assert.match(err.message, /nothing accepts connections there/);
});

test("a hisock TCP port is unreachable, and the message says it may be one", { timeout: 30_000 }, async () => {
  // The browser cannot tell it from nothing listening: the port answers
  // the upgrade and the HTTP probe with bytes that are no HTTP, and a
  // script learns no more than "failed" either way (see errors.js).
  const url = `ws://${TCP_ADDR}/`;
  const err = await connectError(url);
  assertWellFormed(err, url);
  assert.equal(err.kind, "unreachable");
  assert.match(err.message, /a hisock TCP port, not a WebSocket endpoint/);
});

test("an HTTP server that refuses the upgrade is not_websocket", { timeout: 30_000 }, async () => {
  const port = await listen(
    createHttpServer((req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }),
  );
  const url = `ws://127.0.0.1:${port}/socket`;
  const err = await connectError(url);
  assertWellFormed(err, url);
  assert.equal(err.kind, "not_websocket");
  assert.match(err.message, /an HTTP server answered there but refused the WebSocket upgrade/);
  assert.match(err.message, /hisock WebSocket endpoint/);
});

test("a peer that accepts the connection and never answers is a timeout", { timeout: 30_000 }, async () => {
  const held = [];
  const port = await listen(createTcpServer((socket) => held.push(socket)));
  const url = `ws://127.0.0.1:${port}/`;
  const err = await connectError(url, { timeoutMs: 500 });
  for (const socket of held) socket.destroy();
  assertWellFormed(err, url);
  assert.equal(err.kind, "timeout");
  assert.match(err.message, /no answer to the WebSocket upgrade within 500 ms/);
});

test("HisockError is a class: instanceof and its fields on every error of the API", { timeout: 30_000 }, async () => {
  const r = await inPage(tab.page, async () => {
    const made = new hisock.HisockError("made by hand", "argument");
    let thrown;
    try {
      await hisock.connect("ws://127.0.0.1:1/", { timeoutMs: -1 });
    } catch (err) {
      thrown = err;
    }
    return {
      made: [made instanceof hisock.HisockError, made instanceof Error, made.name, made.kind, "code" in made],
      thrown: [thrown instanceof hisock.HisockError, thrown.kind, String(thrown).startsWith("HisockError: ")],
      stack: typeof thrown.stack === "string",
    };
  });
  assert.deepEqual(r.made, [true, true, "HisockError", "argument", false]);
  assert.deepEqual(r.thrown, [true, "argument", true]);
  assert.equal(r.stack, true);
});
