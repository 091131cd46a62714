// Reconnection of the npm package in Chromium (PROTOCOL.md section 13.8):
// each test asks the test server for a fault proxy of its own in front of
// its WebSocket listener (tests/support/src/bin/hisock-test-server/faults.rs),
// connects a client with `reconnect` through it, and has the proxy drop
// the connection (no close frame: the browser sees 1006) or refuse new
// ones (the client stays offline). A control client, connected to the
// server directly, gives the commands. Where a test depends on whether the
// server kept the session, it checks the resumed path (nothing lost or
// doubled) when `reconnected` says `resumed`, and otherwise that the
// server keeps no sessions at all (outcome "disabled").
//
// Needs: HISOCK_TEST_WS_URL and a package in target/npm/ (or
// HISOCK_NPM_TARBALL); scripts/browser-tests.sh provides both.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { inPage as inPageOf, openTestPage, tarball, unpack } from "./support.mjs";

const WS_URL = process.env.HISOCK_TEST_WS_URL;
const STEP = 15_000; // every browser-side wait is bounded by this

let unpacked, tab;

before(async () => {
  assert.ok(WS_URL, "HISOCK_TEST_WS_URL is not set: run scripts/browser-tests.sh");
  unpacked = unpack(tarball());
  tab = await openTestPage(unpacked.pkg, { step: STEP });
  // Helpers of these scenarios, added to the page's own.
  await tab.page.evaluate(() => {
    const h = window.helpers;
    /**
     * A control client and a fault proxy of this test's own, in front of
     * the server (or, with `{ sessions: false }`, of its twin that keeps no
     * sessions).
     */
    h.faulty = async (hisock, wsUrl, target = null) => {
      const control = await hisock.connect(wsUrl);
      const proxy = await control.request("fault_proxy_open", target);
      return {
        control,
        url: proxy.url,
        cut: () => control.request("fault_proxy_cut", proxy.id),
        refuse: (refusing) => control.request("fault_proxy_refuse", [proxy.id, refusing]),
        emitThenCut: (client, command, count) =>
          client.send("emit_then_cut", { proxy: proxy.id, command, count }),
        proxyId: proxy.id,
        async close() {
          await control.request("fault_proxy_close", proxy.id);
          await control.close();
        },
      };
    };
    /** Records the client's connection events, in order. */
    h.recordChanges = (client) => {
      const changes = [];
      for (const event of ["disconnected", "reconnecting", "reconnected"]) {
        client.on(event, (info) => changes.push({ event, ...info }));
      }
      return changes;
    };
    /** Fast retries: a test waits for attempts, never for a backoff. */
    h.quick = { initialDelayMs: 20, maxDelayMs: 100 };
    /** The rejection of `promise`, as { instance, kind }; null if it resolved. */
    h.rejection = async (promise) => {
      try {
        await promise;
        return null;
      } catch (err) {
        return { instance: err instanceof window.hisock.HisockError, kind: err.kind, message: err.message };
      }
    };
  });
});

after(async () => {
  await tab?.close();
  unpacked?.cleanup();
  assert.deepEqual(tab?.pageErrors ?? [], [], "no uncaught errors in the page");
});

function inPage(scenario) {
  return inPageOf(tab.page, scenario, WS_URL);
}

test("the server dropping the WebSocket mid-stream: the client comes back with its name, group and rooms, and resumes with nothing lost when the server keeps sessions", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const name = h.unique("resilient");
    const client = await hisock.connect(faults.url, { name, group: "lab", reconnect: h.quick });
    const changes = h.recordChanges(client);
    const ticks = [];
    client.on("tick", (n) => ticks.push(n));
    const echoed = [];
    client.on("echoed", (n) => echoed.push(n));
    const roomCalls = [];
    client.on("room_call", (n) => roomCalls.push(n));
    const room = `open/${h.unique("room")}`;
    await client.joinRoom(room);
    const before = { id: client.id, state: client.state, connected: client.connected };

    // Both ways at once: 500 events queued for this client with the
    // connection cut under them, and 300 events from it (echoed back)
    // sent before, during and after the cut.
    const cut = faults.emitThenCut(client, "tick", 500);
    const sends = [];
    for (let n = 0; n < 300; n += 1) sends.push(client.send("emit_to_me", { command: "echoed", value: n }));
    await cut;
    await Promise.all(sends);
    await h.until("reconnected", () => changes.some((c) => c.event === "reconnected"));
    const after = { id: client.id, state: client.state, connected: client.connected };
    // A round trip: what the server sent before its reply has arrived.
    const me = await client.request("whoami", null);
    // The room was asked for again on a new session (kept on a resumed one).
    const members = await faults.control.request("to_room", { room, command: "room_call", value: 7 });
    await h.until("the room's event", () => roomCalls.length === 1);
    await client.close();
    await faults.close();
    return { name, before, after, me, members, changes, ticks, echoed, final: client.state };
  });
  assert.deepEqual(result.before.state, "connected");
  assert.equal(result.before.connected, true);
  const [disconnected, reconnecting] = result.changes;
  assert.deepEqual(disconnected, { event: "disconnected", code: 1006, reason: disconnected.reason, willRetry: true });
  assert.equal(reconnecting.event, "reconnecting");
  assert.equal(reconnecting.attempt, 1);
  assert.ok(reconnecting.delayMs >= 0 && reconnecting.delayMs <= 20, `first delay within initialDelayMs: ${reconnecting.delayMs}`);
  assert.equal(result.after.state, "connected");
  assert.equal(result.after.connected, true);
  assert.equal(result.me.name, result.name, "the name is kept");
  assert.equal(result.me.group, "lab", "the group is kept");
  assert.equal(result.members, 1, "the room is kept");
  assert.equal(result.final, "closed");
  const reconnected = result.changes.find((c) => c.event === "reconnected");
  const upTo = (n) => Array.from({ length: n }, (_, i) => i);
  if (reconnected.resumed) {
    // The server kept the session: the same client, and every event of
    // both directions exactly once, in order.
    assert.deepEqual(reconnected, { event: "reconnected", resumed: true, expired: 0 });
    assert.equal(result.after.id, result.before.id, "a resumed session is the same client");
    assert.deepEqual(result.ticks, upTo(500), "server -> client: nothing lost or doubled");
    assert.deepEqual(result.echoed, upTo(300), "client -> server -> client: nothing lost or doubled");
  } else {
    // A cut within the window must resume, unless the server keeps no
    // sessions (the test server, until they land): a new session, and the
    // client is told why.
    assert.deepEqual(reconnected, { event: "reconnected", resumed: false, outcome: "disabled", expired: 0 });
    assert.notEqual(result.after.id, result.before.id, "a new session is a new client id");
    const increasing = (list) => list.every((n, i) => i === 0 || n > list[i - 1]);
    assert.ok(increasing(result.ticks), "what arrived arrived once, in order");
    assert.ok(increasing(result.echoed), "what arrived arrived once, in order");
  }
});

test("a server that keeps no sessions: the client reconnects to a new session with its name, group and room, and the request in flight rejects with kind session_lost", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl, { sessions: false });
    const name = h.unique("forgotten");
    const client = await hisock.connect(faults.url, { name, group: "lab", reconnect: h.quick });
    const changes = h.recordChanges(client);
    const roomCalls = [];
    client.on("room_call", (n) => roomCalls.push(n));
    const room = `open/${h.unique("room")}`;
    await client.joinRoom(room);
    const before = client.id;
    // In flight across the cut: the server cuts before its reply leaves.
    const rejection = await h.rejection(
      client.request("emit_then_cut", { proxy: faults.proxyId, command: "tick", count: 100 }, { timeoutMs: 10000 }),
    );
    await h.until("reconnected", () => changes.some((c) => c.event === "reconnected"));
    const me = await client.request("whoami", null);
    // The room was asked for again: an event to it reaches this client.
    const members = await client.request("to_room", { room, command: "room_call", value: 7 });
    await h.until("the room's event", () => roomCalls.length === 1);
    const after = { id: client.id, state: client.state };
    await client.close();
    await faults.close();
    return { name, before, after, me, members, rejection, reconnected: changes.find((c) => c.event === "reconnected") };
  });
  assert.deepEqual(result.reconnected, { event: "reconnected", resumed: false, outcome: "disabled", expired: 0 });
  assert.equal(result.after.state, "connected");
  assert.notEqual(result.after.id, result.before, "a new session is a new client id");
  assert.equal(result.me.id, result.after.id);
  assert.equal(result.me.name, result.name, "the name is restored");
  assert.equal(result.me.group, "lab", "the group is restored");
  assert.equal(result.members, 1, "the room is restored");
  assert.ok(result.rejection, "the request in flight is not answered");
  assert.equal(result.rejection.instance, true);
  assert.equal(result.rejection.kind, "session_lost", result.rejection.message);
});

test("what is sent while reconnecting waits and leaves in order once connected again", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const client = await hisock.connect(faults.url, { reconnect: h.quick });
    const changes = h.recordChanges(client);
    const echoed = [];
    client.on("echoed", (n) => echoed.push(n));
    await faults.refuse(true);
    await faults.cut();
    await h.until("reconnecting", () => client.state === "reconnecting");
    const offline = { state: client.state, connected: client.connected };
    for (let n = 0; n < 5; n += 1) {
      await client.send("emit_to_me", { command: "echoed", value: n });
    }
    const sum = client.request("add", [2, 3], { timeoutMs: 10000 });
    await h.until("a few failed attempts", () => changes.filter((c) => c.event === "reconnecting").length >= 2);
    await faults.refuse(false);
    const answered = await sum;
    await h.until("the five echoes", () => echoed.length === 5);
    const attempts = changes.filter((c) => c.event === "reconnecting").map((c) => c.attempt);
    await client.close();
    await faults.close();
    return { offline, echoed, answered, attempts };
  });
  assert.deepEqual(result.offline, { state: "reconnecting", connected: false });
  assert.deepEqual(result.echoed, [0, 1, 2, 3, 4]);
  assert.equal(result.answered, 5, "a request made offline is answered after reconnecting");
  assert.deepEqual(result.attempts, result.attempts.map((_, i) => i + 1), "attempts count up from 1");
});

test("past the offline queue's bound, send and request reject at once with kind offline_queue_full", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const client = await hisock.connect(faults.url, {
      reconnect: h.quick,
      offlineQueue: { maxMessages: 2, maxBytes: 4096 },
    });
    await faults.refuse(true);
    await faults.cut();
    await h.until("reconnecting", () => client.state === "reconnecting");
    await client.send("emit_to_me", { command: "echoed", value: 1 });
    await client.send("emit_to_me", { command: "echoed", value: 2 });
    const third = await h.rejection(client.send("emit_to_me", { command: "echoed", value: 3 }));
    const request = await h.rejection(client.request("add", [1, 2]));
    await faults.refuse(false);
    await h.until("connected again", () => client.state === "connected");
    // Room again: within the byte bound, one large message does not fit.
    await faults.refuse(true);
    await faults.cut();
    await h.until("reconnecting again", () => client.state === "reconnecting");
    const large = await h.rejection(client.send("echo", new Uint8Array(8192)));
    await faults.refuse(false);
    await h.until("connected once more", () => client.state === "connected");
    await client.close();
    await faults.close();
    return { third, request, large };
  });
  for (const rejection of [result.third, result.request, result.large]) {
    assert.ok(rejection, "rejected");
    assert.equal(rejection.instance, true, "a HisockError");
    assert.equal(rejection.kind, "offline_queue_full", rejection.message);
  }
});

test("a request that waits offline past ttlMs rejects with kind expired, and reconnected counts it", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const client = await hisock.connect(faults.url, { reconnect: h.quick, offlineQueue: { ttlMs: 1 } });
    const changes = h.recordChanges(client);
    await faults.refuse(true);
    await faults.cut();
    await h.until("reconnecting", () => client.state === "reconnecting");
    const late = h.rejection(client.request("add", [1, 2], { timeoutMs: 10000 }));
    await client.send("emit_to_me", { command: "echoed", value: 1 });
    // Past the time-to-live (1 ms) before the client can connect again.
    await h.until("a failed attempt after the messages", () =>
      changes.filter((c) => c.event === "reconnecting").length >= 3);
    await faults.refuse(false);
    const rejection = await late;
    await h.until("reconnected", () => changes.some((c) => c.event === "reconnected"));
    const fresh = await client.request("add", [2, 2]);
    await client.close();
    await faults.close();
    return { rejection, reconnected: changes.find((c) => c.event === "reconnected"), fresh };
  });
  assert.ok(result.rejection);
  assert.equal(result.rejection.instance, true);
  assert.equal(result.rejection.kind, "expired", result.rejection.message);
  assert.equal(result.reconnected.expired, 2, "the request and the event were dropped");
  assert.equal(result.fresh, 4, "what is sent after reconnecting goes through");
});

test("a request in flight when the connection breaks is answered once after a resume, or rejects with kind session_lost on a new session", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const client = await hisock.connect(faults.url, { reconnect: h.quick });
    const changes = h.recordChanges(client);
    // The server cuts the connection before its reply can leave.
    let answer = null;
    const rejection = await h.rejection(
      client
        .request("emit_then_cut", { proxy: faults.proxyId, command: "tick", count: 1 }, { timeoutMs: 10000 })
        .then((value) => { answer = value; }),
    );
    await h.until("connected again", () => client.state === "connected");
    await client.close();
    await faults.close();
    return { rejection, answer, reconnected: changes.find((c) => c.event === "reconnected") };
  });
  if (result.reconnected.resumed) {
    assert.equal(result.rejection, null, "answered after the resume");
    assert.equal(result.answer, 1, "the handler's own answer: one connection cut");
  } else {
    assert.ok(result.rejection);
    assert.equal(result.rejection.instance, true);
    assert.equal(result.rejection.kind, "session_lost", result.rejection.message);
  }
});

test("a kick and a refused reconnect do not reconnect: the client is closed with their codes", { timeout: 40_000 }, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const kicked = await hisock.connect(faults.url, { reconnect: h.quick });
    const kickChanges = h.recordChanges(kicked);
    await kicked.send("kick_me", "out");
    const kickClosed = await kicked.closed();

    // The auth data is good for one connection only: the reconnect is refused.
    const once = await hisock.connect(faults.url, { auth: `once:${h.unique("key")}`, reconnect: h.quick });
    const onceChanges = h.recordChanges(once);
    await faults.cut();
    const refusedClosed = await once.closed();
    await faults.close();
    return { kickChanges, kickClosed, kickState: kicked.state, onceChanges, refusedClosed, onceState: once.state };
  });
  assert.deepEqual(result.kickChanges, [{ event: "disconnected", code: 4000, reason: "out", willRetry: false }]);
  assert.equal(result.kickClosed.code, 4000);
  assert.equal(result.kickState, "closed");
  // (The first three: the core reports the last `disconnected` twice, see
  // the todo test below.)
  const events = result.onceChanges.slice(0, 3).map((c) => c.event);
  assert.deepEqual(events, ["disconnected", "reconnecting", "disconnected"], "one attempt, refused");
  assert.ok(
    result.onceChanges.slice(3).every((c) => c.event === "disconnected" && !c.willRetry),
    "no attempt after the refusal",
  );
  assert.equal(result.onceChanges[0].willRetry, true);
  assert.deepEqual(result.onceChanges[2], {
    event: "disconnected",
    code: 4003,
    reason: "this key was for one connection",
    willRetry: false,
  });
  assert.equal(result.refusedClosed.code, 4003);
  assert.equal(result.onceState, "closed");
});

test("reconnect options that make no sense are argument errors", { timeout: 30_000 }, async () => {
  const kinds = await inPage(async (wsUrl) => {
    const attempts = [
      { reconnect: "yes" },
      { reconnect: { initialDelayMs: -1 } },
      { reconnect: { maxAttempts: 1.5 } },
      { reconnect: { retryCodes: [99] } },
      { reconnect: { retryCodes: 4000 } },
      { reconnect: true, offlineQueue: { maxBytes: "lots" } },
      { reconnect: true, offlineQueue: 5 },
    ];
    const kinds = [];
    for (const options of attempts) {
      const rejection = await h.rejection(hisock.connect(wsUrl, options));
      kinds.push(rejection?.kind ?? "connected");
    }
    // Without reconnect, the client has the states of one connection.
    const plain = await hisock.connect(wsUrl);
    const states = [plain.state];
    await plain.close();
    states.push(plain.state);
    return { kinds, states };
  });
  assert.deepEqual(kinds.kinds, kinds.kinds.map(() => "argument"));
  assert.deepEqual(kinds.states, ["connected", "closed"]);
});

// Two faults of the core client's reconnection (core/src/client/driver.rs
// and reconnect.rs), seen first in these browser tests, and fixed.

test("close() on a reconnected client closes it without connecting again", {
  timeout: 30_000,
}, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const client = await hisock.connect(faults.url, { reconnect: h.quick });
    const changes = h.recordChanges(client);
    await faults.cut();
    await h.until("reconnected", () => changes.some((c) => c.event === "reconnected"));
    const before = changes.length;
    await client.close();
    await faults.close();
    return { after: changes.slice(before) };
  });
  assert.deepEqual(result.after, [], "nothing after the application's close");
});

test("a client that gives up tells disconnected{willRetry: false} once", {
  timeout: 30_000,
}, async () => {
  const result = await inPage(async (wsUrl) => {
    const faults = await h.faulty(hisock, wsUrl);
    const client = await hisock.connect(faults.url, { reconnect: { ...h.quick, maxAttempts: 2 } });
    const changes = h.recordChanges(client);
    await faults.refuse(true);
    await faults.cut();
    await client.closed();
    await faults.close();
    return changes.filter((c) => c.event === "disconnected" && !c.willRetry).length;
  });
  assert.equal(result, 1);
});
