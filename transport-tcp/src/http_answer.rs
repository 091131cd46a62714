//! What a hisock TCP port says to a web client. A browser's WebSocket, a
//! page's `fetch` or `curl` that reaches a TCP port speaks HTTP, and its
//! request line read as a length prefix ("GET " is 1,195,725,856) is a
//! frame far past any limit, refused as too big. Instead of a hisock frame
//! the peer cannot read, the port answers one HTTP `400` that says what it
//! is, with CORS headers so a page can read it: the npm client's `connect`
//! reports such a URL as `tcp_port` ("a hisock TCP port, not a WebSocket
//! endpoint"), and the Rust WebSocket client says so too.
//!
//! The reader notices the request only on its too-big path, and the
//! writer checks one shared flag per batch: frames pay nothing per frame.
//! The connection is otherwise served as before (the server's refusal for
//! a too-big frame is what the writer replaces with the answer), so a
//! silent peer still gets the handshake timeout's refusal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::BytesMut;

/// The first four bytes of the HTTP methods a client may open with.
const METHODS: [&[u8; 4]; 9] = [
    b"GET ", b"HEAD", b"POST", b"PUT ", b"OPTI", b"DELE", b"PATC", b"CONN", b"TRAC",
];

/// What the body of the answer says (and what clients look for).
pub const TCP_PORT_NOTICE: &str = "this is a hisock TCP port, not an HTTP or WebSocket endpoint: \
     connect with a hisock TCP client, or from a browser to the server's WebSocket endpoint";

/// True when four bytes read as a frame's length are an HTTP request's
/// start: an HTTP method, read as a length past `max_frame_len` (so no
/// frame the server would accept is ever mistaken for one).
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

/// Shared by a connection's reader and writer: whether the peer turned out
/// to speak HTTP, and whether the answer went out.
#[derive(Clone, Default)]
pub(crate) struct HttpPeer(Arc<HttpPeerState>);

#[derive(Default)]
struct HttpPeerState {
    noticed: AtomicBool,
    answered: AtomicBool,
}

impl HttpPeer {
    /// The reader's part: `head`, refused as a frame length, may be an
    /// HTTP request's start.
    pub(crate) fn notice(&self, head: [u8; 4], max_frame_len: usize) {
        if is_http_request(head, max_frame_len) {
            self.0.noticed.store(true, Ordering::Release);
        }
    }

    /// The writer's part, before it writes a batch: once the peer is known
    /// to speak HTTP, the batch (frames it cannot read) becomes the answer,
    /// once, and later batches nothing.
    pub(crate) fn replace_frames(&self, batch: &mut BytesMut) {
        if !self.0.noticed.load(Ordering::Acquire) {
            return;
        }
        batch.clear();
        if !self.0.answered.swap(true, Ordering::AcqRel) {
            batch.extend_from_slice(answer().as_bytes());
        }
    }
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
    fn the_writer_sends_the_answer_once_instead_of_frames() {
        let peer = HttpPeer::default();
        let mut batch = BytesMut::from(&b"\0\0\0\x02ab"[..]);
        peer.replace_frames(&mut batch);
        assert_eq!(
            &batch[..],
            b"\0\0\0\x02ab",
            "frames go out while nothing is noticed"
        );
        peer.notice(16u32.to_be_bytes(), DEFAULT_MAX_FRAME_LEN);
        peer.replace_frames(&mut batch);
        assert_eq!(
            &batch[..],
            b"\0\0\0\x02ab",
            "a frame length is no HTTP request"
        );
        peer.notice(*b"GET ", DEFAULT_MAX_FRAME_LEN);
        peer.replace_frames(&mut batch);
        assert_eq!(batch, answer().as_bytes());
        let mut later = BytesMut::from(&b"\0\0\0\x01z"[..]);
        peer.replace_frames(&mut later);
        assert!(later.is_empty(), "the answer goes once, frames never");
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
