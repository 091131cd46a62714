//! Socket addresses as text (`ClientInfo.addr` in JS), written exactly as
//! Rust's `Display` writes them (`1.2.3.4:5`, `[::1]:5`, RFC 5952 zero
//! compression, `[fe80::1%2]:5`), by a few lines here: std's own address
//! formatting is about 2 KB of the gzipped `.wasm`.

use std::net::{Ipv4Addr, SocketAddr};

/// `addr` as `ip:port` or `[ip6]:port`.
pub fn text(addr: &SocketAddr) -> String {
    let mut out = String::new();
    match addr {
        SocketAddr::V4(addr) => ipv4(&mut out, addr.ip()),
        SocketAddr::V6(addr) => {
            out.push('[');
            let ip = addr.ip();
            match ip.to_ipv4_mapped() {
                Some(v4) => {
                    out.push_str("::ffff:");
                    ipv4(&mut out, &v4);
                }
                None => ipv6_segments(&mut out, &ip.segments()),
            }
            if addr.scope_id() != 0 {
                out.push('%');
                decimal(&mut out, addr.scope_id());
            }
            out.push(']');
        }
    }
    out.push(':');
    decimal(&mut out, addr.port().into());
    out
}

fn ipv4(out: &mut String, ip: &Ipv4Addr) {
    for (i, octet) in ip.octets().iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        decimal(out, (*octet).into());
    }
}

/// The eight groups in lowercase hex; the longest run of two or more zero
/// groups (the first of equal runs) becomes `::`.
fn ipv6_segments(out: &mut String, segments: &[u16; 8]) {
    let (mut start, mut len) = (0, 0);
    let mut run_start = 0;
    for (i, &segment) in segments.iter().enumerate() {
        if segment != 0 {
            run_start = i + 1;
        } else if i + 1 - run_start > len {
            (start, len) = (run_start, i + 1 - run_start);
        }
    }
    if len < 2 {
        (start, len) = (8, 0);
    }
    for (i, &segment) in segments.iter().enumerate() {
        if i == start {
            out.push_str("::");
        }
        if (start..start + len).contains(&i) {
            continue;
        }
        if i > 0 && i != start + len {
            out.push(':');
        }
        hex(out, segment);
    }
}

/// `n` in decimal, without the formatting machinery (each integer type's
/// `Display` is its own code in the `.wasm`).
fn decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

fn hex(out: &mut String, n: u16) {
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let digit = (n >> shift) & 0xf;
        if digit != 0 || started || shift == 0 {
            started = true;
            out.push(char::from(b"0123456789abcdef"[usize::from(digit)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::text;
    use std::net::SocketAddr;

    #[test]
    fn matches_std_display_for_v4_v6_mapped_and_scoped_addresses() {
        let cases = [
            "1.2.3.4:5",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::]:1",
            "[::1]:80",
            "[1::]:80",
            "[2001:db8::1:0:0:1]:443",
            "[2001:db8:0:1:1:1:1:1]:443",
            "[1:0:0:2:0:0:0:3]:9",
            "[1:0:2:0:3:0:4:0]:9",
            "[::ffff:10.0.0.1]:8080",
            "[::10.0.0.1]:8080",
            "[fe80::abcd:ef01%7]:22",
            "[abcd:ef01:2345:6789:abcd:ef01:2345:6789]:1",
        ];
        for case in cases {
            let addr: SocketAddr = case.parse().expect(case);
            assert_eq!(text(&addr), addr.to_string(), "{case}");
        }
    }
}
