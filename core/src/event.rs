//! Typed events: an event declared once, with its name, its payload type
//! and its reply type, used by the server, the Rust client (native or
//! wasm32) and — through generated TypeScript — the npm client.
//!
//! [`events!`](crate::events) declares a set of events; each becomes a unit
//! struct that implements [`Event`] and says which way it goes
//! ([`ToServer`] or [`ToClient`]). The typed methods take the event as
//! their first argument, so the compiler checks every payload, reply and
//! handler against the declaration:
//!
//! | side | method | checked |
//! |---|---|---|
//! | server | [`Server::on_event`](crate::Server::on_event) (a [`ToServer`] event) | the handler's first argument is the payload; its return value is the reply |
//! | server | [`Emit::emit_event`](crate::server::Emit::emit_event), [`Server::request_event`](crate::Server::request_event) (a [`ToClient`] event) | the payload; the reply |
//! | client | [`Client::send_event`](crate::Client::send_event), [`Client::request_event`](crate::Client::request_event) (a [`ToServer`] event) | the payload; the reply |
//! | client | [`Client::on_event`](crate::Client::on_event), [`ClientOptions::on_event`](crate::ClientOptions::on_event), [`Client::recv_event`](crate::Client::recv_event) (a [`ToClient`] event) | the handler's argument and reply; the payload |
//!
//! On the wire a typed event is an ordinary event under its name: a typed
//! sender and an untyped receiver (or a Python client) understand each
//! other. With the `typescript` feature,
//! [`typescript::declarations`](crate::typescript::declarations) writes the
//! set as a TypeScript event map for `connect<ChatEvents>(url)` in the npm
//! client.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct ChatLine {
//!     pub from: String,
//!     pub text: String,
//! }
//!
//! hisock::events! {
//!     /// What the chat's clients and server say to each other.
//!     pub ChatEvents {
//!         to_server {
//!             /// A line the user typed.
//!             Say("say"): String,
//!             /// Who is in the room (the reply).
//!             Members("members"): () => Vec<String>,
//!         }
//!         to_client {
//!             /// A line someone said.
//!             Said("said"): ChatLine,
//!         }
//!     }
//! }
//!
//! use hisock::event::Event;
//! assert_eq!(Say::NAME, "say");
//! assert_eq!(<ChatEvents as hisock::event::EventMap>::NAME, "ChatEvents");
//! ```

//! What the compiler refuses: a payload that is not the declared one
//! (this fails to build; the server's side of this list is in
//! `server::typed`, the docs of `Server::on_event`):
//!
//! ```compile_fail
//! # hisock::events! { pub Calc { to_server { Add("add"): i64 => i64 } to_client { Sum("sum"): i64 } } }
//! # async fn f(client: hisock::Client) {
//! client.send_event(Add, "one".to_string()).await;
//! # }
//! ```
//!
//! ```
//! # hisock::events! { pub Calc { to_server { Add("add"): i64 => i64 } to_client { Sum("sum"): i64 } } }
//! # async fn f(client: hisock::Client) -> hisock::Result<()> {
//! // The same call with the declared payload.
//! client.send_event(Add, 1_i64).await?;
//! let two: i64 = client.request_event(Add, 1_i64, std::time::Duration::from_secs(1)).await?;
//! # let _ = two; Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::transport::{MaybeSend, MaybeSync};

/// An event declared once: its name on the wire, its payload and its reply.
/// Usually written with [`events!`](crate::events); a hand-written impl
/// works the same.
pub trait Event: Copy + MaybeSend + MaybeSync + 'static {
    /// The command name on the wire.
    const NAME: &'static str;
    /// Its doc comment, one line per line (empty when it has none); the
    /// generated TypeScript carries it.
    const DOCS: &'static str = "";
    /// What the event carries.
    type Payload: Serialize + DeserializeOwned + MaybeSend + 'static;
    /// What a request of this event is answered with (`()` for events that
    /// are only sent).
    type Reply: Serialize + DeserializeOwned + MaybeSend + 'static;
}

/// An event that clients send and the server handles (its requests are
/// answered by the server).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event clients send",
    label = "declared under `to_client`, or not an event",
    note = "clients send the events of `to_server`; the server sends those of `to_client`"
)]
pub trait ToServer: Event {}

/// An event that the server sends and clients handle (its requests are
/// answered by a client).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event the server sends",
    label = "declared under `to_server`, or not an event",
    note = "clients send the events of `to_server`; the server sends those of `to_client`"
)]
pub trait ToClient: Event {}

/// A declared set of events, in both directions: what
/// [`typescript::declarations`](crate::typescript::declarations) turns
/// into one TypeScript event map. [`events!`](crate::events) implements it.
pub trait EventMap {
    /// The set's name (the TypeScript interface's name).
    const NAME: &'static str;
    /// Its doc comment (empty when it has none).
    const DOCS: &'static str = "";
    /// The events clients send, as a list `(A, (B, ()))`.
    type ToServer: EventList;
    /// The events the server sends, as a list.
    type ToClient: EventList;
}

/// A list of events, as nested pairs ending in `()`: `(A, (B, ()))`. The
/// nesting lets a set hold any number of events without a limit on tuple
/// sizes.
pub trait EventList {
    /// Calls `each` with every event's name, in order.
    fn names(each: &mut dyn FnMut(&'static str));
}

impl EventList for () {
    fn names(_: &mut dyn FnMut(&'static str)) {}
}

impl<E: Event, Rest: EventList> EventList for (E, Rest) {
    fn names(each: &mut dyn FnMut(&'static str)) {
        each(E::NAME);
        Rest::names(each);
    }
}

/// Every event name of a set, clients' first: for checks such as "no name
/// is declared twice in one direction".
pub fn names<M: EventMap>() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut to_server = Vec::new();
    M::ToServer::names(&mut |name| to_server.push(name));
    let mut to_client = Vec::new();
    M::ToClient::names(&mut |name| to_client.push(name));
    (to_server, to_client)
}

/// Declares a set of typed events: a unit struct per event (implementing
/// [`Event`] and [`ToServer`] or [`ToClient`]) and a struct for the set
/// (implementing [`EventMap`]).
///
/// ```
/// hisock::events! {
///     /// A counter service.
///     pub CounterEvents {
///         to_server {
///             /// Adds to the counter; the reply is the new total.
///             Add("add"): i64 => i64,
///             /// Resets the counter (sent, never answered).
///             Reset("reset"): (),
///         }
///         to_client {
///             /// The counter changed.
///             Changed("changed"): i64,
///         }
///     }
/// }
/// # use hisock::event::Event;
/// # assert_eq!(Add::NAME, "add");
/// ```
///
/// Each entry is `Name("wire name"): Payload` or `Name("wire name"):
/// Payload => Reply`; the reply is `()` when left out. An event that goes
/// both ways is two entries (one per section; the wire names may be the
/// same). Attributes and doc comments on the set and on each event are
/// kept; the doc comments are carried into the generated TypeScript.
#[macro_export]
macro_rules! events {
    (
        $(#[$($map_attr:tt)*])*
        $vis:vis $map:ident {
            to_server {
                $(
                    $(#[$($server_attr:tt)*])*
                    $server_event:ident ( $server_name:literal ) : $server_payload:ty $(=> $server_reply:ty)?
                ),* $(,)?
            }
            to_client {
                $(
                    $(#[$($client_attr:tt)*])*
                    $client_event:ident ( $client_name:literal ) : $client_payload:ty $(=> $client_reply:ty)?
                ),* $(,)?
            }
        }
    ) => {
        $(#[$($map_attr)*])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $map;

        impl $crate::event::EventMap for $map {
            const NAME: &'static str = stringify!($map);
            const DOCS: &'static str = $crate::__event_docs!($(#[$($map_attr)*])*);
            type ToServer = $crate::events!(@list $($server_event),*);
            type ToClient = $crate::events!(@list $($client_event),*);
        }

        $(
            $crate::events!(@event [$(#[$($server_attr)*])*] $vis $server_event, $server_name,
                $server_payload, ($($server_reply)?), ToServer);
        )*
        $(
            $crate::events!(@event [$(#[$($client_attr)*])*] $vis $client_event, $client_name,
                $client_payload, ($($client_reply)?), ToClient);
        )*
    };

    (@list) => { () };
    (@list $head:ident $(, $rest:ident)*) => { ($head, $crate::events!(@list $($rest),*)) };

    (@reply ()) => { () };
    (@reply ($reply:ty)) => { $reply };

    (@event [$($attrs:tt)*] $vis:vis $event:ident, $name:literal, $payload:ty, ($($reply:ty)?), $direction:ident) => {
        $($attrs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $event;

        impl $crate::event::Event for $event {
            const NAME: &'static str = $name;
            const DOCS: &'static str = $crate::__event_docs!($($attrs)*);
            type Payload = $payload;
            type Reply = $crate::events!(@reply ($($reply)?));
        }

        impl $crate::event::$direction for $event {}
    };
}

/// The doc comments among attributes, one line each (for
/// [`Event::DOCS`]); other attributes are skipped.
#[doc(hidden)]
#[macro_export]
macro_rules! __event_docs {
    () => { "" };
    (#[doc = $doc:literal] $($rest:tt)*) => {
        concat!($doc, "\n", $crate::__event_docs!($($rest)*))
    };
    (#[$($other:tt)*] $($rest:tt)*) => { $crate::__event_docs!($($rest)*) };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::events! {
        /// Test events.
        pub(crate) TestEvents {
            to_server {
                /// Sent.
                Hello("hello"): String,
                Sum("sum"): Vec<i64> => i64,
            }
            to_client {
                Tick("tick"): u32,
                Ping("hello"): () => bool,
            }
        }
    }

    #[test]
    fn declared_names_payloads_and_replies() {
        fn reply_of<E: Event>(_: E) -> &'static str {
            std::any::type_name::<E::Reply>()
        }
        assert_eq!(Hello::NAME, "hello");
        assert_eq!(reply_of(Hello), "()");
        assert_eq!(reply_of(Sum), "i64");
        assert_eq!(reply_of(Ping), "bool");
        assert_eq!(<TestEvents as EventMap>::NAME, "TestEvents");
        assert_eq!(<TestEvents as EventMap>::DOCS, " Test events.\n");
        assert_eq!(Hello::DOCS, " Sent.\n");
        assert_eq!(Sum::DOCS, "");
        let (to_server, to_client) = names::<TestEvents>();
        assert_eq!(to_server, ["hello", "sum"]);
        // The same wire name may go both ways, as two events.
        assert_eq!(to_client, ["tick", "hello"]);
    }

    #[test]
    fn directions_are_types() {
        fn to_server<E: ToServer>(_: E) {}
        fn to_client<E: ToClient>(_: E) {}
        to_server(Hello);
        to_server(Sum);
        to_client(Tick);
        to_client(Ping);
    }
}
