// The benchmark page: the three clients behind one interface, run by
// bench/browser/run.mjs through page.evaluate. Each workload resolves to
// { elapsedMs, latenciesMs?, count? }.
//
//   hisock     the npm package (wasm/pkg), JS API
//   rust-wasm  hisock's Rust Client compiled to wasm32 (bench/browser-wasm),
//              each workload looping in Rust (one JS call per workload)
//   socket.io  socket.io-client 4.8, WebSocket transport only

import initHisock, { connect } from "/hisock/hisock.js";
import initRust, { RustBench } from "/rust-wasm/hisock_bench_wasm.js";
import { io } from "/sio/socket.io.esm.min.js";

/** `inflight` lanes, each doing round trips until `n` are done. */
async function lanes(n, inflight, roundTrip) {
  let left = n;
  const latencies = [];
  const start = performance.now();
  const lane = async () => {
    while (left > 0) {
      left -= 1;
      const sent = performance.now();
      await roundTrip();
      latencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, inflight) }, lane));
  return { elapsedMs: performance.now() - start, latenciesMs: latencies };
}

/** A promise resolved by `done()` once `want` items have been seen. */
function itemCounter() {
  const state = { seen: 0, want: Infinity, resolve: null };
  return {
    item() {
      state.seen += 1;
      if (state.seen >= state.want && state.resolve) state.resolve();
    },
    expect(want) {
      state.seen = 0;
      state.want = want;
      return new Promise((resolve) => {
        state.resolve = resolve;
      });
    },
    get seen() {
      return state.seen;
    },
  };
}

const adapters = {
  async hisock(url) {
    const client = await connect(url);
    const items = itemCounter();
    client.on("item", () => items.item());
    const count = () => client.request("count", null);
    return {
      rtt: (text, n, inflight) => lanes(n, inflight, async () => {
        if ((await client.request("echo", text)).length !== text.length) throw new Error("echo: wrong reply");
      }),
      count,
      async sink(text, n) {
        const start = performance.now();
        for (let i = 0; i < n; i++) await client.send("sink", text);
        const total = await count();
        return { elapsedMs: performance.now() - start, count: total };
      },
      async stream(text, n) {
        const all = items.expect(n);
        const start = performance.now();
        await client.request("stream", [n, text], { timeoutMs: 120_000 });
        await all;
        return { elapsedMs: performance.now() - start, count: items.seen };
      },
      close: () => client.close(),
    };
  },

  async "rust-wasm"(url) {
    const bench = await RustBench.connect(url);
    return {
      async rtt(text, n, inflight) {
        const { elapsedMs, latenciesMs } = await bench.rtt(text, n, inflight);
        return { elapsedMs, latenciesMs: Array.from(latenciesMs) };
      },
      count: () => bench.count(),
      sink: (text, n) => bench.sink(text, n),
      stream: (text, n) => bench.stream(text, n),
      close: () => bench.close(),
    };
  },

  async "socket.io"(url) {
    const socket = io(url, { transports: ["websocket"], reconnection: false });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    const items = itemCounter();
    socket.on("item", () => items.item());
    const count = () => socket.emitWithAck("count");
    return {
      rtt: (text, n, inflight) => lanes(n, inflight, async () => {
        if ((await socket.emitWithAck("echo", text)).length !== text.length) throw new Error("echo: wrong reply");
      }),
      count,
      async sink(text, n) {
        const start = performance.now();
        for (let i = 0; i < n; i++) socket.emit("sink", text);
        const total = await count();
        return { elapsedMs: performance.now() - start, count: total };
      },
      async stream(text, n) {
        const all = items.expect(n);
        const start = performance.now();
        await socket.emitWithAck("stream", [n, text]);
        await all;
        return { elapsedMs: performance.now() - start, count: items.seen };
      },
      close: async () => socket.close(),
    };
  },
};

const clients = {};

window.bench = {
  /** Connects client `name` to `url`. */
  async connect(name, url) {
    clients[name] = await adapters[name](url);
  },
  /**
   * Runs one workload: "rtt" (n round trips, `inflight` at a time), "c2s"
   * (n events to the server; `count` is how many the server counted for
   * this run) or "s2c" (n events from the server).
   */
  async run(name, workload, { text, n, inflight }) {
    const client = clients[name];
    switch (workload) {
      case "rtt":
        return client.rtt(text, n, inflight);
      case "c2s": {
        const before = await client.count();
        const result = await client.sink(text, n);
        return { ...result, count: result.count - before };
      }
      case "s2c":
        return client.stream(text, n);
      default:
        throw new Error(`unknown workload ${workload}`);
    }
  },
  async closeAll() {
    for (const client of Object.values(clients)) await client.close();
  },
};

await Promise.all([initHisock(), initRust()]);
window.ready = "ok";
