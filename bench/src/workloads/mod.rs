//! The workloads. Each one measures raw and hisock on each transport,
//! `runs` times, and reports medians.

mod cluster;
mod fanout;
mod large;
mod memory;
mod resume;
mod rpc;
mod stream;

use crate::options::Options;
use crate::report::Row;
use crate::stats::median;
use crate::util::BenchResult;

/// Runs the selected workloads in order and returns every figure.
pub async fn run_all(options: &Options) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    for workload in crate::options::WORKLOADS {
        if !options.runs_workload(workload) {
            continue;
        }
        eprintln!("{workload}: running (load {})", crate::util::load_average());
        let started = std::time::Instant::now();
        let mut new_rows = match *workload {
            "W1" => stream::run(options).await?,
            "W2" => rpc::run(options).await?,
            "W3" => fanout::run(options).await?,
            "M1" => memory::run(options).await?,
            "L1" => large::run(options).await?,
            "C1" => cluster::run(options).await?,
            "R1" => resume::run(options).await?,
            _ => Vec::new(),
        };
        eprintln!(
            "{workload}: done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        rows.append(&mut new_rows);
    }
    Ok(rows)
}

/// Figures of one kind collected over several runs, raw and hisock.
#[derive(Debug, Default)]
pub struct Samples {
    raw: Vec<f64>,
    hisock: Vec<f64>,
}

impl Samples {
    /// Adds one run's figures.
    pub fn push(&mut self, raw: Option<f64>, hisock: f64) {
        if let Some(raw) = raw {
            self.raw.push(raw);
        }
        self.hisock.push(hisock);
    }

    /// The row with the medians.
    pub fn row(
        &self,
        workload: &'static str,
        transport: &'static str,
        metric: &'static str,
    ) -> Row {
        let raw = (!self.raw.is_empty()).then(|| median(&self.raw));
        Row::new(workload, transport, metric, raw, median(&self.hisock))
    }
}

/// Prints one run's figures, so a long run shows progress.
pub fn progress(workload: &str, transport: &str, metric: &str, raw: Option<f64>, hisock: f64) {
    match raw {
        Some(raw) => eprintln!(
            "  {workload} {transport} {metric}: raw {raw:.1}, hisock {hisock:.1} (ratio {:.2})",
            hisock / raw
        ),
        None => eprintln!("  {workload} {transport} {metric}: hisock {hisock:.1}"),
    }
}

/// A run with resumption on failed: said on stderr, its rows are left out
/// of the table, and that figure's other runs are skipped; the plain
/// figures and the other workloads go on.
pub fn resume_failed(workload: &str, transport: crate::Transport, err: &crate::util::BenchError) {
    eprintln!("  {workload} {transport} with resumption on FAILED (its rows are left out): {err}");
}
