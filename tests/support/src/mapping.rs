//! The rows of the Rust → MessagePack → JavaScript mapping (README,
//! "Typed events"): one Rust type and sample value per row. The test
//! server hands each sample to the browser (`mapping_sample`), checks what
//! the browser sends back (`mapping_check`), and writes the rows'
//! TypeScript declarations (`--write-typescript`) that the browser test's
//! expected values are type-checked against; `tests/browser/mapping.test.mjs`
//! holds the JavaScript side of every row.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A struct: a map keyed by field name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Point {
    /// Column.
    pub x: i32,
    /// Row.
    pub y: i32,
}

/// Optional fields: `None` is nil; a skipped `None` is no field at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Profile {
    /// Always there.
    pub name: String,
    /// `null` when `None`.
    pub nick: Option<String>,
    /// Left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub age: Option<u8>,
}

/// An externally tagged enum (serde's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub enum Shape {
    /// A unit variant: its name.
    Empty,
    /// A newtype variant: `{ "Circle": radius }`.
    Circle(f64),
    /// A struct variant: `{ "Rect": { w, h } }`.
    Rect {
        /// Width.
        w: u32,
        /// Height.
        h: u32,
    },
}

/// An internally tagged enum: the tag is a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type")]
pub enum Notice {
    /// `{ "type": "Joined", "name": … }`.
    Joined {
        /// Who.
        name: String,
    },
    /// `{ "type": "Left" }`.
    Left,
}

/// Bytes, through `serde_bytes`: MessagePack bin, a `Uint8Array` in JS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Blob {
    /// The bytes.
    #[serde(with = "serde_bytes")]
    #[ts(type = "Uint8Array")]
    pub data: Vec<u8>,
}

/// A map whose keys are neither strings, numbers nor bools: a JS `Map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Routes {
    /// Keyed by (from, to).
    #[ts(type = "Map<[number, number], string>")]
    pub hops: BTreeMap<(u8, u8), String>,
}

/// A newtype struct: its content, unwrapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Meters(pub f64);

macro_rules! rows {
    ($($event:ident($name:literal): $ty:ty = $value:expr,)*) => {
        /// Every row's name, in the README's order.
        pub const ROWS: &[&str] = &[$($name),*];

        /// The sample of `row`, encoded as the server sends it.
        pub fn sample(row: &str) -> Option<Bytes> {
            match row {
                $($name => Some(encode::<$ty>(&$value)),)*
                _ => None,
            }
        }

        /// Whether `payload`, as a browser sent it, decodes as `row`'s type
        /// and equals its sample.
        pub fn check(row: &str, payload: &[u8]) -> Result<(), String> {
            match row {
                $($name => compare::<$ty>(payload, $value),)*
                _ => Err(format!("no row {row:?}")),
            }
        }

        hisock::events! {
            /// One event per row of the mapping, its payload the row's type.
            pub Mapping {
                to_server {}
                to_client {
                    $(#[doc = concat!("The row `", $name, "`.")] $event($name): $ty,)*
                }
            }
        }
    };
}

rows! {
    StructRow("struct"): Point = Point { x: 1, y: -2 },
    OptionFields("option_fields"): Profile = Profile { name: "ada".into(), nick: None, age: None },
    OptionNone("option_none"): Option<i32> = None,
    OptionSome("option_some"): Option<i32> = Some(5),
    UnitVariant("unit_variant"): Shape = Shape::Empty,
    NewtypeVariant("newtype_variant"): Shape = Shape::Circle(0.5),
    StructVariant("struct_variant"): Shape = Shape::Rect { w: 3, h: 4 },
    TaggedEnum("tagged_enum"): Notice = Notice::Joined { name: "bob".into() },
    SmallI64("small_i64"): i64 = -42,
    LargeI64("large_i64"): i64 = (1 << 53) + 1,
    MaxU64("max_u64"): u64 = u64::MAX,
    Float("float"): f64 = 0.25,
    Bytes_("bytes"): Blob = Blob { data: vec![0, 1, 255] },
    VecU8("vec_u8"): Vec<u8> = vec![0, 1, 255],
    Tuple("tuple"): (u8, String, bool) = (7, "seven".into(), true),
    StringKeys("string_keys"): BTreeMap<String, i32> = BTreeMap::from([("a".into(), 1), ("b".into(), 2)]),
    IntKeys("int_keys"): HashMap<u32, String> = HashMap::from([(1, "one".into()), (2, "two".into())]),
    TupleKeys("tuple_keys"): Routes = Routes { hops: BTreeMap::from([((1, 2), "a".into())]) },
    Newtype("newtype"): Meters = Meters(1.5),
    Unit("unit"): () = (),
    Char("char"): char = 'é',
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    hisock::value::encode(value).unwrap_or_else(|err| panic!("a mapping sample encodes: {err}"))
}

fn compare<T: for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
    payload: &[u8],
    expected: T,
) -> Result<(), String> {
    let got: T = hisock::value::decode(payload).map_err(|err| err.to_string())?;
    if got == expected {
        Ok(())
    } else {
        Err(format!("got {got:?}, expected {expected:?}"))
    }
}

/// The rows' TypeScript declarations (the `Mapping` event map and its
/// types), as `hisock::typescript` writes them.
pub fn typescript() -> String {
    hisock::typescript::declarations::<Mapping>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_checks_against_itself() {
        for row in ROWS {
            let sample = sample(row).expect("a sample");
            assert_eq!(check(row, &sample), Ok(()), "{row}");
        }
    }

    /// The TypeScript types of the README's table.
    /// `ts` without its doc comments, on one line.
    fn without_docs(ts: &str) -> String {
        let mut out = String::new();
        let mut rest = ts;
        while let Some(start) = rest.find("/**") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("*/").expect("a closed comment");
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn the_generated_types_are_the_tables() {
        let ts = without_docs(&typescript());
        for (row, ty) in [
            ("struct", "Point"),
            ("option_none", "number | null"),
            ("large_i64", "number | bigint"),
            ("max_u64", "number | bigint"),
            ("float", "number"),
            ("bytes", "Blob"),
            ("vec_u8", "Array<number>"),
            ("tuple", "[number, string, boolean]"),
            ("string_keys", "{ [key in string]: number }"),
            ("int_keys", "{ [key in number]: string }"),
            ("newtype", "Meters"),
            ("unit", "null"),
            ("char", "string"),
        ] {
            let line = format!("{row:?}: {{ payload: {ty}; reply: null }};");
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(ts.contains(&line), "{line}\nin:\n{ts}");
        }
        for decl in [
            "export type Point = { x: number, y: number, };",
            "export type Profile = { name: string, nick: string | null, age?: number, };",
            r#"export type Shape = "Empty" | { "Circle": number } | { "Rect": { w: number, h: number, } };"#,
            r#"export type Notice = { "type": "Joined", name: string, } | { "type": "Left" };"#,
            "export type Blob = { data: Uint8Array, };",
            "export type Meters = number;",
            "export type Routes = { hops: Map<[number, number], string>, };",
        ] {
            let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(ts.contains(&decl), "{decl}\nin:\n{ts}");
        }
    }
}
