//! The benchmark runs end to end: `bench --quick` finishes and writes a
//! report with every workload's figures (no assertion on speed).

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn quick_benchmark_writes_a_report_with_every_workload() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-quick");
    let _ = std::fs::remove_dir_all(&out);
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("--quick")
        .arg("--out")
        .arg(&out)
        .status()
        .expect("the bench binary runs");
    assert!(status.success(), "bench --quick failed: {status}");
    // Not a speed assertion: a generous bound so a hang is reported as one.
    assert!(
        started.elapsed() < Duration::from_secs(600),
        "bench --quick took {:?}",
        started.elapsed()
    );

    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("report.json parses");
    let has = |workload: &str, transport: &str, metric: &str| {
        rows.iter().any(|row| {
            row["workload"] == workload
                && row["transport"] == transport
                && row["metric"] == metric
                && row["hisock"].is_number()
        })
    };
    for transport in ["tcp", "ws"] {
        assert!(has("W1", transport, "events_per_s"), "W1 {transport}");
        assert!(has("W2", transport, "p50_us"), "W2 p50 {transport}");
        assert!(has("W2", transport, "p99_us"), "W2 p99 {transport}");
        assert!(has("W3", transport, "deliveries_per_s"), "W3 {transport}");
        assert!(has("M1", transport, "rss_bytes_per_conn"), "M1 {transport}");
        assert!(
            has("M1", transport, "rss_wave3_over_wave1"),
            "M1 churn {transport}"
        );
        assert!(has("L1", transport, "mib_per_s"), "L1 {transport}");
        assert!(has("L1", transport, "small_p99_us"), "L1 p99 {transport}");
    }
    assert!(has("W3", "mixed", "deliveries_per_s"), "W3 mixed");
    // TLS and WSS beside raw tokio-rustls: W1, W2 and M1.
    for transport in ["tls", "wss"] {
        assert!(has("W1", transport, "events_per_s"), "W1 {transport}");
        assert!(has("W2", transport, "p50_us"), "W2 p50 {transport}");
        assert!(has("W2", transport, "p99_us"), "W2 p99 {transport}");
        assert!(has("M1", transport, "rss_bytes_per_conn"), "M1 {transport}");
        assert!(
            has("M1", transport, "rss_wave3_over_wave1"),
            "M1 churn {transport}"
        );
    }
    for row in &rows {
        for key in ["workload", "transport", "metric", "raw", "hisock", "ratio"] {
            assert!(row.get(key).is_some(), "{key} in {row}");
        }
        assert!(
            row["raw"].is_number(),
            "raw measured in the same run: {row}"
        );
        assert!(row["ratio"].is_number(), "ratio: {row}");
    }
    let chart = std::fs::read_to_string(out.join("chart.svg")).expect("chart written");
    assert!(chart.contains("<svg"), "the chart is an SVG");
}
