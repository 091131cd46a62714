//! Address utilities HiSock users had: the machine's local IP and parsing of
//! `host:port` with clear errors (not in the browser build, which has no
//! sockets and no DNS), and [`parse_socket_addr`] for the `ip:port` text
//! that peers send.

#[cfg(not(target_arch = "wasm32"))]
use std::net::{IpAddr, ToSocketAddrs};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, Result};

/// Parses `"ip:port"`, `"[v6]:port"` or `"hostname:port"` (resolved with the
/// system resolver) into a socket address.
///
/// Errors with [`Error::InvalidAddress`] saying what is wrong: a missing
/// port, a port that is not a number in 1–65535, an empty host, a host that
/// does not resolve.
///
/// ```
/// let addr = hisock::parse_addr("127.0.0.1:6969").unwrap();
/// assert_eq!(addr.port(), 6969);
/// assert!(hisock::parse_addr("127.0.0.1").is_err());
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn parse_addr(input: &str) -> Result<SocketAddr> {
    let invalid = |reason: &str| Error::InvalidAddress {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = input.trim();
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(invalid("port 0 is not a valid port to connect to"));
        }
        return Ok(addr);
    }
    let Some((host, port)) = trimmed.rsplit_once(':') else {
        return Err(invalid("missing port: expected host:port"));
    };
    if host.is_empty() {
        return Err(invalid("missing host before ':'"));
    }
    if host.contains(':') && !host.starts_with('[') {
        return Err(invalid("IPv6 addresses must be written as [addr]:port"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("port must be a number from 1 to 65535"))?;
    if port == 0 {
        return Err(invalid("port 0 is not a valid port to connect to"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|err| invalid(&format!("host does not resolve: {err}")))?
        .next()
        .ok_or_else(|| invalid("host resolves to no address"))
}

/// The machine's first non-loopback IPv4 address, or 127.0.0.1 when it has
/// none (HiSock's `get_local_ip`). Reads the interface list; sends nothing.
#[cfg(not(target_arch = "wasm32"))]
pub fn local_ip() -> IpAddr {
    if let Ok(interfaces) = if_addrs::get_if_addrs() {
        if let Some(ip) = interfaces
            .iter()
            .filter(|i| !i.is_loopback())
            .map(|i| i.ip())
            .find(|ip| ip.is_ipv4())
        {
            return ip;
        }
    }
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// Parses the `ip:port` text of an address as hisock peers send it (Rust's
/// `Display` of a `SocketAddr`: `1.2.3.4:5`, `[::1]:5`, `[fe80::1%2]:5`);
/// `None` for anything else. No host names, no DNS.
///
/// Natively this is std's parser. The browser build uses the small parser
/// below instead: std's is several kilobytes of the gzipped `.wasm`.
///
/// ```
/// let addr = hisock::addr::parse_socket_addr("[::1]:80").unwrap();
/// assert_eq!(addr.port(), 80);
/// assert!(hisock::addr::parse_socket_addr("localhost:80").is_none());
/// ```
pub fn parse_socket_addr(text: &str) -> Option<SocketAddr> {
    #[cfg(not(target_arch = "wasm32"))]
    return text.parse().ok();
    #[cfg(target_arch = "wasm32")]
    small_socket_addr(text)
}

/// `ip:port` or `[ip6%scope]:port`, written out by hand. It works on bytes:
/// `str` slicing and searching would pull their own panic formatting into
/// the `.wasm`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn small_socket_addr(text: &str) -> Option<SocketAddr> {
    let text = text.as_bytes();
    let colon = text.iter().rposition(|&c| c == b':')?;
    let (host, port) = (&text[..colon], &text[colon + 1..]);
    let port = u16::try_from(decimal(port)?).ok()?;
    match host {
        [b'[', inner @ .., b']'] => {
            let (ip, scope) = match inner.iter().position(|&c| c == b'%') {
                Some(i) => (&inner[..i], decimal(&inner[i + 1..])?),
                None => (inner, 0),
            };
            Some(SocketAddrV6::new(ipv6(ip)?, port, 0, scope).into())
        }
        _ => Some(SocketAddrV4::new(ipv4(host)?, port).into()),
    }
}

/// A decimal `u32`: digits only, no sign, no leading zero.
fn decimal(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || (text.len() > 1 && text[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for &digit in text {
        n = n * 10 + u64::from(char::from(digit).to_digit(10)?);
    }
    u32::try_from(n).ok()
}

fn ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0_u8; 4];
    let mut parts = text.split(|&c| c == b'.');
    for octet in &mut octets {
        *octet = u8::try_from(decimal(parts.next()?)?).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// Eight hex groups, at most one `::` standing for one or more zero groups,
/// the last two groups possibly written as an IPv4 address.
fn ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    let mut head = [0_u16; 8];
    let mut tail = [0_u16; 8];
    let tail_len = match text.windows(2).position(|pair| pair == b"::") {
        Some(i) => {
            let head_len = groups(&text[..i], false, &mut head)?;
            let tail_len = groups(&text[i + 2..], true, &mut tail)?;
            if head_len + tail_len > 7 {
                return None;
            }
            tail_len
        }
        None => {
            groups(text, true, &mut head).filter(|&n| n == 8)?;
            0
        }
    };
    head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    Some(Ipv6Addr::from(head))
}

/// Reads `:`-separated hex groups (an IPv4 address as the last two when
/// `last`) into `out`; returns how many.
fn groups(text: &[u8], last: bool, out: &mut [u16; 8]) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let mut parts = text.split(|&c| c == b':').peekable();
    while let Some(part) = parts.next() {
        if last && parts.peek().is_none() && part.contains(&b'.') {
            let [a, b, c, d] = ipv4(part)?.octets();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(
            parse_addr("127.0.0.1:80").expect("v4"),
            "127.0.0.1:80".parse().expect("addr")
        );
        assert_eq!(parse_addr("[::1]:80").expect("v6").port(), 80);
        assert_eq!(parse_addr(" localhost:7 ").expect("name").port(), 7);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let msg = |s: &str| parse_addr(s).expect_err(s).to_string();
        assert!(msg("127.0.0.1").contains("missing port"));
        assert!(msg(":80").contains("missing host"));
        assert!(msg("host:99999").contains("1 to 65535"));
        assert!(msg("host:abc").contains("1 to 65535"));
        assert!(msg("127.0.0.1:0").contains("port 0"));
        assert!(msg("::1:80").contains("[addr]:port"));
    }

    #[test]
    fn the_small_parser_reads_what_display_writes() {
        let fixed = [
            "1.2.3.4:5",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::]:1",
            "[::1]:80",
            "[1::]:80",
            "[2001:db8::1:0:0:1]:443",
            "[1:2:3:4:5:6:7:8]:9",
            "[::ffff:10.0.0.1]:8080",
            "[fe80::abcd:ef01%7]:22",
        ];
        for text in fixed {
            assert_eq!(small_socket_addr(text), text.parse().ok(), "{text}");
        }
        // Random addresses, with runs of zero groups, through Display.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let port = next() as u16;
            let addr: SocketAddr = if next() % 2 == 0 {
                SocketAddrV4::new(Ipv4Addr::from(next() as u32), port).into()
            } else {
                let mut segments = [0_u16; 8];
                for segment in &mut segments {
                    *segment = if next() % 3 == 0 { next() as u16 } else { 0 };
                }
                let scope = if next() % 4 == 0 { next() as u32 } else { 0 };
                SocketAddrV6::new(Ipv6Addr::from(segments), port, 0, scope).into()
            };
            assert_eq!(small_socket_addr(&addr.to_string()), Some(addr), "{addr}");
        }
    }

    #[test]
    fn the_small_parser_refuses_what_std_refuses() {
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
            "localhost:80",
        ];
        for text in bad {
            assert_eq!(text.parse::<SocketAddr>().ok(), None, "std accepts {text}");
            assert_eq!(small_socket_addr(text), None, "{text}");
        }
    }

    #[test]
    fn local_ip_is_an_ipv4_address() {
        assert!(local_ip().is_ipv4());
    }
}
