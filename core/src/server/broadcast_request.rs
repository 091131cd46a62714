//! Requests to many clients at once — `server.to_group("g").request(…)` —
//! answered by each, like Socket.IO's `emitWithAck` on a broadcast.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::emit::Emit;
use crate::error::{Error, Result};
use crate::value;

/// Every recipient's answer to a broadcast request (see
/// [`Emit::request`]), in no particular order.
#[derive(Debug)]
pub struct Replies<R> {
    /// Each recipient's id with its reply, or why there is none:
    /// [`Error::Timeout`] (no answer in time), [`Error::Remote`] (its
    /// handler failed or it has none), [`Error::Decode`] (the reply does
    /// not fit `R`), [`Error::Closed`] (it left first).
    pub answers: Vec<(u64, Result<R>)>,
}

impl<R> Replies<R> {
    /// The replies that came, with their clients' ids.
    pub fn ok(&self) -> impl Iterator<Item = (u64, &R)> {
        self.answers
            .iter()
            .filter_map(|(id, answer)| answer.as_ref().ok().map(|r| (*id, r)))
    }

    /// The clients that did not answer in time.
    pub fn timed_out(&self) -> Vec<u64> {
        self.answers
            .iter()
            .filter(|(_, answer)| matches!(answer, Err(Error::Timeout(_))))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The recipients that did not answer with a reply, and why.
    pub fn failed(&self) -> impl Iterator<Item = (u64, &Error)> {
        self.answers
            .iter()
            .filter_map(|(id, answer)| answer.as_ref().err().map(|e| (*id, e)))
    }

    /// How many clients the request went to.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// True when there was nobody to ask.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

impl Emit<'_> {
    /// Sends a request to every recipient and waits, up to `timeout`, for
    /// all of their answers (all at once: the slowest sets the time). The
    /// payload is encoded once.
    ///
    /// ```no_run
    /// # async fn demo(server: hisock::Server) -> hisock::Result<()> {
    /// use std::time::Duration;
    /// let votes = server
    ///     .to_group("jury")
    ///     .request::<bool, _>("vote", "guilty?", Duration::from_secs(10))
    ///     .await?;
    /// let guilty = votes.ok().filter(|(_, yes)| **yes).count();
    /// let silent = votes.timed_out();
    /// # let _ = (guilty, silent);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Errors (of the whole call): [`Error::Encode`], and
    /// [`Error::NoSuchClient`] for `to_client` with an unknown id. Each
    /// recipient's own outcome is in [`Replies::answers`].
    pub async fn request<R: DeserializeOwned, T: Serialize>(
        self,
        command: &str,
        payload: T,
        timeout: Duration,
    ) -> Result<Replies<R>> {
        let payload = value::encode(&payload)?;
        // Other nodes' clients are asked through their nodes.
        let remote = self.remote_recipients();
        let mut recipients = Vec::new();
        match self.for_each_recipient(|entry| recipients.push(entry.info.id)) {
            // `to_client` of a client on another node.
            Err(_) if !remote.is_empty() => {}
            other => other?,
        }
        recipients.extend(remote);
        let server = self.server();
        let asks = recipients.into_iter().map(|id| {
            let payload = &payload;
            async move {
                let answer = server
                    .request_raw(id, command, payload, timeout)
                    .await
                    .and_then(|reply| value::decode(&reply));
                (id, answer)
            }
        });
        Ok(Replies {
            answers: futures::future::join_all(asks).await,
        })
    }
}
