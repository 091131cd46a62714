//! The chat's events, payloads and input parsing, shared by `chat_server`,
//! `chat_client` and (through generated TypeScript) the chat page.
//!
//! Rooms are hisock groups: a client joins one with its handshake
//! (`ClientOptions::group`) and moves with `Client::change_group`; the
//! server relays a line to the sender's group.
//!
//! The events are declared once, in [`ChatEvents`]; the page's
//! `web/chat-events.d.ts` is generated from it
//! (`cargo run -p hisock-examples --bin chat_typescript`), and a test
//! fails when the file is out of date.

use hisock::close::codes;
use hisock::{ClientInfo, CloseReason, ConnectionChange};
use serde::{Deserialize, Serialize};

/// The room a client joins unless told otherwise.
pub const DEFAULT_ROOM: &str = "lobby";

hisock::events! {
    /// The chat's events. Joins, leaves, renames and room changes are not
    /// here: hisock announces them itself (`client_connect`, …).
    pub ChatEvents {
        to_server {
            /// A line for the sender's room (sent, not answered; a failure
            /// comes back as a `rejected` event).
            Say("say"): String,
            /// A direct message: a request, answered once it is delivered
            /// (or refused, when nobody has that name).
            SendDm("dm"): DirectMessage,
        }
        to_client {
            /// A line someone said in your room.
            Chat("chat"): ChatLine,
            /// A direct message to you.
            Dm("dm"): ChatLine,
            /// A line from the server itself.
            Notice("notice"): String,
        }
    }
}

/// Where the chat page's generated event types live
/// (`examples/web/chat-events.d.ts`).
pub fn typescript_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/chat-events.d.ts")
}

/// A line of chat, as the server relays it (`chat` and `dm` events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ChatLine {
    /// Who wrote it.
    pub from: String,
    /// The room it was said in; `None` for a direct message.
    pub room: Option<String>,
    /// What was said.
    pub text: String,
}

/// A direct message, as a client sends it (`dm` request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct DirectMessage {
    /// The recipient's name.
    pub to: String,
    /// What to say.
    pub text: String,
}

/// How to call a client in the chat: its name, or `#id` when it has none.
pub fn display_name(client: &ClientInfo) -> String {
    match client.name() {
        Some(name) => name.to_string(),
        None => format!("#{}", client.id),
    }
}

/// Why the server refuses a client whose name another client has (the
/// server's auth hook says it; the client prints it).
pub fn name_taken(name: &str) -> String {
    format!("the name {name:?} is taken; pick another (--name, or the name field)")
}

/// The one line a chat client prints when its connection ends, in words
/// rather than a close code (the web page says the same, in chat.js).
pub fn farewell(why: &CloseReason) -> String {
    match why.code {
        codes::NORMAL => "* you left".to_string(),
        codes::ABNORMAL => {
            "! lost the connection to the server: it stopped, or the network failed".to_string()
        }
        codes::GOING_AWAY => "! the server is shutting down".to_string(),
        codes::KICKED => format!("! disconnected by the server: {}", why.reason),
        _ => format!("! connection closed: {why}"),
    }
}

/// The line a reconnecting chat client prints for a change of its
/// connection (the web page says the same, in chat.js); `None` for the
/// final `disconnected`, which [`farewell`] tells.
pub fn reconnect_line(change: &ConnectionChange) -> Option<String> {
    match change {
        ConnectionChange::Disconnected {
            will_retry: true, ..
        } => Some("! lost the connection to the server; reconnecting…".to_string()),
        ConnectionChange::Reconnecting { attempt, delay } => Some(format!(
            "* reconnecting: attempt {attempt} in {:.1} s",
            delay.as_secs_f64()
        )),
        ConnectionChange::Reconnected { resumed: true, .. } => {
            Some("* reconnected: nothing was lost".to_string())
        }
        ConnectionChange::Reconnected { .. } => Some("* reconnected".to_string()),
        _ => None,
    }
}

/// The commands of the chat client.
pub const HELP: &str = "\
commands:
  TEXT            say TEXT to your room
  /msg NAME TEXT  send TEXT to NAME only
  /name NEW       change your name
  /join ROOM      move to ROOM
  /who            list everyone on the server
  /help           this text
  /quit           leave";

/// One line of user input, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Plain text: say it to the room.
    Say(String),
    /// `/msg NAME TEXT`
    Msg {
        /// The recipient's name.
        to: String,
        /// The message.
        text: String,
    },
    /// `/name NEW`
    Name(String),
    /// `/join ROOM`
    Join(String),
    /// `/who`
    Who,
    /// `/help`
    Help,
    /// `/quit`
    Quit,
    /// A command that is unknown or misses an argument; the text says what
    /// is wrong.
    Invalid(String),
}

impl Input {
    /// Parses one line; `None` for a blank line.
    pub fn parse(line: &str) -> Option<Input> {
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        let Some(command) = line.strip_prefix('/') else {
            return Some(Input::Say(line.to_string()));
        };
        let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim();
        let needs = |what: &str| Input::Invalid(format!("usage: /{verb} {what}"));
        Some(match verb {
            "msg" => match rest.split_once(' ') {
                Some((to, text)) if !text.trim().is_empty() => Input::Msg {
                    to: to.to_string(),
                    text: text.trim().to_string(),
                },
                _ => needs("NAME TEXT"),
            },
            "name" if rest.is_empty() => needs("NEW"),
            "name" => Input::Name(rest.to_string()),
            "join" if rest.is_empty() => needs("ROOM"),
            "join" => Input::Join(rest.to_string()),
            "who" => Input::Who,
            "help" => Input::Help,
            "quit" => Input::Quit,
            _ => Input::Invalid(format!("unknown command /{verb}; /help lists them")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's `chat-events.d.ts` is what the declaration generates today
    /// (`cargo run -p hisock-examples --bin chat_typescript` rewrites it).
    #[test]
    fn chat_events_typescript_is_up_to_date() {
        let committed = std::fs::read_to_string(typescript_path()).unwrap_or_default();
        assert!(
            committed == hisock::typescript::declarations::<ChatEvents>(),
            "examples/web/chat-events.d.ts is out of date: run \
             `cargo run -p hisock-examples --bin chat_typescript`"
        );
    }

    #[test]
    fn plain_text_is_said_to_the_room_and_blank_lines_are_skipped() {
        assert_eq!(Input::parse("  hi all "), Some(Input::Say("hi all".into())));
        assert_eq!(Input::parse("   "), None);
    }

    #[test]
    fn slash_commands_parse_with_their_arguments() {
        assert_eq!(
            Input::parse("/msg bob see you later"),
            Some(Input::Msg {
                to: "bob".into(),
                text: "see you later".into()
            })
        );
        assert_eq!(Input::parse("/name ada"), Some(Input::Name("ada".into())));
        assert_eq!(
            Input::parse("/join games"),
            Some(Input::Join("games".into()))
        );
        assert_eq!(Input::parse("/who"), Some(Input::Who));
        assert_eq!(Input::parse("/quit"), Some(Input::Quit));
    }

    #[test]
    fn a_lost_server_is_said_in_words_not_as_a_close_code() {
        let lost = farewell(&CloseReason::new(codes::ABNORMAL, ""));
        assert!(lost.contains("lost the connection to the server"), "{lost}");
        assert!(!lost.contains("1006"), "{lost}");
        let kicked = farewell(&CloseReason::new(codes::KICKED, "be nice"));
        assert_eq!(kicked, "! disconnected by the server: be nice");
        assert_eq!(farewell(&CloseReason::new(codes::NORMAL, "")), "* you left");
    }

    #[test]
    fn missing_arguments_and_unknown_commands_are_invalid() {
        for line in ["/msg bob", "/name", "/join  ", "/dance"] {
            assert!(
                matches!(Input::parse(line), Some(Input::Invalid(_))),
                "{line}"
            );
        }
    }
}
