// End-to-end tests of the npm package "hisock" in a real Chromium: a page
// served on loopback imports the packed package, connects to the native
// hisock-test-server over WebSocket and meets native TCP clients there.
//
// Needs: HISOCK_TEST_WS_URL (the running test server's WebSocket URL) and a
// package in target/npm/ (or HISOCK_NPM_TARBALL). scripts/browser-tests.sh
// provides both. Run: npm test (in tests/browser).

import { copyFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { inPage as inPageOf, openTestPage, tarball, tsc, unpack } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const WS_URL = process.env.HISOCK_TEST_WS_URL;
// The test server's WSS listeners: one whose certificate Chromium trusts by
// its key's SPKI hash (HISOCK_TEST_SPKI, given to
// --ignore-certificate-errors-spki-list), one whose certificate it must
// refuse. Certificate checks stay on for everything else.
const WSS_URL = process.env.HISOCK_TEST_WSS_URL;
const WSS_UNTRUSTED_URL = process.env.HISOCK_TEST_WSS_UNTRUSTED_URL;
const SPKI = process.env.HISOCK_TEST_SPKI;
const STEP = 15_000; // every browser-side wait is bounded by this

let unpacked, tab, page;

before(async () => {
  assert.ok(WS_URL, "HISOCK_TEST_WS_URL is not set: run scripts/browser-tests.sh");
  assert.ok(WSS_URL && WSS_UNTRUSTED_URL && SPKI, "HISOCK_TEST_WSS_URL, HISOCK_TEST_WSS_UNTRUSTED_URL and HISOCK_TEST_SPKI are not set: run scripts/browser-tests.sh");
  unpacked = unpack(tarball());
  tab = await openTestPage(unpacked.pkg, { args: [`--ignore-certificate-errors-spki-list=${SPKI}`], step: STEP });
  page = tab.page;
});

after(async () => {
  await tab?.close();
  unpacked?.cleanup();
  assert.deepEqual(tab?.pageErrors ?? [], [], "no uncaught errors in the page");
});

/** Runs `scenario(wsUrl)` in the page, with `hisock` and `helpers` in scope. */
function inPage(scenario) {
  return inPageOf(page, scenario, WS_URL);
}

test("the package connects from a page over WebSocket and the server sees a ws client", { timeout: 30_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const name = h.unique("web");
    const client = await hisock.connect(wsUrl, { name, group: "e2e", timeoutMs: 10000 });
    const me = await client.request("whoami", null);
    const before = { id: client.id, name: client.name, group: client.group, connected: client.connected };
    await client.close();
    const closed = await client.closed();
    return { name, before, me, after: client.connected, closed };
  });
  assert.ok(result.before.id > 0);
  assert.deepEqual(result.before, { id: result.before.id, name: result.name, group: "e2e", connected: true });
  assert.equal(result.me.id, result.before.id);
  assert.equal(result.me.transport, "ws");
  assert.equal(result.after, false);
  assert.equal(result.closed.code, 1000);
});

test("the package connects over wss:// with the test certificate, and refuses another certificate", { timeout: 30_000 }, async () => {
  const result = await page.evaluate(
    async ([source, wss, untrusted]) => {
      const fn = new Function("hisock", "h", "wss", "untrusted", `return (${source})(wss, untrusted);`);
      return fn(window.hisock, window.helpers, wss, untrusted);
    },
    [
      (async (wss, untrusted) => {
        const name = h.unique("wss");
        const client = await hisock.connect(wss, { name, timeoutMs: 10000 });
        const me = await client.request("whoami", null);
        await client.close();
        let refused = null;
        try {
          const stranger = await hisock.connect(untrusted, { timeoutMs: 10000 });
          await stranger.close();
        } catch (err) {
          refused = { kind: err.kind, message: err.message };
        }
        return { name, me, refused };
      }).toString(),
      WSS_URL,
      WSS_UNTRUSTED_URL,
    ],
  );
  assert.equal(result.me.name, result.name);
  assert.equal(result.me.transport, "wss");
  assert.ok(result.refused, "a certificate Chromium was not told to trust is refused");
  assert.equal(result.refused.kind, "unreachable");
  assert.match(result.refused.message, /its TLS certificate is not trusted/);
});

test("a browser client and a native TCP client see each other join and leave", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const webName = h.unique("web");
    const tcpName = h.unique("tcp");
    const web = await hisock.connect(wsUrl, { name: webName });
    const seen = [];
    web.on("client_connect", (info) => seen.push(["join", info.name, info.transport]));
    web.on("client_disconnect", (info) => seen.push(["leave", info.name, info.transport]));

    await web.request("spawn_tcp_peer", { name: tcpName, partner: webName });
    await h.until("the TCP client's join", () => seen.some((e) => e[0] === "join" && e[1] === tcpName));

    // The TCP client sees another browser client come and go.
    const visitorName = h.unique("visitor");
    const visitor = await hisock.connect(wsUrl, { name: visitorName });
    await visitor.close();
    const peerSaw = await h.until("the TCP client to see the visitor join and leave", async () => {
      const log = await web.request("peer_log", tcpName);
      const about = log.filter((e) => e.name === visitorName);
      return about.length >= 2 ? about.map((e) => [e.event, e.transport]) : null;
    });

    await web.request("stop_tcp_peer", tcpName);
    await h.until("the TCP client's leave", () => seen.some((e) => e[0] === "leave" && e[1] === tcpName));
    await web.close();
    return { tcpName, seen: seen.filter((e) => e[1] === tcpName), peerSaw };
  });
  assert.deepEqual(result.seen, [
    ["join", result.tcpName, "tcp"],
    ["leave", result.tcpName, "tcp"],
  ]);
  assert.deepEqual(result.peerSaw, [
    ["client_connect", "ws"],
    ["client_disconnect", "ws"],
  ]);
});

test("a Uint8Array and a nested object round-trip unchanged through a native TCP client", { timeout: 40_000 }, async () => {
  const results = await inPage(async (wsUrl) => {
    const webName = h.unique("web");
    const tcpName = h.unique("tcp");
    const web = await hisock.connect(wsUrl, { name: webName });
    await web.request("spawn_tcp_peer", { name: tcpName, partner: webName });
    const values = {
      bytes: new Uint8Array([0, 1, 2, 127, 128, 253, 254, 255]),
      nested: {
        user: {
          name: "ada",
          tags: ["x", "y"],
          avatar: new Uint8Array([9, 8, 7]),
          scores: [1, -2, 3.25, 2 ** 53 - 1, -(2 ** 31)],
        },
        deeper: { deepest: [null, true, false, "", { empty: {} }, []] },
        ["__proto__"]: "stays data",
      },
      big: 2n ** 60n,
      text: "héllo ✓",
    };
    const out = {};
    for (const [label, value] of Object.entries(values)) {
      // browser -> server -> TCP client (decodes, re-encodes) -> server -> browser
      await web.send("relay", { to: tcpName, command: "chat", value });
      const back = await web.recv("chat_back", { timeoutMs: 10000 });
      out[label] = h.deepEqual(value, back) ? "unchanged" : `changed to ${h.show(back)}`;
    }
    // The native client decoded the bytes as MessagePack bin, not as a list.
    const log = await web.request("peer_log", tcpName);
    const firstChat = log.find((e) => e.event === "chat");
    out.nativeSawBin = firstChat.value instanceof Uint8Array;
    await web.request("stop_tcp_peer", tcpName);
    await web.close();
    return out;
  });
  assert.deepEqual(results, {
    bytes: "unchanged",
    nested: "unchanged",
    big: "unchanged",
    text: "unchanged",
    nativeSawBin: true,
  });
});

test("listeners, recv and requests in both directions work from JavaScript", { timeout: 40_000 }, async () => {
  const r = await inPage(async (wsUrl) => {
    const client = await hisock.connect(wsUrl);
    const news = [];
    const every = [];
    client.on("news", (value) => news.push(value));
    client.onAny((command, value) => every.push(command));
    await client.send("emit_to_me", { command: "news", value: { n: 1 } });
    await h.until("the news listener", () => news.length === 1);
    client.off("news");
    await client.send("emit_to_me", { command: "news", value: { n: 2 } });
    const unheard = await client.recv("news", { timeoutMs: 10000 });

    client.on("double", (n) => n * 2);
    client.on("slow_upper", async (s) => {
      await h.sleep(10);
      return s.toUpperCase();
    });
    client.on("boom", () => {
      throw new Error("kaboom");
    });
    const doubled = await client.request("ask_me", { command: "double", value: 21 });
    const upper = await client.request("ask_me", { command: "slow_upper", value: "abc" });
    const errors = {};
    const capture = async (label, promise) => {
      try {
        await promise;
        errors[label] = "no error";
      } catch (err) {
        errors[label] = { name: err.name, kind: err.kind, code: err.code, message: err.message };
      }
    };
    await capture("boom", client.request("ask_me", { command: "boom", value: null }));
    await capture("timeout", client.recv("never-sent", { timeoutMs: 100 }));
    await capture("noHandler", client.request("no-such-command", 1));
    await capture("badValue", client.send("x", { f: () => 1 }));
    await capture("badTimeout", client.recv("x", { timeoutMs: -1 }));
    const sum = await client.request("add", [40, 2]);
    const big = await client.request("echo", 2n ** 63n);
    const safe = await client.request("echo", 2 ** 53 - 1);
    const half = await client.request("echo", 0.5);
    await client.close();
    return {
      news, unheard, doubled, upper, errors, sum,
      big: typeof big === "bigint" ? String(big) : `not a bigint: ${big}`,
      safe, safeType: typeof safe, half,
      everyHasNews: every.filter((c) => c === "news").length,
    };
  });
  assert.deepEqual(r.news, [{ n: 1 }]);
  assert.deepEqual(r.unheard, { n: 2 }, "after off(), recv gets the event");
  assert.equal(r.everyHasNews, 2, "onAny sees every event");
  assert.equal(r.doubled, 42);
  assert.equal(r.upper, "ABC");
  assert.equal(r.errors.boom.name, "HisockError");
  assert.equal(r.errors.boom.kind, "remote");
  assert.match(r.errors.boom.message, /kaboom/);
  assert.equal(r.errors.timeout.kind, "timeout");
  assert.equal(r.errors.noHandler.kind, "remote");
  assert.equal(r.errors.noHandler.code, 1, "no handler");
  assert.equal(r.errors.badValue.kind, "argument");
  assert.match(r.errors.badValue.message, /function/);
  assert.equal(r.errors.badTimeout.kind, "argument");
  assert.equal(r.sum, 42);
  assert.equal(r.big, String(2n ** 63n));
  assert.equal(r.safe, 2 ** 53 - 1);
  assert.equal(r.safeType, "number");
  assert.equal(r.half, 0.5);
});

test("names, groups and look-ups work from JavaScript", { timeout: 30_000 }, async () => {
  const r = await inPage(async (wsUrl) => {
    const group = h.unique("room");
    const a = await hisock.connect(wsUrl, { name: h.unique("a"), group });
    const oldName = h.unique("b");
    const newName = h.unique("b2");
    const b = await hisock.connect(wsUrl, { name: oldName });
    const changes = [];
    a.on("client_name_change", (info, change) => changes.push([info.id, change.old, change.new]));
    const groupChanges = [];
    a.on("client_group_change", (info, change) => groupChanges.push([info.id, change.old, change.new]));
    await b.changeName(newName);
    await b.changeGroup(group);
    await h.until("the name change", () => changes.some((c) => c[0] === b.id));
    await h.until("the group change", () => groupChanges.some((c) => c[0] === b.id));
    const byName = await a.getClient(newName);
    const byId = await a.getClient(b.id);
    const missing = await a.getClient(h.unique("nobody"));
    const members = (await a.listClients(group)).map((c) => c.name).sort();
    const result = {
      bName: b.name, bGroup: b.group, newName, oldName, group,
      change: changes.find((c) => c[0] === b.id),
      groupChange: groupChanges.find((c) => c[0] === b.id),
      byName: byName && byName.id === b.id,
      byId: byId && byId.name,
      missing,
      members, expected: [a.name, newName].sort(),
    };
    await a.close();
    await b.close();
    return result;
  });
  assert.equal(r.bName, r.newName);
  assert.equal(r.bGroup, r.group);
  assert.deepEqual(r.change.slice(1), [r.oldName, r.newName]);
  assert.deepEqual(r.groupChange.slice(1), [null, r.group]);
  assert.equal(r.byName, true);
  assert.equal(r.byId, r.newName);
  assert.equal(r.missing, null);
  assert.deepEqual(r.members, r.expected);
});

test("a refusal and a kick reach JavaScript with their close codes", { timeout: 30_000 }, async () => {
  const r = await inPage(async (wsUrl) => {
    const errorOf = async (promise) => {
      try {
        await promise;
        return "no error";
      } catch (err) {
        return { kind: err.kind, code: err.code, message: err.message };
      }
    };
    const refused = await errorOf(hisock.connect(wsUrl, { auth: "wrong" }));
    const badUrl = await errorOf(hisock.connect("ftp://127.0.0.1:9/"));
    const client = await hisock.connect(wsUrl, { auth: { user: "fine" } });
    const forced = [];
    client.on("force_disconnect", (info) => forced.push(info));
    await client.send("kick_me", "bye now");
    const closed = await client.closed();
    await h.until("force_disconnect", () => forced.length === 1);
    const afterKick = await errorOf(client.send("echo", 1));
    return { refused, badUrl, closed, forced, afterKick };
  });
  assert.equal(r.refused.kind, "refused");
  assert.equal(r.refused.code, 4003);
  assert.match(r.refused.message, /wrong password/);
  assert.equal(r.badUrl.kind, "invalid_address");
  assert.deepEqual(r.closed, { code: 4000, reason: "bye now" });
  assert.deepEqual(r.forced, [{ code: 4000, reason: "bye now" }]);
  assert.equal(r.afterKick.kind, "closed");
  assert.equal(r.afterKick.code, 4000);
});

test("an event the server rejects is logged with console.warn unless a rejected listener takes it", { timeout: 30_000 }, async () => {
  const r = await inPage(async (wsUrl) => {
    const warned = [];
    const warn = console.warn;
    console.warn = (...args) => {
      warned.push(args.join(" "));
      warn.apply(console, args);
    };
    try {
      const client = await hisock.connect(wsUrl);
      // "add" takes two integers: the server rejects this payload.
      await client.send("add", "not two numbers");
      await h.until("the warning", () => warned.length === 1);
      const heard = [];
      client.on("rejected", (rejection) => heard.push(rejection));
      await client.send("add", "still not numbers");
      await h.until("the rejected listener", () => heard.length === 1);
      client.off("rejected");
      await client.send("add", "and again");
      await h.until("the warning after off()", () => warned.length === 2);
      await client.close();
      return { warned, heard };
    } finally {
      console.warn = warn;
    }
  });
  assert.equal(r.warned.length, 2, "one warning per rejection nobody listened to");
  for (const text of r.warned) {
    assert.match(text, /^hisock: the server rejected a "add" event from this client \(code 2\): /);
    assert.match(text, /listen to "rejected"/);
  }
  assert.equal(r.heard.length, 1);
  assert.equal(r.heard[0].command, "add");
  assert.equal(r.heard[0].code, 2, "bad payload");
  assert.ok(
    tab.messages.some((m) => m.type === "warning" && m.text.includes('rejected a "add" event')),
    "Chromium's console shows the warning",
  );
});

test("the package's TypeScript declarations type-check an application", { timeout: 120_000 }, () => {
  // The unpacked package sits in <tmp>/node_modules/hisock, so the check
  // resolves "hisock" the way an application's compiler would.
  copyFileSync(join(here, "types-check.ts"), join(unpacked.dir, "app.ts"));
  writeFileSync(
    join(unpacked.dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "es2022",
        module: "es2022",
        moduleResolution: "bundler",
        lib: ["es2022", "dom"],
        skipLibCheck: false,
      },
      files: ["app.ts"],
    }),
  );
  const check = tsc(join(unpacked.dir, "tsconfig.json"));
  assert.equal(check.status, 0, `tsc failed:\n${check.output}`);
});

test("a browser client joins and leaves rooms as the server's room hook allows", { timeout: 30_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const room = h.unique("open/room");
    const inside = await hisock.connect(wsUrl, { name: h.unique("inside") });
    const outside = await hisock.connect(wsUrl, { name: h.unique("outside") });
    const joined = await inside.joinRoom(room);
    const again = await inside.joinRoom(room);
    let refused;
    try {
      await outside.joinRoom("staff");
    } catch (err) {
      refused = { kind: err.kind, code: err.code, message: err.message };
    }
    const sent = await outside.request("to_room", { room, command: "news", value: "hi" });
    const news = await inside.recv("news", { timeoutMs: 10000 });
    const left = await inside.leaveRoom(room);
    const sentAfter = await outside.request("to_room", { room, command: "news", value: "again" });
    await inside.close();
    await outside.close();
    return { joined, again, refused, sent, news, left, sentAfter };
  });
  assert.equal(result.joined, true);
  assert.equal(result.again, false, "in the room already");
  assert.equal(result.refused?.kind, "remote");
  assert.equal(result.refused?.code, 4);
  assert.match(result.refused?.message ?? "", /staff is closed/);
  assert.equal(result.sent, 1);
  assert.equal(result.news, "hi");
  assert.equal(result.left, true);
  assert.equal(result.sentAfter, 0, "nobody is left in the room");
});

test("500 events sent in one task reach the server in order, and its 500 answers come back in order (batches, PROTOCOL.md 1.2)", { timeout: 30_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const name = h.unique("batcher");
    const client = await hisock.connect(wsUrl, { name, timeoutMs: 10000 });
    const got = [];
    const all = new Promise((resolve) => {
      client.on("n", (n) => {
        got.push(n);
        if (got.length === 500) resolve();
      });
    });
    // Each awaited send is queued at once: the 500 frames leave in a few
    // batches at the end of this task, and the server's relays of them
    // come back in batches too.
    for (let i = 0; i < 500; i++) await client.send("relay", { to: name, command: "n", value: i });
    const echoed = await client.request("echo", "after the 500");
    await all;
    await client.close();
    return { got, echoed };
  });
  assert.equal(result.echoed, "after the 500");
  assert.deepEqual(result.got, Array.from({ length: 500 }, (_, i) => i));
});
