//! The workloads, run by the Rust client in the page.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use hisock::{Client, ClientOptions, Data};
use js_sys::{Float64Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;

/// Timeout of every request: far above any round trip, so a hang fails
/// the run instead of stalling it.
const TIMEOUT: Duration = Duration::from_secs(60);

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: milliseconds with sub-millisecond resolution.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn now() -> f64;
}

/// How many `item` events have arrived, and who waits for how many.
#[derive(Default)]
struct Items {
    seen: Cell<u64>,
    want: Cell<u64>,
    waker: RefCell<Option<Waker>>,
}

/// A connected Rust client, driven from the page's JavaScript.
#[wasm_bindgen]
pub struct RustBench {
    client: Client,
    items: Rc<Items>,
}

#[wasm_bindgen]
impl RustBench {
    /// Connects to the hisock server at `url` (`ws://…`).
    pub async fn connect(url: String) -> Result<RustBench, JsValue> {
        let items = Rc::new(Items::default());
        let seen = items.clone();
        let options = ClientOptions::new().on("item", move |Data(_text): Data<String>| {
            let n = seen.seen.get() + 1;
            seen.seen.set(n);
            if n >= seen.want.get() {
                if let Some(waker) = seen.waker.borrow_mut().take() {
                    waker.wake();
                }
            }
            async {}
        });
        let client = hisock_wasm::connect(&url, options).await.map_err(error)?;
        Ok(RustBench { client, items })
    }

    /// `n` `echo` round trips of `text`, `inflight` at a time. Resolves to
    /// `{ elapsedMs, latenciesMs }` (one latency per round trip).
    pub fn rtt(&self, text: String, n: u32, inflight: u32) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            let text: &str = &text;
            let left = Cell::new(n);
            let latencies = RefCell::new(Vec::with_capacity(n as usize));
            let start = now();
            let lanes = (0..inflight.max(1)).map(|_| async {
                while left.get() > 0 {
                    left.set(left.get() - 1);
                    let sent = now();
                    let reply: String = client.request("echo", text, TIMEOUT).await?;
                    latencies.borrow_mut().push(now() - sent);
                    if reply.len() != text.len() {
                        return Err(hisock::Error::Decode("echo: wrong reply".into()));
                    }
                }
                Ok(())
            });
            for lane in futures::future::join_all(lanes).await {
                lane.map_err(error)?;
            }
            let elapsed = now() - start;
            let latencies = latencies.into_inner();
            Ok(timings(elapsed, &latencies, None))
        })
    }

    /// Sends `n` `sink` events of `text`, then asks the server's `count`.
    /// Resolves to `{ elapsedMs, count }`, `count` being the server's
    /// total (the caller subtracts the one from before).
    pub fn sink(&self, text: String, n: u32) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            let start = now();
            for _ in 0..n {
                client.send("sink", text.as_str()).await.map_err(error)?;
            }
            let count: u64 = client.request("count", (), TIMEOUT).await.map_err(error)?;
            Ok(timings(now() - start, &[], Some(count as f64)))
        })
    }

    /// The server's `sink` count.
    pub fn count(&self) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            let count: u64 = client.request("count", (), TIMEOUT).await.map_err(error)?;
            Ok(JsValue::from_f64(count as f64))
        })
    }

    /// Asks the server for `n` `item` events of `text` and waits for all of
    /// them (and the reply). Resolves to `{ elapsedMs, count }`.
    pub fn stream(&self, text: String, n: u32) -> Promise {
        let client = self.client.clone();
        let items = self.items.clone();
        future_to_promise(async move {
            items.seen.set(0);
            items.want.set(u64::from(n));
            let start = now();
            let sent: u64 = client
                .request("stream", (n, text.as_str()), TIMEOUT)
                .await
                .map_err(error)?;
            poll_fn(|cx| {
                if items.seen.get() >= u64::from(n) {
                    return Poll::Ready(());
                }
                *items.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            let elapsed = now() - start;
            Ok(timings(
                elapsed,
                &[],
                Some(sent.min(items.seen.get()) as f64),
            ))
        })
    }

    /// Closes the connection.
    pub fn close(&self) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            client.close().await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// `{ elapsedMs, latenciesMs?, count? }`.
fn timings(elapsed: f64, latencies: &[f64], count: Option<f64>) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: &JsValue| {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    };
    set("elapsedMs", &JsValue::from_f64(elapsed));
    if !latencies.is_empty() {
        set("latenciesMs", &Float64Array::from(latencies).into());
    }
    if let Some(count) = count {
        set("count", &JsValue::from_f64(count));
    }
    object.into()
}

fn error(err: hisock::Error) -> JsValue {
    js_sys::Error::new(&err.to_string()).into()
}
