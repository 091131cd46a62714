//! Socket addresses as text, read and written by hand for the browser build:
//! std's address parser and formatter are several kilobytes of the gzipped
//! `.wasm` each. Both follow std exactly (tested against it below), so the
//! public [`parse_socket_addr`](crate::addr::parse_socket_addr) and
//! [`format_socket_addr`](crate::addr::format_socket_addr) use std natively
//! and these in the browser with the same results.
//!
//! Both work on bytes and push `char`s: `str` slicing and searching, and
//! each integer type's `Display`, would pull their own panic and formatting
//! code into the `.wasm`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// `ip:port` or `[ip6%scope]:port`, as std's `SocketAddr::from_str` reads
/// them; `None` for anything else (no host names).
pub(crate) fn parse_socket_addr(text: &str) -> Option<SocketAddr> {
    let text = text.as_bytes();
    let colon = text.iter().rposition(|&c| c == b':')?;
    let (host, port) = (&text[..colon], &text[colon + 1..]);
    let port = u16::try_from(parse_decimal(port, true)?).ok()?;
    match host {
        [b'[', inner @ .., b']'] => {
            let (ip, scope) = match inner.iter().position(|&c| c == b'%') {
                Some(i) => (&inner[..i], parse_decimal(&inner[i + 1..], true)?),
                None => (inner, 0),
            };
            Some(SocketAddrV6::new(parse_ipv6(ip)?, port, 0, scope).into())
        }
        _ => Some(SocketAddrV4::new(parse_ipv4(host)?, port).into()),
    }
}

/// A decimal `u32`, digits only (no sign), as std reads them: a port or a
/// scope id may have leading zeros (`1.2.3.4:08`), an IPv4 octet may not.
fn parse_decimal(text: &[u8], leading_zeros: bool) -> Option<u32> {
    if text.is_empty() || (!leading_zeros && text.len() > 1 && text[0] == b'0') {
        return None;
    }
    let mut n: u32 = 0;
    for &digit in text {
        n = n
            .checked_mul(10)?
            .checked_add(char::from(digit).to_digit(10)?)?;
    }
    Some(n)
}

fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0_u8; 4];
    let mut parts = text.split(|&c| c == b'.');
    for octet in &mut octets {
        *octet = u8::try_from(parse_decimal(parts.next()?, false)?).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// Eight hex groups, at most one `::` standing for one or more zero groups,
/// the last two groups possibly written as an IPv4 address.
fn parse_ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    let mut head = [0_u16; 8];
    let mut tail = [0_u16; 8];
    let tail_len = match text.windows(2).position(|pair| pair == b"::") {
        Some(i) => {
            let head_len = parse_groups(&text[..i], false, &mut head)?;
            let tail_len = parse_groups(&text[i + 2..], true, &mut tail)?;
            if head_len + tail_len > 7 {
                return None;
            }
            tail_len
        }
        None => {
            parse_groups(text, true, &mut head).filter(|&n| n == 8)?;
            0
        }
    };
    head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    Some(Ipv6Addr::from(head))
}

/// Reads `:`-separated hex groups (an IPv4 address as the last two when
/// `last`) into `out`; returns how many.
fn parse_groups(text: &[u8], last: bool, out: &mut [u16; 8]) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let mut parts = text.split(|&c| c == b':').peekable();
    while let Some(part) = parts.next() {
        if last && parts.peek().is_none() && part.contains(&b'.') {
            let [a, b, c, d] = parse_ipv4(part)?.octets();
            *out.get_mut(n)? = u16::from_be_bytes([a, b]);
            *out.get_mut(n + 1)? = u16::from_be_bytes([c, d]);
            n += 2;
        } else {
            if part.is_empty() || part.len() > 4 {
                return None;
            }
            let mut group = 0_u16;
            for &digit in part {
                group = group << 4 | char::from(digit).to_digit(16)? as u16;
            }
            *out.get_mut(n)? = group;
            n += 1;
        }
    }
    Some(n)
}

/// `addr` as `ip:port` or `[ip6%scope]:port`, exactly as std's `Display`
/// writes it (RFC 5952 zero compression, `::ffff:` mapped IPv4 addresses
/// in dotted form).
pub(crate) fn format_socket_addr(addr: &SocketAddr) -> String {
    let mut out = String::new();
    match addr {
        SocketAddr::V4(addr) => push_ipv4(&mut out, addr.ip()),
        SocketAddr::V6(addr) => {
            out.push('[');
            let ip = addr.ip();
            match ip.to_ipv4_mapped() {
                Some(v4) => {
                    out.push_str("::ffff:");
                    push_ipv4(&mut out, &v4);
                }
                None => push_ipv6_segments(&mut out, &ip.segments()),
            }
            if addr.scope_id() != 0 {
                out.push('%');
                push_decimal(&mut out, addr.scope_id());
            }
            out.push(']');
        }
    }
    out.push(':');
    push_decimal(&mut out, addr.port().into());
    out
}

fn push_ipv4(out: &mut String, ip: &Ipv4Addr) {
    for (i, octet) in ip.octets().iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, (*octet).into());
    }
}

/// The eight groups in lowercase hex; the longest run of two or more zero
/// groups (the first of equal runs) becomes `::`.
fn push_ipv6_segments(out: &mut String, segments: &[u16; 8]) {
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
        push_hex(out, segment);
    }
}

fn push_decimal(out: &mut String, mut n: u32) {
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

fn push_hex(out: &mut String, n: u16) {
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
    use super::*;

    /// xorshift64: the same pseudo-random cases on every run.
    fn numbers() -> impl FnMut() -> u64 {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Random addresses, IPv6 ones with runs of zero groups and scopes.
    fn random_addrs(count: usize) -> Vec<SocketAddr> {
        let mut next = numbers();
        (0..count)
            .map(|_| {
                let port = next() as u16;
                if next() % 2 == 0 {
                    SocketAddrV4::new(Ipv4Addr::from(next() as u32), port).into()
                } else {
                    let mut segments = [0_u16; 8];
                    for segment in &mut segments {
                        *segment = if next() % 3 == 0 { next() as u16 } else { 0 };
                    }
                    let scope = if next() % 4 == 0 { next() as u32 } else { 0 };
                    SocketAddrV6::new(Ipv6Addr::from(segments), port, 0, scope).into()
                }
            })
            .collect()
    }

    /// Addresses whose text has a special form: zero runs of every length
    /// and place, mapped and compatible IPv4, scopes, extremes.
    const FIXED: [&str; 14] = [
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

    #[test]
    fn the_parser_reads_what_display_writes() {
        for text in FIXED.iter().copied().chain(["[1:2:3:4:5:6:7:8]:9"]) {
            assert_eq!(parse_socket_addr(text), text.parse().ok(), "{text}");
        }
        for addr in random_addrs(5_000) {
            assert_eq!(parse_socket_addr(&addr.to_string()), Some(addr), "{addr}");
        }
    }

    #[test]
    fn the_parser_refuses_what_std_refuses() {
        let bad = [
            "",
            ":",
            "1.2.3.4",
            "1.2.3:4",
            "1.2.3.4.5:6",
            "01.2.3.4:5",
            "256.1.1.1:5",
            "1.2.3.4:65536",
            "1.2.3.4:+5",
            "1.2.3.4:-5",
            "[::1]",
            "::1:80",
            "[1:2:3:4:5:6:7]:1",
            "[1:2:3:4:5:6:7:8:9]:1",
            "[1:2:3:4:5:6:7:8::]:1",
            "[1::2::3]:1",
            "[12345::]:1",
            "[g::]:1",
            "[:1::]:1",
            "[1.2.3.4::]:1",
            "[::1%]:1",
            "[::1%+1]:1",
            "1.2.3.4:",
            "1.2.3.4:4294967301",
            "localhost:80",
        ];
        for text in bad {
            assert_eq!(text.parse::<SocketAddr>().ok(), None, "std accepts {text}");
            assert_eq!(parse_socket_addr(text), None, "{text}");
        }
    }

    /// What this parser once refused and std reads: leading zeros in a port
    /// or a scope id (never in an IPv4 octet).
    #[test]
    fn leading_zeros_in_a_port_or_scope_id_are_read_as_std_reads_them() {
        for text in [
            "1.2.3.4:05",
            "1.2.3.4:00000000000080",
            "[fe80::1%02]:3",
            "[fe80::1%00]:3",
            "[::1]:065535",
            "01.2.3.4:5",
            "[::01.2.3.4]:5",
            "1.2.3.4:065536",
        ] {
            assert_eq!(parse_socket_addr(text), text.parse().ok(), "{text}");
        }
    }

    /// Random text over the characters addresses are made of, and the
    /// text of addresses with a few characters inserted, removed or
    /// replaced: std and this parser accept and refuse the same, and read
    /// the same address.
    #[test]
    fn the_parser_agrees_with_std_on_random_and_mutated_text() {
        let alphabet = b"0123456789abcdefABCDEFg:.[]%+- ";
        let mut next = numbers();
        for round in 0..200_000 {
            let mut text: Vec<u8> = if round % 2 == 0 {
                Vec::new()
            } else {
                FIXED[(next() % FIXED.len() as u64) as usize].into()
            };
            let edits = if round % 2 == 0 {
                next() % 24
            } else {
                1 + next() % 3
            };
            for _ in 0..edits {
                let at = (next() % (text.len() as u64 + 1)) as usize;
                let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    1 if at < text.len() => drop(text.remove(at)),
                    2 if at < text.len() => text[at] = byte,
                    _ => text.insert(at, byte),
                }
            }
            let text = String::from_utf8(text).expect("ASCII");
            assert_eq!(parse_socket_addr(&text), text.parse().ok(), "{text:?}");
        }
    }

    #[test]
    fn the_formatter_writes_what_display_writes() {
        for text in FIXED {
            let addr: SocketAddr = text.parse().expect(text);
            assert_eq!(format_socket_addr(&addr), addr.to_string(), "{text}");
        }
        for addr in random_addrs(5_000) {
            assert_eq!(format_socket_addr(&addr), addr.to_string(), "{addr}");
        }
    }

    #[test]
    fn the_parser_reads_what_the_formatter_writes() {
        for addr in random_addrs(5_000) {
            let text = format_socket_addr(&addr);
            assert_eq!(parse_socket_addr(&text), Some(addr), "{text}");
        }
    }
}
