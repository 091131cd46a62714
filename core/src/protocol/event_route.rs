//! Where an incoming `Event` goes, one rule for both sides (PROTOCOL.md
//! section 5.2 and the client's `recv`): the `message` hook, a waiting
//! `recv`, the command's handler, the wildcard, a "no handler" error for
//! a request, or nobody. No I/O: the server's event path and the client's
//! driver look up the facts, ask, and act.

/// What the receiver knows about an event when it arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFacts {
    /// The event carries a request id (it wants an answer).
    pub is_request: bool,
    /// The command has a handler of its own.
    pub has_handler: bool,
    /// A wildcard (`*`) handler is registered.
    pub has_wildcard: bool,
    /// A `message` handler is registered.
    pub has_message_hook: bool,
    /// The receiver offers `recv` (the client does; the server does not).
    pub has_recv: bool,
}

/// Who handles the event, after the hook and `recv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The command's own handler (its outcome answers a request).
    Handler,
    /// The wildcard handler (its outcome answers a request).
    Wildcard,
    /// Nobody: a request is answered `ReplyError` code 1 (NoHandler).
    NoHandler,
    /// Nobody, and nothing is sent.
    Nobody,
}

/// The route of one event, in the order its steps are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRoute {
    /// The `message` handler sees it first (every event, handled or not).
    pub message_hook: bool,
    /// A `recv` waiting for this command takes it, and then nothing else
    /// does (plain events only: a request needs its handler's answer).
    pub offer_to_recv: bool,
    /// Who handles it otherwise.
    pub target: Target,
    /// It is kept for `recv`/`recv_any` (a plain event that no handler of
    /// its own took, even if the wildcard saw it).
    pub keep_for_recv: bool,
}

/// The route for an event with these facts.
#[inline]
pub fn route_event(facts: EventFacts) -> EventRoute {
    let target = if facts.has_handler {
        Target::Handler
    } else if facts.has_wildcard {
        Target::Wildcard
    } else if facts.is_request {
        Target::NoHandler
    } else {
        Target::Nobody
    };
    let plain_with_recv = facts.has_recv && !facts.is_request;
    EventRoute {
        message_hook: facts.has_message_hook,
        offer_to_recv: plain_with_recv,
        target,
        keep_for_recv: plain_with_recv && target != Target::Handler,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(is_request: bool, has_handler: bool, has_wildcard: bool) -> EventRoute {
        route_event(EventFacts {
            is_request,
            has_handler,
            has_wildcard,
            has_message_hook: false,
            has_recv: false,
        })
    }

    #[test]
    fn the_commands_handler_comes_before_the_wildcard() {
        for is_request in [false, true] {
            assert_eq!(server(is_request, true, true).target, Target::Handler);
            assert_eq!(server(is_request, false, true).target, Target::Wildcard);
        }
    }

    #[test]
    fn a_request_without_handler_is_answered_no_handler() {
        assert_eq!(server(true, false, false).target, Target::NoHandler);
    }

    #[test]
    fn a_plain_event_without_handler_is_ignored_silently() {
        assert_eq!(server(false, false, false).target, Target::Nobody);
    }

    #[test]
    fn the_message_hook_sees_every_event_handled_or_not() {
        for has_handler in [false, true] {
            let route = route_event(EventFacts {
                has_handler,
                has_message_hook: true,
                ..EventFacts::default()
            });
            assert!(route.message_hook);
        }
    }

    #[test]
    fn the_server_has_no_recv() {
        for (req, handler, wildcard) in [(false, false, false), (false, false, true)] {
            let route = server(req, handler, wildcard);
            assert!(!route.offer_to_recv);
            assert!(!route.keep_for_recv);
        }
    }

    #[test]
    fn on_the_client_a_waiting_recv_takes_plain_events_first() {
        let route = route_event(EventFacts {
            has_handler: true,
            has_recv: true,
            ..EventFacts::default()
        });
        assert!(route.offer_to_recv);
        assert_eq!(route.target, Target::Handler);
        assert!(!route.keep_for_recv, "its handler took it");
    }

    #[test]
    fn a_request_never_goes_to_recv() {
        let route = route_event(EventFacts {
            is_request: true,
            has_recv: true,
            ..EventFacts::default()
        });
        assert!(!route.offer_to_recv);
        assert!(!route.keep_for_recv);
        assert_eq!(route.target, Target::NoHandler);
    }

    #[test]
    fn unhandled_plain_events_are_kept_for_recv_even_when_the_wildcard_saw_them() {
        let kept = route_event(EventFacts {
            has_recv: true,
            ..EventFacts::default()
        });
        assert_eq!(kept.target, Target::Nobody);
        assert!(kept.keep_for_recv);
        let wildcard = route_event(EventFacts {
            has_wildcard: true,
            has_recv: true,
            ..EventFacts::default()
        });
        assert_eq!(wildcard.target, Target::Wildcard);
        assert!(wildcard.keep_for_recv);
    }
}
