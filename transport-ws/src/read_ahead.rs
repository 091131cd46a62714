//! A byte stream that reads ahead in large chunks while its peer keeps it
//! busy, and not at all otherwise.
//!
//! tungstenite reads at most its configured read buffer per call (4 KiB by
//! default here, so that idle connections stay small; see
//! `WsConfig::read_buffer_size`). Under a stream of small messages that is
//! one read syscall per ~50 messages. Below tungstenite, this wrapper
//! notices reads that fill the caller's whole buffer (more is waiting in
//! the socket) and then reads [`READ_AHEAD_BYTES`] at a time, handing them
//! out from memory; once the socket runs dry it lets the buffer go, so an
//! idle connection holds none.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads that fill the caller's buffer, in a row, before reading ahead
/// (64 KiB with 4 KiB reads: a burst that size does not pay for a 64 KiB
/// buffer; a sustained stream soon does).
const BUSY_AFTER: u32 = 16;

/// Bytes read from the socket at a time while busy.
const READ_AHEAD_BYTES: usize = 64 * 1024;

/// See the module documentation.
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Read-ahead buffer while busy (`None` when idle), the bytes in it, and
    /// how many of those were handed out.
    ahead: Option<Box<[u8]>>,
    filled: usize,
    taken: usize,
    /// Reads in a row that filled the caller's whole buffer.
    full_reads: u32,
}

impl<S> ReadAhead<S> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            ahead: None,
            filled: 0,
            taken: 0,
            full_reads: 0,
        }
    }

    /// Once everything read ahead is handed out: keep the buffer for the
    /// next read ahead while busy, let it go otherwise.
    fn settle(&mut self) {
        if self.taken == self.filled {
            if self.full_reads < BUSY_AFTER {
                self.go_idle();
            } else {
                self.filled = 0;
                self.taken = 0;
            }
        }
    }

    /// Back to reading straight into the caller's buffer.
    fn go_idle(&mut self) {
        self.ahead = None;
        self.filled = 0;
        self.taken = 0;
        self.full_reads = 0;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.taken < this.filled {
            if let Some(ahead) = &this.ahead {
                let n = buf.remaining().min(this.filled - this.taken);
                buf.put_slice(&ahead[this.taken..this.taken + n]);
                this.taken += n;
                this.settle();
                return Poll::Ready(Ok(()));
            }
        }
        if this.full_reads < BUSY_AFTER {
            let wanted = buf.remaining();
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let got = buf.filled().len() - before;
            this.full_reads = match got == wanted && wanted > 0 {
                true => this.full_reads + 1,
                false => 0,
            };
            return Poll::Ready(Ok(()));
        }
        let ahead = this
            .ahead
            .get_or_insert_with(|| vec![0; READ_AHEAD_BYTES].into_boxed_slice());
        let mut into = ReadBuf::new(ahead);
        match Pin::new(&mut this.inner).poll_read(cx, &mut into) {
            Poll::Pending => {
                // The socket ran dry: an idle connection keeps no buffer.
                this.go_idle();
                Poll::Pending
            }
            Poll::Ready(Err(err)) => {
                this.go_idle();
                Poll::Ready(Err(err))
            }
            Poll::Ready(Ok(())) => {
                let got = into.filled().len();
                let n = buf.remaining().min(got);
                buf.put_slice(&into.filled()[..n]);
                this.filled = got;
                this.taken = n;
                if got < READ_AHEAD_BYTES / 2 {
                    // Less than half a buffer came: the socket is close to
                    // dry. Hand out what is left, then read directly again.
                    this.full_reads = 0;
                }
                this.settle();
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Whatever the read sizes, the bytes come out whole and in order, in
    /// the direct mode and the read-ahead mode alike.
    #[tokio::test]
    async fn bytes_arrive_whole_and_in_order_through_both_modes() {
        let (mut writer, reader) = tokio::io::duplex(256 * 1024);
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writing = tokio::spawn(async move {
            for chunk in sent.chunks(10_000) {
                writer.write_all(chunk).await.expect("write");
            }
        });
        let mut reader = ReadAhead::new(reader);
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut saw_read_ahead = false;
        while got.len() < data.len() {
            let n = reader.read(&mut chunk).await.expect("read");
            assert!(n > 0, "early end");
            got.extend_from_slice(&chunk[..n]);
            saw_read_ahead |= reader.ahead.is_some();
        }
        writing.await.expect("writer");
        assert_eq!(got, data);
        assert!(saw_read_ahead, "a busy stream switches to reading ahead");
    }

    /// Once the peer goes quiet the buffer is let go; the end of the stream
    /// still reads as the end.
    #[tokio::test]
    async fn a_quiet_stream_lets_the_buffer_go_and_ends_cleanly() {
        let (mut writer, reader) = tokio::io::duplex(256 * 1024);
        writer.write_all(&vec![7u8; 200_000]).await.expect("write");
        let mut reader = ReadAhead::new(reader);
        let mut chunk = [0u8; 4096];
        let mut total = 0;
        while total < 200_000 {
            total += reader.read(&mut chunk).await.expect("read");
        }
        drop(writer);
        assert_eq!(reader.read(&mut chunk).await.expect("eof"), 0);
        assert!(reader.ahead.is_none(), "no buffer kept once drained");
    }
}
