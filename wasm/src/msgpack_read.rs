//! Reading a MessagePack payload for the JS API, generic over what the
//! values become: in the browser, JS values built as they are read
//! (`js/value.rs`); natively, a plain tree that the fuzz target compares
//! with `rmpv`'s reading of the same bytes (`fuzzing.rs`). The rules (which
//! integers stay exact numbers, which maps can be plain objects, how deep
//! and how long input may be) are decided here, once.
//!
//! With one builder in a build, the generic code compiles to what a reader
//! written for that builder alone would be.

/// Most arrays, maps and ext values accepted inside each other: the
/// native side's limit ([`hisock::value::MAX_DEPTH`]), so that both accept
/// the same payloads.
pub const MAX_DEPTH: usize = hisock::value::MAX_DEPTH;

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub(crate) const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// What the reader's values become.
pub(crate) trait Build {
    /// A finished value.
    type Value;
    /// An array being filled.
    type Array;
    /// A map's key/value pairs being filled.
    type Pairs;

    fn null() -> Self::Value;
    fn bool(b: bool) -> Self::Value;
    /// A number: every float, and every integer that a double holds
    /// exactly.
    fn number(n: f64) -> Self::Value;
    /// An unsigned integer beyond [`MAX_SAFE`].
    fn big_uint(n: u64) -> Self::Value;
    /// A signed integer beyond ±[`MAX_SAFE`].
    fn big_int(n: i64) -> Self::Value;
    fn str(s: &str) -> Self::Value;
    /// A bin, or a str that is not UTF-8.
    fn bytes(bytes: &[u8]) -> Self::Value;
    fn ext(kind: i8, data: &[u8]) -> Self::Value;
    fn array(len: usize) -> Self::Array;
    fn array_set(array: &mut Self::Array, index: usize, item: Self::Value);
    fn array_end(array: Self::Array) -> Self::Value;
    fn pairs(len: usize) -> Self::Pairs;
    fn pair_set(pairs: &mut Self::Pairs, index: usize, key: Self::Value, value: Self::Value);
    /// The map, as a plain object when `plain` (every key a string, a
    /// number or a bool), else as a key/value map. `None` fails the read.
    fn map_end(pairs: Self::Pairs, plain: bool) -> Option<Self::Value>;
}

/// Reads the first value of `bytes` (bytes after it are ignored). `None`
/// when the input is truncated, malformed or has more than [`MAX_DEPTH`]
/// arrays, maps and ext values inside each other.
pub(crate) fn read<B: Build>(bytes: &[u8]) -> Option<B::Value> {
    Reader::<B> {
        rest: bytes,
        build: std::marker::PhantomData,
    }
    .value(0)
    .map(|(value, _)| value)
}

/// A cursor over the payload. Each read returns `None` at the end of the
/// input or on a malformed value; [`read`] reports that as one failure.
struct Reader<'a, B> {
    rest: &'a [u8],
    build: std::marker::PhantomData<B>,
}

impl<'a, B: Build> Reader<'a, B> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    /// The next `N` bytes, as big-endian bytes for `from_be_bytes`.
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// A length of `width` bytes (1, 2 or 4), as the `8/16/32` forms use.
    fn len(&mut self, width: u8) -> Option<usize> {
        Some(match width {
            1 => self.u8()?.into(),
            2 => u16::from_be_bytes(self.array()?).into(),
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    /// The next value, and whether it can be a plain object key (a string,
    /// a number or a bool). `depth`: the arrays, maps and ext values it is
    /// inside of.
    fn value(&mut self, depth: usize) -> Option<(B::Value, bool)> {
        let marker = self.u8()?;
        let value = match marker {
            0x00..=0x7f => B::number(marker.into()),
            0x80..=0x8f => return Some((self.map(usize::from(marker & 0x0f), depth)?, false)),
            0x90..=0x9f => return Some((self.array_of(usize::from(marker & 0x0f), depth)?, false)),
            0xa0..=0xbf => return self.str(usize::from(marker & 0x1f)),
            0xc0 => return Some((B::null(), false)),
            0xc2 => B::bool(false),
            0xc3 => B::bool(true),
            0xc4..=0xc6 => {
                let len = self.len(1 << (marker - 0xc4))?;
                return Some((B::bytes(self.take(len)?), false));
            }
            0xc7..=0xc9 => {
                let len = self.len(1 << (marker - 0xc7))?;
                return Some((self.ext(len, depth)?, false));
            }
            0xca => B::number(f32::from_be_bytes(self.array()?).into()),
            0xcb => B::number(f64::from_be_bytes(self.array()?)),
            0xcc => B::number(self.u8()?.into()),
            0xcd => B::number(u16::from_be_bytes(self.array()?).into()),
            0xce => B::number(u32::from_be_bytes(self.array()?).into()),
            0xcf => uint::<B>(u64::from_be_bytes(self.array()?)),
            0xd0 => B::number(i8::from_be_bytes(self.array()?).into()),
            0xd1 => B::number(i16::from_be_bytes(self.array()?).into()),
            0xd2 => B::number(i32::from_be_bytes(self.array()?).into()),
            0xd3 => sint::<B>(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => return Some((self.ext(1 << (marker - 0xd4), depth)?, false)),
            0xd9..=0xdb => {
                let len = self.len(1 << (marker - 0xd9))?;
                return self.str(len);
            }
            0xdc | 0xdd => {
                let len = self.len(2 << (marker - 0xdc))?;
                return Some((self.array_of(len, depth)?, false));
            }
            0xde | 0xdf => {
                let len = self.len(2 << (marker - 0xde))?;
                return Some((self.map(len, depth)?, false));
            }
            0xe0..=0xff => B::number((marker as i8).into()),
            // 0xc1 is never used.
            _ => return None,
        };
        Some((value, true))
    }

    fn str(&mut self, len: usize) -> Option<(B::Value, bool)> {
        let bytes = self.take(len)?;
        Some(match std::str::from_utf8(bytes) {
            Ok(s) => (B::str(s), true),
            Err(_) => (B::bytes(bytes), false),
        })
    }

    /// Whether one more array, map or ext value may nest at `depth`.
    fn may_nest(depth: usize) -> Option<()> {
        (depth < MAX_DEPTH).then_some(())
    }

    fn ext(&mut self, len: usize, depth: usize) -> Option<B::Value> {
        Self::may_nest(depth)?;
        let kind = self.u8()? as i8;
        let data = self.take(len)?;
        Some(B::ext(kind, data))
    }

    fn array_of(&mut self, len: usize, depth: usize) -> Option<B::Value> {
        Self::may_nest(depth)?;
        // Every element takes at least one byte: a bogus length fails here
        // instead of allocating.
        if len > self.rest.len() {
            return None;
        }
        let mut array = B::array(len);
        for i in 0..len {
            let item = self.value(depth + 1)?.0;
            B::array_set(&mut array, i, item);
        }
        Some(B::array_end(array))
    }

    fn map(&mut self, len: usize, depth: usize) -> Option<B::Value> {
        Self::may_nest(depth)?;
        if len > self.rest.len() {
            return None;
        }
        let mut pairs = B::pairs(len);
        let mut plain = true;
        for i in 0..len {
            let (key, plain_key) = self.value(depth + 1)?;
            plain &= plain_key;
            let value = self.value(depth + 1)?.0;
            B::pair_set(&mut pairs, i, key, value);
        }
        B::map_end(pairs, plain)
    }
}

/// A MessagePack uint 64 as a number when that is exact, else a big one.
fn uint<B: Build>(n: u64) -> B::Value {
    if n as f64 <= MAX_SAFE {
        B::number(n as f64)
    } else {
        B::big_uint(n)
    }
}

/// A MessagePack int 64 as a number when that is exact, else a big one.
fn sint<B: Build>(n: i64) -> B::Value {
    if n.unsigned_abs() as f64 <= MAX_SAFE {
        B::number(n as f64)
    } else {
        B::big_int(n)
    }
}
