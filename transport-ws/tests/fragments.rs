//! Frames longer than twice the fragment size (64 KiB with the default
//! write buffer) go out as one WebSocket message in 64 KiB fragments, so
//! neither side's buffers grow to the size of the largest frame. Checked on the wire (a raw reader
//! parses the frame headers) and end to end (tungstenite reassembles the
//! fragments into the same frame), from the server side (unmasked) and the
//! client side (masked).

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::{Connection, TransportKind};
use hisock_test_support::{loopback_pair, within};
use hisock_ws::{ws_connection, WsConfig};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

const WRITE_BUFFER: usize = 8 * 1024;
/// The fragment size for write buffers up to 64 KiB.
const FRAGMENT: usize = 64 * 1024;
const MAX_FRAME_LEN: usize = 4 * 1024 * 1024;

/// A hisock connection over `socket` in `role`, with an 8 KiB write buffer.
async fn hisock_side(socket: TcpStream, role: Role) -> Connection {
    let config = WsConfig::new()
        .write_buffer_size(WRITE_BUFFER)
        .websocket_config(MAX_FRAME_LEN);
    let ws = WebSocketStream::from_raw_socket(socket, role, Some(config)).await;
    ws_connection(ws, MAX_FRAME_LEN, TransportKind::Ws)
}

/// A frame whose bytes say where they are.
fn numbered_frame(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// One WebSocket frame as read off the wire.
#[derive(Debug)]
struct WireFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// Reads one WebSocket frame (RFC 6455 section 5.2), unmasking it.
async fn read_wire_frame(socket: &mut TcpStream) -> WireFrame {
    let mut head = [0u8; 2];
    socket.read_exact(&mut head).await.expect("frame header");
    let len = match head[1] & 0x7f {
        126 => u64::from(socket.read_u16().await.expect("16-bit length")),
        127 => socket.read_u64().await.expect("64-bit length"),
        short => u64::from(short),
    };
    let mask = match head[1] & 0x80 != 0 {
        true => {
            let mut key = [0u8; 4];
            socket.read_exact(&mut key).await.expect("mask key");
            Some(key)
        }
        false => None,
    };
    let mut payload = vec![0u8; usize::try_from(len).expect("fits")];
    socket.read_exact(&mut payload).await.expect("payload");
    if let Some(key) = mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    WireFrame {
        fin: head[0] & 0x80 != 0,
        opcode: head[0] & 0x0f,
        payload,
    }
}

/// Reads one whole binary message, checking that the opcodes follow
/// RFC 6455 and, if it came in fragments, that each is at most
/// [`FRAGMENT`] long.
/// Returns the message and how many fragments it came in.
async fn read_wire_message(socket: &mut TcpStream) -> (Vec<u8>, usize) {
    let mut message = Vec::new();
    let mut fragments = 0;
    loop {
        let frame = read_wire_frame(socket).await;
        let expected_opcode = if fragments == 0 { 2 } else { 0 };
        assert_eq!(frame.opcode, expected_opcode, "fragment {fragments}");
        let fragmented = fragments > 0 || !frame.fin;
        assert!(
            !fragmented || frame.payload.len() <= FRAGMENT,
            "fragment {fragments} is {} bytes",
            frame.payload.len()
        );
        message.extend_from_slice(&frame.payload);
        fragments += 1;
        if frame.fin {
            return (message, fragments);
        }
    }
}

async fn sends_large_frames_in_fragments(role: Role) {
    let (ours, mut raw) = loopback_pair().await;
    let mut conn = hisock_side(ours, role).await;
    let large = numbered_frame(300 * 1024 + 7);
    let small = Bytes::from_static(b"small frame after the large one");
    let at_threshold = numbered_frame(2 * FRAGMENT);
    let over_threshold = numbered_frame(2 * FRAGMENT + 1);
    for frame in [&large, &small, &at_threshold, &over_threshold] {
        conn.sink.send(frame.clone()).await.expect("sends");
    }

    within("the frames", async {
        let (message, fragments) = read_wire_message(&mut raw).await;
        assert_eq!(message, large.as_ref());
        assert_eq!(fragments, large.len().div_ceil(FRAGMENT));
        assert_eq!(read_wire_message(&mut raw).await, (small.to_vec(), 1));
        // Up to twice the fragment size: still one unfragmented message.
        assert_eq!(
            read_wire_message(&mut raw).await,
            (at_threshold.to_vec(), 1)
        );
        // One byte more: two full fragments and a one-byte one.
        assert_eq!(
            read_wire_message(&mut raw).await,
            (over_threshold.to_vec(), 3)
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_sends_frames_over_the_write_buffer_in_fragments() {
    sends_large_frames_in_fragments(Role::Server).await;
}

#[tokio::test]
async fn a_client_sends_frames_over_the_write_buffer_in_masked_fragments() {
    sends_large_frames_in_fragments(Role::Client).await;
}

#[tokio::test]
async fn fragmented_frames_arrive_whole_and_in_order_between_small_ones() {
    let (client_socket, server_socket) = loopback_pair().await;
    let (mut client, mut server) = tokio::join!(
        hisock_side(client_socket, Role::Client),
        hisock_side(server_socket, Role::Server)
    );
    let frames: Vec<Bytes> = [1, 9_000, 16, 3 * 1024 * 1024, 2 * FRAGMENT + 1, 0, 200_000]
        .into_iter()
        .map(numbered_frame)
        .collect();
    let sent = frames.clone();
    let sending = async move {
        for frame in sent {
            server.sink.feed(frame).await.expect("queues");
        }
        server.sink.flush().await.expect("flushes");
        server
    };
    let receiving = async {
        let mut received = Vec::new();
        while received.len() < frames.len() {
            let frame = client.stream.next().await.expect("open").expect("a frame");
            received.push(frame);
        }
        received
    };
    let (mut server, received) =
        within("all frames", async { tokio::join!(sending, receiving) }).await;
    assert_eq!(received.len(), frames.len());
    for (i, (got, want)) in received.iter().zip(&frames).enumerate() {
        assert!(got == want, "frame {i} ({} bytes) changed", want.len());
    }

    // Closing after a fragmented frame sends all of it before the close.
    let last = numbered_frame(500_000);
    server.sink.feed(last.clone()).await.expect("queues");
    server.sink.close().await.expect("closes");
    let frame = within("the frame before the close", client.stream.next())
        .await
        .expect("the frame before the close")
        .expect("a frame");
    assert!(frame == last);
    let end = within("the end of the stream", client.stream.next()).await;
    assert!(end.is_none(), "a normal close ends the stream: {end:?}");
}
