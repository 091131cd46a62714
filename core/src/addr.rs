//! Address utilities HiSock users had: the machine's local IP and parsing of
//! `host:port` with clear errors (not in the browser build, which has no
//! sockets and no DNS), and [`parse_socket_addr`] / [`format_socket_addr`]
//! for the `ip:port` text that peers send.

use std::net::SocketAddr;
#[cfg(not(target_arch = "wasm32"))]
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

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
/// Natively this is std's parser; the browser build has a small one of its
/// own (std's is several kilobytes of the gzipped `.wasm`).
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
    crate::platform::addr_text::parse_socket_addr(text)
}

/// Writes `addr` as text exactly as its `Display` does (`1.2.3.4:5`,
/// `[::1]:5`, `[fe80::1%2]:5`): what [`parse_socket_addr`] reads.
///
/// Natively this is `addr.to_string()`; the browser build has a small
/// formatter of its own (std's is about 2 KB of the gzipped `.wasm`).
///
/// ```
/// let addr = "[::1]:80".parse().unwrap();
/// assert_eq!(hisock::addr::format_socket_addr(&addr), "[::1]:80");
/// ```
pub fn format_socket_addr(addr: &SocketAddr) -> String {
    #[cfg(not(target_arch = "wasm32"))]
    return addr.to_string();
    #[cfg(target_arch = "wasm32")]
    crate::platform::addr_text::format_socket_addr(addr)
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
    fn local_ip_is_an_ipv4_address() {
        assert!(local_ip().is_ipv4());
    }
}
