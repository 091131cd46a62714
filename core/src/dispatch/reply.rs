//! What a handler returns: [`IntoReply`] turns it into the reply payload of
//! a request (and is ignored for plain events), or a [`Rejection`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use bytes::Bytes;
use serde::Serialize;

use crate::frame::ErrorCode;
use crate::value::{self, Value, NIL};

/// Why an event could not be handled; sent to the peer as a
/// [`ReplyError`](crate::frame::Frame::ReplyError) (requests) or
/// [`EventRejected`](crate::frame::Frame::EventRejected) (plain events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What kind of failure.
    pub code: ErrorCode,
    /// Why, for humans.
    pub message: String,
}

impl Rejection {
    /// A rejection with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A handler's return value, turned into a reply payload.
///
/// Implemented for `()`, primitives, strings, `Vec`, `Option`, maps,
/// [`Value`], [`Bytes`], `Result<T, E>` (an `Err` becomes a
/// [`Rejection`] with the error's text) and [`Reply<T>`] for any other
/// `Serialize` type.
pub trait IntoReply {
    /// The encoded reply, or why there is none.
    fn into_reply(self) -> Result<Bytes, Rejection>;
}

/// Wraps any `Serialize` value as a handler's reply.
#[derive(Debug, Clone)]
pub struct Reply<T>(pub T);

fn encoded<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, Rejection> {
    value::encode(value).map_err(|err| Rejection::new(ErrorCode::HandlerFailed, err.to_string()))
}

impl IntoReply for () {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        Ok(Bytes::from_static(NIL))
    }
}

impl<T: Serialize> IntoReply for Reply<T> {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        encoded(&self.0)
    }
}

impl<T: Serialize, E: Display> IntoReply for Result<T, E> {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        match self {
            Ok(value) => encoded(&value),
            Err(err) => Err(Rejection::new(ErrorCode::HandlerFailed, err.to_string())),
        }
    }
}

macro_rules! serialize_reply {
    ($($ty:ty),* $(,)?) => {
        $(impl IntoReply for $ty {
            fn into_reply(self) -> Result<Bytes, Rejection> {
                encoded(&self)
            }
        })*
    };
}

serialize_reply!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    usize,
    isize,
    char,
    f32,
    f64,
    String,
    &'static str,
    Value,
    Bytes,
    crate::ClientInfo
);

impl<T: Serialize> IntoReply for Vec<T> {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        encoded(&self)
    }
}

macro_rules! tuple_reply {
    ($($name:ident),+) => {
        impl<$($name: Serialize),+> IntoReply for ($($name,)+) {
            fn into_reply(self) -> Result<Bytes, Rejection> {
                encoded(&self)
            }
        }
    };
}

tuple_reply!(A);
tuple_reply!(A, B);
tuple_reply!(A, B, C);
tuple_reply!(A, B, C, D);

impl<T: Serialize> IntoReply for Option<T> {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        encoded(&self)
    }
}

impl<K: Serialize, V: Serialize, S> IntoReply for HashMap<K, V, S> {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        encoded(&self)
    }
}

impl<K: Serialize, V: Serialize> IntoReply for BTreeMap<K, V> {
    fn into_reply(self) -> Result<Bytes, Rejection> {
        encoded(&self)
    }
}
