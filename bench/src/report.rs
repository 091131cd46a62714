//! The results: one [`Row`] per figure, printed as a markdown table and
//! written as JSON (the schema of the issue) and as an SVG chart.

use std::path::Path;

use serde::Serialize;

use crate::util::BenchResult;

/// One figure, raw against hisock. Serialized exactly as the report schema
/// asks: `workload`, `transport`, `metric`, `raw`, `hisock`, `ratio`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// "W1", "W2", "W3", "M1", "L1", "C1" or "R1".
    pub workload: &'static str,
    /// "tcp", "ws", "tls", "wss" or "mixed".
    pub transport: &'static str,
    /// What was measured (see the issue for the names).
    pub metric: &'static str,
    /// The raw stack's figure, when there is one.
    pub raw: Option<f64>,
    /// hisock's figure.
    pub hisock: f64,
    /// hisock / raw.
    pub ratio: Option<f64>,
}

impl Row {
    /// A row, with the ratio computed.
    pub fn new(
        workload: &'static str,
        transport: &'static str,
        metric: &'static str,
        raw: Option<f64>,
        hisock: f64,
    ) -> Self {
        let ratio = raw.filter(|r| *r > 0.0).map(|r| hisock / r);
        Self {
            workload,
            transport,
            metric,
            raw,
            hisock,
            ratio,
        }
    }

    /// The target this figure has to meet, as text, and whether it is met.
    pub fn target(&self) -> (String, Option<bool>) {
        let ratio = self.ratio;
        let at_least = |min: f64| (format!("≥ {min} × raw"), ratio.map(|r| r >= min));
        let at_most = |max: f64| (format!("≤ {max} × raw"), ratio.map(|r| r <= max));
        // Over TLS the raw side is tokio-rustls, whose cost hisock shares:
        // issue 12 asks for 0.8 × raw throughput (1.25 × raw latency) and
        // 24 KiB per idle connection.
        let tls = matches!(self.transport, "tls" | "wss");
        // With resumption on, W1 and W2 have the targets they have
        // without (issue 14: the bookkeeping must not push them below).
        let metric = self.metric.strip_suffix("_resume").unwrap_or(self.metric);
        match (self.workload, metric) {
            ("W1", _) if tls => at_least(0.8),
            ("W2", "p50_us") if tls => at_most(1.25),
            ("M1", "rss_bytes_per_conn") if tls => {
                ("≤ 24 KiB".into(), Some(self.hisock <= 24.0 * 1024.0))
            }
            ("W1", _) => at_least(0.5),
            ("W2", "p50_us") => at_most(1.2),
            ("W2", "p99_us") => at_most(1.5),
            ("W3", _) => at_least(0.5),
            ("M1", "rss_bytes_per_conn") => ("≤ 16 KiB".into(), Some(self.hisock <= 16384.0)),
            ("M1", "rss_wave3_over_wave1") => ("≤ 1.15".into(), Some(self.hisock <= 1.15)),
            ("L1", "mib_per_s") => at_least(0.9),
            ("L1", "small_p99_us") => ("< 5 ms".into(), Some(self.hisock < 5000.0)),
            // Issue 15: propagation on loopback within 1 ms; 3 nodes fan out
            // at half a single node's rate (raw: one node, no adapter).
            ("C1", "propagation_p50_us") => ("≤ 1 ms".into(), Some(self.hisock <= 1000.0)),
            ("C1", "fanout_deliveries_per_s") => at_least(0.5),
            _ => ("—".into(), None),
        }
    }
}

impl Row {
    /// What the raw figure is, where it is not the raw transport stack
    /// (C1's references), for the chart's labels.
    pub fn raw_is(&self) -> Option<&'static str> {
        match (self.workload, self.metric) {
            ("C1", "propagation_p50_us" | "propagation_p99_us") => Some("Redis PUBLISH"),
            ("C1", "fanout_deliveries_per_s") => Some("1 node, W3"),
            ("C1", "resume_moved_p50_us" | "resume_moved_p99_us") => Some("1 node, R1"),
            _ => None,
        }
    }
}

fn figure(value: f64, metric: &str) -> String {
    match metric {
        "rss_wave3_over_wave1" => format!("{value:.2}"),
        "rss_bytes_per_conn" => format!("{:.1} KiB", value / 1024.0),
        "mib_per_s" => format!("{value:.0}"),
        _ if value >= 1_000_000.0 => format!("{:.2} M", value / 1_000_000.0),
        _ if value >= 10_000.0 => format!("{:.0} k", value / 1000.0),
        _ => format!("{value:.0}"),
    }
}

/// The markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | transport | metric | raw | hisock | hisock/raw | target | met |\n\
         |---|---|---|---:|---:|---:|---|---|\n",
    );
    for row in rows {
        let (target, met) = row.target();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.workload,
            row.transport,
            row.metric,
            row.raw.map_or("—".into(), |r| figure(r, row.metric)),
            figure(row.hisock, row.metric),
            row.ratio.map_or("—".into(), |r| format!("{r:.2}")),
            target,
            match met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            }
        ));
    }
    out
}

/// Writes the rows as a JSON array.
pub fn write_json(rows: &[Row], path: &Path) -> BenchResult<()> {
    std::fs::write(path, serde_json::to_string_pretty(rows)?)?;
    Ok(())
}
