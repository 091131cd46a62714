//! The server's table of resumable sessions (PROTOCOL.md sections 13.1,
//! 13.5 and 13.6) as a plain state machine handed the time: which token
//! names which client, whether its connection is attached, broken (kept
//! until its window passes) or ended, what a `Resume` with a token gets,
//! and when a broken session expires (its leave then runs, once).
//!
//! No I/O and no randomness: the server's shell draws tokens from the
//! operating system and hands them in, runs leave and the
//! `session_expired` hook for what [`SessionTable::expire`] returns, and
//! sleeps until [`SessionTable::next_deadline`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::protocol::resume::{ResumeOutcome, TOKEN_LEN};

/// A session's token: 128 random bits, the authority to resume it.
pub type Token = [u8; TOKEN_LEN];

/// Where one session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A connection carries it.
    Attached,
    /// Its connection broke; it is kept until `until`.
    Broken { until: Instant },
    /// It ended (`outcome` says how); its token is remembered until
    /// `forget_at` to answer a late `Resume` precisely.
    Ended {
        outcome: ResumeOutcome,
        forget_at: Instant,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    client_id: u64,
    phase: Phase,
}

/// What a `Resume` with a token finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Resume client `client_id`'s session; `moved`: it was still
    /// attached to another connection, which is to be closed with 4013
    /// (section 13.5).
    Resume {
        /// The session's client.
        client_id: u64,
        /// Another connection still carries it.
        moved: bool,
    },
    /// Not resumable, for this reason: a new session follows.
    Refused(ResumeOutcome),
}

/// Every session of one server, by token.
#[derive(Debug)]
pub struct SessionTable {
    window: Duration,
    sessions: HashMap<Token, Entry>,
}

impl SessionTable {
    /// A table whose broken sessions are kept for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            sessions: HashMap::new(),
        }
    }

    /// How long a broken session is kept.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// A new session for `client_id`, attached, named by `token` (fresh
    /// random bits from the caller).
    pub fn open(&mut self, token: Token, client_id: u64) {
        self.sessions.insert(
            token,
            Entry {
                client_id,
                phase: Phase::Attached,
            },
        );
    }

    /// What a `Resume` with `token` finds at `now`. A session it can resume
    /// is attached again at once (the caller then answers outcome 0); the
    /// checks of the counts (outcome 5) are the replay buffer's.
    pub fn resume(&mut self, token: &[u8], now: Instant) -> Found {
        let Some(entry) = Token::try_from(token)
            .ok()
            .and_then(|token| self.sessions.get_mut(&token))
        else {
            return Found::Refused(ResumeOutcome::UnknownToken);
        };
        match entry.phase {
            Phase::Attached => Found::Resume {
                client_id: entry.client_id,
                moved: true,
            },
            Phase::Broken { until } if now < until => {
                entry.phase = Phase::Attached;
                Found::Resume {
                    client_id: entry.client_id,
                    moved: false,
                }
            }
            // Past its window but not yet swept by `expire`.
            Phase::Broken { .. } => Found::Refused(ResumeOutcome::Expired),
            Phase::Ended { outcome, .. } => Found::Refused(outcome),
        }
    }

    /// The session's connection broke without a `Close` at `now`: it is
    /// kept for the window. Returns the instant it expires, or `None` for
    /// a token not attached here.
    pub fn broke(&mut self, token: &Token, now: Instant) -> Option<Instant> {
        let entry = self.sessions.get_mut(token)?;
        if entry.phase != Phase::Attached {
            return None;
        }
        let until = now + self.window;
        entry.phase = Phase::Broken { until };
        Some(until)
    }

    /// The session ended at `now` for good, for `outcome` (a `Close`:
    /// [`Ended`](ResumeOutcome::Ended); its replay buffer overflowed:
    /// [`Overflow`](ResumeOutcome::Overflow)). Its token is remembered for
    /// one more window. Returns the client when the session was live (its
    /// leave is the caller's to run, once).
    pub fn end(&mut self, token: &Token, outcome: ResumeOutcome, now: Instant) -> Option<u64> {
        let entry = self.sessions.get_mut(token)?;
        if matches!(entry.phase, Phase::Ended { .. }) {
            return None;
        }
        entry.phase = Phase::Ended {
            outcome,
            forget_at: now + self.window,
        };
        Some(entry.client_id)
    }

    /// Sweeps at `now`: broken sessions past their window expire (their
    /// clients are returned, each once, for leave and the
    /// `session_expired` hook), and ended ones past their memory are
    /// forgotten.
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let mut expired = Vec::new();
        let window = self.window;
        self.sessions.retain(|_, entry| match entry.phase {
            Phase::Broken { until } if until <= now => {
                expired.push(entry.client_id);
                entry.phase = Phase::Ended {
                    outcome: ResumeOutcome::Expired,
                    forget_at: until + window,
                };
                true
            }
            Phase::Ended { forget_at, .. } => forget_at > now,
            _ => true,
        });
        expired.sort_unstable();
        expired
    }

    /// One broken session's window passed at `now`: it expires (true:
    /// its leave and the `session_expired` hook are the caller's to run).
    /// False when it is no longer broken: a resume took it meanwhile (its
    /// connection is being handed over), or it ended another way. What a
    /// server whose sessions each wait for their own deadline calls,
    /// rather than sweeping with [`expire`](Self::expire).
    pub fn expire_one(&mut self, token: &Token, now: Instant) -> bool {
        let window = self.window;
        match self.sessions.get_mut(token) {
            Some(entry) => match entry.phase {
                Phase::Broken { until } if until <= now => {
                    entry.phase = Phase::Ended {
                        outcome: ResumeOutcome::Expired,
                        forget_at: until + window,
                    };
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Forgets `token` at once: its session moved to another node, which
    /// answers a later `Resume` with it.
    pub fn forget(&mut self, token: &Token) {
        self.sessions.remove(token);
    }

    /// Forgets ended sessions whose memory passed at `now` (a later
    /// `Resume` with their token gets outcome 2).
    pub fn forget_ended(&mut self, now: Instant) {
        self.sessions.retain(|_, entry| match entry.phase {
            Phase::Ended { forget_at, .. } => forget_at > now,
            _ => true,
        });
    }

    /// The next instant [`expire`](Self::expire) has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|entry| match entry.phase {
                Phase::Attached => None,
                Phase::Broken { until } => Some(until),
                Phase::Ended { forget_at, .. } => Some(forget_at),
            })
            .min()
    }

    /// Sessions that are attached or broken (not ended).
    pub fn live(&self) -> usize {
        self.sessions
            .values()
            .filter(|entry| !matches!(entry.phase, Phase::Ended { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(120);
    const A: Token = [1; TOKEN_LEN];
    const B: Token = [2; TOKEN_LEN];

    #[test]
    fn one_session_expires_once_and_not_while_a_resume_takes_it() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        table.open(B, 8);
        table.broke(&A, t0);
        table.broke(&B, t0);
        assert!(!table.expire_one(&A, t0 + WINDOW / 2), "within the window");
        assert!(table.expire_one(&A, t0 + WINDOW));
        assert!(!table.expire_one(&A, t0 + WINDOW), "once");
        assert_eq!(
            table.resume(&A, t0 + WINDOW),
            Found::Refused(ResumeOutcome::Expired)
        );
        // B was resumed just before its timer fired: it does not expire.
        assert!(matches!(
            table.resume(&B, t0 + WINDOW / 2),
            Found::Resume { client_id: 8, .. }
        ));
        assert!(!table.expire_one(&B, t0 + WINDOW));
        table.forget_ended(t0 + WINDOW * 2);
        assert_eq!(
            table.resume(&A, t0 + WINDOW * 2),
            Found::Refused(ResumeOutcome::UnknownToken)
        );
        assert_eq!(table.live(), 1);
    }

    #[test]
    fn a_broken_session_resumes_within_its_window() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        assert_eq!(table.broke(&A, t0), Some(t0 + WINDOW));
        let found = table.resume(&A, t0 + WINDOW - Duration::from_millis(1));
        assert_eq!(
            found,
            Found::Resume {
                client_id: 7,
                moved: false
            }
        );
        // Attached again: nothing expires.
        assert_eq!(table.expire(t0 + WINDOW * 3), Vec::<u64>::new());
        assert_eq!(table.live(), 1);
    }

    #[test]
    fn a_session_still_attached_moves_to_the_new_connection() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        assert_eq!(
            table.resume(&A, t0),
            Found::Resume {
                client_id: 7,
                moved: true
            }
        );
    }

    #[test]
    fn window_expiry_returns_the_client_once_and_answers_expired_then_unknown() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        table.open(B, 8);
        table.broke(&A, t0);
        assert_eq!(table.next_deadline(), Some(t0 + WINDOW));
        assert_eq!(table.expire(t0 + WINDOW - Duration::from_millis(1)), []);
        assert_eq!(table.expire(t0 + WINDOW), [7]);
        assert_eq!(table.expire(t0 + WINDOW), [], "leave runs once");
        assert_eq!(
            table.resume(&A, t0 + WINDOW),
            Found::Refused(ResumeOutcome::Expired)
        );
        // Remembered for one more window, then forgotten.
        assert_eq!(table.next_deadline(), Some(t0 + WINDOW * 2));
        table.expire(t0 + WINDOW * 2);
        assert_eq!(
            table.resume(&A, t0 + WINDOW * 2),
            Found::Refused(ResumeOutcome::UnknownToken)
        );
        assert_eq!(table.live(), 1, "B is untouched");
    }

    #[test]
    fn a_resume_past_the_window_before_the_sweep_is_expired() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        table.broke(&A, t0);
        assert_eq!(
            table.resume(&A, t0 + WINDOW),
            Found::Refused(ResumeOutcome::Expired)
        );
        // The sweep still runs its leave.
        assert_eq!(table.expire(t0 + WINDOW), [7]);
    }

    #[test]
    fn an_ended_session_answers_its_outcome_and_ends_once() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        table.broke(&A, t0);
        assert_eq!(table.end(&A, ResumeOutcome::Overflow, t0), Some(7));
        assert_eq!(table.end(&A, ResumeOutcome::Ended, t0), None);
        assert_eq!(
            table.resume(&A, t0),
            Found::Refused(ResumeOutcome::Overflow)
        );
        assert_eq!(table.expire(t0 + WINDOW), [], "no second leave");
        assert_eq!(table.broke(&A, t0), None);
    }

    #[test]
    fn wrong_tokens_are_unknown() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(WINDOW);
        table.open(A, 7);
        assert_eq!(
            table.resume(&B, t0),
            Found::Refused(ResumeOutcome::UnknownToken)
        );
        assert_eq!(
            table.resume(&A[..8], t0),
            Found::Refused(ResumeOutcome::UnknownToken),
            "a token of another length"
        );
        assert_eq!(
            table.resume(&[], t0),
            Found::Refused(ResumeOutcome::UnknownToken)
        );
    }
}
