// The chat page that chat_server serves: the hisock browser client (the npm
// package, which chat_server serves under /pkg/) speaking the chat protocol
// of chat_client (examples/src/chat.rs). This is chat.ts, the source;
// chat.js is what `tsc -p examples/web` makes of it (checked by the browser
// tests). The events are typed by chat-events.d.ts, which Rust generates
// from `ChatEvents` (`cargo run -p hisock-examples --bin chat_typescript`):
//   - a room is a hisock group, chosen when connecting, changed by /join;
//   - `say` (an event) sends a line to the room, which arrives at the others
//     as `chat` {from, room, text};
//   - `dm` (a request) {to, text} sends a line to one client by name, which
//     arrives there as `dm` {from, room: null, text};
//   - `notice` is a line from the server itself;
//   - joins, leaves, renames and room changes are hisock's reserved events;
//   - when the connection breaks, the client reconnects (`reconnect: true`)
//     and the page shows its state: what is typed meanwhile is sent once
//     it is back.
/** The element with `id`, which the page has. */
function $(id) {
    const element = document.getElementById(id);
    if (!element)
        throw new Error(`the page has no #${id}`);
    return element;
}
const ui = {
    joinForm: $("join"),
    name: $("name"),
    room: $("room"),
    connect: $("connect"),
    status: $("status"),
    missing: $("missing"),
    log: $("log"),
    sayForm: $("say"),
    line: $("line"),
    send: $("send"),
};
const HELP = [
    "commands:",
    "  TEXT            say TEXT to your room",
    "  /msg NAME TEXT  send TEXT to NAME only",
    "  /name NEW       change your name",
    "  /join ROOM      move to ROOM",
    "  /who            list everyone on the server",
    "  /help           this text",
    "  /quit           leave",
].join("\n");
let hisock = null; // the package, once loaded
let client = null; // the connection, while there is one
/** Adds a line to the log: `kind` styles it, `from` is shown in bold. */
function show(kind, text, from = null) {
    const item = document.createElement("li");
    item.className = kind;
    if (from !== null) {
        const who = document.createElement("b");
        who.textContent = `${from}: `;
        item.append(who);
    }
    item.append(text);
    ui.log.append(item);
    item.scrollIntoView({ block: "end" });
}
/** How to call a client: its name, or #id when it has none. */
const displayName = (info) => info.name ?? `#${info.id}`;
function parse(input) {
    const line = input.trim();
    if (line === "")
        return null;
    if (!line.startsWith("/"))
        return { kind: "say", text: line };
    const command = line.slice(1);
    const space = command.indexOf(" ");
    const verb = space < 0 ? command : command.slice(0, space);
    const rest = space < 0 ? "" : command.slice(space + 1).trim();
    const needs = (what) => ({ kind: "invalid", why: `usage: /${verb} ${what}` });
    switch (verb) {
        case "msg": {
            const gap = rest.indexOf(" ");
            const text = gap < 0 ? "" : rest.slice(gap + 1).trim();
            return text === "" ? needs("NAME TEXT") : { kind: "msg", to: rest.slice(0, gap), text };
        }
        case "name":
            return rest === "" ? needs("NEW") : { kind: "name", name: rest };
        case "join":
            return rest === "" ? needs("ROOM") : { kind: "join", room: rest };
        case "who":
        case "help":
        case "quit":
            return { kind: verb };
        default:
            return { kind: "invalid", why: `unknown command /${verb}; /help lists them` };
    }
}
/** Runs one parsed line against the server. */
async function run(client, input) {
    switch (input.kind) {
        case "say":
            await client.send("say", input.text);
            // The server relays to everyone else in the room, so echo it here.
            show("chat mine", input.text, `[${client.group ?? "no room"}] ${client.name ?? "you"}`);
            break;
        case "msg":
            // A request: it resolves once the server delivered it, or rejects
            // with the reason (e.g. nobody has that name).
            await client.request("dm", { to: input.to, text: input.text }, { timeoutMs: 5000 });
            show("dm mine", input.text, `[dm to ${input.to}] ${client.name ?? "you"}`);
            break;
        case "name":
            await client.changeName(input.name);
            ui.name.value = input.name;
            show("notice", `* you are now ${input.name}`);
            break;
        case "join":
            await client.changeGroup(input.room);
            ui.room.value = input.room;
            show("notice", `* you are now in ${input.room}`);
            break;
        case "who": {
            const everyone = await client.listClients();
            show("notice", `* ${everyone.length} online:`);
            for (const other of everyone) {
                const you = other.id === client.id ? " (you)" : "";
                show("notice", `*   ${displayName(other)} in ${other.group ?? "no room"} via ${other.transport}${you}`);
            }
            break;
        }
        case "help":
            show("notice help", HELP);
            break;
        case "quit":
            await client.close();
            break;
        case "invalid":
            show("error", `! ${input.why}`);
            break;
    }
}
/** Everything the server sends, shown as chat_client prints it. */
function listen(client) {
    client.on("chat", (line) => show("chat", line.text, `[${line.room ?? "?"}] ${line.from}`));
    client.on("dm", (line) => show("dm", line.text, `[dm] ${line.from}`));
    client.on("notice", (text) => show("notice", `* ${text}`));
    client.on("client_connect", (other) => show("notice", `* ${displayName(other)} joined ${other.group ?? "no room"}`));
    client.on("client_disconnect", (other) => show("notice", `* ${displayName(other)} left`));
    client.on("client_name_change", (other, change) => show("notice", `* ${change.old ?? `#${other.id}`} is now ${displayName(other)}`));
    client.on("client_group_change", (other, change) => show("notice", `* ${displayName(other)} moved from ${change.old ?? "no room"} to ${change.new ?? "no room"}`));
    client.on("rejected", (why) => show("error", `! the server refused ${why.command}: ${why.message}`));
    // The connection's state while it reconnects (the words of
    // `reconnect_line` in examples/src/chat.rs). A final disconnection is told
    // once, by the closed() watcher in connect().
    client.on("disconnected", (info) => {
        if (!info.willRetry)
            return;
        show("error", "! lost the connection to the server; reconnecting…");
        setState(client, "reconnecting…");
    });
    client.on("reconnecting", (info) => {
        const line = `* reconnecting: attempt ${info.attempt} in ${(info.delayMs / 1000).toFixed(1)} s`;
        show("notice", line);
        setState(client, line.slice(2));
    });
    client.on("reconnected", (info) => {
        const how = info.resumed ? "* reconnected: nothing was lost" : "* reconnected";
        show("notice", `${how} as ${client.name ?? `#${client.id}`} in ${client.group ?? "no room"}`);
        setState(client);
    });
}
/**
 * The status line and the page's look for the client's state: connected
 * (as whom, where), or `reconnecting` with what it is doing.
 */
function setState(client, reconnecting = null) {
    ui.status.textContent = reconnecting ?? `connected as ${client.name} (id ${client.id}) in ${client.group ?? "no room"}`;
    document.body.classList.toggle("reconnecting", reconnecting !== null);
}
/**
 * The one line for the end of the connection, in words rather than a close
 * code (chat_client says the same: `farewell` in examples/src/chat.rs).
 */
function farewell(why) {
    switch (why.code) {
        case 1000: return ["notice", "* you left"];
        case 1006: return ["error", "! lost the connection to the server: it stopped, or the network failed"];
        case 1001: return ["error", "! the server is shutting down"];
        case 4000: return ["error", `! disconnected by the server: ${why.reason}`];
        default: return ["error", `! connection closed: ${why.reason || "no reason given"} (code ${why.code})`];
    }
}
function setConnected(connected) {
    ui.name.disabled = connected;
    ui.room.disabled = connected;
    ui.connect.textContent = connected ? "Disconnect" : "Connect";
    ui.line.disabled = !connected;
    ui.send.disabled = !connected;
    document.body.classList.toggle("connected", connected);
    if (connected)
        ui.line.focus();
}
async function connect(hisock) {
    const name = ui.name.value.trim();
    const room = ui.room.value.trim() || "lobby";
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    ui.connect.disabled = true;
    ui.status.textContent = `connecting to ${url}…`;
    try {
        // `auth`: who we are across reconnects; the server lets a resuming
        // session keep its name by it (see chat_server's auth hook).
        const auth = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
        client = await hisock.connect(url, { name, group: room, auth, timeoutMs: 10000, reconnect: true });
    }
    catch (err) {
        ui.status.textContent = "not connected";
        show("error", `! could not connect: ${err.message}`);
        ui.connect.disabled = false;
        return;
    }
    // Listeners go on before this task ends, so the welcome notice that the
    // server sends right after the handshake finds them.
    listen(client);
    const mine = client;
    setState(mine);
    ui.connect.disabled = false;
    setConnected(true);
    const why = await mine.closed();
    if (client === mine) {
        client = null;
        document.body.classList.remove("reconnecting");
        ui.status.textContent = "not connected";
        show(...farewell(why));
        setConnected(false);
    }
}
ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (client) {
        // The closed() watcher in connect() reports the end.
        client.close().catch((err) => show("error", `! ${err.message}`));
    }
    else if (hisock) {
        connect(hisock);
    }
});
ui.sayForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = parse(ui.line.value);
    ui.line.value = "";
    if (!input || !client)
        return;
    try {
        await run(client, input);
    }
    catch (err) {
        // A remote error carries the server's reason, e.g. for /msg.
        show("error", `! ${err.message}`);
    }
});
try {
    // The package is served by chat_server, not bundled: its types come from
    // the npm package's declarations.
    const pkg = await import("/pkg/hisock.js");
    await pkg.default(); // loads /pkg/hisock_bg.wasm
    hisock = pkg;
    ui.status.textContent = "not connected";
    ui.connect.disabled = false;
    ui.name.value ||= `guest-${Math.floor(Math.random() * 1000)}`;
    ui.name.focus();
    document.body.dataset.ready = "yes";
}
catch (err) {
    ui.status.textContent = "the browser client did not load";
    ui.missing.hidden = false;
    console.warn("hisock browser client:", err);
    document.body.dataset.ready = "missing";
}
export {};
