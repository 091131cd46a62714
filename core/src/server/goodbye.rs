//! The end of a joined client's connection on the server: the closing
//! plan ([`closing::plan`], shared with the client) carried out. Handlers
//! for events already read still run (up to the drain timeout), the
//! client leaves the registry and the others hear of it, its requests and
//! streams fail with the reason, queued frames go out followed by the
//! `Close` the plan calls for, and `leave` runs if it should.

use super::reserved;
use super::session::Session;
use crate::platform::locks::lock;
use crate::protocol::closing::{self, Ending, Side};
use crate::protocol::resume::ResumeOutcome;

impl Session {
    pub(super) async fn finish(&mut self, ending: Ending) {
        // The session, if any, ends with the connection (a resume with
        // its token is told why, unless it was told already): nothing
        // more is kept for it.
        if let Some(resumable) = &self.resumable {
            self.server
                .session_ended(&resumable.token, ResumeOutcome::Ended);
            self.peer.outbox.end_session();
        }
        let config = self.server.inner.config.clone();
        let plan = closing::plan(Side::Server, ending);
        if plan.peer_at_fault {
            tracing::info!(reason = %plan.reason, "closing misbehaving client");
        }
        tracing::debug!(reason = %plan.reason, "leaving");
        self.server.inner.counters.closed(&plan.reason);

        // Events already read were accepted: let their handlers run.
        let current = self.jobs.current.take();
        let queue = std::mem::take(&mut self.jobs.queue);
        let peer = &self.peer;
        let drain = async move {
            for job in current.into_iter().chain(queue) {
                job.run(peer).await;
            }
        };
        if tokio::time::timeout(config.drain_timeout, drain)
            .await
            .is_err()
        {
            tracing::warn!("queued handlers still running after the drain timeout; dropped");
        }

        self.server.inner.registry.write().remove(self.info.id);
        self.tell_others(|this| this.presence_frame(false));
        let id = self.info.id;
        self.server
            .announce(|| super::cluster::Message::Left { client: id });
        lock(&self.pending).close(&plan.reason);
        self.left = true;
        self.incoming.close(&plan.reason);
        self.outgoing.close(&plan.reason);
        self.peer.outbox.close_with(plan.close_frame());

        if plan.run_leave {
            self.reserved_event(reserved::LEAVE, None, Some(plan.reason));
            if let Some(job) = self.jobs.current.take() {
                if tokio::time::timeout(config.drain_timeout, job.run(&self.peer))
                    .await
                    .is_err()
                {
                    tracing::warn!("leave handler still running after the drain timeout");
                }
            }
        }
    }
}
