// The hand-written JavaScript of the npm package: its error class, the
// classification of failed connects, and the default report of rejected
// events. The Rust side imports these functions (error.rs); wasm-bindgen
// writes this file out as a snippet module, which scripts/build-npm.sh
// inlines into hisock.js (wasm/npm/inline-snippets.mjs), so that the
// package stays one JS file and exports HisockError itself.

/** The error every promise of the hisock API rejects with. */
export class HisockError extends Error {
  constructor(message, kind, code) {
    super(message);
    this.name = "HisockError";
    this.kind = kind;
    if (code !== undefined) this.code = code;
  }
}

/**
 * The error of a connect whose WebSocket to `url` did not open. Browsers
 * tell scripts nothing about a failed WebSocket (always code 1006, no
 * reason), so when it closed before opening (`waited` is 0) one plain
 * HTTP(S) request to the same URL finds out whether an HTTP server is
 * there: one that answers refused the upgrade (`not_websocket`); no answer
 * within `probeMs` means nothing accepts connections there, or the peer
 * speaks no HTTP, like a hisock TCP port (`unreachable`). `waited` > 0:
 * the socket neither opened nor failed within that many milliseconds.
 * Rejects with that HisockError.
 */
export async function connectError(url, waited, probeMs) {
  const at = `cannot connect to ${url}: `;
  if (waited) {
    throw new HisockError(
      `${at}no answer to the WebSocket upgrade within ${waited} ms: is it a WebSocket endpoint?`,
      "timeout",
    );
  }
  // ws: -> http:, wss: -> https: (the scheme is checked before connecting)
  const http = `http${url.slice(2)}`;
  try {
    await fetch(http, {
      mode: "no-cors",
      credentials: "omit",
      cache: "no-store",
      signal: AbortSignal.timeout(probeMs),
    });
  } catch {
    const tls = /^wss/i.test(url) ? ", its TLS certificate is not trusted" : "";
    throw new HisockError(
      `${at}no answer there, neither to the WebSocket upgrade nor over HTTP: nothing accepts connections there${tls}, or it is no web server (a hisock TCP port, not a WebSocket endpoint?), or a hisock WebSocket endpoint refused this page (allowed origins, upgrade check)`,
      "unreachable",
    );
  }
  throw new HisockError(
    `${at}an HTTP server answered there but refused the WebSocket upgrade: is this the path of a hisock WebSocket endpoint, and does it accept this page (allowed origins, upgrade check)?`,
    "not_websocket",
  );
}

/**
 * Reports an event this client sent that the server rejected, when no
 * `rejected` listener does: the Rust client logs these at warn level too.
 */
export function warnRejected(rejection) {
  console.warn(
    `hisock: the server rejected a "${rejection.command}" event from this client (code ${rejection.code}): ${rejection.message} (listen to "rejected" to handle this)`,
  );
}
