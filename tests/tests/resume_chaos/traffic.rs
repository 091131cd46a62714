//! The chaos test's traffic: what the receivers record, the server's
//! handlers, the clients and their handlers, the sending loops of both
//! sides, and the faults. `resume_chaos.rs` runs them and counts.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use hisock::{Client, ClientInfo, ClientOptions, ConnectionChange, Data, Reconnect, Server};
use hisock_test_support::{
    within, AfterStall, FaultProxy, RequestTally, SeqCheck, Transport, WAIT,
};

use super::CLIENTS;

/// Each side sends each client an event per tick...
const TICK: Duration = Duration::from_millis(25);
/// ...and a request every this many ticks...
const REQUEST_EVERY: u64 = 4;
/// ...with at most this many waiting for their answers.
const MAX_IN_FLIGHT: usize = 8;
/// No request may time out: a cut delays answers, it must not lose them.
const REQUEST_TIMEOUT: Duration = WAIT;

/// What the receivers record, shared with the handlers: per client, the
/// events and the requests each side's handlers saw.
pub(super) struct Seen {
    pub(super) events: Vec<Mutex<SeqCheck>>,
    pub(super) requests: Vec<Mutex<SeqCheck>>,
}

impl Seen {
    pub(super) fn new() -> Arc<Self> {
        let checks = || {
            (0..CLIENTS)
                .map(|_| Mutex::new(SeqCheck::after(0)))
                .collect()
        };
        Arc::new(Self {
            events: checks(),
            requests: checks(),
        })
    }

    pub(super) fn event(&self, client: usize, n: u64) {
        lock(&self.events[client]).see(n);
    }

    pub(super) fn request(&self, client: usize, n: u64) {
        lock(&self.requests[client]).see(n);
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The clients' reconnects: how many resumed (`[0]`) or went to a fresh
/// session (`[1]`), and, per client, how many events it had sent when
/// each happened (where a stream went wrong, next to them, says whether
/// a resume did it).
pub(super) struct Reconnects {
    pub(super) counts: [AtomicUsize; 2],
    events_sent: Vec<AtomicU64>,
    at: Vec<Mutex<Vec<u64>>>,
}

impl Reconnects {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            counts: [AtomicUsize::new(0), AtomicUsize::new(0)],
            events_sent: (0..CLIENTS).map(|_| AtomicU64::new(0)).collect(),
            at: (0..CLIENTS).map(|_| Mutex::new(Vec::new())).collect(),
        })
    }

    pub(super) fn reconnected(&self, client: usize, resumed: bool) {
        self.counts[usize::from(!resumed)].fetch_add(1, Ordering::Relaxed);
        let sent = self.events_sent[client].load(Ordering::Relaxed);
        lock(&self.at[client]).push(sent);
    }

    /// What to say beside a client's problems.
    pub(super) fn notes(&self, client: usize, events: &SeqCheck, requests: &SeqCheck) -> String {
        let at = lock(&self.at[client]);
        format!(
            "first duplicates: events {:?}, requests {:?}; reconnected after event {:?} (the last 8)",
            events.duplicates(),
            requests.duplicates(),
            &at[at.len().saturating_sub(8)..],
        )
    }
}

/// What a sender counted.
#[derive(Default)]
pub(super) struct Sent {
    pub(super) events: u64,
    /// Events not queued (the send failed): their numbers were used again.
    pub(super) refused: u64,
    pub(super) requests: RequestTally,
}

/// The server's handlers: record what each client sent, answer its
/// requests with their numbers, and keep each client's current id (a
/// fresh session is a new id; a resumed one keeps it).
pub(super) fn serve(server: &Server, seen: &Arc<Seen>, ids: &Arc<Vec<AtomicU64>>) {
    // Recorded in the handlers' synchronous part: in the order of arrival.
    let events = seen.clone();
    server.on("c2s", move |Data((client, n)): Data<(usize, u64)>| {
        if client < CLIENTS {
            events.event(client, n);
        }
        async {}
    });
    let requests = seen.clone();
    server.on("ask", move |Data((client, n)): Data<(usize, u64)>| {
        if client < CLIENTS {
            requests.request(client, n);
        }
        async move { n }
    });
    let ids = ids.clone();
    server.on("join", move |who: ClientInfo| {
        let index = who
            .name()
            .and_then(|name| name.strip_prefix('c')?.parse::<usize>().ok());
        if let Some(index) = index.filter(|&i| i < CLIENTS) {
            ids[index].store(who.id, Ordering::Relaxed);
        }
        async {}
    });
}

/// Connects every client through its transport's proxy, with its
/// handlers: record the server's events and requests, answer them, and
/// count reconnects.
pub(super) async fn connect_all(
    proxies: &[FaultProxy; 2],
    seen: &Arc<Seen>,
    reconnects: &Arc<Reconnects>,
) -> Vec<Client> {
    let connects = (0..CLIENTS).map(|i| {
        let (transport, proxy) = match i % 2 {
            0 => (Transport::Tcp, &proxies[0]),
            _ => (Transport::Ws, &proxies[1]),
        };
        let (events, requests, reconnects) = (seen.clone(), seen.clone(), reconnects.clone());
        let options = ClientOptions::new()
            .name(format!("c{i}"))
            .group("chaos")
            .reconnect(
                Reconnect::new()
                    .initial_delay(Duration::from_millis(10))
                    .max_delay(Duration::from_millis(200)),
            )
            .on("s2c", move |Data(n): Data<u64>| {
                events.event(i, n);
                async {}
            })
            .on("ask", move |Data(n): Data<u64>| {
                requests.request(i, n);
                async move { n }
            })
            .on("reconnected", move |change: ConnectionChange| {
                if let ConnectionChange::Reconnected { resumed, .. } = change {
                    reconnects.reconnected(i, resumed);
                }
                async {}
            });
        async move {
            within(
                "a chaos client connects",
                transport.connect(proxy.addr, options),
            )
            .await
            .expect("connects through the proxy")
        }
    });
    futures::stream::iter(connects).buffered(10).collect().await
}

/// Client `i` sends the server numbered events and requests until `stop`,
/// then waits for its requests' answers.
pub(super) async fn client_sends(
    i: usize,
    client: Client,
    reconnects: Arc<Reconnects>,
    stop: Arc<AtomicBool>,
) -> Sent {
    let event_client = client.clone();
    send_loop(
        stop,
        move |n| {
            let (client, reconnects) = (event_client.clone(), reconnects.clone());
            async move {
                let sent = client.send("c2s", (i, n)).await.is_ok();
                if sent {
                    reconnects.events_sent[i].store(n, Ordering::Relaxed);
                }
                sent
            }
        },
        move |n| {
            let client = client.clone();
            async move {
                client
                    .request::<u64, _>("ask", (i, n), REQUEST_TIMEOUT)
                    .await
            }
        },
    )
    .await
}

/// The server sends client `i` (whichever id it has now) numbered events
/// and requests until `stop`, then waits for the answers.
pub(super) async fn server_sends(
    i: usize,
    server: Server,
    ids: Arc<Vec<AtomicU64>>,
    stop: Arc<AtomicBool>,
) -> Sent {
    let (event_server, event_ids) = (server.clone(), ids.clone());
    send_loop(
        stop,
        move |n| {
            let id = event_ids[i].load(Ordering::Relaxed);
            let sent = matches!(event_server.to_client(id).emit("s2c", n), Ok(1));
            async move { sent }
        },
        move |n| {
            let (server, id) = (server.clone(), ids[i].load(Ordering::Relaxed));
            async move {
                server
                    .request::<u64, _>(id, "ask", n, REQUEST_TIMEOUT)
                    .await
            }
        },
    )
    .await
}

/// One sender's loop: an event per tick (numbered from 1, a number only
/// used up when the event was queued) and a request every
/// [`REQUEST_EVERY`] ticks (numbered from 1, at most [`MAX_IN_FLIGHT`]
/// waiting), until `stop`; then every request's end.
async fn send_loop<E, EF, R, RF>(stop: Arc<AtomicBool>, mut event: E, mut request: R) -> Sent
where
    E: FnMut(u64) -> EF,
    EF: Future<Output = bool>,
    R: FnMut(u64) -> RF,
    RF: Future<Output = hisock::Result<u64>>,
{
    let mut sent = Sent::default();
    let mut in_flight = FuturesUnordered::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = ticker.tick() => {}
            Some((n, outcome)) = in_flight.next() => {
                sent.requests.record(n, &outcome);
                continue;
            }
        }
        tick += 1;
        match event(sent.events + 1).await {
            true => sent.events += 1,
            false => sent.refused += 1,
        }
        if tick % REQUEST_EVERY == 0 && in_flight.len() < MAX_IN_FLIGHT {
            let n = sent.requests.sent + 1;
            let mut asked = Box::pin(request(n));
            // Polled once here, so that requests leave in their numbers'
            // order (a request is queued on its first poll).
            match futures::poll!(asked.as_mut()) {
                // No such client: nothing was sent; the number waits.
                Poll::Ready(Err(hisock::Error::NoSuchClient(_))) => continue,
                Poll::Ready(outcome) => {
                    sent.requests.sent += 1;
                    sent.requests.record(n, &outcome);
                }
                Poll::Pending => {
                    sent.requests.sent += 1;
                    in_flight.push(async move { (n, asked.await) });
                }
            }
        }
    }
    while let Some((n, outcome)) = in_flight.next().await {
        sent.requests.record(n, &outcome);
    }
    sent
}

/// Cuts, stalls and delays connections on both proxies until `stop`:
/// every 10–100 ms, on one proxy picked at random, mostly a cut of 1 to 3
/// connections at random points, sometimes a stall of 20–300 ms that
/// goes on or ends in a cut, sometimes a new added latency (0–3 ms).
pub(super) async fn make_trouble(proxies: &[FaultProxy; 2], seed: u64, stop: Arc<AtomicBool>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(rng.u64(10..=100))).await;
        let proxy = &proxies[rng.usize(..proxies.len())];
        match rng.u8(..20) {
            0..=15 => {
                let count = rng.usize(1..=3);
                proxy.cut_random(&mut rng, count);
            }
            16..=18 => {
                let count = rng.usize(1..=2);
                let duration = Duration::from_millis(rng.u64(20..=300));
                let then = match rng.bool() {
                    true => AfterStall::GoOn,
                    false => AfterStall::Cut,
                };
                proxy.stall_random(&mut rng, count, duration, then);
            }
            _ => proxy.set_delay(Duration::from_millis(rng.u64(0..=3))),
        }
    }
    for proxy in proxies {
        proxy.set_delay(Duration::ZERO);
    }
}
