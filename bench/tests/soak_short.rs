//! The soak program in short: a few hundred clients for a few seconds,
//! with churn, over TCP and WebSocket. Asserts counts only (nothing lost,
//! duplicated or out of order, every request answered), never timings.

use std::path::PathBuf;
use std::process::{Command, ExitStatus};

use serde_json::Value;

/// Runs the soak binary; its printed summary goes through the test
/// harness's capture (shown when a test fails).
fn soak(name: &str, args: &[&str]) -> (ExitStatus, Value) {
    let json = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("soak-{name}.json"));
    let _ = std::fs::remove_file(&json);
    let output = Command::new(env!("CARGO_BIN_EXE_soak"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the soak binary runs");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    println!("{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&json).expect("the soak wrote its summary");
    (
        output.status,
        serde_json::from_str(&text).expect("the summary parses"),
    )
}

fn count(summary: &Value, path: &[&str]) -> u64 {
    let mut value = summary;
    for key in path {
        value = &value[key];
    }
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{path:?} is a count in {summary}"))
}

#[test]
fn a_short_soak_with_churn_loses_doubles_and_reorders_nothing() {
    let (status, out) = soak(
        "short",
        &[
            "--clients",
            "200",
            "--seconds",
            "4",
            "--lifetime",
            "2",
            "--round-ms",
            "250",
            // A bound against a hang on a crowded machine, not a timing.
            "--request-timeout-ms",
            "30000",
        ],
    );
    let summary = &out["summary"];
    assert!(
        status.success(),
        "soak failed: {status}: {}",
        out["failures"]
    );
    assert_eq!(out["passed"], true);
    for stream in ["broadcast", "group", "c2s", "direct"] {
        for bad in ["lost", "duplicated", "out_of_order", "unexpected"] {
            assert_eq!(count(summary, &[stream, bad]), 0, "{stream} {bad}");
        }
        let expected = count(summary, &[stream, "expected"]);
        assert!(expected > 0, "{stream}: something was sent");
        assert_eq!(count(summary, &[stream, "received"]), expected, "{stream}");
    }
    for requests in ["echo", "relay", "done"] {
        let sent = count(summary, &[requests, "sent"]);
        assert!(sent > 0, "{requests} requests were sent");
        assert_eq!(count(summary, &[requests, "ok"]), sent, "{requests}");
    }
    let asks = &summary["server"]["asks"];
    assert!(count(asks, &["sent"]) > 0, "the server asked clients");
    assert_eq!(
        count(asks, &["ok"]) + count(asks, &["churn"]),
        count(asks, &["sent"]),
        "every server request answered or left out by churn"
    );
    // Churn: more client lives than clients at once, over both transports.
    let lives = count(summary, &["tcp_clients"]) + count(summary, &["ws_clients"]);
    assert!(lives > 200, "clients came and went: {lives} lives");
    assert!(count(summary, &["tcp_clients"]) > 0);
    assert!(count(summary, &["ws_clients"]) > 0);
    assert!(
        count(summary, &["group_changes"]) > 0,
        "clients changed group"
    );
    assert_eq!(count(summary, &["unexpected_closes"]), 0);
    assert!(
        !summary["rss"]["samples"]
            .as_array()
            .expect("samples")
            .is_empty(),
        "the server's RSS was sampled"
    );
}

#[test]
fn a_broadcast_the_server_skips_is_counted_lost_and_fails_the_run() {
    let (status, out) = soak(
        "skip",
        &[
            "--clients",
            "20",
            "--seconds",
            "2",
            "--lifetime",
            "10",
            "--broadcast-ms",
            "50",
            "--skip-broadcast-every",
            "4",
        ],
    );
    assert_eq!(status.code(), Some(1), "a loss fails the run");
    assert_eq!(out["passed"], false);
    let summary = &out["summary"];
    assert!(count(summary, &["broadcast", "lost"]) > 0, "{summary}");
    assert_eq!(count(summary, &["broadcast", "duplicated"]), 0);
    assert_eq!(
        count(summary, &["c2s", "lost"]),
        0,
        "only broadcasts were skipped"
    );
}
