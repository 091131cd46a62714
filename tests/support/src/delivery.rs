//! [`DeliveryReport`]: what an exchange of numbered events and requests
//! delivered, per client and direction, in the terms of issue 14's chaos
//! test: events lost, duplicated, out of order; requests answered, failed
//! (and why), handled more than once or never. One [`StreamReport`] per
//! client and direction; the receiving side's [`SeqCheck`](crate::SeqCheck)s
//! give its [`Tally`]s, the sending side's [`RequestTally`].

use std::collections::BTreeMap;
use std::fmt;

use crate::fault_proxy::Direction;
use crate::seq_check::Tally;

/// How one sender's numbered requests ended, as the sender saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestTally {
    /// Requests sent (numbered 1 to `sent`).
    pub sent: u64,
    /// Answered with their own number.
    pub answered: u64,
    /// Answered with another number.
    pub wrong: u64,
    /// Failed, by the error's kind (`SessionLost`, `Timeout`, ...).
    pub failed: BTreeMap<String, u64>,
}

impl RequestTally {
    /// Records how request `n` ended: `Ok` with the number its answer
    /// carried, or the error.
    pub fn record(&mut self, n: u64, outcome: &hisock::Result<u64>) {
        match outcome {
            Ok(answer) if *answer == n => self.answered += 1,
            Ok(_) => self.wrong += 1,
            Err(err) => *self.failed.entry(error_kind(err)).or_default() += 1,
        }
    }

    /// Requests that failed, whatever the error.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &RequestTally) {
        self.sent += other.sent;
        self.answered += other.answered;
        self.wrong += other.wrong;
        for (kind, n) in &other.failed {
            *self.failed.entry(kind.clone()).or_default() += n;
        }
    }
}

/// An error's variant name: `SessionLost`, `Timeout`, `Closed`, ...
pub fn error_kind(err: &hisock::Error) -> String {
    let debug = format!("{err:?}");
    let end = debug
        .find(|c: char| !c.is_alphanumeric() && c != '_')
        .unwrap_or(debug.len());
    debug[..end].to_owned()
}

/// One client's traffic in one direction.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The client's number in the test.
    pub client: usize,
    /// Which way: [`Direction::ToServer`] is what the client sent.
    pub direction: Direction,
    /// Events the sender was told were queued.
    pub events_sent: u64,
    /// The events, as the receiver saw them (expected: `events_sent`).
    pub events: Tally,
    /// The requests, as the sender saw them end.
    pub requests: RequestTally,
    /// The requests, as the receiver's handler saw them (expected:
    /// `requests.sent`): lost here is never handled, duplicated is
    /// handled twice.
    pub handled: Tally,
    /// Context for a reader of the problems (the first duplicated
    /// numbers, when the last resumes happened, ...); empty when clean.
    pub notes: String,
}

impl StreamReport {
    /// What went wrong, in words; empty when nothing did.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut tally = |what: &str, t: &Tally| {
            for (n, how) in [
                (t.lost, "lost"),
                (t.duplicated, "duplicated"),
                (t.out_of_order, "out of order"),
                (t.unexpected, "unexpected"),
            ] {
                if n > 0 {
                    problems.push(format!("{n} {what} {how}"));
                }
            }
        };
        tally("events", &self.events);
        tally("requests (handling)", &self.handled);
        if self.requests.wrong > 0 {
            problems.push(format!("{} requests answered wrong", self.requests.wrong));
        }
        for (kind, n) in &self.requests.failed {
            problems.push(format!("{n} requests failed with {kind}"));
        }
        if !problems.is_empty() && !self.notes.is_empty() {
            problems.push(self.notes.clone());
        }
        problems
    }
}

/// Every client's [`StreamReport`]s, both directions.
#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    /// The streams, in any order.
    pub streams: Vec<StreamReport>,
}

/// One direction's sums over every client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Events the senders were told were queued.
    pub events_sent: u64,
    /// The events, as the receivers saw them.
    pub events: Tally,
    /// The requests, as the senders saw them end.
    pub requests: RequestTally,
    /// The requests, as the receivers' handlers saw them.
    pub handled: Tally,
}

impl DeliveryReport {
    /// The sums over every client in `direction`.
    pub fn totals(&self, direction: Direction) -> Totals {
        let mut totals = Totals::default();
        for stream in self.streams.iter().filter(|s| s.direction == direction) {
            totals.events_sent += stream.events_sent;
            totals.events += stream.events;
            totals.requests.add(&stream.requests);
            totals.handled += stream.handled;
        }
        totals
    }

    /// What went wrong, one line per client and direction (empty when
    /// nothing did).
    pub fn problems(&self) -> Vec<String> {
        self.streams
            .iter()
            .filter_map(|stream| {
                let problems = stream.problems();
                (!problems.is_empty()).then(|| {
                    format!(
                        "client {} {}: {}",
                        stream.client,
                        direction_name(stream.direction),
                        problems.join(", ")
                    )
                })
            })
            .collect()
    }

    /// True when every event arrived once and in order and every request
    /// was handled once and answered.
    pub fn is_clean(&self) -> bool {
        self.streams.iter().all(|s| s.problems().is_empty())
    }

    /// Deliveries that did not happen: events and handlings lost, and
    /// requests that failed.
    pub fn losses(&self) -> u64 {
        self.streams
            .iter()
            .map(|s| s.events.lost + s.handled.lost + s.requests.failures())
            .sum()
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::ToServer => "to server",
        Direction::ToClient => "to client",
    }
}

impl fmt::Display for DeliveryReport {
    /// A markdown table of both directions' totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| direction | events sent | received | lost | duplicated | out of order | unexpected | requests sent | answered | failed | handled twice | never handled |"
        )?;
        writeln!(
            f,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )?;
        for direction in [Direction::ToServer, Direction::ToClient] {
            let t = self.totals(direction);
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} {:?} | {} | {} |",
                direction_name(direction),
                t.events_sent,
                t.events.received,
                t.events.lost,
                t.events.duplicated,
                t.events.out_of_order,
                t.events.unexpected,
                t.requests.sent,
                t.requests.answered,
                t.requests.failures(),
                t.requests.failed,
                t.handled.duplicated,
                t.handled.lost,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeqCheck;

    /// The tally of a stream of `seen` numbers when `sent` were sent.
    fn tally(seen: &[u64], sent: u64) -> Tally {
        let mut check = SeqCheck::after(0);
        for &n in seen {
            check.see(n);
        }
        check.close(sent)
    }

    fn stream(client: usize, events: &[u64], handled: &[u64]) -> StreamReport {
        let mut requests = RequestTally::default();
        for n in 1..=3 {
            requests.sent += 1;
            requests.record(n, &Ok(n));
        }
        StreamReport {
            client,
            direction: Direction::ToServer,
            events_sent: 5,
            events: tally(events, 5),
            requests,
            handled: tally(handled, 3),
            notes: String::new(),
        }
    }

    #[test]
    fn a_clean_exchange_has_no_problems() {
        let report = DeliveryReport {
            streams: vec![stream(0, &[1, 2, 3, 4, 5], &[1, 2, 3])],
        };
        assert!(report.is_clean());
        assert!(report.problems().is_empty());
        assert_eq!(report.losses(), 0);
        let totals = report.totals(Direction::ToServer);
        assert_eq!((totals.events_sent, totals.events.received), (5, 5));
        assert_eq!(report.totals(Direction::ToClient), Totals::default());
    }

    #[test]
    fn a_gap_is_reported_as_lost_for_its_client() {
        let report = DeliveryReport {
            streams: vec![
                stream(0, &[1, 2, 3, 4, 5], &[1, 2, 3]),
                stream(7, &[1, 2, 4, 5], &[1, 2, 3]),
            ],
        };
        assert!(!report.is_clean());
        assert_eq!(report.problems(), vec!["client 7 to server: 1 events lost"]);
        assert_eq!(report.losses(), 1);
    }

    #[test]
    fn a_duplicate_and_a_reordering_are_reported() {
        let report = DeliveryReport {
            streams: vec![stream(1, &[1, 2, 2, 4, 3, 5], &[1, 2, 3])],
        };
        assert_eq!(
            report.problems(),
            vec!["client 1 to server: 1 events duplicated, 1 events out of order"]
        );
        assert_eq!(report.losses(), 0, "nothing is missing");
    }

    #[test]
    fn a_request_handled_twice_or_never_is_reported() {
        let report = DeliveryReport {
            streams: vec![stream(2, &[1, 2, 3, 4, 5], &[1, 1, 3])],
        };
        assert_eq!(
            report.problems(),
            vec![
                "client 2 to server: 1 requests (handling) lost, 1 requests (handling) duplicated"
            ]
        );
    }

    #[test]
    fn failed_and_wrong_answers_are_counted_by_kind() {
        let mut requests = RequestTally::default();
        requests.record(1, &Ok(1));
        requests.record(2, &Ok(3));
        requests.record(
            3,
            &Err(hisock::Error::Timeout(std::time::Duration::from_secs(1))),
        );
        requests.record(
            4,
            &Err(hisock::Error::Timeout(std::time::Duration::from_secs(1))),
        );
        assert_eq!((requests.answered, requests.wrong), (1, 1));
        assert_eq!(requests.failed.get("Timeout"), Some(&2));
        assert_eq!(requests.failures(), 2);
        let mut sum = RequestTally::default();
        sum.add(&requests);
        sum.add(&requests);
        assert_eq!(sum.failures(), 4);
    }
}
