// The browser benchmark's driver: starts the native hisock server
// (browser_server) and the Socket.IO server (sio-server.mjs), serves the
// page with the three clients, runs every workload in Debian's headless
// Chromium (playwright-core, the flags of tests/browser/support.mjs), then
// prints a markdown table and writes report.json. bench/browser/run.sh
// builds what this needs and runs it; see bench/README.md ("Browser").
//
//   node run.mjs --server BIN --hisock-pkg DIR --rust-pkg DIR [--out DIR]
//                [--quick] [--rounds N] [--only rtt1,rtt64,c2s,s2c]
//                [--clients hisock,rust-wasm,socket.io] [--cpu-prof DIR]

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, loadavg } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { CHROMIUM, CHROMIUM_ARGS } from "../../tests/browser/support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

// ---- options ----------------------------------------------------------

function parseArgs(argv) {
  const opts = {
    server: null,
    hisockPkg: join(root, "wasm", "pkg"),
    rustPkg: join(root, "target", "browser-bench", "rust-wasm"),
    out: join(root, "target", "browser-bench"),
    quick: false,
    rounds: null,
    only: null,
    clients: ["hisock", "rust-wasm", "socket.io"],
    cpuProf: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--server": opts.server = resolve(value()); break;
      case "--hisock-pkg": opts.hisockPkg = resolve(value()); break;
      case "--rust-pkg": opts.rustPkg = resolve(value()); break;
      case "--out": opts.out = resolve(value()); break;
      case "--quick": opts.quick = true; break;
      case "--rounds": opts.rounds = Number(value()); break;
      case "--only": opts.only = value().split(","); break;
      case "--clients": opts.clients = value().split(","); break;
      case "--cpu-prof": opts.cpuProf = resolve(value()); break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!opts.server) throw new Error("--server BIN (the browser_server binary) is required");
  return opts;
}

// ---- workloads --------------------------------------------------------

/** 64 bytes of ASCII: the payload of every operation, a string for all clients. */
const TEXT = "hisock-browser-bench-payload-0123456789abcdefghijklmnopqrstuvwxyz".slice(0, 64);

/**
 * Sizes of one round (`n` operations per client). A full run has 10 rounds
 * (a few minutes in all); --quick one round of a few hundred operations.
 */
function workloads(quick) {
  const size = (full, small) => (quick ? small : full);
  return [
    { id: "rtt1", kind: "rtt", n: size(300, 100), inflight: 1, title: "request/reply, 1 in flight" },
    { id: "rtt64", kind: "rtt", n: size(2_000, 256), inflight: 64, title: "request/reply, 64 in flight" },
    { id: "c2s", kind: "c2s", n: size(5_000, 500), title: "events browser → server" },
    { id: "s2c", kind: "s2c", n: size(5_000, 500), title: "events server → browser" },
  ];
}

// ---- helpers ----------------------------------------------------------

/** Starts `cmd`, resolves with the first stdout line matching `ready`. */
function startProcess(name, cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolveStart, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      const match = out.match(ready);
      if (match) {
        clearTimeout(timer);
        resolveStart({ child, match, stderr: () => stderr });
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${name} (${cmd}) could not start: ${err.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${stderr}`));
    });
  });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Serves the page and the three clients' files on a free loopback port. */
function servePage(mounts) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return;
    }
    const file = path === "/" ? join(here, "page.html") : path === "/page.js" ? join(here, "page.js") : (() => {
      for (const [prefix, dir] of Object.entries(mounts)) {
        if (path.startsWith(prefix)) {
          const f = normalize(join(dir, path.slice(prefix.length)));
          if (f.startsWith(dir)) return f;
        }
      }
      return null;
    })();
    try {
      if (!file) throw new Error("not found");
      const body = readFileSync(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        // Cross-origin isolation: performance.now() then ticks in 5 µs
        // steps instead of 100 µs, fine enough for round trips.
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
      });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end("not found");
    }
  });
  return new Promise((resolveServe) => {
    server.listen(0, "127.0.0.1", () => {
      resolveServe({ url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() });
    });
  });
}

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 Hz).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** Checks one round's result: every operation timed or counted. */
function check(workload, name, n, result) {
  if (workload.kind === "rtt") {
    if (result.latenciesMs.length !== n) throw new Error(`${name} ${workload.id}: ${result.latenciesMs.length} of ${n} round trips timed`);
  } else if (result.count !== n) {
    throw new Error(`${name} ${workload.id}: ${n} events sent, ${result.count} counted`);
  }
}

/**
 * A client's figures over all rounds: the rate is all operations over all
 * the time they took; p50/p99 are of every round trip of every round.
 */
function figures(workload, rounds) {
  const ops = rounds.reduce((sum, r) => sum + r.n, 0);
  const ms = rounds.reduce((sum, r) => sum + r.elapsedMs, 0);
  const cpu = rounds.reduce((sum, r) => sum + r.serverCpuMs, 0);
  const busy = rounds.reduce((sum, r) => sum + r.pageMs, 0);
  const figs = { per_s: (ops / ms) * 1000 };
  if (workload.kind === "rtt") {
    const sorted = Float64Array.from(rounds.flatMap((r) => r.latenciesMs)).sort();
    figs.p50_us = percentile(sorted, 50) * 1000;
    figs.p99_us = percentile(sorted, 99) * 1000;
  }
  figs.page_busy_us_per_op = (busy * 1000) / ops;
  figs.server_cpu_us_per_op = (cpu * 1000) / ops;
  return figs;
}

function fmtRate(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return `${Math.round(v)}`;
}

function fmt(metric, v) {
  if (!Number.isFinite(v)) return "–";
  if (metric.endsWith("_per_op")) return v.toFixed(1);
  return metric === "per_s" ? fmtRate(v) : `${Math.round(v)}`;
}

// ---- main -------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const rounds = opts.rounds ?? (opts.quick ? 1 : 10);
const selected = workloads(opts.quick).filter((w) => !opts.only || opts.only.includes(w.id));
const started = Date.now();
const loadBefore = loadavg();

const hisockServer = await startProcess("browser_server", opts.server, ["--max-seconds", "1800"], /READY ws=(\S+)/);
const sioServer = await startProcess("sio-server", process.execPath, [join(here, "sio-server.mjs"), "--max-seconds", "1800"], /READY url=(\S+)/);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    hisockServer.child.kill("SIGTERM");
    sioServer.child.kill("SIGTERM");
    process.exit(1);
  });
}
const urls = { hisock: hisockServer.match[1], "rust-wasm": hisockServer.match[1], "socket.io": sioServer.match[1] };
const site = await servePage({
  "/hisock/": opts.hisockPkg,
  "/rust-wasm/": opts.rustPkg,
  "/sio/": join(here, "node_modules", "socket.io-client", "dist"),
});

const { chromium } = await import("playwright-core");
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
let exitCode = 0;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(300_000);
  page.on("pageerror", (err) => process.stderr.write(`[page error] ${err}\n`));
  page.on("console", (msg) => {
    if (msg.type() === "error") process.stderr.write(`[page console] ${msg.text()}\n`);
  });
  await page.goto(site.url);
  await page.waitForFunction(() => window.ready === "ok", null, { timeout: 30_000 });
  if (!(await page.evaluate(() => window.crossOriginIsolated))) {
    process.stderr.write("warning: the page is not cross-origin isolated; performance.now() is coarse (100 µs)\n");
  }
  for (const name of opts.clients) {
    await page.evaluate(([name, url]) => window.bench.connect(name, url), [name, urls[name]]);
  }
  // The page's main-thread busy time (TaskDuration: JS, wasm, and the
  // browser's own work for the page's events), read around every round.
  const perf = await page.context().newCDPSession(page);
  await perf.send("Performance.enable");
  const pageBusyMs = async () => {
    const { metrics } = await perf.send("Performance.getMetrics");
    return (metrics.find((m) => m.name === "TaskDuration")?.value ?? NaN) * 1000;
  };
  const cdp = opts.cpuProf ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    mkdirSync(opts.cpuProf, { recursive: true });
  }

  const run = (name, workload, n) =>
    page.evaluate(([name, kind, params]) => window.bench.run(name, kind, params), [
      name,
      workload.kind,
      { text: TEXT, n, inflight: workload.inflight ?? 1 },
    ]);

  // The clients take turns, round after round (who goes first rotates), so
  // that the load of a shared machine falls on all of them alike.
  // measurements[workload][client] = [{ n, elapsedMs, latenciesMs, serverCpuMs } of each round]
  const measurements = {};
  for (const workload of selected) {
    measurements[workload.id] = {};
    // Warm-up (JIT, wasm tiering, connection buffers): half a round, unmeasured.
    for (const name of opts.clients) {
      const n = Math.ceil(workload.n / 2);
      check(workload, name, n, await run(name, workload, n));
      measurements[workload.id][name] = [];
    }
    for (let round = 0; round < rounds; round++) {
      const order = opts.clients.map((_, i) => opts.clients[(i + round) % opts.clients.length]);
      for (const name of order) {
        if (cdp && round === 0) await cdp.send("Profiler.start");
        const serverPid = (name === "socket.io" ? sioServer : hisockServer).child.pid;
        const cpuBefore = cpuMs(serverPid);
        const busyBefore = await pageBusyMs();
        const result = await run(name, workload, workload.n);
        const pageMs = (await pageBusyMs()) - busyBefore;
        const serverCpuMs = cpuMs(serverPid) - cpuBefore;
        if (cdp && round === 0) {
          const { profile } = await cdp.send("Profiler.stop");
          writeFileSync(join(opts.cpuProf, `${workload.id}-${name}.cpuprofile`), JSON.stringify(profile));
        }
        check(workload, name, workload.n, result);
        measurements[workload.id][name].push({ n: workload.n, elapsedMs: result.elapsedMs, latenciesMs: result.latenciesMs ?? [], serverCpuMs, pageMs });
      }
    }
    const summary = opts.clients.map((name) => `${name} ${fmtRate(figures(workload, measurements[workload.id][name]).per_s)}/s`);
    process.stderr.write(`${workload.id}: ${summary.join(", ")}\n`);
  }
  await page.evaluate(() => window.bench.closeAll());

  // ---- report ----
  const rows = [];
  for (const workload of selected) {
    const metrics = workload.kind === "rtt" ? ["per_s", "p50_us", "p99_us"] : ["per_s"];
    metrics.push("page_busy_us_per_op", "server_cpu_us_per_op");
    for (const metric of metrics) {
      const value = {};
      for (const name of opts.clients) value[name] = figures(workload, measurements[workload.id][name])[metric];
      const higherIsBetter = metric === "per_s";
      const ratio = value.hisock / value["socket.io"];
      // CPU per operation is context (lower is better), not a target.
      const context = metric.endsWith("_per_op");
      const met = context ? null
        : higherIsBetter ? value.hisock >= value["socket.io"] : value.hisock <= value["socket.io"];
      rows.push({ workload: workload.id, title: workload.title, n_per_round: workload.n, inflight: workload.inflight ?? null, metric, ...value, hisock_over_socketio: ratio, met });
    }
  }
  const report = {
    date: new Date().toISOString(),
    quick: opts.quick,
    rounds,
    payload_bytes: TEXT.length,
    chromium: browser.version(),
    cpus: cpus().length,
    load_before: loadBefore,
    load_after: loadavg(),
    seconds: (Date.now() - started) / 1000,
    rows,
    // Each round's rate, to show the spread (latencies left out).
    round_rates: Object.fromEntries(Object.entries(measurements).map(([id, byClient]) => [
      id,
      Object.fromEntries(Object.entries(byClient).map(([name, list]) => [name, list.map((r) => Math.round((r.n / r.elapsedMs) * 1000))])),
    ])),
  };
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, "report.json"), JSON.stringify(report, null, 2) + "\n");

  const has = (name) => opts.clients.includes(name);
  const header = ["workload", "metric", has("hisock") && "hisock (npm)", has("rust-wasm") && "hisock (Rust wasm)", has("socket.io") && "socket.io-client", "hisock/socket.io", "hisock ≥ socket.io"].filter(Boolean);
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`];
  for (const row of rows) {
    const cells = [row.title, row.metric];
    for (const name of ["hisock", "rust-wasm", "socket.io"]) if (has(name)) cells.push(fmt(row.metric, row[name]));
    cells.push(Number.isFinite(row.hisock_over_socketio) ? row.hisock_over_socketio.toFixed(2) : "–");
    cells.push(row.met === null ? "" : row.met ? "yes" : "**no**");
    lines.push(`| ${cells.join(" | ")} |`);
  }
  console.log(lines.join("\n"));
  console.log(`\nChromium ${report.chromium}, ${report.cpus} CPUs, load ${loadBefore.map((l) => l.toFixed(1)).join(" ")} before, ${report.load_after.map((l) => l.toFixed(1)).join(" ")} after, ${report.seconds.toFixed(0)} s; ${rounds} round(s) of each workload, the clients taking turns; report: ${join(opts.out, "report.json")}`);
} catch (err) {
  process.stderr.write(`browser bench failed: ${err.stack ?? err}\n`);
  exitCode = 1;
} finally {
  await browser.close();
  site.close();
  hisockServer.child.kill("SIGTERM");
  sioServer.child.kill("SIGTERM");
}
process.exit(exitCode);
