//! The write half of a TCP connection: length-prefixed frames gathered in
//! a buffer that is let go once everything is written.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use tokio_util::codec::{FramedWrite, LengthDelimitedCodec};

/// Bytes reserved for the write buffer when a batch of frames starts.
const WRITE_BUFFER_START: usize = 8 * 1024;

/// A `FramedWrite` that lets go of its buffer once a flush has written
/// everything, so an idle connection holds no write buffer (tokio-util keeps
/// the buffer's largest size for good otherwise, 8 KiB at least).
pub(crate) struct ReleasingWriter<W> {
    pub(crate) framed: FramedWrite<W, LengthDelimitedCodec>,
}

impl<W: tokio::io::AsyncWrite + Unpin> futures::Sink<bytes::Bytes> for ReleasingWriter<W> {
    type Error = io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        futures::Sink::<bytes::Bytes>::poll_ready(Pin::new(&mut self.framed), cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: bytes::Bytes) -> Result<(), Self::Error> {
        let buffer = self.framed.write_buffer_mut();
        if buffer.capacity() == 0 {
            buffer.reserve(WRITE_BUFFER_START.max(frame.len() + 4));
        }
        futures::Sink::<bytes::Bytes>::start_send(Pin::new(&mut self.framed), frame)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let flushed = ready!(futures::Sink::<bytes::Bytes>::poll_flush(
            Pin::new(&mut self.framed),
            cx
        ));
        // Whatever its capacity says: once everything is written, the
        // buffer is the empty end of its allocation (capacity 0 after a
        // frame that filled it), and BytesMut would take the whole
        // allocation back on the next reserve. BytesMut::new allocates
        // nothing.
        let buffer = self.framed.write_buffer_mut();
        if flushed.is_ok() && buffer.is_empty() {
            *buffer = BytesMut::new();
        }
        Poll::Ready(flushed)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        futures::Sink::<bytes::Bytes>::poll_close(Pin::new(&mut self.framed), cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures::SinkExt;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    #[tokio::test]
    async fn an_idle_writer_holds_no_part_of_a_large_frames_allocation() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let mut reader = connected.expect("connects");
        let encoder = LengthDelimitedCodec::builder().new_codec();
        let mut writer = ReleasingWriter {
            framed: FramedWrite::new(accepted.expect("accepts").0, encoder),
        };
        let large = Bytes::from(vec![7u8; 4 << 20]);
        let mut received = vec![0u8; 4 + large.len()];
        let (sent, read) = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(writer.send(large.clone()), reader.read_exact(&mut received))
        })
        .await
        .expect("in time");
        sent.expect("sends");
        read.expect("reads");
        assert!(received[4..] == large[..]);

        // The next frame must not take the 4 MiB allocation back.
        writer
            .feed(Bytes::from_static(b"small"))
            .await
            .expect("queues");
        let capacity = writer.framed.write_buffer().capacity();
        assert!(capacity <= 64 * 1024, "a write buffer of {capacity} bytes");
    }
}
