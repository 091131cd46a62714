//! The read half of a TCP connection: length-prefixed frames, read into a
//! buffer that is small while the connection is idle.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use hisock::TransportError;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

/// Initial read buffer per connection (it grows for larger frames).
/// tokio-util's default is 8 KiB; measured with 10,000 connections in three
/// connect/disconnect waves, 8 KiB buffers left the heap fragmented (RSS
/// grew 1.5x from the first wave to the third) and 4 KiB ones did not.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Frames received in a row (without the socket running dry) after which a
/// connection counts as busy and reads into [`BUSY_READ_BUFFER_BYTES`].
const BUSY_STREAK: u32 = 256;

/// Read buffer of a busy connection: one read takes in up to this much, so
/// a stream of small events costs a read syscall per ~1,000 events rather
/// than per ~50. It goes back to [`READ_BUFFER_BYTES`] once the socket runs
/// dry, so idle connections keep the small buffer.
const BUSY_READ_BUFFER_BYTES: usize = 64 * 1024;

/// A `FramedRead` whose buffer grows while the peer keeps it busy and goes
/// back to its small size when the socket runs dry (tokio-util keeps the
/// largest size a buffer ever reached, a large frame's included).
pub(crate) struct AdaptiveRead<R> {
    framed: FramedRead<R, LengthDelimitedCodec>,
    max_frame_len: usize,
    /// Frames delivered since the socket last ran dry.
    streak: u32,
}

impl<R> AdaptiveRead<R> {
    pub(crate) fn new(read: R, decoder: LengthDelimitedCodec, max_frame_len: usize) -> Self {
        Self {
            framed: FramedRead::with_capacity(read, decoder, READ_BUFFER_BYTES),
            max_frame_len,
            streak: 0,
        }
    }
}

impl<R: tokio::io::AsyncRead + Unpin> futures::Stream for AdaptiveRead<R> {
    type Item = Result<bytes::Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.streak >= BUSY_STREAK {
            let buffer = this.framed.read_buffer_mut();
            // Only when the next step is a read (no whole frame buffered):
            // growing moves the unread bytes, which are then at most one
            // partial frame.
            if buffer.capacity() - buffer.len() < BUSY_READ_BUFFER_BYTES / 2
                && !holds_whole_frame(buffer)
            {
                buffer.reserve(BUSY_READ_BUFFER_BYTES);
            }
        }
        match Pin::new(&mut this.framed).poll_next(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.streak = this.streak.saturating_add(1);
                Poll::Ready(Some(Ok(frame.freeze())))
            }
            Poll::Ready(Some(Err(err))) => {
                Poll::Ready(Some(Err(map_read_error(err, this.max_frame_len))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                this.streak = 0;
                let buffer = this.framed.read_buffer_mut();
                if buffer.is_empty() && buffer.capacity() > READ_BUFFER_BYTES {
                    *buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
                }
                Poll::Pending
            }
        }
    }
}

/// True when `buffer` starts with a whole length-prefixed frame.
fn holds_whole_frame(buffer: &[u8]) -> bool {
    match buffer.get(..4) {
        Some(&[a, b, c, d]) => {
            let len = u32::from_be_bytes([a, b, c, d]) as usize;
            buffer.len() - 4 >= len
        }
        _ => false,
    }
}

fn map_read_error(err: io::Error, max: usize) -> TransportError {
    let is_codec_limit = err
        .get_ref()
        .is_some_and(|inner| inner.is::<tokio_util::codec::LengthDelimitedCodecError>());
    if is_codec_limit {
        // The codec does not say the announced length, only that it is over.
        return TransportError::FrameTooBig { len: max + 1, max };
    }
    if err.to_string().contains("bytes remaining on stream") {
        return TransportError::Truncated;
    }
    TransportError::Io(err)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    async fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (connected.expect("connects"), accepted.expect("accepts").0)
    }

    async fn write_frame(socket: &mut TcpStream, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("fits");
        socket.write_all(&len.to_be_bytes()).await.expect("writes");
        socket.write_all(payload).await.expect("writes");
    }

    /// Reads the next frame, then polls until the socket has run dry.
    async fn next_then_dry(frames: &mut AdaptiveRead<TcpStream>) -> bytes::Bytes {
        let frame = tokio::time::timeout(WAIT, frames.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        assert!(
            futures::poll!(frames.next()).is_pending(),
            "nothing more sent"
        );
        frame
    }

    #[tokio::test]
    async fn an_idle_connection_lets_go_of_a_large_frames_allocation() {
        let (mut writer, reader) = socket_pair().await;
        let codec = LengthDelimitedCodec::builder()
            .max_frame_length(8 << 20)
            .new_codec();
        let mut frames = AdaptiveRead::new(reader, codec, 8 << 20);
        let large = vec![7u8; 4 << 20];
        // Written while it is read: more than the socket buffers hold.
        let (frame, ()) =
            tokio::join!(next_then_dry(&mut frames), write_frame(&mut writer, &large));
        assert!(frame == large);
        drop(frame);

        // Reading the next frame must not take the 4 MiB allocation back
        // into the buffer.
        write_frame(&mut writer, b"small").await;
        assert_eq!(next_then_dry(&mut frames).await.as_ref(), b"small");
        let capacity = frames.framed.read_buffer().capacity();
        assert!(
            capacity <= BUSY_READ_BUFFER_BYTES,
            "an idle read buffer of {capacity} bytes"
        );
    }
}
