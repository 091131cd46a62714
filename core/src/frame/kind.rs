//! The table of frame kinds: each kind's wire number, its name as
//! PROTOCOL.md section 3.2 writes it, the name logs and close reasons use,
//! and which side may send it.
//!
//! Everything else that needs a kind number (the codec, the event fast
//! paths, [`Frame::kind_name`](super::Frame::kind_name),
//! [`FRAME_KINDS`](super::FRAME_KINDS), the WebSocket transport's close
//! detection) takes it from here. The number is the postcard discriminant
//! and never changes: new kinds are appended.

/// Which side may send a frame kind (PROTOCOL.md section 3.2, "Dir").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// C→S: only a client sends it.
    ClientToServer,
    /// S→C: only a server sends it.
    ServerToClient,
    /// Either side sends it.
    Both,
}

/// Writes the [`FrameKind`] enum and its lookups from one list, so that a
/// kind's number, names and direction stand on one line.
macro_rules! frame_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $number:literal $kind:ident $log_name:literal $direction:ident;
    )*) => {
        /// The kind of a [`Frame`](super::Frame): its first byte on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum FrameKind {
            $($(#[doc = $doc])* $kind = $number,)*
        }

        impl FrameKind {
            /// Every kind this version knows, in wire order (`ALL[n]` is
            /// kind `n`).
            pub const ALL: [FrameKind; [$($number),*].len()] = [$(FrameKind::$kind),*];

            /// The kind whose wire number is `number`, or `None` when this
            /// version does not know it.
            #[inline]
            pub const fn from_number(number: u8) -> Option<FrameKind> {
                match number {
                    $($number => Some(FrameKind::$kind),)*
                    _ => None,
                }
            }

            /// The name PROTOCOL.md gives the kind (`"ReplyError"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(FrameKind::$kind => stringify!($kind),)*
                }
            }

            /// The name logs and close reasons use (`"reply_error"`).
            pub const fn log_name(self) -> &'static str {
                match self {
                    $(FrameKind::$kind => $log_name,)*
                }
            }

            /// Which side may send the kind.
            pub const fn direction(self) -> Direction {
                match self {
                    $(FrameKind::$kind => Direction::$direction,)*
                }
            }
        }
    };
}

frame_kinds! {
    /// 0: the first frame of a connection.
    0 Hello "hello" ClientToServer;
    /// 1: the handshake succeeded.
    1 Welcome "welcome" ServerToClient;
    /// 2: the handshake failed.
    2 Refuse "refuse" ServerToClient;
    /// 3: a named event.
    3 Event "event" Both;
    /// 4: the successful answer to a request.
    4 Reply "reply" Both;
    /// 5: the failed answer to a request.
    5 ReplyError "reply_error" Both;
    /// 6: a plain event could not be handled.
    6 EventRejected "event_rejected" Both;
    /// 7: another client joined.
    7 ClientJoined "client_joined" ServerToClient;
    /// 8: another client left.
    8 ClientLeft "client_left" ServerToClient;
    /// 9: another client changed its name or group.
    9 ClientChanged "client_changed" ServerToClient;
    /// 10: change my name.
    10 SetName "set_name" ClientToServer;
    /// 11: change my group.
    11 SetGroup "set_group" ClientToServer;
    /// 12: look one client up.
    12 Lookup "lookup" ClientToServer;
    /// 13: list clients.
    13 ListClients "list_clients" ClientToServer;
    /// 14: are you there?
    14 Ping "ping" Both;
    /// 15: the answer to a ping.
    15 Pong "pong" Both;
    /// 16: the sender is closing the connection.
    16 Close "close" Both;
    /// 17: a streamed payload begins.
    17 StreamStart "stream_start" Both;
    /// 18: a chunk of a streamed payload.
    18 StreamChunk "stream_chunk" Both;
    /// 19: a streamed payload ends.
    19 StreamEnd "stream_end" Both;
    /// 20: the receiver of a stream has consumed this much of it.
    20 StreamAck "stream_ack" Both;
    /// 21: the receiver of a stream wants no more of it.
    21 StreamCancel "stream_cancel" Both;
    /// 22: whether this client wants presence notices.
    22 PresenceInterest "presence_interest" ClientToServer;
    /// 23: put me in a room, or take me out of one.
    23 RoomRequest "room_request" ClientToServer;
    /// 24: sent before `Hello`: a new resumable session, or resume one.
    24 Resume "resume" ClientToServer;
    /// 25: after `Welcome`: the session's token and whether it resumed.
    25 Session "session" ServerToClient;
    /// 26: how many counted frames arrived from the peer in the session.
    26 Ack "ack" Both;
}

impl FrameKind {
    /// The kind's wire number (its first byte on the wire).
    #[inline]
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Whether a resumable session counts frames of this kind (PROTOCOL.md
    /// section 13.2): everything but the handshake, the connection's own
    /// upkeep (pings, pongs, close) and resumption itself. Counted frames
    /// are numbered implicitly, kept until acknowledged and resent after a
    /// resume.
    #[inline]
    pub const fn is_counted(self) -> bool {
        !matches!(
            self,
            FrameKind::Hello
                | FrameKind::Welcome
                | FrameKind::Refuse
                | FrameKind::Ping
                | FrameKind::Pong
                | FrameKind::Close
                | FrameKind::Resume
                | FrameKind::Session
                | FrameKind::Ack
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of PROTOCOL.md section 3.2's table: `(kind, name, dir)`.
    fn protocol_table() -> Vec<(u8, String, Direction)> {
        let text = include_str!("../../../PROTOCOL.md");
        let section = text
            .split("### 3.2 Frame kinds")
            .nth(1)
            .and_then(|rest| rest.split("### 3.3").next())
            .expect("PROTOCOL.md has section 3.2");
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let number = cells.get(1)?.parse().ok()?;
                let name = cells[2].trim_matches('`').to_string();
                let direction = match cells[3] {
                    "C→S" => Direction::ClientToServer,
                    "S→C" => Direction::ServerToClient,
                    dir if dir.starts_with("both") => Direction::Both,
                    other => panic!("kind {number}: unknown direction {other:?}"),
                };
                Some((number, name, direction))
            })
            .collect()
    }

    #[test]
    fn the_table_matches_protocol_md_section_3_2() {
        let ours: Vec<(u8, String, Direction)> = FrameKind::ALL
            .iter()
            .map(|kind| (kind.number(), kind.name().to_string(), kind.direction()))
            .collect();
        assert_eq!(ours, protocol_table());
    }

    #[test]
    fn every_number_below_the_count_is_its_kind_and_the_rest_are_unknown() {
        for (index, kind) in FrameKind::ALL.iter().enumerate() {
            assert_eq!(usize::from(kind.number()), index, "{kind:?}");
            assert_eq!(FrameKind::from_number(kind.number()), Some(*kind));
        }
        for number in FrameKind::ALL.len()..=usize::from(u8::MAX) {
            let number = u8::try_from(number).expect("a byte");
            assert_eq!(FrameKind::from_number(number), None, "{number}");
        }
    }

    #[test]
    fn counted_kinds_are_the_ones_protocol_md_section_13_2_counts() {
        let section = include_str!("../../../PROTOCOL.md")
            .split("### 13.2 Counted frames")
            .nth(1)
            .and_then(|rest| rest.split("###").next())
            .expect("PROTOCOL.md has section 13.2");
        let not_counted = section
            .split("Counted: every kind except")
            .nth(1)
            .and_then(|rest| rest.split('(').next())
            .expect("13.2 lists the kinds not counted");
        for kind in FrameKind::ALL {
            let listed = not_counted.contains(&format!("`{}`", kind.name()));
            assert_eq!(kind.is_counted(), !listed, "{kind:?}");
        }
    }

    #[test]
    fn log_names_are_the_protocol_names_in_snake_case() {
        for kind in FrameKind::ALL {
            let mut snake = String::new();
            for (i, c) in kind.name().chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            assert_eq!(kind.log_name(), snake);
        }
    }
}
