//! mbd's in-memory state and the rules that change it.
//!
//! Requests never change the state directly: each is checked against the
//! state and turned into [`Change`](crate::change::Change)s, which the
//! daemon logs and then [`State::apply`]s — the same function replay uses,
//! so a restarted mbd rebuilds exactly what it acknowledged. Nothing here
//! does I/O; time is a parameter.

mod amend;
mod apply;
mod compact;
mod execution;
mod index;
mod jobs;
mod listing;
#[cfg(test)]
mod model;
mod modify;
mod request;
mod requeue;
#[cfg(test)]
pub(crate) mod tests;

pub use compact::Frozen;
pub use execution::Reconciled;
pub use request::check_job_name;

use crate::depend::Outcome;
use crate::env_pool::EnvPool;
use crate::fairshare::Ledger;
use crate::job::outcome_of;
use crate::job::{Job, Spec};
use crate::reasons::Reasons;
use crate::shape::ShapePool;
use crate::Cluster;
use index::{Indexes, Place};
use jobs::Jobs;
use proto::mbd::{status, JobState};
use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Most elements one `--array` may have.
pub const MAX_ARRAY: u32 = 100_000;

/// Who sent a request (from its verified auth block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    /// The group the request was signed with (for a user's command, the
    /// kernel's: the process's group, normally the user's primary group).
    pub gid: u32,
    pub user: String,
    /// Root, mbd's own user, or `LL_MBD_USER`.
    pub admin: bool,
}

impl Caller {
    /// Whether the caller may act on `job`: their own, or any for the admin.
    fn may_act_on(&self, job: &Job) -> bool {
        self.admin || job.spec.user == self.user
    }
}

/// A request mbd turns down: an errno-like status and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u32,
    pub message: String,
}

impl Refusal {
    fn new(status: u32, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, status::text(self.status))
    }
}

/// Signal numbers bkill sends (Linux values).
mod sig {
    pub const INT: u32 = libc::SIGINT as u32;
    pub const KILL: u32 = libc::SIGKILL as u32;
    pub const TERM: u32 = libc::SIGTERM as u32;
    pub const STOP: u32 = libc::SIGSTOP as u32;
    pub const TSTP: u32 = libc::SIGTSTP as u32;
    pub const CONT: u32 = libc::SIGCONT as u32;
}

/// At most this many live jobs are rewritten by compaction for each
/// finished job it drops (see [`State::compaction_due`]).
const REWRITTEN_PER_DROPPED: usize = 8;

/// A waiting job's place in scheduling order: queue priority and job
/// priority (both high first), then job id.
pub(crate) type Waiting = (Reverse<i32>, Reverse<i32>, u32);

#[derive(Debug)]
pub struct State {
    cluster: Cluster,
    /// Each job shared, so that a snapshot for compaction is a copy of this
    /// map, not of the jobs (a job changed meanwhile is copied then).
    jobs: Jobs,
    next_id: u32,
    queue_open: Vec<bool>,
    /// Which queues take submissions (`badmin qclose` refuses them).
    queue_accepting: Vec<bool>,
    host_open: Vec<bool>,
    /// From the last scheduling pass.
    reasons: Reasons,
    /// The jobs indexed by what is asked of them.
    index: Indexes,
    /// Which hosts' sbd is connected (not logged: a restarted mbd starts
    /// with none and learns as they register).
    sbd_up: Vec<bool>,
    /// The jobs' environments, each distinct one held once.
    env_pool: EnvPool,
    /// The jobs' shapes, likewise.
    shapes: ShapePool,
    /// While a snapshot is replayed: its specifications by `spec_id`.
    snapshot_specs: HashMap<u32, Arc<Spec>>,
    /// Likewise its environments by `env_id`.
    snapshot_envs: HashMap<u32, crate::env_pool::Env>,
    /// Running jobs' usage so far, as their sbd last reported it (not
    /// logged: the next report brings it back after a restart).
    run_usage: HashMap<u32, proto::sbd::Usage>,
}

impl State {
    pub fn new(cluster: Cluster) -> State {
        State {
            queue_open: vec![true; cluster.queues.len()],
            queue_accepting: vec![true; cluster.queues.len()],
            host_open: vec![true; cluster.hosts.len()],
            sbd_up: vec![false; cluster.hosts.len()],
            jobs: Jobs::default(),
            next_id: 1,
            reasons: Reasons::default(),
            index: Indexes::default(),
            env_pool: EnvPool::default(),
            shapes: ShapePool::default(),
            snapshot_specs: HashMap::new(),
            snapshot_envs: HashMap::new(),
            run_usage: HashMap::new(),
            cluster,
        }
    }

    /// The id the next submission gets.
    pub fn next_job_id(&self) -> u32 {
        self.next_id
    }

    /// Never hands out an id below `floor` (see [`crate::id_floor`]).
    pub fn raise_next_job_id(&mut self, floor: u32) {
        self.next_id = self.next_id.max(floor);
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
    }

    /// How many jobs are held.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    pub fn job(&self, id: u32) -> Option<&Job> {
        self.jobs.get(&id)
    }

    pub fn queue_open(&self, queue: usize) -> bool {
        self.queue_open.get(queue).copied().unwrap_or(false)
    }

    /// Whether `queue` takes new jobs (submitted, moved or modified into it).
    pub fn queue_accepting(&self, queue: usize) -> bool {
        self.queue_accepting.get(queue).copied().unwrap_or(false)
    }

    pub fn host_open(&self, host: usize) -> bool {
        self.host_open.get(host).copied().unwrap_or(false)
    }

    pub fn finished(&self) -> usize {
        self.index.finished.len()
    }

    /// The DONE and EXIT jobs held, oldest first.
    pub fn finished_jobs(&self) -> impl Iterator<Item = &Job> {
        (self.index.finished.iter()).filter_map(|id| self.jobs.get(id))
    }

    /// Whether to compact: more than `threshold` finished jobs held, and
    /// more than an eighth as many as the unfinished ones, which every
    /// compaction rewrites. So a backlog of a million pending jobs is
    /// rewritten once per 125,000 ends, not once per few hundred.
    pub fn compaction_due(&self, threshold: usize) -> bool {
        let unfinished = self.jobs.len() - self.finished();
        self.finished() > threshold.max(unfinished / REWRITTEN_PER_DROPPED)
    }

    pub fn sbd_up(&self, host: usize) -> bool {
        self.sbd_up.get(host).copied().unwrap_or(false)
    }

    pub fn set_sbd_up(&mut self, host: usize, up: bool) {
        if let Some(slot) = self.sbd_up.get_mut(host) {
            *slot = up;
        }
    }

    /// Whether a running job's sbd is connected (true for other jobs).
    fn reachable(&self, job: &Job) -> bool {
        job.first_host().is_none_or(|h| self.sbd_up(h))
    }

    /// The state `bjobs` shows: RUN and SUSP jobs are UNKNOWN while
    /// their sbd is away.
    pub fn shown_state(&self, job: &Job) -> JobState {
        match job.first_host() {
            Some(h) if !self.sbd_up(h) && !job.state.is_finished() => JobState::Unknown,
            _ => job.state,
        }
    }

    /// PEND and HELD jobs in dispatch order: queue priority, job
    /// priority (both high first), then job id.
    pub fn pending_in_order(&self) -> Vec<&Job> {
        self.waiting_jobs().collect()
    }

    /// `user`'s jobs, by id.
    pub fn jobs_of(&self, user: &str) -> impl Iterator<Item = &Job> {
        (self.index.by_user.get(user).into_iter().flatten()).filter_map(|id| self.jobs.get(id))
    }

    /// [`State::pending_in_order`] without collecting them.
    pub fn waiting_jobs(&self) -> impl Iterator<Item = &Job> {
        (self.index.waiting.iter()).filter_map(|&(_, _, id)| self.jobs.get(&id))
    }

    /// Each fair-share queue's users' jobs, kept as they change.
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.index.ledger
    }

    /// `jobs` in scheduling order: queue priority, job priority, job id.
    ///
    /// Jobs mostly come in id order and share a handful of priorities, so
    /// they are often in order already: that is checked while they are
    /// gathered (each job read once), and only otherwise sorted.
    pub fn in_order<'a>(&'a self, jobs: impl Iterator<Item = &'a Job>) -> Vec<&'a Job> {
        let key = |j: &Job| {
            let queue = (j.spec.shape.queue_pos).and_then(|q| self.cluster.queues.get(q));
            let prio = queue.map_or(i32::MIN, |q| q.priority);
            (Reverse(prio), Reverse(j.priority), j.id)
        };
        let mut last = None;
        let mut sorted = true;
        let mut jobs: Vec<&Job> = (jobs.inspect(|j| {
            let this = key(j);
            sorted &= last.is_none_or(|last| last <= this);
            last = Some(this);
        }))
        .collect();
        if !sorted {
            jobs.sort_by_cached_key(|j| key(j));
        }
        jobs
    }

    /// Keeps a full scheduling pass's pending reasons for `bjobs`.
    pub fn set_reasons(&mut self, reasons: Reasons) {
        self.reasons.replace(reasons);
    }

    /// Adds the reasons of a pass over new jobs only.
    pub fn add_reasons(&mut self, reasons: Reasons) {
        self.reasons.extend(reasons);
    }

    /// A dependency target's outcome; an array id means the whole array.
    pub fn outcome(&self, id: u32) -> Outcome {
        let jobs = self.named(id);
        if jobs.is_empty() {
            return Outcome::Gone;
        }
        outcome_of(jobs.into_iter())
    }

    /// Job `id`, or every element of array `id` — also once compaction
    /// dropped the first element, whose id the array carries.
    fn named(&self, id: u32) -> Vec<&Job> {
        match self.jobs.get(&id) {
            Some(j) if j.array_id != id => vec![j],
            _ => self.elements(id).collect(),
        }
    }

    fn elements(&self, array_id: u32) -> impl Iterator<Item = &Job> {
        (self.jobs.starting_at(array_id)).take_while(move |j| j.array_id == array_id)
    }
}
