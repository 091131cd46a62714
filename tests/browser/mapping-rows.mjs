// @ts-check
// The JavaScript side of every row of the Rust → MessagePack → JS mapping
// (README, "Typed events"; the Rust side is tests/support/src/mapping.rs).
// `received` is what the browser client hands over for the Rust sample;
// `sent`, where given, is what a page sends for Rust to decode as that
// type (otherwise `received` itself). mapping.test.mjs checks both in
// Chromium; tsc checks every `received` against the TypeScript that
// hisock::typescript generated for the rows (generated/mapping-events.ts,
// written by the test server), and the mapped type makes a row missing
// here a type error.

/** @typedef {import("./generated/mapping-events").Mapping["toClient"]} Rows */

/**
 * @type {{ [Row in keyof Rows]: { received: Rows[Row]["payload"]; sent?: import("hisock").Value } }}
 */
export const ROWS = {
  struct: { received: { x: 1, y: -2 } },
  option_fields: { received: { name: "ada", nick: null } },
  option_none: { received: null },
  option_some: { received: 5 },
  unit_variant: { received: "Empty" },
  newtype_variant: { received: { Circle: 0.5 } },
  struct_variant: { received: { Rect: { w: 3, h: 4 } } },
  tagged_enum: { received: { type: "Joined", name: "bob" } },
  small_i64: { received: -42 },
  large_i64: { received: 9007199254740993n },
  max_u64: { received: 18446744073709551615n },
  float: { received: 0.25 },
  bytes: { received: { data: new Uint8Array([0, 1, 255]) } },
  vec_u8: { received: [0, 1, 255] },
  tuple: { received: [7, "seven", true] },
  string_keys: { received: { a: 1, b: 2 } },
  // Integer keys arrive as the object's (string) keys, as in JSON; a page
  // sends integer keys with a Map.
  int_keys: {
    received: { 1: "one", 2: "two" },
    sent: new Map([
      [1, "one"],
      [2, "two"],
    ]),
  },
  tuple_keys: { received: { hops: new Map([[[1, 2], "a"]]) } },
  newtype: { received: 1.5 },
  unit: { received: null },
  char: { received: "é" },
};
