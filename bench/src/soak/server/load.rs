//! The server's own load: broadcasts to all, casts to one group after
//! another, requests to random clients, and the RSS samples.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hisock::Error;
use tokio::time::MissedTickBehavior;

use super::{add, group_name, lock, say, Soak};
use crate::options::Options;
use crate::util::rss_bytes;
use crate::wire::{self, GroupSeq, Seq};

fn interval(ms: u64) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(Duration::from_millis(ms));
    // Ticks missed while the machine was busy are caught up at once, so
    // that the rates asked for are the rates sent (on a loaded machine a
    // 5 ms interval otherwise becomes 25 ms or more).
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    interval
}

pub(super) async fn broadcast_loop(soak: Arc<Soak>, options: Options) {
    let mut tick = interval(options.broadcast_ms);
    loop {
        tick.tick().await;
        let mut sending = lock(&soak.sending);
        sending.broadcast += 1;
        let message = Seq {
            sender: 0,
            seq: sending.broadcast,
        };
        let skip = options.skip_broadcast_every;
        let queued = if skip > 0 && message.seq % skip == 0 {
            0
        } else {
            soak.server
                .to_all()
                .emit(wire::BROADCAST, &message)
                .unwrap_or(0)
        };
        drop(sending);
        add(&soak.counters.broadcasts, 1);
        add(&soak.counters.broadcast_queued, queued as u64);
    }
}

pub(super) async fn group_cast_loop(soak: Arc<Soak>, options: Options) {
    let mut tick = interval(options.group_cast_ms);
    let mut next = 0;
    loop {
        tick.tick().await;
        let group = group_name(next);
        next = (next + 1) % options.groups;
        let mut sending = lock(&soak.sending);
        let seq = sending.groups.entry(group.clone()).or_insert(0);
        *seq += 1;
        let message = GroupSeq { group, seq: *seq };
        let queued = soak
            .server
            .to_group(message.group.clone())
            .emit(wire::GROUP_CAST, &message)
            .unwrap_or(0);
        drop(sending);
        add(&soak.counters.group_casts, 1);
        add(&soak.counters.group_cast_queued, queued as u64);
    }
}

pub(super) async fn ask_loop(soak: Arc<Soak>, options: Options, in_flight: Arc<AtomicU64>) {
    let mut tick = interval(options.ask_ms);
    let mut ids: Vec<u64> = Vec::new();
    let mut listed = Instant::now();
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        // A fresh list of clients once a second, not once per request.
        if ids.is_empty() || listed.elapsed() > Duration::from_secs(1) {
            ids = soak.server.clients().iter().map(|info| info.id).collect();
            soak.peak_clients
                .fetch_max(ids.len() as u64, Ordering::Relaxed);
            listed = Instant::now();
        }
        if ids.is_empty() {
            continue;
        }
        let id = ids[fastrand::usize(..ids.len())];
        if lock(&soak.sending).closing.contains(&id) || soak.server.client(id).is_none() {
            continue;
        }
        n += 1;
        let soak = soak.clone();
        let in_flight = in_flight.clone();
        let timeout = options.request_timeout();
        add(&soak.counters.asks_sent, 1);
        in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let answer = soak
                .server
                .request::<u64, _>(id, wire::ASK, &n, timeout)
                .await;
            let c = &soak.counters;
            let counter = match answer {
                Ok(m) if m == n + 1 => &c.asks_ok,
                Ok(_) => &c.asks_wrong,
                Err(Error::Timeout(_)) => &c.asks_timeouts,
                Err(_) if soak.gone_or_leaving(id) => &c.asks_churn,
                Err(err) => {
                    tracing::warn!(client = id, "ask failed: {err}");
                    &c.asks_errors
                }
            };
            add(counter, 1);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

impl Soak {
    fn gone_or_leaving(&self, id: u64) -> bool {
        lock(&self.sending).closing.contains(&id) || self.server.client(id).is_none()
    }
}

pub(super) async fn sample_loop(soak: Arc<Soak>, sample_ms: u64) {
    let started = Instant::now();
    let mut tick = interval(sample_ms);
    // Samples are readings, not load: none to catch up.
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let clients = soak.server.client_count();
        soak.peak_clients
            .fetch_max(clients as u64, Ordering::Relaxed);
        match rss_bytes() {
            Ok(rss) => say(&format!(
                "rss {} {rss} {clients}",
                started.elapsed().as_millis()
            )),
            Err(err) => eprintln!("soak server: no RSS reading: {err}"),
        }
    }
}
