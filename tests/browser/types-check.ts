// Compiled (never run) against the package's .d.ts by e2e.test.mjs: an
// application's use of the API must type-check, and misuse must not.
import init, {
  connect,
  HisockError,
  type ClientInfo,
  type CloseInfo,
  type ConnectionState,
  type ErrorKind,
  type HisockClient,
  type ReconnectedInfo,
  type Value,
} from "hisock";
import wasmUrl from "hisock/hisock_bg.wasm";

interface Move {
  x: number;
  y: number;
}

/** A typed event map: the reconnection events keep their own types beside it. */
interface ChatMap {
  toServer: { say: { payload: string; reply: null } };
  toClient: { say: { payload: string; reply: null } };
}

export async function app(): Promise<void> {
  await init();
  const url: string = wasmUrl;
  await init({ module_or_path: url });
  const client: HisockClient = await connect("ws://127.0.0.1:9000/", {
    name: "ada",
    group: "lobby",
    auth: { token: "t", raw: new Uint8Array([1]) },
    timeoutMs: 5000,
  });
  const id: number = client.id;
  const name: string | null = client.name;
  const connected: boolean = client.connected;
  const state: ConnectionState = client.state;

  // Reconnection: options, events, state.
  const resilient = await connect<ChatMap>("ws://127.0.0.1:9000/", {
    reconnect: { initialDelayMs: 100, maxDelayMs: 5000, maxAttempts: Infinity, retryCodes: [4000] },
    offlineQueue: { maxBytes: 65536, maxMessages: 100, ttlMs: 10000 },
  });
  await connect("ws://127.0.0.1:9000/", { reconnect: true });
  resilient.on("disconnected", (info) => console.log(info.code, info.reason, info.willRetry));
  resilient.on("reconnecting", (info) => console.log(info.attempt, info.delayMs));
  resilient.on("reconnected", (info: ReconnectedInfo) => {
    if (!info.resumed && info.outcome === "unknown_token") console.log(info.expired);
  });
  resilient.on("say", (text) => console.log(text.toUpperCase()));
  if (resilient.state === "reconnecting") await resilient.send("say", "queued meanwhile");
  // @ts-expect-error states are a closed set
  if (resilient.state === "offline") console.log(state);
  // @ts-expect-error willRetry is a boolean
  resilient.on("disconnected", (info: { willRetry: string }) => info);
  // @ts-expect-error reconnect is a boolean or options
  await connect("ws://x/", { reconnect: "yes" });
  // @ts-expect-error unknown offline queue option
  await connect("ws://x/", { reconnect: true, offlineQueue: { maxFrames: 1 } });

  client.on("client_connect", (info: ClientInfo) => console.log(info.name, info.transport));
  client.on("client_name_change", (info, change) => console.log(info.id, change.old, change.new));
  client.on("force_disconnect", (close: CloseInfo) => console.log(close.code, close.reason));
  client.on("rejected", (r) => console.log(r.command, r.code, r.message));
  client.on("move", (m: Move) => ({ x: m.x + 1, y: m.y }));
  client.on("slow", async (n: number) => n * 2);
  client.on("dom", (text: string) => document.body.appendChild(document.createTextNode(text)));
  client.on("*", (command, value) => console.log(command, value));
  client.onAny((command, value) => console.log(command, value));
  client.off("move");

  const payload: Value = { list: [1, "two", null, 3n], bytes: new Uint8Array(2), when: new Date() };
  await client.send("chat", payload);
  const sum = await client.request<number>("add", [1, 2], { timeoutMs: 1000 });
  const doubled: number = sum * 2;
  const next = await client.recv<Move>("move");
  const any = await client.recvAny();
  const command: string = any.command;
  await client.changeName(null);
  await client.changeGroup("g");
  const other: ClientInfo | null = await client.getClient("bob");
  const byId = await client.getClient(3);
  const all: ClientInfo[] = await client.listClients();
  await client.close({ emitLeave: false });
  const closed: CloseInfo = await client.closed();

  try {
    await client.request("x");
  } catch (err) {
    if (err instanceof HisockError) {
      const kind: ErrorKind = err.kind;
      if (kind === "unreachable" || err.code === 4003) console.log(err.message);
      if (kind === "offline_queue_full" || kind === "expired" || kind === "session_lost") console.log(kind);
      // @ts-expect-error kinds are a closed set
      if (err.kind === "no-such-kind") console.log(err.name);
    }
    // @ts-expect-error unknown until narrowed
    console.log(err.kind);
  }

  // @ts-expect-error functions are not payloads
  await client.send("bad", () => 1);
  // @ts-expect-error the URL is a string
  await connect(9000);
  // @ts-expect-error unknown option
  await connect("ws://x/", { nmae: "typo" });
  // @ts-expect-error reserved events have typed listeners
  client.on("client_connect", (info: string) => info);
  // @ts-expect-error ids are numbers
  const wrong: string = client.id;

  console.log(id, name, connected, doubled, next.x, command, other, byId, all, closed, wrong);
}
