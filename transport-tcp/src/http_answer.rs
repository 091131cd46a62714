//! What a hisock TCP port says to a web client. A browser's WebSocket, a
//! page's `fetch` or `curl` that reaches a TCP port speaks HTTP, and its
//! request line read as a length prefix ("GET " is 1,195,725,856) is a
//! frame far past any limit. Instead of dropping the connection without a
//! word, the listener answers one HTTP `400` that says what the port is,
//! with CORS headers so a page can read it: the npm client's `connect`
//! reports such a URL as `tcp_port` ("a hisock TCP port, not a WebSocket
//! endpoint"), and the Rust WebSocket client quotes the body.
//!
//! The check runs once, on a connection's first four bytes, before the
//! framing starts; frames pay nothing for it.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use hisock::TransportError;

/// The first four bytes of the HTTP methods a client may open with.
const METHODS: [&[u8; 4]; 9] = [
    b"GET ", b"HEAD", b"POST", b"PUT ", b"OPTI", b"DELE", b"PATC", b"CONN", b"TRAC",
];

/// What the body of the answer says (and what clients look for).
pub const TCP_PORT_NOTICE: &str = "this is a hisock TCP port, not an HTTP or WebSocket endpoint: \
     connect with a hisock TCP client, or from a browser to the server's WebSocket endpoint";

/// True when a connection's first four bytes are an HTTP request's, not a
/// frame's length: an HTTP method, read as a length past `max_frame_len`
/// (so no frame the server would accept is ever mistaken for one).
pub(crate) fn is_http_request(head: [u8; 4], max_frame_len: usize) -> bool {
    u32::from_be_bytes(head) as usize > max_frame_len && METHODS.contains(&&head)
}

/// The whole answer: status, headers (readable by any page's `fetch`:
/// `Access-Control-Allow-Origin: *`, the `X-Hisock` header exposed), body.
pub(crate) fn answer() -> String {
    format!(
        "HTTP/1.1 400 Bad Request\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Access-Control-Allow-Origin: *\r\n\
         Access-Control-Expose-Headers: X-Hisock\r\n\
         X-Hisock: tcp\r\n\
         Connection: close\r\n\
         Content-Length: {}\r\n\r\n{}\n",
        TCP_PORT_NOTICE.len() + 1,
        TCP_PORT_NOTICE
    )
}

/// Reads a connection's first four bytes. When they open an HTTP request,
/// answers it (see [`answer`]) and fails; otherwise returns them for the
/// frame reader to start from.
pub(crate) async fn first_bytes<R, W>(
    read: &mut R,
    write: &mut W,
    max_frame_len: usize,
) -> Result<[u8; 4], TransportError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut head = [0; 4];
    read.read_exact(&mut head).await?;
    if !is_http_request(head, max_frame_len) {
        return Ok(head);
    }
    // Best effort: the request's remaining bytes stay unread, which is
    // fine for a connection that closes right after the answer.
    let _ = write.write_all(answer().as_bytes()).await;
    let _ = write.shutdown().await;
    Err(TransportError::Other(
        "an HTTP request reached a hisock TCP port; answered 400".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hisock::frame::DEFAULT_MAX_FRAME_LEN;

    #[test]
    fn http_methods_are_told_from_frame_lengths() {
        for method in METHODS {
            assert!(
                is_http_request(*method, DEFAULT_MAX_FRAME_LEN),
                "{method:?}"
            );
        }
        // A real frame's length, and a length past the limit that is no
        // method (refused later as too big, not answered).
        assert!(!is_http_request(16u32.to_be_bytes(), DEFAULT_MAX_FRAME_LEN));
        assert!(!is_http_request(
            *b"\xff\xff\xff\xff",
            DEFAULT_MAX_FRAME_LEN
        ));
        // A server that accepts frames that large never mistakes one.
        assert!(!is_http_request(*b"GET ", usize::MAX));
    }

    #[test]
    fn the_answer_is_well_formed_http() {
        let answer = answer();
        let (head, body) = answer.split_once("\r\n\r\n").expect("headers end");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("a length");
        assert_eq!(length, body.len());
        assert!(body.contains("hisock TCP port"));
    }
}
