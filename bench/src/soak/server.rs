//! The soak's server process (`soak __server OPTIONS_JSON`): one hisock
//! server listening on TCP and WebSocket, with the soak's handlers, a
//! broadcaster, a group caster, a task asking random clients, and its own
//! RSS sampled over time.
//!
//! It talks to the soak over stdin/stdout, one line each: it prints
//! `addr TCP WS`, then `rss MS BYTES CLIENTS` every sample; it answers
//! `stats` with `stats JSON` ([`ServerStats`]) and exits on `quit` or the
//! end of its input.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hisock::{ClientInfo, Data, Reply, Server};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::options::Options;
use super::wire::{self, Done, Mark, Relay, Seq, Sync};
use crate::util::{raise_open_files_limit, BenchResult};
use hisock_test_support::{SeqCheck, Tally};

/// Hidden subcommand: the server process.
pub const COMMAND: &str = "__server";

mod load;

/// What the server counted, sent to the soak at the end.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerStats {
    /// Seconds from the server's start to these stats.
    pub uptime_s: f64,
    /// Broadcasts to all sent.
    pub broadcasts: u64,
    /// Clients a broadcast was queued for, summed.
    pub broadcast_queued: u64,
    /// Group casts sent.
    pub group_casts: u64,
    /// Clients a group cast was queued for, summed.
    pub group_cast_queued: u64,
    /// Direct messages queued for their receiver.
    pub relays_queued: u64,
    /// Direct messages refused: the receiver was leaving or gone.
    pub relays_refused: u64,
    /// `c2s` events received.
    pub c2s_events: u64,
    /// Senders that left without closing their `c2s` stream.
    pub c2s_unfinished: u64,
    /// Requests to clients.
    pub asks: AskStats,
    /// The most clients connected at once.
    pub peak_clients: usize,
}

/// Outcomes of the server's requests to clients.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct AskStats {
    /// Requests sent.
    pub sent: u64,
    /// Answered correctly.
    pub ok: u64,
    /// Answered with the wrong number.
    pub wrong: u64,
    /// Not answered in time.
    pub timeouts: u64,
    /// Failed because the client was leaving or had left.
    pub churn: u64,
    /// Failed otherwise.
    pub errors: u64,
    /// Still waiting when the stats were taken.
    pub in_flight: u64,
}

/// What is numbered and sent under one lock (see [`wire`]).
#[derive(Default)]
struct Sending {
    broadcast: u64,
    groups: HashMap<String, u64>,
    /// Clients that closed their windows: nothing more is relayed to them
    /// nor asked of them.
    closing: HashSet<u64>,
}

#[derive(Default)]
struct Counters {
    broadcasts: AtomicU64,
    broadcast_queued: AtomicU64,
    group_casts: AtomicU64,
    group_cast_queued: AtomicU64,
    relays_queued: AtomicU64,
    relays_refused: AtomicU64,
    c2s_events: AtomicU64,
    c2s_unfinished: AtomicU64,
    asks_sent: AtomicU64,
    asks_ok: AtomicU64,
    asks_wrong: AtomicU64,
    asks_timeouts: AtomicU64,
    asks_churn: AtomicU64,
    asks_errors: AtomicU64,
}

struct Soak {
    server: Server,
    sending: Mutex<Sending>,
    /// Each connected sender's `c2s` stream, by connection id.
    c2s: Mutex<HashMap<u64, SeqCheck>>,
    counters: Counters,
    peak_clients: AtomicU64,
    started: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Prints one line to the soak.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The server process.
pub fn main(argv: &[String]) -> BenchResult<()> {
    let [json] = <[String; 1]>::try_from(argv.to_vec())
        .map_err(|_| format!("usage: soak {COMMAND} OPTIONS_JSON"))?;
    let options: Options = serde_json::from_str(&json)?;
    if let Err(err) = raise_open_files_limit() {
        eprintln!("soak server: the OS refused to raise the open-files limit: {err}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move { tokio::spawn(serve(options)).await? })
}

async fn serve(options: Options) -> BenchResult<()> {
    let soak = Arc::new(Soak {
        server: Server::new(),
        sending: Mutex::default(),
        c2s: Mutex::default(),
        counters: Counters::default(),
        peak_clients: AtomicU64::new(0),
        started: Instant::now(),
    });
    register_handlers(&soak);
    let tcp = soak
        .server
        .listen(hisock_tcp::TcpListener::bind("127.0.0.1:0").await?)
        .ok_or("the TCP listener has no address")?;
    let ws = soak
        .server
        .listen(hisock_ws::WsListener::bind("127.0.0.1:0").await?)
        .ok_or("the WebSocket listener has no address")?;
    say(&format!("addr {tcp} {ws}"));

    let in_flight = Arc::new(AtomicU64::new(0));
    let tasks = [
        tokio::spawn(load::broadcast_loop(soak.clone(), options.clone())),
        tokio::spawn(load::group_cast_loop(soak.clone(), options.clone())),
        tokio::spawn(load::ask_loop(
            soak.clone(),
            options.clone(),
            in_flight.clone(),
        )),
        tokio::spawn(load::sample_loop(soak.clone(), options.sample_ms)),
    ];
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        match line.trim() {
            "stats" => {
                let stats = soak.stats(get(&in_flight));
                say(&format!("stats {}", serde_json::to_string(&stats)?));
            }
            "quit" => break,
            other => eprintln!("soak server: unknown command {other:?}"),
        }
    }
    for task in tasks {
        task.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), soak.server.shutdown()).await;
    Ok(())
}

fn register_handlers(soak: &Arc<Soak>) {
    let server = &soak.server;
    let s = soak.clone();
    server.on(wire::C2S, move |who: ClientInfo, Data(m): Data<Seq>| {
        s.c2s_seen(who.id, m.seq);
        async {}
    });
    let s = soak.clone();
    server.on(
        wire::C2S_DONE,
        move |who: ClientInfo, Data(d): Data<Done>| {
            let tally = s.c2s_done(who.id, d);
            async move { Reply(tally) }
        },
    );
    server.on(wire::ECHO, |Data(m): Data<Seq>| async move { Reply(m) });
    let s = soak.clone();
    server.on(wire::RELAY, move |Data(r): Data<Relay>| {
        let queued = s.relay(&r);
        async move { queued }
    });
    let s = soak.clone();
    server.on(
        wire::SYNC,
        move |who: ClientInfo, Data(sync): Data<Sync>| {
            s.mark(who.id, sync);
            async {}
        },
    );
    let s = soak.clone();
    server.on("leave", move |who: ClientInfo| {
        s.left(who.id);
        async {}
    });
}

impl Soak {
    fn c2s_seen(&self, id: u64, seq: u64) {
        add(&self.counters.c2s_events, 1);
        lock(&self.c2s)
            .entry(id)
            .or_insert_with(|| SeqCheck::after(0))
            .see(seq);
    }

    /// The sender's stream ends at `done.last`: handlers of one connection
    /// run in order, so every `c2s` it sent before this has been counted.
    fn c2s_done(&self, id: u64, done: Done) -> Tally {
        let check = lock(&self.c2s)
            .remove(&id)
            .unwrap_or_else(|| SeqCheck::after(0));
        check.close(done.last)
    }

    fn relay(&self, relay: &Relay) -> bool {
        let sending = lock(&self.sending);
        let queued = match self.server.client_by_name(&relay.to) {
            Some(to) if !sending.closing.contains(&to.id) => self
                .server
                .to_client(to.id)
                .emit(wire::DIRECT, relay.message)
                .is_ok(),
            _ => false,
        };
        drop(sending);
        add(
            if queued {
                &self.counters.relays_queued
            } else {
                &self.counters.relays_refused
            },
            1,
        );
        queued
    }

    /// Sends the client its mark, under the lock that orders it among
    /// everything numbered.
    fn mark(&self, id: u64, sync: Sync) {
        let mut sending = lock(&self.sending);
        if sync == Sync::Close {
            sending.closing.insert(id);
        }
        let group = self
            .server
            .client(id)
            .and_then(|info| info.group().map(str::to_owned));
        let group_seq = group
            .as_ref()
            .and_then(|g| sending.groups.get(g).copied())
            .unwrap_or(0);
        let mark = Mark {
            sync,
            broadcast: sending.broadcast,
            group,
            group_seq,
        };
        // A full queue kicks the client, which then sees its connection
        // end early: counted on its side.
        let _ = self.server.to_client(id).emit(wire::MARK, &mark);
    }

    fn left(&self, id: u64) {
        lock(&self.sending).closing.remove(&id);
        if lock(&self.c2s).remove(&id).is_some() {
            add(&self.counters.c2s_unfinished, 1);
        }
    }

    fn stats(&self, in_flight: u64) -> ServerStats {
        let c = &self.counters;
        ServerStats {
            uptime_s: self.started.elapsed().as_secs_f64(),
            broadcasts: get(&c.broadcasts),
            broadcast_queued: get(&c.broadcast_queued),
            group_casts: get(&c.group_casts),
            group_cast_queued: get(&c.group_cast_queued),
            relays_queued: get(&c.relays_queued),
            relays_refused: get(&c.relays_refused),
            c2s_events: get(&c.c2s_events),
            c2s_unfinished: get(&c.c2s_unfinished),
            asks: AskStats {
                sent: get(&c.asks_sent),
                ok: get(&c.asks_ok),
                wrong: get(&c.asks_wrong),
                timeouts: get(&c.asks_timeouts),
                churn: get(&c.asks_churn),
                errors: get(&c.asks_errors),
                in_flight,
            },
            peak_clients: get(&self.peak_clients) as usize,
        }
    }
}

/// The name of group `index`, on both sides.
pub fn group_name(index: u32) -> String {
    format!("g{index}")
}
