//! One soak client's life: connect with a name and a group, open its
//! windows, then round after round send events, an echo request and a
//! direct message, now and then change group; at the end of its life close
//! its windows and its `c2s` stream, and leave.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hisock::{Client, ClientOptions, Error};
use serde::Serialize;

use super::crowd::Crowd;
use super::inbound::Inbound;
use super::server::group_name;
use super::wire::{self, Done, Relay, Seq, Sync};
use crate::Transport;
use hisock_test_support::Tally;

/// How long a client waits for a mark before it counts as missing.
const MARK_LIMIT: Duration = Duration::from_secs(30);

/// Outcomes of one kind of request.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Requests {
    /// Sent.
    pub sent: u64,
    /// Answered as expected.
    pub ok: u64,
    /// Answered wrongly.
    pub wrong: u64,
    /// Not answered in time.
    pub timeouts: u64,
    /// Failed otherwise (not counting the end of the connection, which is
    /// an unexpected disconnect).
    pub errors: u64,
}

impl std::ops::AddAssign for Requests {
    fn add_assign(&mut self, o: Self) {
        self.sent += o.sent;
        self.ok += o.ok;
        self.wrong += o.wrong;
        self.timeouts += o.timeouts;
        self.errors += o.errors;
    }
}

/// What one client's life added up to.
#[derive(Debug, Default)]
pub struct ClientReport {
    /// Its transport.
    pub transport: Option<Transport>,
    /// Why it could not connect.
    pub connect_error: Option<String>,
    /// Why its connection ended before it left.
    pub unexpected_close: Option<String>,
    /// Marks that did not come in time.
    pub mark_timeouts: u64,
    /// Broadcasts to all, over its closed windows.
    pub broadcast: Tally,
    /// Group casts, over its closed windows.
    pub group: Tally,
    /// Its `c2s` stream as the server counted it.
    pub c2s: Tally,
    /// `c2s` events whose send failed.
    pub send_errors: u64,
    /// Echo requests.
    pub echo: Requests,
    /// Relays of direct messages (a refusal is no failure: the receiver
    /// was leaving).
    pub relay: Requests,
    /// Relays refused because the receiver was leaving or gone.
    pub relays_refused: u64,
    /// The `c2s_done` request.
    pub done: Requests,
    /// Group changes made.
    pub group_changes: u64,
    /// Name and group changes the server refused.
    pub change_errors: u64,
    /// Marks or deliveries out of place.
    pub stray: u64,
}

/// Why a life ended early.
enum Cut {
    /// The connection ended.
    Closed(String),
    /// A mark did not come in time.
    NoMark,
}

struct Life {
    crowd: Arc<Crowd>,
    id: u64,
    client: Client,
    inbound: Arc<Inbound>,
    report: ClientReport,
    marks: u64,
    /// `c2s` numbers accepted so far.
    sent: u64,
    echoes: u64,
    /// Direct message numbers used per receiver.
    direct_seq: HashMap<u64, u64>,
    in_group: bool,
}

/// The name of the client with soak id `id`.
pub fn client_name(id: u64) -> String {
    format!("s{id}")
}

/// Lives one client's life until `until`.
pub async fn live(
    crowd: Arc<Crowd>,
    id: u64,
    transport: Transport,
    until: Instant,
) -> ClientReport {
    let inbound = Arc::new(Inbound::default());
    let initial_group = group_name(fastrand::u32(..crowd.options.groups));
    let options = ClientOptions::new()
        .name(client_name(id))
        .group(initial_group)
        .tokio_timers();
    let options = Inbound::handlers(&inbound, options);
    let mut report = ClientReport {
        transport: Some(transport),
        ..ClientReport::default()
    };
    let connected = {
        let _permit = crowd.connect_gate.acquire().await;
        crowd.connect(transport, options).await
    };
    let client = match connected {
        Ok(client) => client,
        Err(err) => {
            report.connect_error = Some(err.to_string());
            return report;
        }
    };
    let mut life = Life {
        crowd,
        id,
        client,
        inbound,
        report,
        marks: 0,
        sent: 0,
        echoes: 0,
        direct_seq: HashMap::new(),
        in_group: true,
    };
    let outcome = life.run(until).await;
    life.crowd.live.remove(id);
    let received = life.inbound.take();
    life.report.broadcast = received.broadcast;
    life.report.group = received.group;
    life.report.stray = received.stray;
    match outcome {
        Ok(()) => life.crowd.ledger.receiver_closed(id, received.direct),
        Err(Cut::Closed(reason)) => life.report.unexpected_close = Some(reason),
        Err(Cut::NoMark) => {
            life.report.mark_timeouts += 1;
            life.client.close().await;
        }
    }
    life.report
}

impl Life {
    async fn run(&mut self, until: Instant) -> Result<(), Cut> {
        self.sync(Sync::Open).await?;
        self.crowd.live.insert(self.id);
        let round = Duration::from_millis(self.crowd.options.round_ms);
        // Rounds of different clients spread over the round's length.
        let mut next = Instant::now() + round.mul_f64(fastrand::f64());
        while next < until {
            tokio::time::sleep_until(next.into()).await;
            next += round;
            self.round().await?;
        }
        self.leave().await
    }

    async fn round(&mut self) -> Result<(), Cut> {
        for _ in 0..self.crowd.options.events {
            let message = Seq {
                sender: self.id,
                seq: self.sent + 1,
            };
            match self.client.send(wire::C2S, &message).await {
                Ok(()) => self.sent += 1,
                Err(err) => {
                    cut_if_closed(&err)?;
                    self.report.send_errors += 1;
                }
            }
        }
        self.echo().await?;
        self.direct().await?;
        if fastrand::u32(..self.crowd.options.group_every.max(1)) == 0 {
            self.change_group().await?;
        }
        if !self.client.is_connected() {
            return Err(Cut::Closed(format!("{:?}", self.client.closed().await)));
        }
        Ok(())
    }

    async fn echo(&mut self) -> Result<(), Cut> {
        self.echoes += 1;
        let message = Seq {
            sender: self.id,
            seq: self.echoes,
        };
        let timeout = self.crowd.options.request_timeout();
        let answer = self
            .client
            .request::<Seq, _>(wire::ECHO, &message, timeout)
            .await;
        count(&mut self.report.echo, answer.map(|m| m == message))
    }

    async fn direct(&mut self) -> Result<(), Cut> {
        let Some(to) = self.crowd.live.pick_other(self.id) else {
            return Ok(());
        };
        // A number is used up only when accepted: the accepted ones are
        // 1..=last for each receiver.
        let seq = self.direct_seq.get(&to).copied().unwrap_or(0) + 1;
        let relay = Relay {
            to: client_name(to),
            message: Seq {
                sender: self.id,
                seq,
            },
        };
        let timeout = self.crowd.options.request_timeout();
        let answer = self
            .client
            .request::<bool, _>(wire::RELAY, &relay, timeout)
            .await;
        match &answer {
            Ok(true) => {
                self.direct_seq.insert(to, seq);
                self.crowd.ledger.accepted(self.id, to, seq);
            }
            Ok(false) => self.report.relays_refused += 1,
            Err(_) => self.crowd.ledger.uncertain(self.id, to),
        }
        // A refusal is a correct answer too.
        count(&mut self.report.relay, answer.map(|_| true))
    }

    /// Leaves the current group (closing its window first) for another
    /// group or for none.
    async fn change_group(&mut self) -> Result<(), Cut> {
        if self.in_group {
            self.sync(Sync::GroupClose).await?;
        }
        let groups = self.crowd.options.groups;
        // One change in four leaves for no group.
        let next = (fastrand::u32(..4) != 0).then(|| group_name(fastrand::u32(..groups)));
        match self.client.change_group(next.as_deref()).await {
            Ok(()) => {
                self.report.group_changes += 1;
                self.in_group = next.is_some();
            }
            Err(err) => {
                cut_if_closed(&err)?;
                self.report.change_errors += 1;
                // Where it is now is unknown: no group window until the
                // next change.
                self.in_group = false;
                return Ok(());
            }
        }
        if self.in_group {
            self.sync(Sync::GroupOpen).await?;
        }
        Ok(())
    }

    /// Closes every window and the `c2s` stream, then the connection.
    async fn leave(&mut self) -> Result<(), Cut> {
        self.crowd.live.remove(self.id);
        self.sync(Sync::Close).await?;
        let done = Done {
            sender: self.id,
            last: self.sent,
        };
        let timeout = self.crowd.options.request_timeout();
        let answer = self
            .client
            .request::<Tally, _>(wire::C2S_DONE, &done, timeout)
            .await;
        if let Ok(tally) = &answer {
            self.report.c2s = *tally;
        }
        count(&mut self.report.done, answer.map(|_| true))?;
        self.client.close().await;
        Ok(())
    }

    /// Sends `sync` and waits for its mark.
    async fn sync(&mut self, sync: Sync) -> Result<(), Cut> {
        if let Err(err) = self.client.send(wire::SYNC, &sync).await {
            cut_if_closed(&err)?;
            return Err(Cut::NoMark);
        }
        self.marks += 1;
        let client = &self.client;
        if self
            .inbound
            .wait_marks(self.marks, MARK_LIMIT, || !client.is_connected())
            .await
        {
            return Ok(());
        }
        if !client.is_connected() {
            return Err(Cut::Closed(format!("{:?}", client.closed().await)));
        }
        Err(Cut::NoMark)
    }
}

/// Counts a request's outcome (`Ok(false)`: a wrong answer); the end of
/// the connection cuts the life short instead.
fn count(requests: &mut Requests, outcome: hisock::Result<bool>) -> Result<(), Cut> {
    requests.sent += 1;
    match outcome {
        Ok(true) => requests.ok += 1,
        Ok(false) => requests.wrong += 1,
        Err(Error::Timeout(_)) => requests.timeouts += 1,
        Err(err) => {
            cut_if_closed(&err)?;
            tracing::warn!("request failed: {err}");
            requests.errors += 1;
        }
    }
    Ok(())
}

fn cut_if_closed(err: &Error) -> Result<(), Cut> {
    match err {
        Error::Closed(reason) => Err(Cut::Closed(format!("{reason:?}"))),
        _ => Ok(()),
    }
}
