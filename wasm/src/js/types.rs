//! The TypeScript declarations of the JS API. wasm-bindgen writes the class
//! shell (`free()`); everything else is declared here, so that the API has
//! real types rather than `any`. `tests/browser/types-check.ts` compiles
//! against the generated `.d.ts`.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TS_API: &'static str = r#"
/**
 * A payload: what `send`, `request` and listener return values accept.
 * Encoded as MessagePack: `Uint8Array`/`ArrayBuffer` become bytes, objects
 * become maps (members that are `undefined` are left out, as in JSON),
 * integers become ints, other numbers floats, `Date` goes through `toJSON()`.
 */
export type Value =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | ArrayBuffer
  | Date
  | Value[]
  | Map<Value, Value>
  | { [key: string]: Value };

/**
 * A payload as it arrives: `null`, booleans, numbers (integers beyond
 * ±(2^53 − 1) arrive as `bigint`, exactly), strings, `Uint8Array` for bytes,
 * arrays, plain objects (a `Map` only when a key is not a string, number or
 * bool).
 */
export type Received =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Received[]
  | Map<Received, Received>
  | { [key: string]: Received };

/** Options of `connect`. */
export interface ConnectOptions {
  /** The name to join with. */
  name?: string;
  /** The group to join. */
  group?: string;
  /** Auth data for the server's auth hook. */
  auth?: Value;
  /** Bounds opening the socket and the handshake, each (on every reconnect too). Default 30000. */
  timeoutMs?: number;
  /**
   * Reconnect when the connection breaks (off by default, as in the Rust
   * client): `true` for the default policy, or an object to change it.
   * Only the first connection fails `connect`; later ones are retried.
   */
  reconnect?: boolean | ReconnectOptions;
  /** The bound of what waits while reconnecting (with `reconnect` only). */
  offlineQueue?: OfflineQueueOptions;
}

/**
 * How a client reconnects (PROTOCOL.md section 13.8). Attempt n waits a
 * random time up to `min(maxDelayMs, initialDelayMs × 2^(n−1))` (full
 * jitter). Retried: a connection that broke without a close (1006),
 * connecting that failed, and closes 1001, 4004, 4005, 4006, 4012. Never
 * the application's own `close`; not a kick (4000), a refusal (4001–4003,
 * 4008) or a protocol fault, unless listed in `retryCodes`.
 */
export interface ReconnectOptions {
  /** The longest first delay. Default 500. */
  initialDelayMs?: number;
  /** The cap on any one delay. Default 30000. */
  maxDelayMs?: number;
  /** Give up (and close) after this many attempts in a row. Default `Infinity`. */
  maxAttempts?: number;
  /** Close codes to retry besides the default ones (say 4000, kicked). */
  retryCodes?: number[];
}

/**
 * What is sent while reconnecting waits, in order, in a bounded queue;
 * past the bound `send` and `request` reject at once with kind
 * `offline_queue_full`.
 */
export interface OfflineQueueOptions {
  /** Most bytes queued (each message its encoded length plus 80). Default 1048576. */
  maxBytes?: number;
  /** Most messages queued. Default 1024. */
  maxMessages?: number;
  /**
   * Drop what waited longer than this when connected again, instead of
   * sending it late: a request rejects with kind `expired`, dropped events
   * are counted in `reconnected`'s `expired`. Default: no limit.
   */
  ttlMs?: number;
}

/** Where a client's connection stands (`client.state`). */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/** The connection ended; `willRetry`: the client reconnects. */
export interface DisconnectedInfo {
  /** The close code; 1006 when the connection broke without one. */
  code: number;
  reason: string;
  willRetry: boolean;
}

/** The client waits `delayMs`, then makes attempt `attempt` (from 1). */
export interface ReconnectingInfo {
  attempt: number;
  delayMs: number;
}

/**
 * Why a reconnect got a new session (PROTOCOL.md section 13.1): `new`,
 * `unknown_token` (a server restart, say), `expired`, `overflow`, `gap`,
 * `disabled` (the server keeps no sessions), `ended`; a number for an
 * outcome this client does not know.
 */
export type ResumeOutcome =
  | "new"
  | "unknown_token"
  | "expired"
  | "overflow"
  | "gap"
  | "disabled"
  | "ended"
  | number;

/**
 * Connected again. `resumed`: to the same session, nothing lost. Otherwise
 * to a new one (`outcome` says why): the client's name, group, rooms and
 * presence interest were restored, but requests in flight rejected with
 * kind `session_lost`.
 */
export interface ReconnectedInfo {
  resumed: boolean;
  /** Present when not resumed. */
  outcome?: ResumeOutcome;
  /** Messages dropped from the offline queue past their `ttlMs`. */
  expired: number;
}

/** Options of `request`, `recv` and `recvAny`. */
export interface TimeoutOptions {
  /** Milliseconds to wait; default 30000; `Infinity` waits (almost) forever. */
  timeoutMs?: number;
}

/** Options of `close`. */
export interface CloseOptions {
  /** Run the server's `leave` handler (default true). */
  emitLeave?: boolean;
}

/** A client as the server knows it. */
export interface ClientInfo {
  id: number;
  name: string | null;
  group: string | null;
  /** "ip:port" as the server sees it. */
  addr: string | null;
  transport: "tcp" | "tls" | "ws" | "wss" | "other";
}

/** Why a connection ended. Codes follow WebSocket's; 4000–4999 are hisock's. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A name or group change. */
export interface ChangeInfo {
  old: string | null;
  new: string | null;
}

/** The server could not handle an event this client sent. */
export interface RejectionInfo {
  command: string;
  /** 1 no handler, 2 bad payload, 3 handler failed, 4 refused, 5 shutting down. */
  code: number;
  message: string;
}

/**
 * What went wrong, in one word (the `kind` of a `HisockError`). A failed
 * `connect`: `invalid_address` (not a `ws://`/`wss://` URL, or one the
 * browser refuses; nothing was sent), `tcp_port` (a hisock TCP port, not
 * a WebSocket endpoint), `unreachable` (no answer to the WebSocket upgrade
 * nor to an HTTP request: nothing listens there, or no web server does),
 * `not_websocket` (an HTTP server answered but refused the upgrade),
 * `timeout` (no answer in time). While reconnecting: `offline_queue_full`
 * (the offline queue is at its bound; nothing was queued), `expired` (a
 * request waited offline past `ttlMs`), `session_lost` (a request was in
 * flight and the server started a new session: it may or may not have been
 * handled).
 */
export type ErrorKind =
  | "timeout"
  | "closed"
  | "refused"
  | "remote"
  | "encode"
  | "decode"
  | "queue_full"
  | "offline_queue_full"
  | "expired"
  | "session_lost"
  | "invalid_address"
  | "unreachable"
  | "tcp_port"
  | "not_websocket"
  | "too_big"
  | "limit"
  | "transport"
  | "protocol"
  | "argument";

/** Every promise of the API rejects with this (`err instanceof HisockError`). */
export class HisockError extends Error {
  constructor(message: string, kind: ErrorKind, code?: number);
  readonly name: "HisockError";
  readonly kind: ErrorKind;
  /**
   * The close code (closed, refused; for limit, the code the server would
   * have closed with) or the remote error code (remote).
   */
  readonly code?: number;
}

/** What a listener returns to answer a server request. */
export type Reply = Value | void | Promise<Value | void>;

/**
 * One event of an event map: what it carries, and what answers a request
 * of it (`null` for events that are only sent).
 */
export interface EventSpec {
  payload: unknown;
  reply: unknown;
}

/**
 * Typed events by direction: `toServer` (sent with `send`/`request`),
 * `toClient` (heard with `on`/`recv`). Rust writes it for you:
 * `hisock::typescript::declarations::<ChatEvents>()` generates an
 * interface of this shape from the events declared with `hisock::events!`;
 * then `connect<ChatEvents>(url)`.
 */
export interface EventMap {
  toServer: { [command: string]: EventSpec };
  toClient: { [command: string]: EventSpec };
}

/**
 * The event map of a client with none declared: any command; what it
 * sends is a `Value`, what it hears is `unknown` (narrow it, or declare the
 * events).
 */
export interface Untyped {
  toServer: { [command: string]: { payload: Value; reply: unknown } };
  toClient: { [command: string]: { payload: unknown; reply: unknown } };
}

/** The commands clients send, in map `E`. */
export type ToServerCommand<E extends EventMap> = keyof E["toServer"] & string;
/** The commands the server sends, in map `E`. */
export type ToClientCommand<E extends EventMap> = keyof E["toClient"] & string;
/** True for a map that declares no names (`Untyped`). */
type IsUntyped<E extends EventMap> = string extends keyof E["toServer"] ? true : false;
/** A payload argument: optional when the payload may be `null`. */
type PayloadArgs<P, Rest extends unknown[] = []> = null extends P
  ? [value?: P, ...rest: Rest]
  : [value: P, ...rest: Rest];

/**
 * A listener of a command whose payload is `P` and whose requests are
 * answered with `R`: the first listener's return value (awaited if a
 * promise) is the reply. For events without a reply (`null`) it is
 * ignored, except that a value that cannot be encoded counts as a failed
 * listener. Undeclared payloads (`unknown`) accept any annotation.
 */
export type Listener<P = unknown, R = unknown> = unknown extends P
  ? { bivariant(value: P): unknown }["bivariant"]
  : (value: P) => null extends R ? unknown : R | Promise<R>;

/** An event as `recvAny` returns it: for a typed map, a union by command. */
export type AnyEvent<E extends EventMap = Untyped> = {
  [C in ToClientCommand<E>]: { command: C; value: E["toClient"][C]["payload"] };
}[ToClientCommand<E>];

/** Event names with their own listener signatures (see `on`). */
export type ReservedEvent =
  | "client_connect"
  | "client_disconnect"
  | "client_name_change"
  | "client_group_change"
  | "force_disconnect"
  | "rejected"
  | "disconnected"
  | "reconnecting"
  | "reconnected"
  | "message"
  | "*";

/**
 * A connected client. `E` is its event map (see `EventMap`): with one,
 * `send`, `request`, `on` and `recv` check command names, payloads and
 * replies; without one (`Untyped`) any command goes and what arrives is
 * `unknown`.
 */
export interface HisockClient<E extends EventMap = Untyped> {
  /** This client's id on the server. */
  readonly id: number;
  /** This client's current name. */
  readonly name: string | null;
  /** This client's current group. */
  readonly group: string | null;
  /** True while connected: false once closed, and while reconnecting. */
  readonly connected: boolean;
  /** Where the connection stands. */
  readonly state: ConnectionState;

  /** Another client joined. */
  on(event: "client_connect", listener: (client: ClientInfo) => unknown): void;
  /** Another client left. */
  on(event: "client_disconnect", listener: (client: ClientInfo) => unknown): void;
  /** Another client changed its name. */
  on(event: "client_name_change", listener: (client: ClientInfo, change: ChangeInfo) => unknown): void;
  /** Another client changed its group. */
  on(event: "client_group_change", listener: (client: ClientInfo, change: ChangeInfo) => unknown): void;
  /** The server closed this connection (kicked, shutting down, …). */
  on(event: "force_disconnect", listener: (close: CloseInfo) => unknown): void;
  /** The server could not handle an event this client sent. */
  on(event: "rejected", listener: (rejection: RejectionInfo) => unknown): void;
  /** The connection ended (`willRetry`: the client reconnects; with `reconnect` only). */
  on(event: "disconnected", listener: (info: DisconnectedInfo) => unknown): void;
  /** The client waits, then tries to connect again (with `reconnect` only). */
  on(event: "reconnecting", listener: (info: ReconnectingInfo) => unknown): void;
  /** Connected again (with `reconnect` only). */
  on(event: "reconnected", listener: (info: ReconnectedInfo) => unknown): void;
  /** Every event, before its own listener (same as `onAny`). */
  on(event: "message", listener: (command: string, value: unknown) => unknown): void;
  /** Events no listener takes; the return value answers requests. */
  on(event: "*", listener: (command: string, value: unknown) => unknown): void;
  /** A command from the server; the return value answers requests. */
  on<C extends ToClientCommand<E>>(
    command: C extends ReservedEvent ? never : C,
    listener: Listener<E["toClient"][C]["payload"], E["toClient"][C]["reply"]>,
  ): void;
  /** Removes one listener, or every listener of the event. */
  off(event: string, listener?: (...args: never[]) => unknown): void;
  /** Listens to every event (before its own listener). */
  onAny(listener: (command: string, value: unknown) => unknown): void;
  /** Removes one `onAny` listener, or all of them. */
  offAny(listener?: (command: string, value: unknown) => unknown): void;

  /** Sends an event; resolves once it is queued. */
  send<C extends ToServerCommand<E>>(
    command: C,
    ...value: PayloadArgs<E["toServer"][C]["payload"]>
  ): Promise<void>;
  /** Asks the server; resolves with its handler's reply. */
  request<C extends ToServerCommand<E>>(
    command: C,
    ...args: PayloadArgs<E["toServer"][C]["payload"], [options?: TimeoutOptions]>
  ): Promise<E["toServer"][C]["reply"]>;
  /** Untyped clients only: asks the server; the reply is taken to be a `T`. */
  request<T>(
    command: IsUntyped<E> extends true ? string : never,
    value?: Value,
    options?: TimeoutOptions,
  ): Promise<T>;
  /** The next value of `command` that no listener took (HiSock's `recv`). */
  recv<C extends ToClientCommand<E>>(
    command: C,
    options?: TimeoutOptions,
  ): Promise<E["toClient"][C]["payload"]>;
  /** Untyped clients only: the next value of `command`, taken to be a `T`. */
  recv<T>(command: IsUntyped<E> extends true ? string : never, options?: TimeoutOptions): Promise<T>;
  /** The next event of any command that no listener took. */
  recvAny(options?: TimeoutOptions): Promise<AnyEvent<E>>;

  /** Changes this client's name (`null` clears it). */
  changeName(name: string | null): Promise<void>;
  /** Changes this client's group (`null` leaves it). */
  changeGroup(group: string | null): Promise<void>;
  /** Asks to join a room (the server's room hook decides; `refused` if not). Resolves with whether that changed anything. */
  joinRoom(room: string): Promise<boolean>;
  /** Asks to leave a room. Resolves with whether that changed anything. */
  leaveRoom(room: string): Promise<boolean>;
  /** Asks the server about a client by name, id or address. */
  getClient(key: string | number | { addr: string }): Promise<ClientInfo | null>;
  /** All clients, or one group's. */
  listClients(group?: string | null): Promise<ClientInfo[]>;

  /** Sends everything queued, then closes. */
  close(options?: CloseOptions): Promise<void>;
  /** Resolves when the connection has ended (with `reconnect`: for good). */
  closed(): Promise<CloseInfo>;
  /** Frees the Rust side of a client that is no longer used. */
  free(): void;
}

/**
 * Connects to a hisock server's WebSocket endpoint ("ws://host:port/").
 * `E`, optional, is the event map the client and server agree on (see
 * `EventMap`): `connect<ChatEvents>(url)`.
 */
export function connect<E extends EventMap = Untyped>(
  url: string,
  options?: ConnectOptions,
): Promise<HisockClient<E>>;
"#;
