//! Simulated execution hosts: one process playing N sbds, as LavaLite's
//! sbd simulator did, so mbd can be measured with thousands of hosts on
//! one machine.
//!
//! Each host opens its own connection to mbd, registers under its name
//! and signs every frame with the cluster key, as a real sbd does; mbd
//! cannot tell the difference. A dispatched job "runs" without a fork:
//! `sleep N` takes N seconds divided by the time factor (any other
//! command ends at once), then its end is reported and re-sent on each
//! re-registration until mbd acknowledges it. A terminating signal ends
//! a job at once (128 + signal); SIGSTOP and SIGCONT are not simulated.

use bytes::BytesMut;
use chan::{ChanId, Channels, Config, Event, Frame};
use proto::auth::{self, AuthKey, ReplayGuard, Signer};
use proto::mbd::{status, Hello};
use proto::sbd::{op, Finished, JobKey, JobSignal, JobStart, Register, RunningJob, Started};
use proto::{Decode, Encode};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often due jobs are ended and heartbeats sent.
const TICK: Duration = Duration::from_millis(10);
/// The wait before a failed connection is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// What the simulated hosts are.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub hosts: Vec<String>,
    pub mbd: SocketAddr,
    pub key: AuthKey,
    pub heartbeat: Duration,
    /// Simulated seconds per real second.
    pub time_factor: f64,
}

/// What happened so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Hosts registered now.
    pub registered: usize,
    pub started: u64,
    /// Ends reported (first report of each).
    pub finished: u64,
    /// Ends mbd acknowledged (durable).
    pub acked: u64,
    /// Dispatches of a job run already started (same id and attempt) on
    /// another host, or after it ended: a job run twice.
    pub run_twice: u64,
    /// Frames from mbd that did not verify or decode.
    pub bad_frames: u64,
}

struct Host {
    name: String,
    link: Option<ChanId>,
    /// mbd's challenge (its greeting), carried by our frames.
    theirs: Option<u64>,
    /// Ours (sent with REGISTER), carried by mbd's frames.
    ours: u64,
    registered: bool,
    running: BTreeMap<JobKey, ()>,
    unacked: BTreeMap<JobKey, Finished>,
    retry_at: Option<Instant>,
    next_beat: Instant,
}

/// N simulated sbds on one event loop.
pub struct SimSbds {
    chans: Channels,
    cfg: SimConfig,
    hosts: Vec<Host>,
    by_chan: HashMap<ChanId, usize>,
    /// Running jobs by end time: (end, host, job).
    ends: BinaryHeap<Reverse<(Instant, usize, JobKey)>>,
    /// Where each job run was started (to tell a second start).
    runs: HashMap<JobKey, usize>,
    signer: Signer,
    seen: ReplayGuard,
    pub stats: SimStats,
}

impl SimSbds {
    pub fn new(cfg: SimConfig) -> anyhow::Result<SimSbds> {
        let mut chans = Channels::new(Config {
            capacity: cfg.hosts.len() + 16,
            ..Config::default()
        })?;
        chans.timer(TICK, TICK)?;
        let (uid, gid) = os::users::ids();
        let signer = Signer::new(
            cfg.key.clone(),
            uid,
            gid,
            os::users::name_of(uid),
            os::random::u64()?,
        );
        let now = Instant::now();
        let hosts = (cfg.hosts.iter())
            .map(|name| Host {
                name: name.clone(),
                link: None,
                theirs: None,
                ours: 0,
                registered: false,
                running: BTreeMap::new(),
                unacked: BTreeMap::new(),
                retry_at: Some(now),
                next_beat: now,
            })
            .collect();
        Ok(SimSbds {
            chans,
            hosts,
            by_chan: HashMap::new(),
            ends: BinaryHeap::new(),
            runs: HashMap::new(),
            signer,
            seen: ReplayGuard::new(60),
            stats: SimStats::default(),
            cfg,
        })
    }

    /// Runs until `stop` is set; `each_tick` sees the stats every tick.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut each_tick: impl FnMut(&SimStats),
    ) -> anyhow::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            self.chans.chan_epoll(Some(TICK))?;
            while let Some(event) = self.chans.next_event() {
                match event {
                    Event::Connected { id } => self.on_connected(id),
                    Event::Frame { id, frame } => self.on_frame(id, &frame),
                    Event::Eof { id } | Event::Error { id, .. } => self.lost(id),
                    Event::Timer { .. } => {
                        self.on_tick();
                        each_tick(&self.stats);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, host, key))) = self.ends.peek().copied() {
            if at > now {
                break;
            }
            self.ends.pop();
            self.end(host, key, 0, 0);
        }
        for h in 0..self.hosts.len() {
            let host = &mut self.hosts[h];
            if host.retry_at.is_some_and(|at| at <= now) {
                host.retry_at = None;
                match self.chans.tcp_connect(self.cfg.mbd, RETRY * 5) {
                    Ok(id) => {
                        host.link = Some(id);
                        self.by_chan.insert(id, h);
                    }
                    Err(_) => host.retry_at = Some(now + RETRY),
                }
            } else if host.registered && host.next_beat <= now {
                host.next_beat = now + self.cfg.heartbeat;
                self.send(h, op::HEARTBEAT, &());
            }
        }
    }

    fn on_connected(&mut self, id: ChanId) {
        let Some(&h) = self.by_chan.get(&id) else {
            return;
        };
        self.hosts[h].ours = os::random::u64().unwrap_or(1).max(1);
        self.hosts[h].theirs = None;
    }

    fn lost(&mut self, id: ChanId) {
        let _ = self.chans.close(id);
        let Some(h) = self.by_chan.remove(&id) else {
            return;
        };
        let host = &mut self.hosts[h];
        if host.registered {
            self.stats.registered -= 1;
        }
        host.link = None;
        host.registered = false;
        host.retry_at = Some(Instant::now() + RETRY);
    }

    fn on_frame(&mut self, id: ChanId, frame: &Frame) {
        let Some(&h) = self.by_chan.get(&id) else {
            return;
        };
        if self.hosts[h].theirs.is_none() {
            return self.on_hello(h, frame);
        }
        let ours = self.hosts[h].ours;
        let now = os::host::unix_now();
        let Ok(v) = auth::verify(frame.as_bytes(), &self.cfg.key, now, &mut self.seen, ours) else {
            self.stats.bad_frames += 1;
            return self.lost(id);
        };
        let (operation, st) = (v.header.operation, v.header.status);
        let body = v.body;
        let done = match operation {
            op::REGISTERED if st == status::OK => {
                let host = &mut self.hosts[h];
                if !host.registered {
                    host.registered = true;
                    host.next_beat = Instant::now() + self.cfg.heartbeat;
                    self.stats.registered += 1;
                }
                Ok(())
            }
            op::START => decode::<JobStart>(body).map(|s| self.on_start(h, &s)),
            op::SIGNAL => decode::<JobSignal>(body).map(|s| self.on_signal(h, s)),
            op::FINISH_ACK => decode::<JobKey>(body).map(|k| {
                if self.hosts[h].unacked.remove(&k).is_some() {
                    self.stats.acked += 1;
                }
            }),
            op::HEARTBEAT_ACK => Ok(()),
            _ => Err(()),
        };
        if done.is_err() {
            self.stats.bad_frames += 1;
            self.lost(id);
        }
    }

    /// mbd's greeting: register, with what this host still holds.
    fn on_hello(&mut self, h: usize, frame: &Frame) {
        let Ok(hello) = Hello::from_body(frame.body()) else {
            self.stats.bad_frames += 1;
            if let Some(id) = self.hosts[h].link {
                self.lost(id);
            }
            return;
        };
        let host = &mut self.hosts[h];
        host.theirs = Some(hello.challenge);
        let register = Register {
            host: host.name.clone(),
            challenge: host.ours,
            running: (host.running.keys())
                .map(|&job| RunningJob {
                    job,
                    pid: job.id,
                    suspended: false,
                })
                .collect(),
            finished: host.unacked.values().cloned().collect(),
        };
        self.send(h, op::REGISTER, &register);
    }

    fn on_start(&mut self, h: usize, start: &JobStart) {
        let key = start.job;
        match self.runs.get(&key) {
            // A dispatch mbd sent again (its first STARTED was lost).
            Some(&on) if on == h && self.hosts[h].running.contains_key(&key) => {}
            Some(_) => self.stats.run_twice += 1,
            None => {
                self.runs.insert(key, h);
                self.stats.started += 1;
                self.hosts[h].running.insert(key, ());
                let secs = simulated_secs(&start.command) / self.cfg.time_factor.max(1e-9);
                let end = Instant::now() + Duration::from_secs_f64(secs);
                self.ends.push(Reverse((end, h, key)));
            }
        }
        self.send(
            h,
            op::STARTED,
            &Started {
                job: key,
                pid: key.id,
            },
        );
    }

    fn on_signal(&mut self, h: usize, s: JobSignal) {
        let ends = ![
            0,
            libc::SIGSTOP,
            libc::SIGCONT,
            libc::SIGTSTP,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ]
        .contains(&(s.signal as i32));
        if ends {
            self.end(h, s.job, 128 + s.signal as i32, s.signal);
        }
    }

    /// A running job ends: report it (and keep the report until acked).
    fn end(&mut self, h: usize, key: JobKey, exit_code: i32, signal: u32) {
        if self.hosts[h].running.remove(&key).is_none() {
            return; // ended already (a signal came first)
        }
        let finished = Finished {
            job: key,
            time: os::host::unix_now(),
            exit_code,
            signal,
            usage: Default::default(),
            note: String::new(),
        };
        self.stats.finished += 1;
        self.hosts[h].unacked.insert(key, finished.clone());
        self.send(h, op::FINISHED, &finished);
    }

    /// Sends on host `h`'s link once mbd greeted it (what is not sent
    /// goes with the next REGISTER).
    fn send<T: Encode + ?Sized>(&mut self, h: usize, operation: u32, body: &T) {
        let host = &self.hosts[h];
        let (Some(id), Some(challenge)) = (host.link, host.theirs) else {
            return;
        };
        let mut out = BytesMut::new();
        let now = os::host::unix_now();
        (self.signer).frame(operation, status::OK, body, now, challenge, &mut out);
        if self.chans.send(id, &out).is_err() {
            self.lost(id);
        }
    }
}

/// `sleep N`'s N (seconds; fractions allowed), else 0.
pub fn simulated_secs(command: &str) -> f64 {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == "sleep" {
            let number = |w: &str| {
                let end = w.find(|c: char| !c.is_ascii_digit() && c != '.');
                w[..end.unwrap_or(w.len())].parse::<f64>().ok()
            };
            return (words.next())
                .and_then(number)
                .filter(|n| n.is_finite() && *n >= 0.0)
                .unwrap_or(0.0);
        }
    }
    0.0
}

fn decode<T: Decode>(body: &[u8]) -> Result<T, ()> {
    T::from_body(body).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_for_its_sleep() {
        assert_eq!(simulated_secs("sleep 90"), 90.0);
        assert_eq!(simulated_secs("cd /x && sleep 0.5; true"), 0.5);
        assert_eq!(simulated_secs("hostname"), 0.0);
        assert_eq!(simulated_secs("sleep -3"), 0.0);
    }
}
