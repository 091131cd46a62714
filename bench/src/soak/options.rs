//! The soak's command line. The server process gets the same options, as
//! JSON in one argument.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Serialize};

/// A crowd of hisock clients (TCP and WebSocket) with names, groups and
/// churn, sending events and requests both ways for a while, against one
/// server in a child process; every delivery is accounted for.
#[derive(Parser, Debug, Clone, Serialize, Deserialize)]
#[command(name = "soak")]
pub struct Options {
    /// Clients connected at any time.
    #[arg(long, default_value_t = 2000)]
    pub clients: usize,
    /// Seconds the crowd runs; then every client leaves.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// A client's mean lifetime in seconds: each lives 0.5–1.5 times this
    /// (the first ones 0.1–1.5 times, so churn starts at once), then a new
    /// client takes its place.
    #[arg(long, default_value_t = 20.0)]
    pub lifetime: f64,
    /// Milliseconds between a client's rounds: each round sends `--events`
    /// events, one echo request and one direct message to another client.
    #[arg(long, default_value_t = 1000)]
    pub round_ms: u64,
    /// Client → server events per round.
    #[arg(long, default_value_t = 4)]
    pub events: u32,
    /// Groups; a client joins one at connect time.
    #[arg(long, default_value_t = 16)]
    pub groups: u32,
    /// A client leaves its group (for another, or for none) once every this
    /// many rounds on average.
    #[arg(long, default_value_t = 5)]
    pub group_every: u32,
    /// Milliseconds between the server's broadcasts to all.
    #[arg(long, default_value_t = 200)]
    pub broadcast_ms: u64,
    /// Milliseconds between the server's casts to one group (the groups
    /// take turns).
    #[arg(long, default_value_t = 20)]
    pub group_cast_ms: u64,
    /// Milliseconds between the server's requests to a random client.
    #[arg(long, default_value_t = 5)]
    pub ask_ms: u64,
    /// Timeout of every request, both ways, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Milliseconds between samples of the server's RSS.
    #[arg(long, default_value_t = 1000)]
    pub sample_ms: u64,
    /// Which transports the clients use: tcp, ws or mixed (half each).
    #[arg(long, default_value = "mixed")]
    pub transports: String,
    /// Connections opened at once while the crowd fills up.
    #[arg(long, default_value_t = 128)]
    pub connect_concurrency: usize,
    /// Fault injection, to show the accounting catches a loss: the server
    /// numbers every this-many-th broadcast but does not send it (0: off).
    #[arg(long, default_value_t = 0, hide = true)]
    pub skip_broadcast_every: u64,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl Options {
    /// How long the crowd runs.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.max(0.0))
    }

    /// The timeout of every request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Checks what clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !["tcp", "ws", "mixed"].contains(&self.transports.as_str()) {
            return Err(format!(
                "--transports must be tcp, ws or mixed, not {:?}",
                self.transports
            ));
        }
        if self.clients == 0 || self.groups == 0 || self.connect_concurrency == 0 {
            return Err("--clients, --groups and --connect-concurrency must be at least 1".into());
        }
        if [
            self.round_ms,
            self.broadcast_ms,
            self.group_cast_ms,
            self.ask_ms,
            self.sample_ms,
        ]
        .contains(&0)
        {
            return Err("intervals must be at least 1 ms".into());
        }
        Ok(())
    }
}
