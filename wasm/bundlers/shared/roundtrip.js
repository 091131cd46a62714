// What every recipe's page runs once hisock is initialised: a round trip
// with the native hisock server named by the page's ?ws= parameter. The
// outcome lands in window.result for the test (bundlers.test.mjs).
export async function roundTrip({ connect, HisockError }) {
  const url = new URLSearchParams(location.search).get("ws");
  const client = await connect(url, { name: "bundled", timeoutMs: 10000 });
  const sum = await client.request("add", [2, 3]);
  const bytes = await client.request("echo", new Uint8Array([1, 2, 3]));
  await client.close();
  let kind = null;
  try {
    await connect("127.0.0.1:1");
  } catch (err) {
    kind = err instanceof HisockError ? err.kind : `not a HisockError: ${err}`;
  }
  return { sum, bytes: Array.from(bytes), invalidAddress: kind };
}

/** Runs `work` and publishes its result (or failure) for the test. */
export function publish(work) {
  work().then(
    (value) => (window.result = { ok: value }),
    (err) => (window.result = { error: String(err) }),
  );
}
