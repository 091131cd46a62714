//! `/metrics` of `chat_server`: the hisock server's figures (its `metrics`
//! feature) in the Prometheus text format, through
//! `metrics-exporter-prometheus` installed as the process's recorder.
//! README "Watching a server" lists the names.
//!
//! ```text
//! curl -s http://127.0.0.1:8080/metrics | grep hisock_
//! ```

use std::sync::OnceLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's Prometheus recorder, installed on first use. `None` when
/// another recorder was installed first (a program has one).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(err) => {
                tracing::warn!(%err, "no Prometheus recorder: /metrics stays empty");
                None
            }
        })
        .as_ref()
}

/// `GET /metrics`: everything recorded so far, as Prometheus text.
pub async fn scrape() -> Response {
    let Some(handle) = handle() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no Prometheus recorder").into_response();
    };
    // Histograms are folded into what `render` shows during upkeep.
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
