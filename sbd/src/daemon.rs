//! sbd's event loop: the link to mbd, the job table, SIGCHLD through a
//! signalfd, and a tick for `--terminate` and reconnecting.

use crate::launch::{self, CANNOT_START};
use crate::settings::Settings;
use crate::spool::{self, Spool};
use bytes::BytesMut;
use chan::sys::unix_now;
use chan::{ChanId, Channels, Config, Event, Frame};
use proto::auth::{self, ReplayGuard, Signer};
use proto::mbd::status;
use proto::sbd::{
    op, silence_limit, Finished, JobKey, JobSignal, JobStart, Register, RunningJob, Started, Usage,
};
use proto::{Decode, Encode};
use std::collections::BTreeMap;
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
/// After `--terminate`'s SIGUSR2, how long before SIGKILL.
const TERMINATE_GRACE: u64 = 60;
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
    },
}

/// One job run this sbd holds.
#[derive(Debug)]
struct LocalJob {
    /// The runner's pid, which is the job's process group.
    pgid: u32,
    /// Started by this sbd process (reaped through SIGCHLD); adopted runs
    /// from a previous sbd are polled instead.
    own_child: bool,
    suspended: bool,
    terminate: u64,
    usr2_sent: Option<u64>,
    /// Why sbd ended it, if it did.
    note: String,
    /// Set once it ended; kept until mbd acknowledges it.
    finished: Option<Finished>,
    dir: PathBuf,
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
    /// When the next heartbeat is due.
    next_beat: Instant,
    /// The last tick, to tell mbd's silence from this sbd's own pause.
    last_tick: Instant,
    jobs: BTreeMap<JobKey, LocalJob>,
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
        let (uid, gid) = chan::sys::user_ids();
        let user = chan::sys::user_by_uid(uid).map_or_else(|| uid.to_string(), |u| u.name);
        let signer = Signer::new(
            settings.mbd.key.clone(),
            uid,
            gid,
            user,
            chan::sys::random_u64(),
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
            next_beat: Instant::now(),
            last_tick: Instant::now(),
            jobs: BTreeMap::new(),
        };
        sbd.adopt()?;
        Ok(sbd)
    }

    /// Takes over the runs a previous sbd left in the spool.
    fn adopt(&mut self) -> anyhow::Result<()> {
        for entry in self.spool.entries()? {
            let start = entry.start.unwrap_or_default();
            let mut job = LocalJob {
                pgid: entry.pid.unwrap_or(0),
                own_child: false,
                suspended: false,
                terminate: start.terminate,
                usr2_sent: None,
                note: String::new(),
                finished: entry.result,
                dir: entry.dir,
            };
            if job.finished.is_none() && !runner_alive(job.pgid) {
                // It may have written its result and exited since the
                // spool was read: look once more before calling it lost.
                let result = spool::read_result(&job.dir);
                job.finished = Some(result.unwrap_or_else(|| lost(entry.key)));
            }
            log::info!(
                "found job {} attempt {} from a previous sbd: {}",
                entry.key.id,
                entry.key.attempt,
                if job.finished.is_some() {
                    "finished"
                } else {
                    "still running"
                }
            );
            self.jobs.insert(entry.key, job);
        }
        Ok(())
    }

    pub fn run(mut self) -> anyhow::Result<()> {
        log::info!(
            "sbd for {} starting; mbd at {} ({} jobs in the spool)",
            self.settings.host,
            self.settings.mbd.addr,
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
        match self
            .chans
            .tcp_connect(self.settings.mbd.addr, CONNECT_TIMEOUT)
        {
            Ok(id) => self.link = Link::Connecting(id),
            Err(e) => {
                log::warn!("cannot connect to mbd at {}: {e}", self.settings.mbd.addr);
                self.retry_later();
            }
        }
    }

    fn retry_later(&mut self) {
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
        self.link = Link::Up {
            id,
            registered: false,
            heard: Instant::now(),
        };
        let register = Register {
            host: self.settings.host.clone(),
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

    fn send<T: Encode + ?Sized>(&mut self, op: u32, body: &T) {
        let Some(id) = self.link_id() else { return };
        let mut out = BytesMut::new();
        self.signer
            .frame(op, status::OK, body, unix_now(), &mut out);
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
        }
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
        if self.link_id() != Some(id) {
            return;
        }
        let verified = match auth::verify(
            frame.as_bytes(),
            &self.settings.mbd.key,
            unix_now(),
            &mut self.seen,
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
                log::info!("registered with mbd at {}", self.settings.mbd.addr);
                self.link = Link::Up {
                    id,
                    registered: true,
                    heard: now,
                };
                self.backoff = BACKOFF_FIRST;
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
    /// verify, a message sbd does not understand): an error in the log,
    /// and the longest backoff before trying again.
    fn drop_link(&mut self, id: ChanId, why: &str) {
        log::error!("{why}");
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
        let (job, pid) = match self.launch(&start) {
            Ok((dir, pid)) => {
                log::info!("job {} started (process group {pid})", start.job.id);
                (self.local_job(&start, pid, dir, None), pid)
            }
            Err(why) => {
                log::error!("job {}: {why}", start.job.id);
                let f = launch::finished(start.job, CANNOT_START, 0, Usage::default(), why);
                let dir = self.spool.job_dir(start.job);
                let _ = spool::write_result(&dir, &f);
                (self.local_job(&start, 0, dir, Some(f)), 0)
            }
        };
        let finished = job.finished.clone();
        self.jobs.insert(start.job, job);
        self.send(
            op::STARTED,
            &Started {
                job: start.job,
                pid,
            },
        );
        if let Some(f) = finished {
            self.send(op::FINISHED, &f);
        }
    }

    fn local_job(
        &self,
        start: &JobStart,
        pgid: u32,
        dir: PathBuf,
        finished: Option<Finished>,
    ) -> LocalJob {
        LocalJob {
            pgid,
            own_child: true,
            suspended: false,
            terminate: start.terminate,
            usr2_sent: None,
            note: String::new(),
            finished,
            dir,
        }
    }

    /// Spools the job and starts its runner in a new process group.
    fn launch(&self, start: &JobStart) -> Result<(PathBuf, u32), String> {
        let dir = self
            .spool
            .create(start)
            .map_err(|e| format!("cannot spool the job: {e}"))?;
        // The binary this sbd runs, even when an upgrade has replaced (so
        // deleted) the file it started from: the runner then matches the
        // sbd that wrote the spool. `current_exe()` would name a path
        // that no longer exists.
        let name = std::env::args_os().next().unwrap_or_else(|| "sbd".into());
        let child = Command::new(SELF_EXE)
            .arg0(name)
            .arg("--run-job")
            .arg(&dir)
            .arg("-c")
            .arg(&self.settings.conf_dir)
            .arg("--host")
            .arg(&self.settings.host)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the job runner: {e}"))?;
        Ok((dir, child.id()))
    }

    fn on_signal(&mut self, s: JobSignal) {
        let Some(job) = self.jobs.get_mut(&s.job) else {
            return log::debug!("signal {} for job {} which is not here", s.signal, s.job.id);
        };
        if job.finished.is_some() {
            return;
        }
        let signo = s.signal as i32;
        match chan::sys::signal_group(job.pgid, signo) {
            Ok(()) => log::info!("job {}: signal {signo} delivered", s.job.id),
            Err(e) => log::warn!("job {}: cannot deliver signal {signo}: {e}", s.job.id),
        }
        match signo {
            libc::SIGSTOP | libc::SIGTSTP => job.suspended = true,
            libc::SIGCONT => job.suspended = false,
            _ => {}
        }
    }

    fn on_finish_ack(&mut self, key: JobKey) {
        if self.jobs.get(&key).is_some_and(|j| j.finished.is_some()) {
            self.jobs.remove(&key);
            self.spool.remove(key);
        }
    }

    /// Reaps every ended runner (SIGCHLD is coalesced by the signalfd).
    fn reap(&mut self) {
        loop {
            match chan::sys::reap_child() {
                Ok(Some((pid, exit))) => self.runner_ended(pid, exit),
                Ok(None) => return,
                Err(e) => return log::error!("waiting for children: {e}"),
            }
        }
    }

    fn runner_ended(&mut self, pid: u32, exit: chan::sys::ChildExit) {
        let Some((&key, job)) = self
            .jobs
            .iter_mut()
            .find(|(_, j)| j.pgid == pid && j.own_child)
        else {
            return;
        };
        let mut f = spool::read_result(&job.dir).unwrap_or_else(|| {
            let signal = exit.signal as u32;
            launch::finished(key, exit.code, signal, Usage::default(), String::new())
        });
        if f.note.is_empty() {
            f.note = job.note.clone();
        }
        self.finish(key, f);
    }

    /// Records how a job ended and tells mbd (again after reconnecting,
    /// until it acknowledges).
    fn finish(&mut self, key: JobKey, f: Finished) {
        let Some(job) = self.jobs.get_mut(&key) else {
            return;
        };
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
        let now = unix_now();
        let mut ended = Vec::new();
        for (key, job) in self.jobs.iter_mut().filter(|(_, j)| j.finished.is_none()) {
            enforce_terminate(*key, job, now);
            if !job.own_child {
                if let Some(mut f) = spool::read_result(&job.dir) {
                    f.note = if f.note.is_empty() {
                        job.note.clone()
                    } else {
                        f.note
                    };
                    ended.push((*key, f));
                } else if !runner_alive(job.pgid) {
                    ended.push((*key, lost(*key)));
                }
            }
        }
        for (key, f) in ended {
            self.finish(key, f);
        }
    }
}

/// `--terminate`: SIGUSR2 to the job's group at the deadline, SIGKILL a
/// grace period later.
fn enforce_terminate(key: JobKey, job: &mut LocalJob, now: u64) {
    if job.terminate == 0 || now < job.terminate {
        return;
    }
    let signo = match job.usr2_sent {
        None => libc::SIGUSR2,
        Some(at) if now >= at + TERMINATE_GRACE => libc::SIGKILL,
        Some(_) => return,
    };
    log::info!(
        "job {}: --terminate time reached, sending signal {signo}",
        key.id
    );
    job.note = "Terminated: the --terminate time was reached".into();
    if let Err(e) = chan::sys::signal_group(job.pgid, signo) {
        log::warn!("job {}: cannot deliver signal {signo}: {e}", key.id);
    }
    if signo == libc::SIGUSR2 {
        job.usr2_sent = Some(now);
    } else {
        job.terminate = 0;
    }
}

/// mbd's reason, when an unsigned frame is its refusal of what sbd sent
/// (its replies to requests that fail authentication are not signed:
/// wrong key, or this host's clock too far from mbd's).
fn refusal(header: &proto::Header, body: &[u8]) -> Option<String> {
    if header.status == status::OK {
        return None;
    }
    String::from_body(body).ok()
}

/// A run whose runner is gone without leaving a result.
fn lost(key: JobKey) -> Finished {
    let note = "Lost: the job's runner ended without recording a result".into();
    launch::finished(key, -1, 0, Usage::default(), note)
}

/// Whether `pid` is a live job runner (a reused pid does not count).
fn runner_alive(pid: u32) -> bool {
    pid != 0
        && chan::sys::live_process_args(pid)
            .is_some_and(|args| args.iter().any(|a| a == "--run-job"))
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
        let refused = request.reply(status::AUTH, body.len() as u32);
        assert_eq!(
            refusal(&refused, &body).as_deref(),
            Some("authentication failed: timestamp too old")
        );
        assert_eq!(refusal(&request.reply(status::OK, 0), &body), None);
        assert_eq!(refusal(&refused, b"\xff"), None, "not a string: no reason");
    }

    #[test]
    fn terminate_sends_usr2_at_the_deadline_and_kill_a_grace_period_later() {
        let key = JobKey { id: 1, attempt: 1 };
        let mut job = LocalJob {
            pgid: 0, // no process group: the signals fail harmlessly
            own_child: true,
            suspended: false,
            terminate: 100,
            usr2_sent: None,
            note: String::new(),
            finished: None,
            dir: PathBuf::new(),
        };
        enforce_terminate(key, &mut job, 99);
        assert_eq!((job.usr2_sent, job.note.is_empty()), (None, true));
        enforce_terminate(key, &mut job, 100);
        assert_eq!(job.usr2_sent, Some(100));
        assert!(job.note.starts_with("Terminated"));
        enforce_terminate(key, &mut job, 100 + TERMINATE_GRACE - 1);
        assert_eq!(job.terminate, 100, "still in the grace period");
        enforce_terminate(key, &mut job, 100 + TERMINATE_GRACE);
        assert_eq!(job.terminate, 0, "killed; nothing more to enforce");
    }
}
