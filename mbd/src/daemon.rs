//! The mbd event loop: a thin shell between `chan`, the event log and the
//! pure job model.
//!
//! One pass = one `chan_epoll` wakeup. Every request in the pass is
//! checked, its changes appended to the log and applied, and its reply
//! held. At the end of the pass the log is committed once (one write, one
//! fdatasync for everything the pass changed) and only then are the held
//! replies sent: no client hears "submitted" before its job is on disk.
//! Query replies are held too, so nobody sees state that is not yet durable.

mod archived;
mod compactor;
mod log_trouble;
mod metrics_http;
mod reconfig;
mod sbd_link;

use crate::change::{Change, StateChanged};
use crate::event_log::{EventLog, LogError, ReplayError};
use crate::id_floor;
use crate::lim_watch::{self, LimView};
use crate::mastership::{self, Lease, MasterView, Verdict};
use crate::sched::{self, HostStatus, Replan};
use crate::settings::Settings;
use crate::state::{Caller, Refusal, State};
use bytes::BytesMut;
use chan::{ChanError, ChanId, Channels, Config, Event, Frame};
use lim::client::LimClient;
use lim::log_file::Repeats;
use os::host::unix_now;
use proto::auth::{self, Challenges, ReplayGuard, ReplyKey, Signer};
use proto::mbd::{
    op, status, Control, Hello, JobRef, JobState, JobsChunk, JobsRequest, ModifyRequest,
    MoveRequest, PriorityRequest, RequeueRequest, SignalRequest, SubmitReply, SubmitRequest,
    MAX_REQUEST_BODY,
};
use proto::{Decode, Encode, Header};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
/// Rows per frame of a streamed listing.
const CHUNK_ROWS: usize = 1000;
/// A client connection silent this long is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// The longest wait between a change and the scheduling pass that plans
/// it (see [`Mbd::pass_due_in`]).
const MAX_PASS_GAP: Duration = Duration::from_millis(20);
/// Passes quicker than this are not spaced out at all.
const CHEAP_PASS: Duration = Duration::from_millis(1);

/// Why [`Mbd::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM or SIGINT.
    Stopped,
    /// Its lease on mastership ended: another host may be master.
    SteppedDown,
    /// `badmin mbdrestart`: the caller starts mbd again.
    Restart,
}

#[derive(Debug)]
pub enum DaemonError {
    Chan {
        what: String,
        source: ChanError,
    },
    Log(LogError),
    /// A logged record this mbd cannot apply.
    Replay(String),
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::Chan { what, source } => write!(f, "{what}: {source}"),
            DaemonError::Log(e) => write!(f, "event log: {e}"),
            DaemonError::Replay(why) => write!(f, "event log replay: {why}"),
            DaemonError::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for DaemonError {}

fn chan_err(what: impl Into<String>) -> impl FnOnce(ChanError) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Chan { what, source }
}

/// A running mbd.
pub struct Mbd {
    chans: Channels,
    state: State,
    log: EventLog,
    settings: Settings,
    seen: ReplayGuard,
    hosts: Vec<HostStatus>,
    lim: Option<Receiver<LimView>>,
    /// What the lim watcher asks, and how often.
    lim_client: Option<(LimClient, Duration)>,
    /// A checked configuration to put in force after this pass.
    reconfig: Option<reconfig::Pending>,
    /// The lim watcher's waker channel (closed when it is restarted).
    lim_waker: Option<ChanId>,
    /// With master candidates: the lease, and lim's word on the master.
    lease: Option<(Lease, Receiver<MasterView>)>,
    /// Why mbd must stop serving, once its lease has ended.
    step_down: Option<String>,
    /// Who asked for a restart (`badmin mbdrestart`), once answered.
    restart: Option<String>,
    lim_answering: Option<bool>,
    /// Whether lim ever answered (so `hosts` is its view, kept while it
    /// cannot be asked).
    lim_heard: bool,
    /// Replies waiting for this pass's commit.
    held: Vec<Held>,
    /// Connections to close once their held reply is sent; nothing more
    /// they sent is read.
    closing: HashSet<ChanId>,
    /// What was turned away, by cause, so a flood is logged in a few lines.
    refusals: Repeats,
    /// This pass's audit lines (`job 12 submitted by ann ...`), logged once
    /// its changes are durable: a pass undone logs none of them.
    audit: Vec<String>,
    /// Client connections and when each last sent a request.
    clients: HashMap<ChanId, Instant>,
    /// What the metrics endpoint reports (kept whether or not it is on).
    counters: crate::metrics::Counters,
    /// `LL_MBD_METRICS_PORT`'s listener and connections, when set.
    metrics_http: Option<metrics_http::MetricsEndpoint>,
    /// What the next scheduling pass must look at.
    replan: Replan,
    /// Registered execution daemons: connection -> host, and back.
    sbds: HashMap<ChanId, sbd_link::SbdPeer>,
    sbd_chan: Vec<Option<ChanId>>,
    /// Signs what mbd sends to the execution daemons.
    signer: Signer,
    /// The challenge each connection is greeted with, derived from its id
    /// (nothing stored per connection).
    challenges: Challenges,
    /// The last timer tick, to tell the sbds' silence from mbd's own pause.
    last_tick: Instant,
    /// When the last scheduling pass ended, and what it took.
    last_pass: (Instant, Duration),
    /// Set while changes are refused after a commit failed.
    log_trouble: Option<log_trouble::LogTrouble>,
    /// Jobs compaction dropped from memory whose history is still in the
    /// current log (a compaction that could not write keeps it): the
    /// next archive's index lists them.
    dropped: Vec<(u32, u32)>,
    /// Their accounting, for the file beside that archive.
    dropped_acct: Vec<proto::mbd::AcctRecord>,
    /// Reads archived event logs for bhist, off the event loop.
    archives: archived::ArchiveReader,
    /// Writes compaction's snapshot off the event loop.
    compactor: compactor::Compactor,
    /// Hosts whose sbd was turned away as not in llb.hosts: its retries
    /// (every few seconds) are not logged again.
    unknown_sbds: HashSet<String>,
    /// Per host, until when nothing is dispatched there (its sbd could
    /// not set up a job).
    paused_hosts: Vec<Option<Instant>>,
}

impl Mbd {
    /// Replays the event log and binds mbd's port.
    pub fn start(
        settings: Settings,
        lim: Option<(LimClient, Duration)>,
    ) -> Result<Mbd, DaemonError> {
        let mut chans = Channels::new(Config {
            max_frame_body: MAX_REQUEST_BODY,
            ..Config::default()
        })
        .map_err(chan_err("cannot set up the channel table"))?;
        // Read (and so blocked) before the log is touched: SIGXFSZ too, so
        // that a file-size limit fails the write (handled: the pass is
        // undone, see log_trouble) instead of killing mbd.
        chans
            .signals(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGXFSZ])
            .map_err(chan_err("cannot watch signals"))?;
        let (log, state) = recover(&settings)?;
        chans.tcp_listen(settings.bind).map_err(|e| {
            let held = lim::port_holder::note(lim::port_holder::Proto::Tcp, settings.bind, &e);
            chan_err(format!("cannot listen on {}{held}", settings.bind))(e)
        })?;
        chans
            .timer(settings.sched_interval, settings.sched_interval)
            .map_err(chan_err("cannot create the scheduling timer"))?;
        let metrics_http = match settings.metrics {
            None => None,
            Some(addr) => {
                let listener = (chans.tcp_listen_raw(addr))
                    .map_err(chan_err(format!("cannot listen for metrics on {addr}")))?;
                log::info!("metrics on http://{addr}/metrics");
                Some(metrics_http::MetricsEndpoint::new(listener))
            }
        };
        let names: Vec<String> = settings
            .cluster
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .collect();
        if lim.is_none() {
            log::warn!(
                "no lim configured (LL_CLUSTER_NAME unset): treating all {} hosts as up",
                names.len()
            );
        }
        let (uid, gid) = os::users::ids();
        let user = os::users::name_of(uid);
        let signer = Signer::new(
            settings.key.clone(),
            uid,
            gid,
            user,
            os::random::u64().map_err(no_randomness)?,
        );
        let challenges = Challenges::new(random_secret().map_err(no_randomness)?);
        let (wake_id, waker) = chans.waker().map_err(chan_err("cannot create a waker"))?;
        let archives = archived::ArchiveReader::spawn(
            settings.log_path(),
            settings.cluster.clone(),
            wake_id,
            waker,
        )
        .map_err(|source| DaemonError::Io {
            what: "cannot start the archive reader".into(),
            source,
        })?;
        let compactor =
            compactor::Compactor::new(&mut chans).map_err(chan_err("cannot create a waker"))?;
        let mut mbd = Mbd {
            archives,
            compactor,
            challenges,
            chans,
            sbds: HashMap::new(),
            sbd_chan: vec![None; names.len()],
            signer,
            hosts: vec![HostStatus::default(); names.len()],
            state,
            log,
            seen: ReplayGuard::new(settings.auth_max_age),
            settings,
            lim: None,
            lim_client: lim,
            reconfig: None,
            lease: None,
            step_down: None,
            restart: None,
            lim_answering: None,
            lim_heard: false,
            held: Vec::new(),
            closing: HashSet::new(),
            refusals: Repeats::default(),
            audit: Vec::new(),
            clients: HashMap::new(),
            counters: Default::default(),
            metrics_http,
            replan: Replan::All,
            last_tick: Instant::now(),
            last_pass: (Instant::now(), Duration::ZERO),
            log_trouble: None,
            dropped: Vec::new(),
            dropped_acct: Vec::new(),
            unknown_sbds: HashSet::new(),
            paused_hosts: vec![None; names.len()],
            lim_waker: None,
        };
        mbd.watch_lim()?;
        Ok(mbd)
    }

    /// (Re)starts the thread that asks lim about the configured hosts.
    fn watch_lim(&mut self) -> Result<(), DaemonError> {
        let Some((client, interval)) = self.lim_client.clone() else {
            return Ok(());
        };
        if let Some(old) = self.lim_waker.take() {
            let _ = self.chans.close(old);
        }
        let (wake_id, waker) = (self.chans.waker()).map_err(chan_err("cannot create a waker"))?;
        let names = self
            .settings
            .cluster
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .collect();
        let rx =
            lim_watch::spawn(client, names, interval, waker).map_err(|source| DaemonError::Io {
                what: "cannot start the lim watcher".into(),
                source,
            })?;
        (self.lim, self.lim_waker) = (Some(rx), Some(wake_id));
        Ok(())
    }

    /// Serves only while `lease` holds, lim's view of the master coming
    /// from `client` every `interval` (master candidates, see
    /// [`crate::mastership`]).
    pub fn with_lease(
        mut self,
        lease: Lease,
        client: LimClient,
        interval: Duration,
    ) -> Result<Mbd, DaemonError> {
        let (_, waker) = (self.chans.waker()).map_err(chan_err("cannot create a waker"))?;
        let rx = mastership::watch(client, interval, waker).map_err(|source| DaemonError::Io {
            what: "cannot start the mastership watcher".into(),
            source,
        })?;
        self.lease = Some((lease, rx));
        Ok(self)
    }

    /// Serves until SIGTERM or SIGINT, or until its lease ends.
    pub fn run(mut self) -> Result<Exit, DaemonError> {
        log::info!(
            "mbd serving on {} ({} hosts, {} queues, {} jobs)",
            self.settings.bind,
            self.settings.cluster.hosts.len(),
            self.settings.cluster.queues.len(),
            self.state.job_count()
        );
        self.settle_removed_config()?;
        loop {
            self.chans
                .chan_epoll(self.pass_due_in())
                .map_err(chan_err("event loop failed"))?;
            let mut stop = false;
            while let Some(event) = self.chans.next_event() {
                match event {
                    Event::Frame { id, frame } => self.on_request(id, &frame),
                    Event::Accepted { listener, id }
                        if self
                            .metrics_http
                            .as_ref()
                            .is_some_and(|m| m.listener == listener) =>
                    {
                        self.on_scraper(id)
                    }
                    Event::Accepted { id, .. } => self.greet(id),
                    Event::Data { id, data } => self.on_scrape_bytes(id, &data),
                    Event::Eof { id } | Event::Error { id, .. } if self.is_scraper(id) => {
                        self.drop_scraper(id)
                    }
                    // Closed once this pass's replies are sent: a client
                    // may shut down its side right after its request.
                    Event::Eof { id } => {
                        self.closing.insert(id);
                    }
                    // Already refused: its reply goes out, then it closes.
                    Event::Error { id, .. } if self.closing.contains(&id) => {}
                    Event::Error { id, error } => self.drop_client(id, Some(&error)),
                    Event::Timer { .. } => self.on_tick(),
                    Event::Wake { id } if id == self.archives.wake_id => self.on_archived(),
                    Event::Wake { id } if id == self.compactor.wake_id => {
                        self.on_snapshot_written()?
                    }
                    Event::Wake { .. } => {
                        self.on_lim_view();
                        self.on_master_view();
                    }
                    // The write that raised it failed with EFBIG and is handled.
                    Event::Signal { info, .. } if info.signo == libc::SIGXFSZ => {}
                    Event::Signal { info, .. } if info.signo == libc::SIGHUP => {
                        lim::log_file::hangup("mbd")
                    }
                    Event::Signal { info, .. } => {
                        log::info!("signal {} received: stopping", info.signo);
                        stop = true;
                    }
                    Event::Connected { .. } | Event::Writable { .. } | Event::Datagram { .. } => {}
                }
            }
            self.end_pass()?;
            self.reconfigure()?;
            if stop {
                self.record_id_floor();
                return Ok(Exit::Stopped);
            }
            if let Some(who) = self.restart.take() {
                log::info!("restarting, as {who} asked (badmin mbdrestart)");
                self.record_id_floor();
                return Ok(Exit::Restart);
            }
            if let Some(why) = self.step_down.take() {
                log::warn!("stepping down: {why}; no longer serving (the event log is let go)");
                self.record_id_floor();
                return Ok(Exit::SteppedDown);
            }
        }
    }

    /// lim's latest word on who the master is (see `with_lease`).
    fn on_master_view(&mut self) {
        let Some((lease, rx)) = &mut self.lease else {
            return;
        };
        while let Ok(view) = rx.try_recv() {
            if let Verdict::StepDown(why) = lease.observe(&view, Instant::now()) {
                self.step_down.get_or_insert(why);
            }
        }
    }

    /// Notes the id the next job gets beside the log (see `id_floor`).
    fn record_id_floor(&self) {
        let path = id_floor::path(&self.settings.state_dir);
        if let Err(e) = id_floor::write(&path, self.state.next_job_id()) {
            log::warn!("cannot record the job id floor in {}: {e}", path.display());
        }
    }

    /// Runs on hosts taken out of llb.hosts since they were dispatched
    /// end EXIT, lost, durably before anything else is served; waiting
    /// jobs that name a removed queue, host or group are pointed out.
    fn settle_removed_config(&mut self) -> Result<(), DaemonError> {
        let stranded = self.state.stranded();
        if !stranded.is_empty() {
            let shown: Vec<String> = stranded.iter().take(10).map(u32::to_string).collect();
            log::warn!(
                "{} waiting jobs ({}{}) name a queue, host or group no longer configured: they stay pending until it is back, or bmove or bkill them",
                stranded.len(),
                shown.join(" "),
                if stranded.len() > shown.len() { " ..." } else { "" }
            );
        }
        let lost = self.state.runs_on_removed_hosts(unix_now());
        if lost.is_empty() {
            return Ok(());
        }
        for change in &lost {
            if let Change::Ended(e) = change {
                log::warn!("job {} ends EXIT: {}", e.id, e.note);
            }
        }
        if let Err(Bad::Refused(Refusal { message, .. }) | Bad::Request(message)) =
            self.change(&lost)
        {
            log::warn!("cannot end the runs on removed hosts: {message}");
        }
        self.end_pass()
    }

    /// How long until a scheduling pass is due (zero: now); `None` if
    /// nothing changed, or while changes are refused (the log's trouble).
    /// A pass waits as long after the last as that one took (at most
    /// [`MAX_PASS_GAP`]), so passing keeps to about half of mbd's time and
    /// what arrives meanwhile (ends, submissions) is planned together: a
    /// pass costs about the same for one change as for hundreds (it walks
    /// the running jobs and the backlog), and at thousands of job ends a
    /// second one per event-loop turn was most of mbd's time. A pass
    /// under [`CHEAP_PASS`] (a small cluster's) is not waited for.
    fn pass_due_in(&self) -> Option<Duration> {
        if self.replan == Replan::Nothing || self.log_in_trouble() {
            return None;
        }
        let (ended, took) = self.last_pass;
        let gap = if took < CHEAP_PASS {
            Duration::ZERO
        } else {
            took.min(MAX_PASS_GAP)
        };
        Some(gap.saturating_sub(ended.elapsed()))
    }

    /// Schedules if anything changed, commits what the pass changed (its
    /// dispatches included), then releases the held replies and messages.
    fn end_pass(&mut self) -> Result<(), DaemonError> {
        if self.pass_due_in() == Some(Duration::ZERO) {
            let started = Instant::now();
            self.schedule();
            self.last_pass = (Instant::now(), started.elapsed());
            self.counters.pass.observe(self.last_pass.1.as_secs_f64());
        }
        let writes = self.log.has_pending();
        let committing = Instant::now();
        let committed = self.log.commit();
        if writes && committed.is_ok() {
            (self.counters.commit).observe(committing.elapsed().as_secs_f64());
        }
        match committed {
            Ok(_) => {}
            Err(e @ LogError::Unwritten { .. }) => return self.undo_pass(&e),
            Err(e) => {
                log::error!(
                    "cannot make changes durable, stopping without acknowledging them: {e}"
                );
                return Err(DaemonError::Log(e));
            }
        }
        for line in std::mem::take(&mut self.audit) {
            log::info!("{line}");
        }
        for Held { id, bytes, .. } in std::mem::take(&mut self.held) {
            if let Err(e) = self.chans.send(id, &bytes) {
                self.drop_client(id, Some(&e));
            }
        }
        for id in std::mem::take(&mut self.closing) {
            self.drop_client(id, None);
        }
        if !self.compactor.busy() && self.state.compaction_due(self.settings.finish_threshold) {
            self.compact()?;
        }
        Ok(())
    }

    fn schedule(&mut self) {
        let scope = std::mem::take(&mut self.replan);
        self.end_pauses();
        let status = self.status_for_dispatch();
        let plan = sched::plan(&self.state, &status, unix_now(), &scope);
        match scope {
            Replan::All => self.state.set_reasons(plan.reasons),
            _ => self.state.add_reasons(plan.reasons),
        }
        // Suspensions first: the starts that need their CPUs follow them
        // to sbd, and are not sent if they could not be logged.
        if self.preempt_and_resume(&plan.preempt, &plan.resume) {
            self.dispatch(&plan.starts);
        }
        // The plan already accounts for its own dispatches.
        self.replan = Replan::Nothing;
    }

    /// Suspends `preempt` (STOP, SUSP as preempted) and resumes `resume`
    /// (CONT); whether that could be logged (always, if both are empty).
    fn preempt_and_resume(&mut self, preempt: &[u32], resume: &[u32]) -> bool {
        let now = unix_now();
        let state_change = |id: u32, state, signal: i32, exit_code| {
            Change::StateChanged(StateChanged {
                id,
                time: now,
                state,
                signal: signal as u32,
                exit_code,
            })
        };
        let changes: Vec<Change> = (preempt.iter())
            .map(|&id| state_change(id, JobState::Susp, libc::SIGSTOP, crate::job::PREEMPTED))
            .chain(
                resume
                    .iter()
                    .map(|&id| state_change(id, JobState::Run, libc::SIGCONT, 0)),
            )
            .collect();
        if changes.is_empty() {
            return true;
        }
        if self.change(&changes).is_err() {
            log::error!(
                "cannot log {} preemptions and resumptions; nothing dispatched this pass",
                changes.len()
            );
            return false;
        }
        for id in preempt {
            (self.audit).push(format!("job {id} suspended: preempted"));
        }
        for id in resume {
            (self.audit).push(format!("job {id} resumed after preemption"));
        }
        self.forward_signals(&changes);
        true
    }

    /// Lifts the dispatch pauses that are over (the tick replans, so one
    /// is lifted within a scheduling interval of its end).
    fn end_pauses(&mut self) {
        let now = Instant::now();
        for pause in &mut self.paused_hosts {
            if pause.is_some_and(|until| until <= now) {
                *pause = None;
            }
        }
    }

    /// lim's view of the hosts, with the paused ones down.
    fn status_for_dispatch(&self) -> Cow<'_, [HostStatus]> {
        if self.paused_hosts.iter().all(Option::is_none) {
            return Cow::Borrowed(&self.hosts);
        }
        let mut status = self.hosts.clone();
        for (s, pause) in status.iter_mut().zip(&self.paused_hosts) {
            s.up &= pause.is_none();
        }
        Cow::Owned(status)
    }

    /// Forgets old finished jobs and starts writing a snapshot of what is
    /// left off the loop (see `compactor`); on its own if no thread can
    /// be started.
    fn compact(&mut self) -> Result<(), DaemonError> {
        let keep = self.settings.finish_threshold / 2;
        let dropping = self.state.droppable(keep);
        (self.dropped_acct).extend(
            dropping
                .iter()
                .filter_map(|(id, _)| self.state.acct_of(*id)),
        );
        self.dropped.extend(dropping);
        self.state.forget_finished(keep);
        let at = match self.log.mark() {
            Ok(at) => at,
            Err(e) => return self.compacted(Err(e), Instant::now()),
        };
        let path = self.log.path().to_owned();
        let Err(e) = self.compactor.start(path, self.state.frozen(), at) else {
            return Ok(());
        };
        log::warn!("cannot start the compaction thread ({e}): compacting on the event loop");
        let frozen = self.state.frozen();
        let snapshot = frozen.snapshot().map(|c| (c.kind(), c.payload()));
        let archive = self.log.rewrite(snapshot);
        self.compacted(archive, Instant::now())
    }

    /// The compaction thread is done: its snapshot takes the log's place.
    fn on_snapshot_written(&mut self) -> Result<(), DaemonError> {
        let Some(written) = self.compactor.finished() else {
            return Ok(());
        };
        match written {
            Ok(w) => {
                let archive = self.log.adopt(w.fresh, w.at);
                self.compacted(archive, w.started)
            }
            // Only the new file failed: the live log is as it was.
            Err(e) => {
                log::error!("cannot compact the event log ({e}); keeping the old one");
                Ok(())
            }
        }
    }

    /// Finishes a compaction begun at `started`: the archive it left gets
    /// its index and accounting. A new log that could not be written
    /// leaves the old one, intact, in use.
    fn compacted(
        &mut self,
        archive: Result<PathBuf, LogError>,
        started: Instant,
    ) -> Result<(), DaemonError> {
        let archive = match archive {
            Ok(archive) => archive,
            Err(e @ LogError::Unwritten { .. }) => {
                log::error!("cannot compact the event log ({e}); keeping the old one");
                return Ok(());
            }
            Err(e) => return Err(DaemonError::Log(e)),
        };
        self.record_id_floor();
        let dropped = std::mem::take(&mut self.dropped);
        if let Err(e) = crate::archive::write_index(&archive, &dropped) {
            log::warn!(
                "cannot write the job index of {} ({e}): bhist will read that archive whole",
                archive.display()
            );
        }
        let acct = std::mem::take(&mut self.dropped_acct);
        if let Err(e) = crate::acct::write(&archive, &acct) {
            log::warn!(
                "cannot write the accounting of {} ({e}): bacct will read that archive whole",
                archive.display()
            );
        }
        log::info!(
            "compacted the event log in {:.1} s: {} jobs kept, old log archived as {}",
            started.elapsed().as_secs_f64(),
            self.state.job_count(),
            archive.display()
        );
        Ok(())
    }

    fn on_tick(&mut self) {
        self.close_idle_scrapers();
        self.replan.all();
        self.close_silent_sbds();
        let now = Instant::now();
        if let Some((lease, _)) = &self.lease {
            if let Verdict::StepDown(why) = lease.check(now) {
                self.step_down.get_or_insert(why);
            }
        }
        let idle: Vec<ChanId> = (self.clients.iter())
            .filter(|(_, last)| now.saturating_duration_since(**last) > IDLE_LIMIT)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            log::info!("closing client connection {id}: idle for over {IDLE_LIMIT:?}");
            self.clients.remove(&id);
            let _ = self.chans.close(id);
        }
    }

    /// lim's latest view of the hosts. While lim cannot be asked (it is
    /// down, or mbd is out of file descriptors) mbd keeps the last view it
    /// had: a host lim reported down stays down. Only before lim ever
    /// answered are all hosts taken as up.
    fn on_lim_view(&mut self) {
        let Some(rx) = &self.lim else { return };
        while let Ok(view) = rx.try_recv() {
            let answering = view.is_ok();
            if self.lim_answering != Some(answering) {
                match &view {
                    Ok(_) => log::info!("lim answers: using its host status and load"),
                    Err(e) if self.lim_heard => log::warn!(
                        "lim not answering ({e}): keeping its last view of the {} hosts",
                        self.hosts.len()
                    ),
                    Err(e) => log::warn!(
                        "lim not answering ({e}): treating all {} hosts as up until it does",
                        self.hosts.len()
                    ),
                }
                self.lim_answering = Some(answering);
            }
            self.lim_heard |= answering;
            if let Ok(hosts) = view {
                self.hosts = hosts;
            }
            self.replan.all();
        }
    }

    fn drop_client(&mut self, id: ChanId, why: Option<&ChanError>) {
        self.clients.remove(&id);
        self.sbd_gone(id);
        match why {
            Some(e) => {
                let cause = match e {
                    ChanError::Frame(_) => "bad frame",
                    _ => "connection failure",
                };
                if let Some(count) = self.refusals.note(cause) {
                    log::warn!("dropping client {id}: {e} ({count} such {cause}s so far)");
                }
                let _ = self.chans.close(id);
            }
            None => {
                let _ = self.chans.close_when_flushed(id);
            }
        }
    }

    /// A new connection: every frame it sends must carry the challenge
    /// this greeting hands it.
    fn greet(&mut self, id: ChanId) {
        self.clients.insert(id, Instant::now());
        let hello = Hello {
            challenge: self.challenge(id),
        };
        let mut out = BytesMut::new();
        proto::encode_frame(Header::request(0, op::HELLO, 0), &hello, &mut out);
        if let Err(e) = self.chans.send(id, &out) {
            self.drop_client(id, Some(&e));
        }
    }

    fn challenge(&self, id: ChanId) -> u64 {
        (self.challenges).of(id.index() as u64 | u64::from(id.generation()) << 32)
    }

    fn on_request(&mut self, id: ChanId, frame: &Frame) {
        if self.closing.contains(&id) {
            // Refused earlier in this pass: the rest of what it sent is not
            // read, answered or logged.
            return;
        }
        if self.sbd_host(id).is_none() {
            self.clients.insert(id, Instant::now());
        }
        let request = Request {
            header: *frame.header(),
            reply_key: ReplyKey::of_request(&self.settings.key, frame.as_bytes()),
        };
        if let Err(e) = request.header.check_version() {
            if let Some(count) = self.refusals.note("other version") {
                log::warn!("dropping client {id}: {e} ({count} such clients so far)");
            }
            self.hold(id, &request, status::BAD_REQUEST, &e.to_string());
            self.closing.insert(id);
            return;
        }
        let challenge = self.challenge(id);
        let verified = match auth::verify(
            frame.as_bytes(),
            &self.settings.key,
            unix_now(),
            &mut self.seen,
            challenge,
        ) {
            Ok(v) => v,
            Err(e) => {
                let peer = self
                    .chans
                    .peer_addr(id)
                    .map_or_else(|_| "?".into(), |a| a.to_string());
                if let Some(count) = self.refusals.note("authentication") {
                    log::warn!("refused request from {peer}: {e} ({count} refused so far)");
                }
                self.hold(
                    id,
                    &request,
                    status::AUTH,
                    &format!("authentication failed: {e}"),
                );
                self.closing.insert(id);
                return;
            }
        };
        let who = Caller {
            uid: verified.creds.uid,
            gid: verified.creds.gid,
            admin: self.settings.admin_uids.contains(&verified.creds.uid),
            user: verified.creds.user,
        };
        let outcome = self.carry_out(id, &request, &who, verified.body);
        if let Err(bad) = outcome {
            self.answer_bad(id, &request, &who, bad);
        }
    }

    /// Carries out one authenticated request.
    fn carry_out(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        match h.header.operation {
            op::SUBMIT => self.submit(id, h, who, body),
            op::JOBS => self.jobs(id, h, who, body),
            op::SIGNAL => self.signal(id, h, who, body),
            op::REQUEUE => self.requeue(id, h, who, body),
            op::MODIFY => self.modify(id, h, who, body),
            op::QUEUES => {
                let mut rows = self.state.queue_rows();
                self.state.add_shares(&mut rows, unix_now());
                self.hold(id, h, status::OK, &rows);
                Ok(())
            }
            op::HOSTS => {
                let rows = self.state.host_rows(&self.hosts);
                self.hold(id, h, status::OK, &rows);
                Ok(())
            }
            op::QUEUE_CONTROL | op::HOST_CONTROL | op::QUEUE_ACCEPT => {
                self.control(id, h, who, body)
            }
            op::RECONFIG => self.reconfig(id, h, who),
            op::MBD_RESTART => {
                if !who.admin {
                    return Err(Bad::Refused(Refusal {
                        status: status::EPERM,
                        message: "only the batch admins may restart mbd".into(),
                    }));
                }
                self.restart = Some(who.user.clone());
                self.hold(id, h, status::OK, &());
                Ok(())
            }
            op::HISTORY => self.history(id, h, who, body),
            op::ACCT => self.acct(id, h, who, body),
            op::MOVE | op::PRIORITY => self.amend(id, h, who, body),
            op::TOKENS => {
                let rows = self.state.token_rows();
                self.hold(id, h, status::OK, &rows);
                Ok(())
            }
            op::GROUPS => {
                let rows = self.state.group_rows();
                self.hold(id, h, status::OK, &rows);
                Ok(())
            }
            sbd_op if sbd_op & 0xff00 == 0x0300 => self.on_sbd_message(id, sbd_op, who.admin, body),
            other => Err(Bad::Request(format!("unknown operation {other:#x}"))),
        }
    }

    /// A refusal keeps the client; a request that makes no sense drops it.
    fn answer_bad(&mut self, id: ChanId, h: &Request, who: &Caller, bad: Bad) {
        match bad {
            Bad::Refused(r) => {
                *self
                    .counters
                    .refused
                    .entry(status::text(r.status))
                    .or_default() += 1;
                // Turned-down permissions are what an admin audits.
                let level = if r.status == status::EPERM {
                    log::Level::Info
                } else {
                    log::Level::Debug
                };
                let what = op::name(h.header.operation);
                log::log!(level, "refused {what} by {}: {r}", who.user);
                self.hold(id, h, r.status, &r.message);
            }
            Bad::Request(why) => {
                *self
                    .counters
                    .refused
                    .entry("malformed request")
                    .or_default() += 1;
                if let Some(count) = self.refusals.note("bad request") {
                    log::warn!(
                        "dropping client {id} ({}): {why} ({count} such so far)",
                        who.user
                    );
                }
                self.hold(id, h, status::BAD_REQUEST, &why);
                self.closing.insert(id);
            }
        }
    }

    /// Appends and applies `changes` (durable at the end of the pass).
    fn change(&mut self, changes: &[Change]) -> Result<(), Bad> {
        if !changes.is_empty() {
            self.refuse_while_log_fails()?;
        }
        for change in changes {
            self.log
                .append(change.kind(), &change.payload())
                .map_err(|e| {
                    Bad::Refused(Refusal {
                        status: status::EINVAL,
                        message: e.to_string(),
                    })
                })?;
            self.state.apply(change);
            let counters = &mut self.counters;
            match change {
                Change::Submitted(s) => {
                    counters.jobs_submitted += s.job_ids().count() as u64;
                    self.replan.new_jobs(s.job_ids())
                }
                Change::Dispatched(_) => {
                    counters.jobs_dispatched += 1;
                    self.replan.all()
                }
                Change::Ended(_) => {
                    counters.jobs_ended += 1;
                    self.replan.all()
                }
                _ => self.replan.all(),
            }
        }
        Ok(())
    }

    fn submit(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let request = decode::<SubmitRequest>(body)?;
        let change = self
            .state
            .submit(who, request, unix_now())
            .map_err(Bad::Refused)?;
        let Change::Submitted(s) = &change else {
            unreachable!("submit makes a Submitted change")
        };
        let reply = SubmitReply {
            job_id: s.first_id,
            queue: s.queue.clone(),
            elements: s.request.indices().len() as u32,
        };
        self.change(std::slice::from_ref(&change))?;
        self.audit.push(format!(
            "job {} submitted by {} to queue {}",
            reply.job_id, who.user, reply.queue
        ));
        self.hold(id, h, status::OK, &reply);
        Ok(())
    }

    fn signal(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let request = decode::<SignalRequest>(body)?;
        let changes = (self.state)
            .signal(who, request.job, request.signal, unix_now())
            .map_err(Bad::Refused)?;
        self.change(&changes)?;
        let target = match request.job {
            JobRef { id: 0, .. } => "all jobs".to_owned(),
            JobRef { id, index: 0 } => format!("job {id}"),
            JobRef { id, index } => format!("job {id}[{index}]"),
        };
        (self.audit).push(format!(
            "signal {} to {target} by {}",
            request.signal, who.user
        ));
        self.forward_signals(&changes);
        self.hold(id, h, status::OK, &());
        Ok(())
    }

    fn requeue(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let request = decode::<RequeueRequest>(body)?;
        let changes = (self.state)
            .requeue(who, &request, unix_now())
            .map_err(Bad::Refused)?;
        self.change(&changes)?;
        for change in &changes {
            if let Change::RequeueAsked(r) = change {
                (self.audit).push(format!("job {} requeued by {}", r.id, who.user));
            }
        }
        self.forward_signals(&changes);
        self.hold(id, h, status::OK, &());
        Ok(())
    }

    fn modify(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let request = decode::<ModifyRequest>(body)?;
        let changes = (self.state)
            .modify(who, &request, unix_now())
            .map_err(Bad::Refused)?;
        self.change(&changes)?;
        for change in &changes {
            if let Change::Modified(m) = change {
                (self.audit).push(format!("job {} modified by {}", m.id, who.user));
            }
        }
        self.hold(id, h, status::OK, &());
        Ok(())
    }

    fn control(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let request = decode::<Control>(body)?;
        let now = unix_now();
        let (change, what) = match h.header.operation {
            op::QUEUE_CONTROL => (self.state.control_queue(who, &request, now), "queue"),
            op::QUEUE_ACCEPT => (
                self.state.control_accepting(who, &request, now),
                "queue (to submissions)",
            ),
            _ => (self.state.control_host(who, &request, now), "host"),
        };
        self.change(&[change.map_err(Bad::Refused)?])?;
        let done = if request.open { "opened" } else { "closed" };
        (self.audit).push(format!("{what} {} {done} by {}", request.name, who.user));
        self.hold(id, h, status::OK, &());
        Ok(())
    }

    /// `bmove` and `bpriority`.
    fn amend(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let now = unix_now();
        let change = match h.header.operation {
            op::MOVE => self.state.move_job(who, &decode::<MoveRequest>(body)?, now),
            _ => (self.state).reprioritize(who, &decode::<PriorityRequest>(body)?, now),
        }
        .map_err(Bad::Refused)?;
        if let Some(change) = change {
            self.change(std::slice::from_ref(&change))?;
            let line = match &change {
                Change::Moved(m) => Some(format!("job {} moved to {}", m.id, m.queue)),
                Change::Reprioritized(r) => {
                    Some(format!("job {} priority set to {}", r.id, r.priority))
                }
                _ => None,
            };
            (self.audit).extend(line.map(|l| format!("{l} by {}", who.user)));
        }
        self.hold(id, h, status::OK, &());
        Ok(())
    }

    fn jobs(&mut self, id: ChanId, h: &Request, who: &Caller, body: &[u8]) -> Result<(), Bad> {
        let request = decode::<JobsRequest>(body)?;
        let rows = self.state.job_rows(who, &request).map_err(Bad::Refused)?;
        let frames = chunks(h, rows, |more, jobs| JobsChunk { more, jobs });
        let durable = !self.log.has_pending();
        if let Err(e) = send_listing(&mut self.chans, &mut self.held, durable, id, h, frames) {
            self.drop_client(id, Some(&e));
        }
        Ok(())
    }

    fn hold<T: Encode + ?Sized>(&mut self, id: ChanId, request: &Request, status: u32, body: &T) {
        let mut out = BytesMut::new();
        let reply = request.header.reply(status, 0);
        auth::encode_reply(reply, body, &request.reply_key, 0, &mut out);
        hold_bytes(&mut self.held, id, out, Some(request));
    }

    /// Holds a message to an sbd (it answers no request).
    fn held_bytes(&mut self, id: ChanId, out: BytesMut) {
        hold_bytes(&mut self.held, id, out, None);
    }
}

/// A request being answered: its header, and the key its reply frames
/// are tagged with so its sender can believe them.
#[derive(Clone)]
struct Request {
    header: Header,
    reply_key: ReplyKey,
}

/// A secret no peer can guess, for this run of mbd only.
fn random_secret() -> std::io::Result<Vec<u8>> {
    let mut secret = Vec::with_capacity(32);
    for _ in 0..4 {
        secret.extend_from_slice(&os::random::u64()?.to_be_bytes());
    }
    Ok(secret)
}

fn no_randomness(source: std::io::Error) -> DaemonError {
    DaemonError::Io {
        what: "no randomness for nonces and challenges".into(),
        source,
    }
}

/// Why a request got no normal reply.
enum Bad {
    /// A well-formed request mbd turns down; the client stays connected.
    Refused(Refusal),
    /// Bytes that are not a request: reply, then close.
    Request(String),
}

/// The reply frames to `request` streaming `rows`, [`CHUNK_ROWS`] per
/// frame, the last with `more` false (an empty listing is one empty
/// chunk). Each frame is made when it is taken, never all at once.
fn chunks<R, C: Encode>(
    request: &Request,
    rows: impl Iterator<Item = R>,
    chunk: impl Fn(bool, Vec<R>) -> C,
) -> impl Iterator<Item = BytesMut> {
    let reply = request.header.reply(status::OK, 0);
    let key = request.reply_key.clone();
    let mut rows = rows.peekable();
    let mut done = false;
    let mut index = 0;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let part: Vec<R> = rows.by_ref().take(CHUNK_ROWS).collect();
        done = rows.peek().is_none();
        let mut frame = BytesMut::new();
        auth::encode_reply(reply, &chunk(!done, part), &key, index, &mut frame);
        index += 1;
        Some(frame)
    })
}

/// Sends a listing's frames as they are made, so the client decodes while
/// mbd encodes — when the state they show is all `durable` and no earlier
/// reply to this client waits for the commit. Otherwise they are held for
/// the commit like any reply.
fn send_listing(
    chans: &mut Channels,
    held: &mut Vec<Held>,
    durable: bool,
    id: ChanId,
    request: &Request,
    frames: impl Iterator<Item = BytesMut>,
) -> Result<(), ChanError> {
    let now = durable && !held.iter().any(|waiting| waiting.id == id);
    for frame in frames {
        if now {
            chans.send(id, &frame)?;
        } else {
            hold_bytes(held, id, frame, Some(request));
        }
    }
    Ok(())
}

/// What waits for the pass's commit on one connection: the bytes, and the
/// request they answer (none for messages to an sbd), so that a pass that
/// is undone can answer it with an error instead.
struct Held {
    id: ChanId,
    bytes: BytesMut,
    answers: Option<Request>,
}

/// Queues `out` for `id` until the commit, joined to the reply before it
/// if that one is for `id` too (one send for both).
fn hold_bytes(held: &mut Vec<Held>, id: ChanId, out: BytesMut, answers: Option<&Request>) {
    match held.last_mut() {
        Some(last) if last.id == id => last.bytes.extend_from_slice(&out),
        _ => held.push(Held {
            id,
            bytes: out,
            answers: answers.cloned(),
        }),
    }
}

fn decode<T: Decode>(body: &[u8]) -> Result<T, Bad> {
    T::from_body(body).map_err(|e| Bad::Request(format!("undecodable request: {e}")))
}

/// Opens the event log and rebuilds the state from it.
fn recover(settings: &Settings) -> Result<(EventLog, State), DaemonError> {
    let started = Instant::now();
    // Owner-only, and tightened if an older mbd left it readable: the log
    // holds every job's environment.
    conf::state_dir::make_private(&settings.state_dir).map_err(|source| DaemonError::Io {
        what: format!("cannot create {} (mode 0700)", settings.state_dir.display()),
        source,
    })?;
    let floor_path = id_floor::path(&settings.state_dir);
    let floor_err = |source| DaemonError::Io {
        what: format!("job id floor {}", floor_path.display()),
        source,
    };
    let floor = id_floor::read(&floor_path).map_err(floor_err)?;
    // The ids a torn tail handed out are kept before it is cut.
    let save_torn_ids = |torn: &[crate::event_log::Record]| {
        id_floor::write(&floor_path, floor.max(id_floor::after_torn(torn)))
    };
    let mut state = State::new(settings.cluster.clone());
    let (log, replay) = EventLog::open_replaying(&settings.log_path(), save_torn_ids, |record| {
        state.replay_record(record)
    })
    .map_err(|e| match e {
        ReplayError::Log(e) => DaemonError::Log(e),
        ReplayError::Record { number, error } => {
            DaemonError::Replay(format!("record {number}: {error}"))
        }
    })?;
    state.replayed();
    state.raise_next_job_id(id_floor::read(&floor_path).map_err(floor_err)?);
    id_floor::write(&floor_path, state.next_job_id()).map_err(floor_err)?;
    log::info!(
        "replayed {} records ({} jobs) in {:?}{}",
        replay.records,
        state.job_count(),
        started.elapsed(),
        if replay.torn_bytes > 0 {
            format!("; dropped a torn last batch of {} bytes", replay.torn_bytes)
        } else {
            String::new()
        }
    );
    Ok((log, state))
}
