//! The web side of `chat_server`: one axum app on one port that serves
//!
//! - `/` the chat page (`examples/web/`, built into the binary),
//! - `/pkg/FILE` the browser client, the npm package that
//!   `scripts/build-npm.sh` builds into `wasm/pkg/` (read from disk, so a
//!   rebuild shows up on reload; when it is missing, the page says how to
//!   build it),
//! - `/ws` the chat itself: the same hisock [`Server`] that listens on TCP
//!   and WebSocket, mounted with `hisock_ws::axum::route`, so a browser tab
//!   chats with terminal clients,
//! - `/metrics` the server's figures as Prometheus text (see
//!   [`prometheus`](crate::prometheus)).
//!
//! ```no_run
//! use hisock_examples::web;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let chat = hisock::Server::new();
//! let addr = "127.0.0.1:8080".parse().expect("an address");
//! let bound = web::listen(chat, addr, web::default_package_dir()).await?;
//! println!("open http://{bound}/");
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hisock::Server;

const PAGE: &str = include_str!("../web/index.html");
const SCRIPT: &str = include_str!("../web/chat.js");
const STYLE: &str = include_str!("../web/chat.css");

/// What the page and the `/pkg/` route say when the package is missing.
pub const BUILD_HINT: &str = "the browser client is not built: run `bash scripts/build-npm.sh`";

/// Where `scripts/build-npm.sh` puts the npm package: `wasm/pkg/` of this
/// workspace (found from this crate's folder, so any working directory does).
pub fn default_package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wasm/pkg")
}

/// True when `dir` holds a built package.
pub fn package_is_built(dir: &Path) -> bool {
    dir.join("hisock.js").is_file()
}

/// The app: the page, its script and style, the package from `package_dir`,
/// `server` on `/ws` and the figures on `/metrics` (this installs the
/// Prometheus recorder, if no other recorder is installed yet).
pub fn router(server: Server, package_dir: PathBuf) -> Router {
    crate::prometheus::handle();
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/chat.js",
            get(|| async { text("text/javascript", SCRIPT) }),
        )
        .route("/chat.css", get(|| async { text("text/css", STYLE) }))
        .route("/pkg/{file}", get(package_file))
        .route("/ws", hisock_ws::axum::route(server))
        .route("/metrics", get(crate::prometheus::scrape))
        .with_state(Arc::new(package_dir))
}

/// Binds `addr` (port 0 picks a free one) and serves [`router`] on a
/// background task, for as long as the program runs. Returns the bound
/// address.
pub async fn listen(
    server: Server,
    addr: SocketAddr,
    package_dir: PathBuf,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    // Connect info gives hisock the browsers' addresses.
    let app = router(server, package_dir).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(%err, "the web server stopped");
        }
    });
    Ok(bound)
}

fn text(kind: &str, body: &'static str) -> Response {
    let content_type = format!("{kind}; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /pkg/FILE`: one file of the package folder, which is flat.
async fn package_file(State(dir): State<Arc<PathBuf>>, UrlPath(file): UrlPath<String>) -> Response {
    // One plain file name, never a path out of the folder (`..`, `a/b`
    // after percent-decoding, hidden files).
    if file.starts_with('.') || file.contains(['/', '\\']) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match tokio::fs::read(dir.join(&file)).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, content_type(&file)),
                // Always ask again, so that a rebuilt package is picked up.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        Err(_) if !package_is_built(&dir) => (StatusCode::NOT_FOUND, BUILD_HINT).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        // Browsers compile a .wasm while it downloads only with this type.
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("ts" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
