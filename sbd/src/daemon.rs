//! sbd's event loop: the link to mbd, the job table, SIGCHLD through a
//! signalfd, and a tick for `--terminate` and reconnecting.

use crate::cgroup::{CgroupRoot, JobCgroup, Limits};
use crate::job::{
    adopted, collect_cgroup, enforce_run_limit, enforce_terminate, lost, unrecorded, Adopted,
    LocalJob,
};
use crate::launch;
use crate::run_limit::RunLimit;
use crate::settings::Settings;
use crate::spool::{self, Spool};
use bytes::BytesMut;
use chan::{ChanId, Channels, Config, Event, Frame};
use os::host::unix_now;
use proto::auth::{self, ReplayGuard, Signer};
use proto::mbd::status;
use proto::sbd::{
    op, silence_limit, Finished, JobKey, JobSignal, JobStart, Register, Rejected, RunUsage,
    RunningJob, Started,
};
use proto::{Decode, Encode};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often sbd checks deadlines, adopted jobs and the link.
const TICK: Duration = Duration::from_millis(250);
/// Reconnect backoff: first wait, and the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The running program, as the kernel keeps it.
const SELF_EXE: &str = "/proc/self/exe";
/// Largest frame mbd sends (a job with a big environment fits).
const MAX_FRAME_BODY: u32 = 4 << 20;

/// The link to mbd.
#[derive(Debug)]
enum Link {
    Down {
        retry_at: Instant,
    },
    Connecting(ChanId),
    Up {
        id: ChanId,
        registered: bool,
        /// When mbd last sent a frame that verified (or the connect).
        heard: Instant,
        /// The challenges of this connection: mbd's (from its greeting),
        /// carried by every frame sbd sends; sbd's own (sent with
        /// REGISTER), carried by every frame mbd sends.
        theirs: Option<u64>,
        ours: u64,
    },
}

pub struct Sbd {
    chans: Channels,
    settings: Settings,
    spool: Spool,
    signer: Signer,
    seen: ReplayGuard,
    link: Link,
    /// The wait before the next connection attempt after a failed one.
    backoff: Duration,
    /// Why mbd last turned this sbd down, until it registers: the same
    /// reason again (every `BACKOFF_MAX`) is not logged again.
    last_refusal: Option<String>,
    /// When the next heartbeat is due.
    next_beat: Instant,
    /// Which of `LL_MASTER_LIST` is tried for mbd (see `mbd_addr`).
    mbd_at: usize,
    /// The last tick, to tell mbd's silence from this sbd's own pause.
    last_tick: Instant,
    jobs: BTreeMap<JobKey, LocalJob>,
    /// `LL_CGROUP_ROOT`, when cgroups work here.
    cgroups: Option<CgroupRoot>,
    /// Cgroups of acknowledged jobs whose last processes are still exiting.
    cgroups_to_remove: Vec<JobCgroup>,
}

impl Sbd {
    pub fn start(settings: Settings) -> anyhow::Result<Sbd> {
        let mut chans = Channels::new(Config {
            max_frame_body: MAX_FRAME_BODY,
            ..Config::default()
        })?;
        chans.signals(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP])?;
        chans.timer(TICK, TICK)?;
        let spool = Spool::open(&settings.spool_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the spool {}: {e}",
                settings.spool_dir.display()
            )
        })?;
        let (uid, gid) = os::users::ids();
        let user = os::users::name_of(uid);
        let signer = Signer::new(
            settings.key.clone(),
            uid,
            gid,
            user,
            os::random::u64().map_err(|e| anyhow::anyhow!("no randomness for nonces: {e}"))?,
        );
        let mut sbd = Sbd {
            chans,
            seen: ReplayGuard::new(settings.auth_max_age),
            settings,
            spool,
            signer,
            link: Link::Down {
                retry_at: Instant::now(),
            },
            backoff: BACKOFF_FIRST,
            last_refusal: None,
            next_beat: Instant::now(),
            mbd_at: 0,
            last_tick: Instant::now(),
            jobs: BTreeMap::new(),
            cgroups: None,
            cgroups_to_remove: Vec::new(),
        };
        sbd.cgroups = match sbd.settings.cgroup_root.as_deref() {
            Some(path) => open_cgroups(path),
            None => {
                log::info!("cgroups off (LL_CGROUP_ROOT = none): {NO_CGROUPS}");
                None
            }
        };
        sbd.adopt()?;
        Ok(sbd)
    }

    /// Takes over the runs a previous sbd left in the spool.
    fn adopt(&mut self) -> anyhow::Result<()> {
        for entry in self.spool.entries()? {
            let cgroup = (self.cgroups.as_ref())
                .map(|root| root.job(entry.key))
                .filter(JobCgroup::exists);
            let reread = || spool::read_result(&entry.dir);
            let finished = match adopted(entry.key, entry.pid, entry.result, reread) {
                Adopted::Unstarted => {
                    self.discard_unstarted(entry.key, cgroup);
                    continue;
                }
                Adopted::Running => None,
                Adopted::Ended(f) => Some(f),
            };
            let start = entry.start.unwrap_or_default();
            let mut job = LocalJob::new(entry.pid.unwrap_or(0), start.terminate, entry.dir, cgroup);
            job.own_child = false;
            let now = unix_now();
            let started = spool::started_at(&job.dir).unwrap_or(now);
            job.run_limit = RunLimit::new(start.options.run_limit, started, now);
            // A frozen cgroup is a job that STOP suspended.
            job.suspended = (job.cgroup.as_ref()).is_some_and(|cg| cg.frozen().unwrap_or(false));
            log::info!(
                "found job {} attempt {} from a previous sbd: {}",
                entry.key.id,
                entry.key.attempt,
                if finished.is_some() {
                    "finished"
                } else {
                    "still running"
                }
            );
            job.finished = finished;
            self.jobs.insert(entry.key, job);
        }
        Ok(())
    }

    /// A run the previous sbd died while starting: no runner pid was
    /// recorded, so its job never ran (`launch::go_given`). Forgotten
    /// here, it is not in the registration, and mbd, which never heard
    /// it start, sends it again.
    fn discard_unstarted(&mut self, key: JobKey, cgroup: Option<JobCgroup>) {
        log::info!(
            "job {} attempt {}: the previous sbd stopped while starting it, before it ran; discarded for mbd to send again",
            key.id,
            key.attempt
        );
        self.spool.remove(key);
        if let Some(cg) = cgroup {
            self.remove_cgroup(cg);
        }
    }

    pub fn run(mut self) -> anyhow::Result<()> {
        log::info!(
            "sbd for {} starting; mbd at {} ({} jobs in the spool)",
            self.settings.host,
            self.mbd_addr(),
            self.jobs.len()
        );
        self.connect_if_due();
        loop {
            self.chans.chan_epoll(None)?;
            while let Some(event) = self.chans.next_event() {
                match event {
                    Event::Frame { id, frame } => self.on_frame(id, &frame),
                    Event::Connected { id } => self.on_connected(id),
                    Event::Eof { id } => self.link_lost(id, "mbd closed the connection".into()),
                    Event::Error { id, error } => self.link_lost(id, error.to_string()),
                    Event::Timer { .. } => self.on_tick(),
                    Event::Signal { info, .. } if info.signo == libc::SIGCHLD => self.reap(),
                    Event::Signal { info, .. } if info.signo == libc::SIGHUP => {
                        lim::log_file::hangup("sbd")
                    }
                    Event::Signal { info, .. } => {
                        log::info!(
                            "signal {} received: stopping ({} jobs keep running; the next sbd adopts them)",
                            info.signo,
                            self.jobs.values().filter(|j| j.finished.is_none()).count()
                        );
                        return Ok(());
                    }
                    _ => {}
                }
            }
        }
    }

    // ---- the link to mbd ----

    fn connect_if_due(&mut self) {
        let Link::Down { retry_at } = self.link else {
            return;
        };
        if Instant::now() < retry_at {
            return;
        }
        match self.chans.tcp_connect(self.mbd_addr(), CONNECT_TIMEOUT) {
            Ok(id) => self.link = Link::Connecting(id),
            Err(e) => {
                log::warn!("cannot connect to mbd at {}: {e}", self.mbd_addr());
                self.retry_later();
            }
        }
    }

    /// Where this sbd looks for mbd now: `LL_MBD_HOST`'s, or with master
    /// candidates the one it tries in turn (only the master's mbd
    /// listens: a candidate on standby refuses at once).
    fn mbd_addr(&self) -> std::net::SocketAddr {
        let candidates = &self.settings.mbd.candidates;
        match candidates.get(self.mbd_at % candidates.len().max(1)) {
            Some((_, addr)) => *addr,
            None => self.settings.mbd.addr,
        }
    }

    /// Waits before connecting again; with master candidates, tries the
    /// next one first, waiting (and backing off) once a round of them all
    /// has failed.
    fn retry_later(&mut self) {
        let candidates = self.settings.mbd.candidates.len();
        if candidates > 1 && !self.registered() {
            self.mbd_at = (self.mbd_at + 1) % candidates;
            if self.mbd_at != 0 {
                self.link = Link::Down {
                    retry_at: Instant::now(),
                };
                return;
            }
        }
        self.link = Link::Down {
            retry_at: Instant::now() + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    fn link_id(&self) -> Option<ChanId> {
        match self.link {
            Link::Connecting(id) | Link::Up { id, .. } => Some(id),
            Link::Down { .. } => None,
        }
    }

    fn on_connected(&mut self, id: ChanId) {
        if self.link_id() != Some(id) {
            return;
        }
        let ours = match os::random::u64() {
            Ok(n) => n.max(1),
            Err(e) => return self.drop_link(id, &format!("no randomness for a challenge: {e}")),
        };
        self.link = Link::Up {
            id,
            registered: false,
            heard: Instant::now(),
            theirs: None,
            ours,
        };
    }

    /// mbd's greeting: its challenge for this connection. sbd registers,
    /// signing for it, and hands mbd its own challenge.
    fn on_hello(&mut self, frame: &Frame) -> Result<(), String> {
        let hello = (frame.header().operation == proto::mbd::op::HELLO)
            .then(|| proto::mbd::Hello::from_body(frame.body()).ok())
            .flatten()
            .ok_or("mbd did not greet this sbd as expected (an mbd of another version?)")?;
        let Link::Up {
            ref mut theirs,
            ours,
            ..
        } = self.link
        else {
            return Ok(());
        };
        *theirs = Some(hello.challenge);
        let register = Register {
            host: self.settings.host.clone(),
            challenge: ours,
            running: (self.jobs.iter())
                .filter(|(_, j)| j.finished.is_none())
                .map(|(key, j)| RunningJob {
                    job: *key,
                    pid: j.pgid,
                    suspended: j.suspended,
                })
                .collect(),
            finished: self
                .jobs
                .values()
                .filter_map(|j| j.finished.clone())
                .collect(),
        };
        self.send(op::REGISTER, &register);
        Ok(())
    }

    fn link_lost(&mut self, id: ChanId, why: String) {
        if self.link_id() != Some(id) {
            let _ = self.chans.close(id);
            return;
        }
        let _ = self.chans.close(id);
        if self.registered() {
            log::warn!("lost mbd ({why}); jobs keep running, reconnecting");
            self.backoff = BACKOFF_FIRST;
        } else {
            log::debug!("cannot reach mbd ({why}); retrying in {:?}", self.backoff);
        }
        self.retry_later();
    }

    /// Sends `body` to mbd, once it has greeted this connection (what
    /// is not sent before then goes with REGISTER).
    fn send<T: Encode + ?Sized>(&mut self, op: u32, body: &T) {
        let Link::Up {
            id,
            theirs: Some(challenge),
            ..
        } = self.link
        else {
            return;
        };
        let mut out = BytesMut::new();
        (self.signer).frame(op, status::OK, body, unix_now(), challenge, &mut out);
        if let Err(e) = self.chans.send(id, &out) {
            self.link_lost(id, e.to_string());
        }
    }

    /// Sends the heartbeat when due, and drops a link on which mbd has
    /// been silent past the limit (mbd's host died or is cut off: without
    /// this, sbd would wait on a dead connection for the kernel's
    /// retransmission timeout, ~15 minutes).
    fn keep_link_alive(&mut self) {
        let now = Instant::now();
        let limit = silence_limit(self.settings.heartbeat);
        let since_tick = now.saturating_duration_since(std::mem::replace(&mut self.last_tick, now));
        let paused = since_tick.saturating_sub(TICK);
        let Link::Up {
            id,
            registered,
            ref mut heard,
            ..
        } = self.link
        else {
            return;
        };
        if paused > limit {
            // Stopped or suspended ourselves: that is not mbd's silence.
            log::info!("sbd did not run for {paused:?}; giving mbd a fresh {limit:?}");
            *heard = now;
        }
        if now.saturating_duration_since(*heard) > limit {
            return self.link_lost(id, format!("mbd silent for over {limit:?}"));
        }
        if registered && now >= self.next_beat {
            self.next_beat = now + self.settings.heartbeat;
            self.send(op::HEARTBEAT, &());
            let usage = self.run_usage();
            if !usage.is_empty() {
                self.send(op::USAGE, &usage);
            }
        }
    }

    /// What the running jobs with a cgroup have used so far.
    fn run_usage(&self) -> Vec<RunUsage> {
        (self.jobs.iter())
            .filter(|(_, job)| job.finished.is_none())
            .filter_map(|(key, job)| {
                let usage = job.cgroup.as_ref()?.usage().ok()?;
                Some(RunUsage {
                    job: *key,
                    usage: usage.over(Default::default()),
                })
            })
            .collect()
    }

    fn registered(&self) -> bool {
        matches!(
            self.link,
            Link::Up {
                registered: true,
                ..
            }
        )
    }

    fn on_frame(&mut self, id: ChanId, frame: &Frame) {
        let Link::Up { theirs, ours, .. } = self.link else {
            return;
        };
        if self.link_id() != Some(id) {
            return;
        }
        if theirs.is_none() {
            if let Err(why) = self.on_hello(frame) {
                self.drop_link(id, &why);
            }
            return;
        }
        let verified = match auth::verify(
            frame.as_bytes(),
            &self.settings.key,
            unix_now(),
            &mut self.seen,
            ours,
        ) {
            Ok(v) => v,
            Err(e) => {
                let why = match refusal(frame.header(), frame.body()) {
                    Some(message) => format!("mbd refused this sbd: {message}"),
                    None => format!("refused a frame from mbd: {e}"),
                };
                return self.drop_link(id, &why);
            }
        };
        let (header, body) = (verified.header, verified.body);
        let now = Instant::now();
        if let Link::Up { heard, .. } = &mut self.link {
            *heard = now;
        }
        let outcome = match header.operation {
            op::REGISTERED if header.status == status::OK => {
                log::info!("registered with mbd at {}", self.mbd_addr());
                self.link = Link::Up {
                    id,
                    registered: true,
                    heard: now,
                    theirs,
                    ours,
                };
                self.backoff = BACKOFF_FIRST;
                self.last_refusal = None;
                self.next_beat = now + self.settings.heartbeat;
                Ok(())
            }
            op::REGISTERED => Err(format!(
                "mbd refused the registration: {}",
                String::from_body(body).unwrap_or_default()
            )),
            op::START => decode::<JobStart>(body).map(|s| self.on_start(s)),
            op::SIGNAL => decode::<JobSignal>(body).map(|s| self.on_signal(s)),
            op::FINISH_ACK => decode::<JobKey>(body).map(|k| self.on_finish_ack(k)),
            op::HEARTBEAT_ACK => Ok(()),
            other => Err(format!("unknown operation {other:#x} from mbd")),
        };
        if let Err(why) = outcome {
            self.drop_link(id, &why);
        }
    }

    /// Closes a link that cannot go on (a refusal, a frame that does not
    /// verify, a message sbd does not understand): an error in the log
    /// (once while it repeats), and the longest backoff before trying
    /// again.
    fn drop_link(&mut self, id: ChanId, why: &str) {
        if self.last_refusal.as_deref() == Some(why) {
            log::debug!("{why} (again)");
        } else {
            log::error!("{why} (trying again every {BACKOFF_MAX:?}; logged once while it repeats)");
            self.last_refusal = Some(why.to_owned());
        }
        let _ = self.chans.close(id);
        self.backoff = BACKOFF_MAX;
        self.retry_later();
    }

    // ---- jobs ----

    fn on_start(&mut self, start: JobStart) {
        if let Some(job) = self.jobs.get(&start.job) {
            // A re-sent dispatch: answer again, never run twice.
            let (pgid, finished) = (job.pgid, job.finished.clone());
            self.send(
                op::STARTED,
                &Started {
                    job: start.job,
                    pid: pgid,
                },
            );
            if let Some(f) = finished {
                self.send(op::FINISHED, &f);
            }
            return;
        }
        let cgroup = self.job_cgroup(&start);
        match self.launch(&start, cgroup.as_ref()) {
            Ok((dir, pid)) => {
                log::info!("job {} started (process group {pid})", start.job.id);
                let mut job = LocalJob::new(pid, start.terminate, dir, cgroup);
                let now = unix_now();
                job.run_limit = RunLimit::new(start.options.run_limit, now, now);
                self.jobs.insert(start.job, job);
                self.send(
                    op::STARTED,
                    &Started {
                        job: start.job,
                        pid,
                    },
                );
            }
            // Its runner never got the go-ahead, so the job did not run:
            // hand it back (as LavaLite's sbd does) and keep nothing, so
            // that the same dispatch sent again is tried again.
            Err(reason) => {
                log::error!("job {}: {reason}; handed back to mbd", start.job.id);
                self.spool.remove(start.job);
                if let Some(cg) = cgroup {
                    let _ = cg.remove();
                }
                let job = start.job;
                self.send(op::REJECTED, &Rejected { job, reason });
            }
        }
    }

    /// A new cgroup for the run, limited to its memory and CPU slots.
    fn job_cgroup(&mut self, start: &JobStart) -> Option<JobCgroup> {
        let limits = Limits {
            mem_mb: start.mem_mb,
            cpus: start.hosts.first().map_or(0, |h| h.cpus),
        };
        let root = self.cgroups.as_ref()?;
        // Sent again after a discarded start: its old cgroup is reused,
        // no longer removed.
        let path = root.job(start.job).path;
        self.cgroups_to_remove.retain(|cg| cg.path != path);
        match root.create_job(start.job, limits) {
            Ok(cg) => Some(cg),
            Err(e) => {
                log::warn!("job {}: runs without a cgroup: {e}", start.job.id);
                None
            }
        }
    }

    /// Spools the job and starts its runner in a new process group.
    fn launch(
        &self,
        start: &JobStart,
        cgroup: Option<&JobCgroup>,
    ) -> Result<(PathBuf, u32), String> {
        let dir = self
            .spool
            .create(start)
            .map_err(|e| format!("cannot spool the job: {e}"))?;
        // The binary this sbd runs, even when an upgrade has replaced (so
        // deleted) the file it started from: the runner then matches the
        // sbd that wrote the spool. `current_exe()` would name a path
        // that no longer exists.
        let name = std::env::args_os().next().unwrap_or_else(|| "sbd".into());
        let mut runner = Command::new(SELF_EXE);
        runner
            .arg0(name)
            .arg("--run-job")
            .arg(&dir)
            .arg("-c")
            .arg(&self.settings.conf_dir)
            .arg("--host")
            .arg(&self.settings.host);
        if let Some(cg) = cgroup {
            runner.arg("--cgroup").arg(&cg.path);
        }
        let mut child = runner
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the job runner: {e}"))?;
        // The pid is written here, before the runner may start the job
        // (see `launch::go_given`): a new sbd must find the runner of
        // every run that may have started, and knows that a run without
        // a pid never did. Without the pid the runner gets EOF and quits.
        spool::write_pid(&dir, child.id())
            .map_err(|e| format!("cannot record the runner's pid in {}: {e}", dir.display()))?;
        let go = child
            .stdin
            .take()
            .map(|mut pipe| pipe.write_all(launch::GO));
        match go {
            Some(Ok(())) => Ok((dir, child.id())),
            Some(Err(e)) => Err(format!(
                "the job runner quit before it started the job: {e}"
            )),
            None => Err("the job runner has no stdin".into()),
        }
    }

    fn on_signal(&mut self, s: JobSignal) {
        let Some(job) = self.jobs.get_mut(&s.job) else {
            return log::debug!("signal {} for job {} which is not here", s.signal, s.job.id);
        };
        if job.finished.is_some() {
            return;
        }
        let signo = s.signal as i32;
        job.deliver(s.job.id, signo);
        match signo {
            libc::SIGSTOP | libc::SIGTSTP => job.suspended = true,
            libc::SIGCONT => job.suspended = false,
            _ => {}
        }
    }

    fn on_finish_ack(&mut self, key: JobKey) {
        if self.jobs.get(&key).is_none_or(|j| j.finished.is_none()) {
            return;
        }
        let cgroup = self.jobs.remove(&key).and_then(|j| j.cgroup);
        self.spool.remove(key);
        if let Some(cg) = cgroup {
            self.remove_cgroup(cg);
        }
    }

    /// Removes an ended job's cgroup (killing what is left in it).
    fn remove_cgroup(&mut self, cg: JobCgroup) {
        if cg.populated().unwrap_or(false) {
            let _ = cg.kill();
        }
        self.cgroups_to_remove.push(cg);
        self.sweep_cgroups();
    }

    /// Removes the cgroups waiting for their last processes to exit;
    /// keeps for the next tick those still busy.
    fn sweep_cgroups(&mut self) {
        self.cgroups_to_remove.retain(|cg| match cg.remove() {
            Ok(()) => false,
            Err(e) if e.kind() == std::io::ErrorKind::ResourceBusy => true,
            Err(e) => {
                log::warn!("cannot remove {}: {e}", cg.path.display());
                false
            }
        });
    }

    /// Reaps every ended runner (SIGCHLD is coalesced by the signalfd).
    fn reap(&mut self) {
        loop {
            match os::process::reap_child() {
                Ok(Some((pid, exit))) => self.runner_ended(pid, exit),
                Ok(None) => return,
                Err(e) => return log::error!("waiting for children: {e}"),
            }
        }
    }

    fn runner_ended(&mut self, pid: u32, exit: os::process::ChildExit) {
        let Some((&key, job)) = self
            .jobs
            .iter_mut()
            .find(|(_, j)| j.pgid == pid && j.own_child)
        else {
            return;
        };
        let mut f = spool::read_result(&job.dir).unwrap_or_else(|| unrecorded(key, &exit));
        if f.note.is_empty() {
            f.note = job.note.clone();
        }
        self.finish(key, f);
    }

    /// Records how a job ended and tells mbd (again after reconnecting,
    /// until it acknowledges).
    fn finish(&mut self, key: JobKey, mut f: Finished) {
        let Some(job) = self.jobs.get_mut(&key) else {
            return;
        };
        if let Some(cg) = &job.cgroup {
            collect_cgroup(key, cg, &mut f);
        }
        if let Err(e) = spool::write_result(&job.dir, &f) {
            log::warn!("job {}: cannot record its result: {e}", key.id);
        }
        log::info!("job {} ended: exit code {}", key.id, f.exit_code);
        job.finished = Some(f.clone());
        // Also before REGISTERED arrives: mbd reads the connection in
        // order, so this follows the registration that lacked it.
        if matches!(self.link, Link::Up { .. }) {
            self.send(op::FINISHED, &f);
        }
    }

    fn on_tick(&mut self) {
        self.connect_if_due();
        self.keep_link_alive();
        self.sweep_cgroups();
        let now = unix_now();
        let mut ended = Vec::new();
        for (key, job) in self.jobs.iter_mut().filter(|(_, j)| j.finished.is_none()) {
            enforce_terminate(*key, job, now);
            enforce_run_limit(*key, job, now, self.settings.run_limit);
            if !job.own_child {
                if let Some(mut f) = spool::read_result(&job.dir) {
                    f.note = if f.note.is_empty() {
                        job.note.clone()
                    } else {
                        f.note
                    };
                    ended.push((*key, f));
                } else if !launch::is_runner(job.pgid) {
                    ended.push((*key, lost(*key, job.killed)));
                }
            }
        }
        for (key, f) in ended {
            self.finish(key, f);
        }
    }
}

/// mbd's reason, when a frame that is not signed is its refusal of what
/// sbd sent (a reply to a frame that failed authentication: wrong key, or
/// this host's clock too far from mbd's). Only logged, so its reply tag is
/// not checked.
fn refusal(header: &proto::Header, body: &[u8]) -> Option<String> {
    if header.status == status::OK {
        return None;
    }
    String::from_body(auth::reply_body_unchecked(body)).ok()
}

const NO_CGROUPS: &str = "jobs run as process groups, --mem and CPU slots are not enforced";

/// `LL_CGROUP_ROOT` set up, or why jobs run without cgroups.
fn open_cgroups(path: &std::path::Path) -> Option<CgroupRoot> {
    match CgroupRoot::open(path) {
        Ok(root) => {
            let on = |yes| {
                if yes {
                    "enforced"
                } else {
                    "not enforced (no controller)"
                }
            };
            log::info!(
                "jobs run in cgroups under {}: --mem {}, CPU slots {}",
                root.path.display(),
                on(root.controllers.memory),
                on(root.controllers.cpu)
            );
            Some(root)
        }
        Err(e) => {
            log::warn!("cgroups off: {e}; {NO_CGROUPS}");
            None
        }
    }
}

fn decode<T: Decode>(body: &[u8]) -> Result<T, String> {
    T::from_body(body).map_err(|e| format!("undecodable message from mbd: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsigned_error_reply_is_read_as_mbds_refusal() {
        let request = proto::Header::request(1, op::REGISTER, 0);
        let mut body = Vec::new();
        "authentication failed: timestamp too old".encode(&mut body);
        // The reply's tag, which sbd does not check.
        body.extend_from_slice(&[0xab; auth::MAC_LEN]);
        let refused = request.reply(status::AUTH, body.len() as u32);
        assert_eq!(
            refusal(&refused, &body).as_deref(),
            Some("authentication failed: timestamp too old")
        );
        assert_eq!(refusal(&request.reply(status::OK, 0), &body), None);
        assert_eq!(refusal(&refused, b"\xff"), None, "not a string: no reason");
    }
}
