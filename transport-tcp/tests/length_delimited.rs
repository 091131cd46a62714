//! hisock-tcp's own frame reader and writer (`src/read.rs`, `src/write.rs`)
//! replaced tokio-util's `FramedRead`/`FramedWrite` with
//! `LengthDelimitedCodec` for speed; these tests hold them to the codec's
//! wire format, byte for byte, in both directions and at the length limit.

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use hisock::{TransportError, TransportKind};
use hisock_tcp::framed_connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Encoder, FramedRead, LengthDelimitedCodec};

/// Frames of the sizes that matter: empty, tiny, around the read and write
/// buffer sizes, larger than both, and pseudo-random ones.
fn frames() -> Vec<Bytes> {
    let mut seed: u32 = 0x9e37_79b9;
    let mut sizes = vec![0, 1, 3, 4, 5, 4095, 4096, 4097, 16 * 1024, 70_000];
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        sizes.push((seed % 3000) as usize);
    }
    sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            (0..len)
                .map(|j| (i * 31 + j) as u8)
                .collect::<Vec<u8>>()
                .into()
        })
        .collect()
}

/// What `LengthDelimitedCodec` (default settings) writes for `frames`.
fn codec_wire(frames: &[Bytes]) -> Vec<u8> {
    let mut codec = LengthDelimitedCodec::new();
    let mut wire = BytesMut::new();
    for frame in frames {
        codec.encode(frame.clone(), &mut wire).expect("encodes");
    }
    wire.to_vec()
}

/// A connection over an in-memory pipe: frames written to `sink` come out
/// of the returned reader, bytes written to the returned writer come in on
/// `stream`. `max` is the incoming frame limit.
fn connection(
    max: usize,
) -> (
    hisock::Connection,
    tokio::io::DuplexStream,
    tokio::io::DuplexStream,
) {
    let (ours_in, theirs_out) = tokio::io::duplex(1 << 16);
    let (ours_out, theirs_in) = tokio::io::duplex(1 << 16);
    let conn = framed_connection(ours_in, ours_out, max, TransportKind::Tcp);
    (conn, theirs_in, theirs_out)
}

#[tokio::test]
async fn the_writer_writes_the_bytes_length_delimited_codec_writes() {
    let frames = frames();
    let (mut conn, mut theirs_in, _theirs_out) = connection(1 << 20);
    let expected = codec_wire(&frames);
    let reading = tokio::spawn(async move {
        let mut wire = Vec::new();
        theirs_in.read_to_end(&mut wire).await.map(|_| wire)
    });
    for frame in &frames {
        conn.sink.feed(frame.clone()).await.expect("feeds");
    }
    conn.sink.close().await.expect("closes");
    drop(conn);
    let wire = reading.await.expect("reader").expect("reads");
    assert!(
        wire == expected,
        "the written bytes differ from the codec's"
    );
}

#[tokio::test]
async fn length_delimited_codec_reads_what_the_writer_writes() {
    let frames = frames();
    let (mut conn, theirs_in, _theirs_out) = connection(1 << 20);
    let reading = tokio::spawn(async move {
        FramedRead::new(theirs_in, LengthDelimitedCodec::new())
            .map(|frame| frame.map(BytesMut::freeze))
            .collect::<Vec<_>>()
            .await
    });
    for frame in &frames {
        conn.sink.feed(frame.clone()).await.expect("feeds");
    }
    conn.sink.close().await.expect("closes");
    drop(conn);
    let read: Vec<Bytes> = reading
        .await
        .expect("reader")
        .into_iter()
        .map(|frame| frame.expect("the codec accepts the frame"))
        .collect();
    assert!(read == frames, "the codec read other frames");
}

#[tokio::test]
async fn the_reader_reads_what_length_delimited_codec_writes_in_any_pieces() {
    let frames = frames();
    let wire = codec_wire(&frames);
    let (mut conn, _theirs_in, mut theirs_out) = connection(1 << 20);
    let writing = tokio::spawn(async move {
        // Pieces of 1 to 7 bytes, then larger ones: the reader must not
        // care where the byte stream is cut.
        let mut rest = &wire[..];
        let mut piece = 1;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(piece.min(rest.len()));
            theirs_out.write_all(now).await?;
            rest = later;
            piece = if piece < 7 {
                piece + 1
            } else {
                piece * 3 % 5000 + 1
            };
        }
        theirs_out.shutdown().await
    });
    let mut read = Vec::new();
    while let Some(frame) = conn.stream.next().await {
        read.push(frame.expect("a frame"));
    }
    writing.await.expect("writer").expect("writes");
    assert!(read == frames, "the reader read other frames");
}

#[tokio::test]
async fn both_accept_a_frame_at_the_limit_and_refuse_one_byte_over() {
    const MAX: usize = 1000;
    for (len, accepted) in [(MAX, true), (MAX + 1, false)] {
        let wire = codec_wire(&[Bytes::from(vec![7u8; len])]);

        let mut codec = FramedRead::new(
            &wire[..],
            LengthDelimitedCodec::builder()
                .max_frame_length(MAX)
                .new_codec(),
        );
        let codec_accepts = matches!(codec.next().await, Some(Ok(frame)) if frame.len() == len);
        assert_eq!(codec_accepts, accepted, "the codec with a {len}-byte frame");

        let (mut conn, _theirs_in, mut theirs_out) = connection(MAX);
        theirs_out.write_all(&wire).await.expect("writes");
        drop(theirs_out);
        match conn.stream.next().await {
            Some(Ok(frame)) => assert!(accepted && frame.len() == len, "{len} accepted"),
            Some(Err(TransportError::FrameTooBig {
                len: announced,
                max,
            })) => {
                assert!(!accepted, "{len} refused");
                assert_eq!((announced, max), (len, MAX));
            }
            other => panic!("a {len}-byte frame: {other:?}"),
        }
    }
}
