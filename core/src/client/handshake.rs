//! The client's side of the handshake: send the `Hello`, read the answer
//! (the rules are [`protocol::handshake`](crate::protocol::handshake),
//! shared with the server), and set up the client and its driver.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use event_listener::Event;
use futures::task::AtomicWaker;
use futures::{SinkExt, StreamExt};

use super::inbox::Inbox;
use super::presence::PresenceInterest;
use super::{driver, with_timeout, Client, ClientOptions, Driver, Identity, Shared};
use crate::dispatch::SharedHandlers;
use crate::error::{Error, Result};
use crate::outbox::Outbox;
use crate::pending::PendingRequests;
use crate::protocol::handshake;
use crate::protocol::limits::{self, Limit};
use crate::transport::Connection;

impl Client {
    /// Performs the handshake over an established connection: sends the
    /// hello, waits for the welcome. Returns the client and the driver to
    /// spawn. Register handlers on the client before spawning the driver (or
    /// in the options) to be sure to see the very first events.
    ///
    /// Errors: [`Error::Refused`] with the server's code and reason,
    /// [`Error::Timeout`], [`Error::Closed`] if the server hung up,
    /// [`Error::Transport`], [`Error::Protocol`] for an unexpected answer,
    /// [`Error::LimitExceeded`] for a name or group longer than the
    /// options allow (nothing is sent).
    pub async fn handshake(conn: Connection, options: ClientOptions) -> Result<(Client, Driver)> {
        let Connection {
            mut stream,
            mut sink,
            peer_addr,
            local_addr,
            kind,
        } = conn;
        // A name or group the server would refuse (4008) is refused here,
        // before anything is sent.
        limits::check_local(
            Limit::NameLen,
            options.name.as_deref(),
            options.max_name_len,
        )?;
        limits::check_local(
            Limit::GroupLen,
            options.group.as_deref(),
            options.max_group_len,
        )?;
        let hello = handshake::hello_frame(
            options.name.as_deref(),
            options.group.as_deref(),
            options.auth.as_deref(),
        );
        sink.send(hello).await?;
        let first = with_timeout(options.clock, options.handshake_timeout, stream.next())
            .await
            .ok_or(Error::Timeout(options.handshake_timeout))?
            .transpose()?;
        let welcomed = handshake::read_answer(first)?;
        let identity = Identity {
            id: welcomed.client_id,
            name: welcomed.name,
            group: welcomed.group,
        };
        // In the browser nothing is Send and there is one thread; the Arc is
        // for sharing between the handle and the driver, not across threads.
        #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
        let shared = Arc::new(Shared {
            outbox: Arc::new(Outbox::new(options.outbox_limit)),
            frame_block: Default::default(),
            outgoing: crate::stream::OutgoingStreams::new(options.max_streams),
            max_stream_len: options.max_stream_len,
            max_streams: options.max_streams,
            max_pending_requests: options.max_pending_requests,
            max_name_len: options.max_name_len,
            max_group_len: options.max_group_len,
            max_command_len: options.max_command_len,
            when_full: options.when_full,
            handlers: SharedHandlers::new(options.handlers),
            inbox: Mutex::new(Inbox::new(options.unhandled_limit, options.cache_size)),
            pending: Mutex::new(PendingRequests::new()),
            presence: Mutex::new(PresenceInterest::default()),
            identity: Mutex::new(identity),
            session: welcomed.params,
            local_addr,
            server_addr: peer_addr,
            seen_addr: welcomed.seen_addr,
            transport: kind,
            handler_queue_len: options.handler_queue_len,
            clock: options.clock,
            stop: AtomicBool::new(false),
            stop_waker: AtomicWaker::new(),
            close_reason: Mutex::new(None),
            finished: AtomicBool::new(false),
            closed: Event::new(),
        });
        let client = Client { shared };
        let driver = Driver {
            fut: Box::pin(driver::drive(client.clone(), stream, sink)),
        };
        Ok((client, driver))
    }
}
