//! A deterministic two-endpoint harness (the idea of quinn's `tests/util.rs`
//! `Pair`): a real `Server` and real `Client`s joined by the in-memory
//! transport, on a current-thread tokio runtime whose clock the test
//! controls (`#[tokio::test(start_paused = true)]`). Every deadline of
//! both sides (handshake, keepalive, request timeouts, `recv` timeouts)
//! runs on that clock (the clients are made with `tokio_timers()`), so a flow that waits 30 s takes no time and always
//! takes exactly 30 s.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hisock::frame::Frame;
use hisock::transport::Connection;
use hisock::{Client, ClientOptions, Server};

/// Largest frame either end of a pair accepts.
pub const MAX_FRAME: usize = 1 << 20;

/// A server and the clients connected to it in memory.
pub struct Pair {
    /// The server.
    pub server: Server,
}

impl Pair {
    /// A pair around `server`.
    pub fn new(server: Server) -> Self {
        Self { server }
    }

    /// A fresh in-memory connection whose far end the server serves.
    pub fn open(&self) -> Connection {
        self.open_with_task().0
    }

    /// Like [`open`](Self::open), with the server's task for the
    /// connection (to abort it).
    pub fn open_with_task(&self) -> (Connection, tokio::task::JoinHandle<()>) {
        let (client_side, server_side) = hisock::memory::pair(MAX_FRAME);
        let server = self.server.clone();
        let task = tokio::spawn(async move { server.serve_connection(server_side).await });
        (client_side, task)
    }

    /// Connects a client with `options` (its timers on the test's paused
    /// clock) and spawns its driver.
    pub async fn connect(&self, options: ClientOptions) -> hisock::Result<Client> {
        let options = options.tokio_timers();
        let (client, driver) = Client::handshake(self.open(), options).await?;
        tokio::spawn(driver);
        Ok(client)
    }

    /// Connects a client named `name`, expecting success.
    pub async fn client(&self, name: &str) -> Client {
        self.connect(ClientOptions::new().name(name))
            .await
            .expect("the handshake succeeds")
    }

    /// A raw peer that speaks frames by hand, after sending `Hello`.
    pub async fn raw_joined(&self, name: &str) -> RawPeer {
        self.raw_joined_with_task(name).await.0
    }

    /// Like [`raw_joined`](Self::raw_joined), with the server's task for
    /// the connection.
    pub async fn raw_joined_with_task(&self, name: &str) -> (RawPeer, tokio::task::JoinHandle<()>) {
        let (conn, task) = self.open_with_task();
        let mut raw = RawPeer { conn };
        raw.send(Frame::Hello {
            version: hisock::frame::PROTOCOL_VERSION,
            name: Some(name),
            group: None,
            auth: None,
        })
        .await;
        let welcome = raw.recv().await.expect("an answer");
        assert!(
            matches!(
                Frame::decode(&welcome).expect("decodes"),
                Frame::Welcome { .. }
            ),
            "welcomed"
        );
        (raw, task)
    }

    /// A raw peer that has sent nothing yet.
    pub fn raw(&self) -> RawPeer {
        RawPeer { conn: self.open() }
    }
}

/// One end of an in-memory connection, driven by hand.
pub struct RawPeer {
    conn: Connection,
}

impl RawPeer {
    /// Stops reading: the server's writes to this peer fail from now on;
    /// what is returned still sends.
    pub fn stop_reading(self) -> std::pin::Pin<Box<dyn hisock::transport::FrameSink>> {
        self.conn.sink
    }

    /// Sends bytes as one frame, whatever they are.
    pub async fn send_bytes(&mut self, bytes: Bytes) {
        self.conn
            .sink
            .send(bytes)
            .await
            .expect("the server end is open");
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: Frame<'_>) {
        self.conn
            .sink
            .send(frame.encode())
            .await
            .expect("the server end is open");
    }

    /// The next frame, or `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.conn
            .stream
            .next()
            .await
            .map(|f| f.expect("a whole frame"))
    }

    /// Reads until a `Close` or `Refuse` and returns its code and reason,
    /// skipping pings and anything else queued before it.
    pub async fn closed_with(&mut self) -> (u16, String) {
        while let Some(bytes) = self.recv().await {
            match Frame::decode(&bytes).expect("decodes") {
                Frame::Close { code, reason, .. } | Frame::Refuse { code, reason } => {
                    return (code, reason.to_owned())
                }
                _ => {}
            }
        }
        panic!("the connection ended without Close or Refuse");
    }
}

/// Records every `leave` on `server`: who left (by name) and the close
/// code.
pub fn record_leaves(
    server: &Server,
) -> tokio::sync::mpsc::UnboundedReceiver<(Option<String>, u16)> {
    let (tx, left) = tokio::sync::mpsc::unbounded_channel();
    server.on(
        "leave",
        move |who: hisock::ClientInfo, why: hisock::CloseReason| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((who.name().map(str::to_owned), why.code));
            }
        },
    );
    left
}

/// Lets every task run until all of them wait (on the paused clock, time
/// does not move while anything can run).
pub async fn settle() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

/// The virtual time since `start`.
pub fn elapsed(start: tokio::time::Instant) -> Duration {
    tokio::time::Instant::now() - start
}
