//! What mbd does when its event log cannot take a commit (a full or
//! failing disk): it stays up. The pass is undone — the state is rebuilt
//! from the log, which holds exactly what was ever acknowledged — every
//! reply the pass held becomes an error, execution daemons that were sent
//! something re-register (and resend what was not taken), and for a
//! while new changes are refused at once, so clients hear why and
//! queries keep being answered. After that the disk is tried again.

use super::{Bad, DaemonError, Mbd};
use crate::event_log::{read_records, LogError};
use crate::state::{Refusal, State};
use bytes::BytesMut;
use proto::mbd::status;
use std::time::{Duration, Instant};

/// How long changes are refused after a failed commit.
pub(super) const REFUSE_FOR: Duration = Duration::from_secs(5);

/// Why changes are being refused, and until when.
#[derive(Debug)]
pub(super) struct LogTrouble {
    until: Instant,
    why: String,
}

impl Mbd {
    /// The refusal for a change while the log is in trouble, if it is.
    pub(super) fn refuse_while_log_fails(&mut self) -> Result<(), Bad> {
        match &self.log_trouble {
            Some(t) if Instant::now() < t.until => Err(Bad::Refused(Refusal {
                status: status::EAGAIN,
                message: t.why.clone(),
            })),
            Some(_) => {
                log::info!("trying the event log again");
                self.log_trouble = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether changes are being refused (scheduling waits too).
    pub(super) fn log_in_trouble(&self) -> bool {
        matches!(&self.log_trouble, Some(t) if Instant::now() < t.until)
    }

    /// Undoes a pass whose commit failed (`LogError::Unwritten`: the log
    /// is as it was before the pass).
    pub(super) fn undo_pass(&mut self, error: &LogError) -> Result<(), DaemonError> {
        let why = format!("mbd cannot write its event log ({error}); nothing was changed");
        log::error!("{why}: the pass is undone; refusing changes for {REFUSE_FOR:?}");
        // What it did is not done: none of it is audited.
        self.audit.clear();
        for held in std::mem::take(&mut self.held) {
            match &held.answers {
                Some(request) if self.sbd_host(held.id).is_none() => {
                    self.answer_with_error(held.id, request, &why)
                }
                _ => {}
            }
            self.drop_client(held.id, None);
        }
        self.state = self.rebuilt_state()?;
        self.log_trouble = Some(LogTrouble {
            until: Instant::now() + REFUSE_FOR,
            why,
        });
        self.replan.all();
        Ok(())
    }

    /// One error reply in place of what was held for a client.
    fn answer_with_error(&mut self, id: chan::ChanId, request: &super::Request, why: &str) {
        let mut out = BytesMut::new();
        let reply = request.header.reply(status::EAGAIN, 0);
        proto::auth::encode_reply(reply, why, &request.reply_key, 0, &mut out);
        let _ = self.chans.send(id, &out);
    }

    /// The state the log holds, with the execution daemons still
    /// registered (that is not logged).
    fn rebuilt_state(&self) -> Result<State, DaemonError> {
        let records = read_records(&self.settings.log_path()).map_err(DaemonError::Log)?;
        let mut state = State::replay(self.settings.cluster.clone(), &records)
            .map_err(|(n, e)| DaemonError::Replay(format!("record {n}: {e}")))?;
        for (host, link) in self.sbd_chan.iter().enumerate() {
            state.set_sbd_up(host, link.is_some());
        }
        Ok(state)
    }
}
