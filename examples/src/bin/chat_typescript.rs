//! Writes the chat's event types for its web page: `examples/web/chat-events.d.ts`,
//! generated from [`ChatEvents`](hisock_examples::chat::ChatEvents), which
//! `chat.ts` imports (`connect<ChatEvents>(url)`).
//!
//! ```text
//! cargo run -p hisock-examples --bin chat_typescript
//! ```
//!
//! The test `chat_events_typescript_is_up_to_date` fails when the file is
//! out of date, so a change to the events cannot leave the page behind.

fn main() -> Result<(), hisock_examples::Failure> {
    let path = hisock_examples::chat::typescript_path();
    let wrote = hisock::typescript::write::<hisock_examples::chat::ChatEvents>(&path)?;
    println!(
        "{} {}",
        if wrote { "wrote" } else { "up to date:" },
        path.display()
    );
    Ok(())
}
