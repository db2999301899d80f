//! `bhist` and `bacct` of jobs mbd no longer holds: their histories are
//! in the archived event logs (and their accounting beside them), which
//! only mbd's account may read (they hold every job's environment). mbd
//! reads them for the caller, with the same permission rules as for the
//! jobs it holds, on a thread of its own so a long history never stalls
//! the event loop; the answer goes out when the thread is done.

use super::{chunks, send_listing, Bad, Mbd, Request};
use crate::acct::{self, Tally};
use crate::archive::{self, ArchiveError, Files, Found};
use crate::state::{Caller, Refusal};
use crate::Cluster;
use chan::ChanId;
use proto::mbd::{status, AcctChunk, AcctRequest, HistoryChunk, HistoryRequest, JobHistory};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

/// Archive reads waiting at most; more are refused until some finish.
const QUEUE: usize = 64;

/// What the reading thread is asked.
struct Ask {
    ticket: u64,
    who: Caller,
    work: Work,
}

enum Work {
    History {
        request: HistoryRequest,
        /// Jobs mbd answered for itself: left out of what the archives add.
        known: BTreeSet<u32>,
    },
    Acct {
        request: AcctRequest,
        /// Every job mbd holds (see [`archive::acct`]).
        held: BTreeSet<u32>,
        /// The jobs mbd holds, counted: the archives' are added.
        tally: Box<Tally>,
    },
}

/// What it answers.
struct Answer {
    ticket: u64,
    done: Done,
}

enum Done {
    History(Result<Found, ArchiveError>),
    /// The tally, and why it lacks some archives' jobs if it does.
    Acct(Tally, Option<ArchiveError>),
}

impl Work {
    fn run(self, log_path: &Path, cluster: &Cluster, who: &Caller) -> Done {
        match self {
            Work::History { request, mut known } => Done::History(archive::histories(
                log_path,
                Files::Archives,
                cluster,
                who,
                &request,
                &mut known,
            )),
            Work::Acct {
                request,
                held,
                mut tally,
            } => {
                let filter = acct::Filter::new(&request, who.admin, &who.user);
                let error = archive::acct(log_path, cluster, &filter, &held, &mut tally).err();
                Done::Acct(*tally, error)
            }
        }
    }
}

/// A request waiting for the archives.
enum Waiting {
    History(WaitingHistory),
    Acct { id: ChanId, request: Request },
}

/// A `bhist` waiting for the archives.
struct WaitingHistory {
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
                for ask in asked {
                    let done = Answer {
                        ticket: ask.ticket,
                        done: ask.work.run(&log_path, &cluster, &ask.who),
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

    /// Hands `work` to the thread; gives it back (with its waiting
    /// request) if the thread cannot take it.
    fn ask(&mut self, who: &Caller, work: Work, waiting: Waiting) -> Result<(), NotTaken> {
        let ticket = self.next_ticket;
        let ask = Ask {
            ticket,
            who: who.clone(),
            work,
        };
        match self.asks.try_send(ask) {
            Ok(()) => {
                self.next_ticket += 1;
                self.waiting.insert(ticket, waiting);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(NotTaken::Busy),
            Err(TrySendError::Disconnected(ask)) => {
                log::error!(
                    "the archive reader stopped: bhist and bacct show only the jobs mbd holds"
                );
                Err(NotTaken::Stopped(Box::new((ask.work, waiting))))
            }
        }
    }
}

enum NotTaken {
    /// As many reads wait as may: the caller is told to try again.
    Busy,
    /// The thread is gone: the caller gets what mbd holds.
    Stopped(Box<(Work, Waiting)>),
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
        let waiting = WaitingHistory {
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
        let work = Work::History {
            request: waiting.history.clone(),
            known: waiting.jobs.iter().map(|j| j.row.id).collect(),
        };
        self.ask_archives(who, work, Waiting::History(waiting))
    }

    /// `bacct`: the finished jobs mbd holds, summed, then the archives'.
    pub(super) fn acct(
        &mut self,
        id: ChanId,
        h: &Request,
        who: &Caller,
        body: &[u8],
    ) -> Result<(), Bad> {
        let request = super::decode::<AcctRequest>(body)?;
        let work = Work::Acct {
            tally: Box::new(self.state.acct(who, &request)),
            held: self.state.jobs().map(|j| j.id).collect(),
            request,
        };
        let waiting = Waiting::Acct {
            id,
            request: h.clone(),
        };
        self.ask_archives(who, work, waiting)
    }

    fn ask_archives(&mut self, who: &Caller, work: Work, waiting: Waiting) -> Result<(), Bad> {
        match self.archives.ask(who, work, waiting) {
            Ok(()) => Ok(()),
            Err(NotTaken::Busy) => Err(Bad::Refused(Refusal {
                status: status::EAGAIN,
                message: "mbd is busy reading archived histories; try again".into(),
            })),
            Err(NotTaken::Stopped(stopped)) => {
                let (work, waiting) = *stopped;
                let done = match work {
                    Work::History { .. } => Done::History(Ok(Found::default())),
                    Work::Acct { tally, .. } => Done::Acct(*tally, None),
                };
                self.answer(waiting, done);
                Ok(())
            }
        }
    }

    /// The reading thread finished some: answer their requests.
    pub(super) fn on_archived(&mut self) {
        while let Ok(answer) = self.archives.answers.try_recv() {
            if let Some(waiting) = self.archives.waiting.remove(&answer.ticket) {
                self.answer(waiting, answer.done);
            }
        }
    }

    fn answer(&mut self, waiting: Waiting, done: Done) {
        match (waiting, done) {
            (Waiting::History(w), Done::History(found)) => {
                let found = found.unwrap_or_else(|e| {
                    log::warn!(
                        "cannot read an archived event log ({e}): bhist shows the jobs mbd holds"
                    );
                    Found::default()
                });
                self.answer_history(w, found);
            }
            (Waiting::Acct { id, request }, Done::Acct(tally, error)) => {
                if let Some(e) = error {
                    log::warn!("cannot read an archived event log ({e}): bacct counts the jobs of the others");
                }
                self.answer_acct(id, &request, tally);
            }
            _ => log::error!("the archive reader answered a request with another's answer"),
        }
    }

    fn answer_acct(&mut self, id: ChanId, request: &Request, mut tally: Tally) {
        if !self.chans.is_open(id) {
            return;
        }
        tally.records.sort_by_key(|r| r.id);
        let summary = tally.summary;
        let frames = chunks(request, tally.records.into_iter(), |more, records| {
            AcctChunk {
                more,
                records,
                summary: if more {
                    Default::default()
                } else {
                    summary.clone()
                },
            }
        });
        self.send_frames(id, request, frames);
    }

    fn answer_history(&mut self, mut w: WaitingHistory, found: Found) {
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
        self.send_frames(w.id, &w.request, frames);
    }

    fn send_frames(
        &mut self,
        id: ChanId,
        request: &Request,
        frames: impl Iterator<Item = bytes::BytesMut>,
    ) {
        let durable = !self.log.has_pending();
        if let Err(e) = send_listing(
            &mut self.chans,
            &mut self.held,
            durable,
            id,
            request,
            frames,
        ) {
            self.drop_client(id, Some(&e));
        }
    }
}
