// Compiled (never run) against the package's .d.ts by e2e.test.mjs: an
// application's use of the API must type-check, and misuse must not.
import init, {
  connect,
  HisockError,
  type ClientInfo,
  type CloseInfo,
  type ErrorKind,
  type HisockClient,
  type Value,
} from "hisock";
import wasmUrl from "hisock/hisock_bg.wasm";

interface Move {
  x: number;
  y: number;
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
