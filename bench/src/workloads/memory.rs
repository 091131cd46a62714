//! M1 memory: server RSS growth per idle connection, with the server and
//! the clients in separate processes (see `m1_child`), then churn: waves of
//! connect / idle / disconnect against the same server, with the server's
//! RSS while each wave's connections are open.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{progress, Samples};
use crate::m1_child::{Stack, CLIENTS_COMMAND, NO_PRESENCE, PRESENCE, SERVER_COMMAND};
use crate::options::Options;
use crate::report::Row;
use crate::util::{within, BenchResult};
use crate::Transport;

/// Runs M1 on TCP and WS.
pub async fn run(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    for &transport in &options.transports {
        let mut per_conn = Samples::default();
        let mut growth = Samples::default();
        for _ in 0..options.runs.min(crate::options::M1_RUNS) {
            let raw = match options.raw {
                true => Some(measure(Stack::Raw, transport, options).await?),
                false => None,
            };
            let hisock = measure(Stack::Hisock, transport, options).await?;
            progress(
                "M1",
                transport.name(),
                "rss_bytes_per_conn",
                raw.as_ref().map(|r| r.per_conn),
                hisock.per_conn,
            );
            progress(
                "M1",
                transport.name(),
                "rss_wave3_over_wave1",
                raw.as_ref().map(|r| r.growth),
                hisock.growth,
            );
            per_conn.push(raw.as_ref().map(|r| r.per_conn), hisock.per_conn);
            growth.push(raw.as_ref().map(|r| r.growth), hisock.growth);
        }
        rows.push(per_conn.row("M1", transport.name(), "rss_bytes_per_conn"));
        rows.push(growth.row("M1", transport.name(), "rss_wave3_over_wave1"));
    }
    Ok(rows)
}

struct Figures {
    /// (RSS with the first wave open − RSS before) / connections.
    per_conn: f64,
    /// RSS with the last wave open / RSS with the first wave open.
    growth: f64,
}

/// A helper process and its stdin/stdout.
struct Helper {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    name: String,
}

impl Helper {
    fn spawn(args: &[String]) -> BenchResult<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .env(crate::tls::DIR_VAR, crate::tls::shared_dir()?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        Ok(Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            name: args.join(" "),
        })
    }

    async fn send(&mut self, line: &str) -> BenchResult<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// The next line, which must start with `word`; returns the rest.
    async fn expect(&mut self, word: &str, limit: Duration) -> BenchResult<Vec<String>> {
        let line = within(limit, &self.name, self.lines.next_line())
            .await??
            .ok_or_else(|| format!("{} exited", self.name))?;
        let mut parts = line.split_whitespace().map(str::to_owned);
        if parts.next().as_deref() != Some(word) {
            return Err(format!("{}: expected {word:?}, got {line:?}", self.name).into());
        }
        Ok(parts.collect())
    }

    async fn finish(mut self, limit: Duration) {
        drop(self.stdin);
        if tokio::time::timeout(limit, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Asks the server for its RSS and connection count.
async fn server_rss(server: &mut Helper) -> BenchResult<(u64, usize)> {
    server.send("rss").await?;
    let answer = server.expect("rss", Duration::from_secs(10)).await?;
    match answer.as_slice() {
        [rss, conns] => Ok((rss.parse()?, conns.parse()?)),
        _ => Err(format!("bad rss answer {answer:?}").into()),
    }
}

/// Polls the server until it counts `want` connections.
async fn wait_for_conns(server: &mut Helper, want: usize, limit: Duration) -> BenchResult<u64> {
    let deadline = Instant::now() + limit;
    loop {
        let (rss, conns) = server_rss(server).await?;
        if conns == want {
            return Ok(rss);
        }
        if Instant::now() > deadline {
            return Err(format!("M1: server has {conns} connections, expected {want}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn measure(stack: Stack, transport: Transport, options: &Options) -> BenchResult<Figures> {
    let n = options.m1_conns;
    let presence = if options.m1_presence {
        PRESENCE
    } else {
        NO_PRESENCE
    };
    let mut server = Helper::spawn(&[
        SERVER_COMMAND.into(),
        stack.name().into(),
        transport.name().into(),
        presence.into(),
    ])?;
    let addr = server.expect("addr", options.limit).await?.join("");
    let (before, _) = server_rss(&mut server).await?;
    let mut waves = Vec::new();
    for _ in 0..options.m1_waves.max(1) {
        let mut clients = Helper::spawn(&[
            CLIENTS_COMMAND.into(),
            stack.name().into(),
            transport.name().into(),
            addr.clone(),
            n.to_string(),
        ])?;
        clients.expect("ready", options.limit).await?;
        wait_for_conns(&mut server, n, options.limit).await?;
        tokio::time::sleep(options.m1_idle).await;
        let (rss, _) = server_rss(&mut server).await?;
        waves.push(rss);
        clients.send("close").await?;
        clients.expect("closed", options.limit).await?;
        clients.finish(Duration::from_secs(10)).await;
        wait_for_conns(&mut server, 0, options.limit).await?;
    }
    server.send("quit").await?;
    server.finish(Duration::from_secs(10)).await;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "  M1 {} {transport}: RSS before {:.1} MiB, with {n} connections per wave: {}",
        stack.name(),
        mib(before),
        waves
            .iter()
            .map(|w| format!("{:.1} MiB", mib(*w)))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let first = waves[0];
    let last = waves[waves.len() - 1];
    Ok(Figures {
        per_conn: first.saturating_sub(before) as f64 / n as f64,
        growth: last as f64 / first as f64,
    })
}
