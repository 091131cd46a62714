//! Resumable sessions under chaos (issue 14, PROTOCOL.md section 13): 100
//! clients, TCP and WebSocket mixed, each through a [`FaultProxy`] and
//! with reconnection on, exchange numbered events and requests in both
//! directions while the proxies cut connections (a random few at a time,
//! at random points, inside frames too), stall them and delay them. Then
//! the receivers' [`SeqCheck`]s and the senders' [`RequestTally`]s say,
//! per client and direction, what was lost, duplicated or out of order,
//! and how every request ended.
//!
//! Two tests prove the harness can see: without faults it counts nothing
//! lost; with faults against a server that keeps no sessions it does
//! count losses. The third is the issue's: with sessions, nothing lost,
//! doubled or out of order, every request answered once.
//!
//! The third is `#[ignore]`d while main fails it (`cargo test --test
//! resume_chaos -- --include-ignored` runs it): some runs report frames
//! delivered twice (contiguous runs of numbers, both directions), and one
//! hung in a lock-order deadlock of the server (the [`Watchdog`] now ends
//! such a run instead of hanging).
//!
//! `HISOCK_CHAOS_SECONDS` sets how long the load of the third runs
//! (default 20), `HISOCK_CHAOS_SEED` the fault plan's seed (default:
//! random; printed, with the counts: run with `--nocapture` to see them).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use hisock::{Client, ClientInfo, ClientOptions, ConnectionChange, Data, Reconnect, Server};
use hisock_test_support::{
    init_tracing, within, AfterStall, DeliveryReport, Direction, FaultProxy, RequestTally,
    SeqCheck, StreamReport, Transport, Watchdog, WAIT,
};

/// Clients, half over TCP, half over WebSocket.
const CLIENTS: usize = 100;
/// Each side sends each client an event per tick...
const TICK: Duration = Duration::from_millis(25);
/// ...and a request every this many ticks...
const REQUEST_EVERY: u64 = 4;
/// ...with at most this many waiting for their answers.
const MAX_IN_FLIGHT: usize = 8;
/// No request may time out: a cut delays answers, it must not lose them.
const REQUEST_TIMEOUT: Duration = WAIT;
/// After the load, how long the counts may stay still before the
/// receivers are taken to have everything they will get.
const SETTLE_QUIET: Duration = Duration::from_secs(3);

/// What to run.
struct Plan {
    /// How long the clients and the server send.
    load: Duration,
    /// Whether the proxies cut, stall and delay meanwhile.
    faults: bool,
    /// The fault plan's seed.
    seed: u64,
}

/// What a run counted.
struct Outcome {
    report: DeliveryReport,
    cuts: usize,
    resumed: usize,
    fresh: usize,
    /// Events whose send failed, to the server and to clients.
    refused: [u64; 2],
}

/// Without faults the harness counts every event and request, and
/// nothing lost: the checker does not invent trouble.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_the_checker_counts_nothing_lost() {
    let plan = Plan {
        load: Duration::from_secs(2),
        faults: false,
        seed: 0,
    };
    let outcome = run(Server::new(), plan).await;
    let report = &outcome.report;
    for direction in [Direction::ToServer, Direction::ToClient] {
        let totals = report.totals(direction);
        assert!(
            totals.events_sent > CLIENTS as u64,
            "{direction:?}: {totals:?}"
        );
        assert!(totals.requests.sent > 0, "{direction:?}: {totals:?}");
    }
    assert!(report.is_clean(), "{:#?}", report.problems());
    assert_eq!(outcome.cuts, 0);
}

/// With cuts against a server that keeps no sessions, every reconnect is
/// a fresh session: what was in flight is gone, and the checker must see
/// it (a harness that reported nothing here could not fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sessions_the_checker_reports_what_cuts_lose() {
    let plan = Plan {
        load: Duration::from_secs(4),
        faults: true,
        seed: seed(),
    };
    let sessionless = Server::builder().session_window(Duration::ZERO).build();
    let outcome = run(sessionless, plan).await;
    assert!(outcome.cuts > 0);
    assert!(outcome.fresh > 0 && outcome.resumed == 0);
    assert!(
        outcome.report.losses() > 0,
        "{} cuts and nothing lost: the checker is blind",
        outcome.cuts
    );
}

/// The test: with server sessions, under repeated cuts, stalls
/// and delays, every event arrives once and in order in both directions,
/// and every request is handled once and answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fails on main 9de4b8b: frames doubled after two quick resumes (Outbox::resume_session) and a lock-order deadlock (join: registry then sessions; offer_resume: sessions then registry)"]
async fn with_sessions_nothing_is_lost_doubled_or_reordered_under_cuts() {
    let plan = Plan {
        load: chaos_seconds(),
        faults: true,
        seed: seed(),
    };
    let seed = plan.seed;
    let outcome = run(Server::new(), plan).await;
    assert!(outcome.cuts > 0);
    assert!(
        outcome.report.is_clean(),
        "seed {seed}: {:#?}",
        outcome.report.problems()
    );
    assert_eq!(outcome.fresh, 0, "seed {seed}: a session was not resumed");
}

fn chaos_seconds() -> Duration {
    let seconds = std::env::var("HISOCK_CHAOS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(20.0);
    Duration::from_secs_f64(seconds.max(0.5))
}

fn seed() -> u64 {
    std::env::var("HISOCK_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

/// What the receivers record, shared with the handlers: per client, the
/// events and the requests each side's handlers saw.
struct Seen {
    events: Vec<Mutex<SeqCheck>>,
    requests: Vec<Mutex<SeqCheck>>,
}

impl Seen {
    fn new() -> Arc<Self> {
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

    fn event(&self, client: usize, n: u64) {
        lock(&self.events[client]).see(n);
    }

    fn request(&self, client: usize, n: u64) {
        lock(&self.requests[client]).see(n);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The clients' reconnects: how many resumed (`[0]`) or went to a fresh
/// session (`[1]`), and, per client, how many events it had sent when
/// each happened (where a stream went wrong, next to them, says whether
/// a resume did it).
struct Reconnects {
    counts: [AtomicUsize; 2],
    events_sent: Vec<AtomicU64>,
    at: Vec<Mutex<Vec<u64>>>,
}

impl Reconnects {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            counts: [AtomicUsize::new(0), AtomicUsize::new(0)],
            events_sent: (0..CLIENTS).map(|_| AtomicU64::new(0)).collect(),
            at: (0..CLIENTS).map(|_| Mutex::new(Vec::new())).collect(),
        })
    }

    fn reconnected(&self, client: usize, resumed: bool) {
        self.counts[usize::from(!resumed)].fetch_add(1, Ordering::Relaxed);
        let sent = self.events_sent[client].load(Ordering::Relaxed);
        lock(&self.at[client]).push(sent);
    }

    /// What to say beside a client's problems.
    fn notes(&self, client: usize, events: &SeqCheck, requests: &SeqCheck) -> String {
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
struct Sent {
    events: u64,
    /// Events not queued (the send failed): their numbers were used again.
    refused: u64,
    requests: RequestTally,
}

/// Runs the plan against `server`: the clients and the server send for
/// `plan.load`, faults or not, then everything settles and is counted.
async fn run(server: Server, plan: Plan) -> Outcome {
    init_tracing();
    // Every step below is bounded by `within` or a timeout, which a
    // deadlocked runtime cannot fire.
    let _watchdog = Watchdog::start(plan.load + 6 * WAIT, "the chaos run");
    let to_server = Seen::new();
    let to_client = Seen::new();
    let ids: Arc<Vec<AtomicU64>> = Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());
    serve(&server, &to_server, &ids);
    let proxies = [
        FaultProxy::start(Transport::Tcp.listen(&server).await).await,
        FaultProxy::start(Transport::Ws.listen(&server).await).await,
    ];
    let reconnects = Reconnects::new();
    let clients = connect_all(&proxies, &to_client, &reconnects).await;
    within("every client joined", async {
        while ids.iter().any(|id| id.load(Ordering::Relaxed) == 0) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        senders.push(tokio::spawn(client_sends(
            i,
            client.clone(),
            reconnects.clone(),
            stop.clone(),
        )));
        senders.push(tokio::spawn(server_sends(
            i,
            server.clone(),
            ids.clone(),
            stop.clone(),
        )));
    }
    let trouble = plan
        .faults
        .then(|| make_trouble(&proxies, plan.seed, stop.clone()));
    let load = async {
        tokio::time::sleep(plan.load).await;
        stop.store(true, Ordering::Relaxed);
    };
    match trouble {
        Some(trouble) => futures::future::join(trouble, load).await.1,
        None => load.await,
    };
    let mut sent = Vec::new();
    for sender in senders {
        sent.push(
            within("a sender's last answers", sender)
                .await
                .expect("a sender"),
        );
    }
    let sent_to_server: Vec<&Sent> = sent.iter().step_by(2).collect();
    let sent_to_client: Vec<&Sent> = sent.iter().skip(1).step_by(2).collect();
    futures::future::join(
        settle(&to_server, &sent_to_server),
        settle(&to_client, &sent_to_client),
    )
    .await;

    let mut report = DeliveryReport::default();
    for (direction, seen, sent) in [
        (Direction::ToServer, &to_server, &sent_to_server),
        (Direction::ToClient, &to_client, &sent_to_client),
    ] {
        for (client, sent) in sent.iter().enumerate() {
            let events = lock(&seen.events[client]);
            let handled = lock(&seen.requests[client]);
            report.streams.push(StreamReport {
                client,
                direction,
                events_sent: sent.events,
                events: events.close(sent.events),
                requests: sent.requests.clone(),
                handled: handled.close(sent.requests.sent),
                notes: format!(
                    "{}; state at the end: {:?}",
                    reconnects.notes(client, &events, &handled),
                    clients[client].state()
                ),
            });
        }
    }
    let outcome = Outcome {
        report,
        cuts: proxies.iter().map(FaultProxy::cuts).sum(),
        resumed: reconnects.counts[0].load(Ordering::Relaxed),
        fresh: reconnects.counts[1].load(Ordering::Relaxed),
        refused: [&sent_to_server, &sent_to_client]
            .map(|sent| sent.iter().map(|s| s.refused).sum()),
    };
    print_outcome(&plan, &outcome);
    // All at once: a client with reconnection on takes 2 s to close (it
    // waits that long for the server to hang up after its Close).
    futures::future::join_all(
        clients
            .iter()
            .map(|client| tokio::time::timeout(WAIT, client.close())),
    )
    .await;
    let _ = tokio::time::timeout(WAIT, server.shutdown()).await;
    outcome
}

fn print_outcome(plan: &Plan, outcome: &Outcome) {
    println!(
        "chaos: {CLIENTS} clients (TCP and WS), {:.1} s of load, faults {}, seed {}: {} cuts, {} reconnects resumed, {} to a fresh session",
        plan.load.as_secs_f64(),
        if plan.faults { "on" } else { "off" },
        plan.seed,
        outcome.cuts,
        outcome.resumed,
        outcome.fresh,
    );
    println!(
        "sends that failed (their numbers used again): {} to the server, {} to clients",
        outcome.refused[0], outcome.refused[1]
    );
    println!("{}", outcome.report);
    for problem in outcome.report.problems().iter().take(20) {
        println!("  {problem}");
    }
}

/// The server's handlers: record what each client sent, answer its
/// requests with their numbers, and keep each client's current id (a
/// fresh session is a new id; a resumed one keeps it).
fn serve(server: &Server, seen: &Arc<Seen>, ids: &Arc<Vec<AtomicU64>>) {
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
async fn connect_all(
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
async fn client_sends(
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
async fn server_sends(
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
async fn make_trouble(proxies: &[FaultProxy; 2], seed: u64, stop: Arc<AtomicBool>) {
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

/// Waits until every receiver has seen the last number its sender used,
/// or until the counts have not moved for [`SETTLE_QUIET`] (what is
/// missing then is lost). Bounded by [`WAIT`].
async fn settle(seen: &Seen, sent: &[&Sent]) {
    let missing = || -> u64 {
        sent.iter()
            .enumerate()
            .map(|(client, sent)| {
                let events = lock(&seen.events[client]).close(sent.events).lost;
                let requests = lock(&seen.requests[client]).close(sent.requests.sent).lost;
                events + requests
            })
            .sum()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = (missing(), tokio::time::Instant::now());
    while last.0 > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = missing();
        if now != last.0 {
            last = (now, tokio::time::Instant::now());
        } else if last.1.elapsed() >= SETTLE_QUIET {
            break;
        }
    }
}
