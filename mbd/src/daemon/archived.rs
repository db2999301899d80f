//! `bhist` of jobs mbd no longer holds: their histories are in the
//! archived event logs, which only mbd's account may read (they hold
//! every job's environment). mbd reads them for the caller, with the same
//! permission rules as for the jobs it holds, on a thread of its own so a
//! long history never stalls the event loop; the answer goes out when the
//! thread is done.

use super::{chunks, send_listing, Bad, Mbd, Request};
use crate::archive::{self, ArchiveError, Files, Found};
use crate::state::{Caller, Refusal};
use crate::Cluster;
use chan::ChanId;
use proto::mbd::{status, HistoryChunk, HistoryRequest, JobHistory};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

/// Archive reads waiting at most; more are refused until some finish.
const QUEUE: usize = 64;

/// What the reading thread is asked.
struct Ask {
    ticket: u64,
    who: Caller,
    request: HistoryRequest,
    /// Jobs mbd answered for itself: left out of what the archives add.
    known: BTreeSet<u32>,
}

/// What it answers.
struct Answer {
    ticket: u64,
    found: Result<Found, ArchiveError>,
}

/// A `bhist` waiting for the archives.
struct Waiting {
    id: ChanId,
    request: Request,
    history: HistoryRequest,
    jobs: Vec<JobHistory>,
    /// Why mbd itself had no such job, in case the archives do not either.
    not_held: Option<Refusal>,
}

/// The reading thread's two ends, and the requests waiting for it.
pub(super) struct ArchiveReader {
    asks: SyncSender<Ask>,
    answers: Receiver<Answer>,
    /// The waker the thread rings when an answer is ready.
    pub(super) wake_id: ChanId,
    waiting: HashMap<u64, Waiting>,
    next_ticket: u64,
}

impl ArchiveReader {
    /// Starts the thread that reads the archives beside `log_path`.
    pub(super) fn spawn(
        log_path: PathBuf,
        cluster: Cluster,
        wake_id: ChanId,
        waker: chan::Waker,
    ) -> std::io::Result<ArchiveReader> {
        let (asks, asked) = mpsc::sync_channel::<Ask>(QUEUE);
        let (answer, answers) = mpsc::channel();
        thread::Builder::new()
            .name("archive-reader".into())
            .spawn(move || {
                for mut ask in asked {
                    let found = archive::histories(
                        &log_path,
                        Files::Archives,
                        &cluster,
                        &ask.who,
                        &ask.request,
                        &mut ask.known,
                    );
                    let done = Answer {
                        ticket: ask.ticket,
                        found,
                    };
                    if answer.send(done).is_err() || waker.wake().is_err() {
                        return;
                    }
                }
            })?;
        Ok(ArchiveReader {
            asks,
            answers,
            wake_id,
            waiting: HashMap::new(),
            next_ticket: 0,
        })
    }
}

impl Mbd {
    /// `bhist`: the jobs mbd holds, and those the archives hold.
    pub(super) fn history(
        &mut self,
        id: ChanId,
        h: &Request,
        who: &Caller,
        body: &[u8],
    ) -> Result<(), Bad> {
        let history = super::decode::<HistoryRequest>(body)?;
        let (jobs, not_held) = match self.state.history(who, &history) {
            Ok(jobs) => (jobs.collect::<Vec<_>>(), None),
            Err(r) if r.status == status::ESRCH => (Vec::new(), Some(r)),
            Err(r) => return Err(Bad::Refused(r)),
        };
        // mbd holds a job's whole history: a plain job it has is complete.
        let complete = history.job.id != 0 && jobs.iter().any(|j| j.row.array_id == 0);
        let waiting = Waiting {
            id,
            request: h.clone(),
            history,
            jobs,
            not_held,
        };
        if complete {
            self.answer_history(waiting, Found::default());
            return Ok(());
        }
        let reader = &mut self.archives;
        let ticket = reader.next_ticket;
        let ask = Ask {
            ticket,
            who: who.clone(),
            request: waiting.history.clone(),
            known: waiting.jobs.iter().map(|j| j.row.id).collect(),
        };
        match reader.asks.try_send(ask) {
            Ok(()) => {
                reader.next_ticket += 1;
                reader.waiting.insert(ticket, waiting);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(Bad::Refused(Refusal {
                status: status::EAGAIN,
                message: "mbd is busy reading archived histories; try again".into(),
            })),
            Err(TrySendError::Disconnected(_)) => {
                log::error!("the archive reader stopped: bhist shows only the jobs mbd holds");
                self.answer_history(waiting, Found::default());
                Ok(())
            }
        }
    }

    /// The reading thread finished some: answer their bhists.
    pub(super) fn on_archived(&mut self) {
        while let Ok(done) = self.archives.answers.try_recv() {
            let Some(waiting) = self.archives.waiting.remove(&done.ticket) else {
                continue;
            };
            let found = done.found.unwrap_or_else(|e| {
                log::warn!(
                    "cannot read an archived event log ({e}): bhist shows the jobs mbd holds"
                );
                Found::default()
            });
            self.answer_history(waiting, found);
        }
    }

    fn answer_history(&mut self, mut w: Waiting, found: Found) {
        if !self.chans.is_open(w.id) {
            return; // the bhist gave up meanwhile
        }
        w.jobs.extend(found.jobs);
        w.jobs.sort_by_key(|j| j.row.id);
        let refusal = match (w.jobs.is_empty() && w.history.job.id != 0, found.refused) {
            (true, Some(refused)) => Some(refused),
            (true, None) => w.not_held,
            _ => None,
        };
        if let Some(r) = refusal {
            return self.hold(w.id, &w.request, r.status, &r.message);
        }
        let frames = chunks(&w.request, w.jobs.into_iter(), |more, jobs| HistoryChunk {
            more,
            jobs,
        });
        let durable = !self.log.has_pending();
        if let Err(e) = send_listing(
            &mut self.chans,
            &mut self.held,
            durable,
            w.id,
            &w.request,
            frames,
        ) {
            self.drop_client(w.id, Some(&e));
        }
    }
}
