//! The MessagePack forms the JS API writes, in their shortest encoding (as
//! the MessagePack spec asks and `rmp` does). A dozen lines of markers are
//! much smaller in the `.wasm` than a general MessagePack library.
//!
//! Measured with `scripts/build-npm.sh`: `rmp::encode` (into its `ByteBuf`,
//! whose writes cannot fail) in place of this file makes the npm package
//! 595 bytes larger gzipped (61,394 instead of 60,799 bytes; the `.wasm`
//! 1,688 bytes larger raw), which leaves 46 bytes of the 61,440-byte budget.

/// Appends `marker`, then the low `width` bytes of `value`, big-endian.
fn put(out: &mut Vec<u8>, marker: u8, value: u64, width: usize) {
    out.push(marker);
    out.extend_from_slice(&value.to_be_bytes()[8 - width..]);
}

pub fn nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

pub fn bool(out: &mut Vec<u8>, b: bool) {
    out.push(0xc2 | u8::from(b));
}

pub fn f64(out: &mut Vec<u8>, n: f64) {
    put(out, 0xcb, n.to_bits(), 8);
}

/// An integer: positive or negative fixint, else the narrowest uint/int.
pub fn int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        uint(out, n as u64);
    } else if n >= -32 {
        out.push(n as u8);
    } else {
        let (marker, width) = if n >= i8::MIN.into() {
            (0xd0, 1)
        } else if n >= i16::MIN.into() {
            (0xd1, 2)
        } else if n >= i32::MIN.into() {
            (0xd2, 4)
        } else {
            (0xd3, 8)
        };
        put(out, marker, n as u64, width);
    }
}

pub fn uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let (marker, width) = if n <= 0xff {
            (0xcc, 1)
        } else if n <= 0xffff {
            (0xcd, 2)
        } else if n <= 0xffff_ffff {
            (0xce, 4)
        } else {
            (0xcf, 8)
        };
        put(out, marker, n, width);
    }
}

/// A length header: the fix form (`fix_marker | len`) when `len` is below
/// `fix_limit`, else the 8-bit form (if the type has one: `marker8` not 0),
/// else the 16-bit form `marker16`, else the 32-bit form right after it.
fn header(
    out: &mut Vec<u8>,
    len: usize,
    fix_marker: u8,
    fix_limit: usize,
    marker8: u8,
    marker16: u8,
) {
    let len64 = len as u64;
    if len < fix_limit {
        out.push(fix_marker | len as u8);
    } else if marker8 != 0 && len <= 0xff {
        put(out, marker8, len64, 1);
    } else if len <= 0xffff {
        put(out, marker16, len64, 2);
    } else {
        put(out, marker16 + 1, len64, 4);
    }
}

pub fn str(out: &mut Vec<u8>, s: &str) {
    header(out, s.len(), 0xa0, 32, 0xd9, 0xda);
    out.extend_from_slice(s.as_bytes());
}

/// The header of a bin of `len` bytes (the caller appends them).
pub fn bin_header(out: &mut Vec<u8>, len: usize) {
    header(out, len, 0, 0, 0xc4, 0xc5);
}

pub fn array_header(out: &mut Vec<u8>, len: usize) {
    header(out, len, 0x90, 16, 0, 0xdc);
}

pub fn map_header(out: &mut Vec<u8>, len: usize) {
    header(out, len, 0x80, 16, 0, 0xde);
}
