//! A job as mbd holds it in memory.

use crate::depend::{Dep, Outcome};
use crate::env_pool::{self, Env};
use crate::shape::Shape;
use proto::mbd::{event, HistEvent, HostSlot, JobState, SubmitRequest};
use proto::sbd::Usage;
use std::sync::Arc;

/// What a submission fixed for all its jobs (an array's elements share one).
#[derive(Debug, PartialEq)]
pub struct Spec {
    pub user: String,
    pub uid: u32,
    pub queue: String,
    /// What the scheduler places it by, shared with alike jobs.
    pub shape: Arc<Shape>,
    pub submit_time: u64,
    /// The submission, but for its environment (held in `env`).
    pub request: SubmitRequest,
    /// The submit environment, shared with other jobs' (see
    /// [`crate::env_pool::EnvPool`]).
    pub env: Env,
    /// `request.dependency` parsed (checked at submit).
    pub dep: Option<Dep>,
}

impl Spec {
    /// The submission as it came, environment included: for the log,
    /// sbd and bhist.
    pub fn full_request(&self) -> SubmitRequest {
        SubmitRequest {
            env: env_pool::to_strings(&self.env),
            ..self.request.clone()
        }
    }

    /// This submission moved to `queue`, placed by `shape` (`bmove`).
    pub fn in_queue(&self, queue: &str, shape: Arc<Shape>) -> Spec {
        Spec {
            user: self.user.clone(),
            uid: self.uid,
            queue: queue.to_owned(),
            shape,
            submit_time: self.submit_time,
            request: self.request.clone(),
            env: Arc::clone(&self.env),
            dep: self.dep.clone(),
        }
    }
}

/// The code of a SUSPENDED event (and of the StateChanged that makes
/// it) when the job was preempted.
pub const PREEMPTED: i32 = 1;

/// One host's share of a running job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alloc {
    pub host: usize,
    pub cpus: u32,
    pub gpus: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: u32,
    /// The array's id (its first element's job id); 0 if not an array.
    pub array_id: u32,
    pub index: u32,
    pub spec: Arc<Spec>,
    pub state: JobState,
    pub priority: i32,
    /// Where it runs (empty while pending and once finished).
    pub alloc: Vec<Alloc>,
    /// Where a finished job ran: bjobs keeps showing a DONE or EXIT job's
    /// hosts, as LavaLite does; a requeue to pending forgets them.
    pub ran_on: Vec<Alloc>,
    /// Dispatches so far (the current one while it runs).
    pub attempt: u32,
    /// The job's process group once its sbd started it (0: not yet).
    pub pid: u32,
    pub events: Vec<HistEvent>,
}

impl Job {
    /// Takes what this job holds of the token pools out of `free` (one
    /// count per pool, in `cluster.pools` order).
    pub fn take_tokens(&self, cluster: &crate::Cluster, free: &mut [u32]) {
        for t in &self.spec.request.tokens {
            if let Some(p) = cluster.pool(&t.pool) {
                free[p] = free[p].saturating_sub(t.count);
            }
        }
    }

    /// `N` or `N[i]`.
    pub fn display_id(&self) -> String {
        if self.array_id == 0 {
            self.id.to_string()
        } else {
            format!("{}[{}]", self.array_id, self.index)
        }
    }

    pub fn slots(&self, host_name: impl Fn(usize) -> String) -> Vec<HostSlot> {
        self.hosts_shown()
            .iter()
            .map(|a| HostSlot {
                host: host_name(a.host),
                cpus: a.cpus,
            })
            .collect()
    }

    pub fn record(&mut self, time: u64, what: u32, code: i32) {
        self.record_text(time, what, code, String::new());
    }

    pub fn record_text(&mut self, time: u64, what: u32, code: i32, text: String) {
        self.events.push(HistEvent {
            time,
            what,
            code,
            text,
            ..HistEvent::default()
        });
    }

    /// The hosts it runs on, or for a finished job those it ran on.
    pub fn hosts_shown(&self) -> &[Alloc] {
        if self.state.is_finished() {
            &self.ran_on
        } else {
            &self.alloc
        }
    }

    /// Whether it is suspended to let a higher-priority queue's job run:
    /// then its CPUs (and job slots) are another's until it resumes.
    pub fn preempted(&self) -> bool {
        self.state == JobState::Susp
            && (self.events.iter().rev())
                .find(|e| e.what == event::SUSPENDED)
                .is_some_and(|e| e.code == PREEMPTED)
    }

    /// Whether it holds hosts (RUN or SUSP, whatever sbd's link does).
    pub fn is_running(&self) -> bool {
        !self.alloc.is_empty()
    }

    /// The host whose sbd runs it.
    pub fn first_host(&self) -> Option<usize> {
        self.alloc.first().map(|a| a.host)
    }

    /// Moves to `state`, recording the history events the move implies.
    pub fn transition(&mut self, state: JobState, time: u64, signal: u32, exit_code: i32) {
        if signal != 0 {
            self.record(time, event::SIGNAL, signal as i32);
        }
        match (self.state, state) {
            (JobState::Pend, JobState::Held) => self.record(time, event::HELD, 0),
            (JobState::Held, JobState::Pend) => self.record(time, event::RELEASED, 0),
            // `exit_code` [`PREEMPTED`]: suspended for another job.
            (_, JobState::Susp) => self.record(time, event::SUSPENDED, exit_code),
            (JobState::Susp, JobState::Run) => self.record(time, event::RESUMED, 0),
            // A run handed back before it started (sbd rejected it), or
            // requeued (brequeue, a rerunnable job's host lost).
            (JobState::Run | JobState::Susp, JobState::Pend | JobState::Held) => {
                self.record(time, event::PENDING, 0);
                self.alloc.clear();
                self.pid = 0;
            }
            (_, JobState::Done | JobState::Exit) => {
                self.record_text(time, event::FINISHED, exit_code, state.as_str().to_owned())
            }
            _ => {}
        }
        self.state = state;
        if state.is_finished() {
            self.ran_on = std::mem::take(&mut self.alloc);
            self.pid = 0;
        }
    }
}

/// The text of a job's `USAGE` history event. It is what the log and
/// snapshots hold, so [`parse_usage_text`] must keep reading it.
pub fn usage_text(u: &Usage) -> String {
    format!(
        "CPU time: {:.2} s (user {:.2} s, system {:.2} s)  Max memory: {:.1} MB",
        (u.user_ms + u.system_ms) as f64 / 1000.0,
        u.user_ms as f64 / 1000.0,
        u.system_ms as f64 / 1000.0,
        u.max_rss_kb as f64 / 1024.0
    )
}

/// The usage back from a `USAGE` event's text, to the precision the text
/// keeps (10 ms, 0.1 MB); `None` if it is not such a text.
pub fn parse_usage_text(text: &str) -> Option<Usage> {
    let rest = text.strip_prefix("CPU time: ")?;
    let (_total, rest) = rest.split_once(" s (user ")?;
    let (user, rest) = rest.split_once(" s, system ")?;
    let (system, rest) = rest.split_once(" s)  Max memory: ")?;
    let memory = rest.strip_suffix(" MB")?;
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    Some(Usage {
        user_ms: (number(user)? * 1000.0).round() as u64,
        system_ms: (number(system)? * 1000.0).round() as u64,
        max_rss_kb: (number(memory)? * 1024.0).round() as u64,
    })
}

/// A map keyed by job id. Ids are mbd's own sequential numbers, never a
/// client's choice, so SipHash's resistance to chosen keys buys nothing
/// here, and a multiplicative hash costs a fraction of it: a scheduling
/// pass over a million pending jobs spent 40% of its time hashing their
/// ids into its pending reasons.
pub type ById<V> = std::collections::HashMap<u32, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A job id's hash (see [`ById`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    /// The id itself in the low bits (which pick the bucket: ids taken in
    /// order touch neighbouring buckets, not a random cache line each),
    /// and a multiplicative mix in the top seven (which the map compares
    /// first: equal ones would make every probe compare keys).
    fn write_u32(&mut self, n: u32) {
        let n = u64::from(n);
        self.0 = n | (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xFE00_0000_0000_0000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_spread_over_a_maps_buckets() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let build = BuildHasherDefault::<IdHasher>::default();
        let low: std::collections::HashSet<u64> = (5000..5000 + 1024u32)
            .map(|id| build.hash_one(id) & 1023)
            .collect();
        assert_eq!(low.len(), 1024, "consecutive ids take distinct buckets");
        let high: std::collections::HashSet<u64> =
            (0..1024u32).map(|id| build.hash_one(id) >> 57).collect();
        assert!(high.len() > 100, "and vary in the control bits");
        let mut map: ById<u32> = ById::default();
        map.extend((1..=10_000).map(|id| (id, id * 2)));
        assert_eq!(map.get(&777), Some(&1554));
    }
    use proptest::prelude::*;

    proptest! {
        /// bhist reads back what mbd wrote, to the text's precision.
        #[test]
        fn usage_text_reads_back(user_ms in 0u64..1 << 40, system_ms in 0u64..1 << 40, max_rss_kb in 0u64..1 << 40) {
            let text = usage_text(&Usage { user_ms, system_ms, max_rss_kb });
            let back = parse_usage_text(&text).expect("parses");
            prop_assert!(back.user_ms.abs_diff(user_ms) <= 5);
            prop_assert!(back.system_ms.abs_diff(system_ms) <= 5);
            prop_assert!(back.max_rss_kb.abs_diff(max_rss_kb) <= 52);
            prop_assert_eq!(parse_usage_text(&usage_text(&back)), Some(back));
        }
    }

    #[test]
    fn other_texts_are_not_usage() {
        for text in [
            "",
            "CPU time: 1 s",
            "CPU time: x s (user y s, system z s)  Max memory: 1 MB",
        ] {
            assert_eq!(parse_usage_text(text), None, "{text}");
        }
    }
}

/// Why a PEND job is not running (`bjobs --pend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PendReason {
    /// Could start; waiting for dispatch.
    Scheduling,
    NotReady,
    Dependency,
    /// `-J "a[...]%L"`: L elements already run.
    ArrayLimit,
    QueueSlots,
    QueueUserSlots,
    UserSlots,
    GroupSlots,
    /// Every eligible host is at a slot limit (`MXJ`, `JL/U`,
    /// `HJOB_LIMIT`, `PJOB_LIMIT`).
    HostSlots,
    QueueClosed,
    TokensExhausted,
    NoEligibleHosts,
    GpuModel,
    Exclusive,
    Cpus,
    Mem,
    Storage,
    Gpus,
}

impl PendReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PendReason::Scheduling => "pending scheduling",
            PendReason::NotReady => "job not ready for scheduling",
            PendReason::Dependency => "waiting for job dependency",
            PendReason::ArrayLimit => "the job array has reached its running element limit",
            PendReason::QueueSlots => "the queue's job slot limit (QJOB_LIMIT) is reached",
            PendReason::QueueUserSlots => {
                "the user's job slot limit in the queue (UJOB_LIMIT) is reached"
            }
            PendReason::UserSlots => "the user's job slot limit (MAX_JOBS, llb.users) is reached",
            PendReason::GroupSlots => {
                "the user group's job slot limit (MAX_JOBS, llb.users) is reached"
            }
            PendReason::HostSlots => {
                "job slot limit reached on the eligible hosts (MXJ, JL/U, HJOB_LIMIT or PJOB_LIMIT)"
            }
            PendReason::QueueClosed => "queue is closed",
            PendReason::TokensExhausted => "token pool exhausted",
            PendReason::NoEligibleHosts => "no eligible hosts in queue",
            PendReason::GpuModel => "no host has the required GPU model",
            PendReason::Exclusive => "exclusive constraint cannot be satisfied",
            PendReason::Cpus => "not enough free CPUs on any host",
            PendReason::Mem => "not enough free memory on any host",
            PendReason::Storage => "not enough free storage on any host",
            PendReason::Gpus => "not enough free GPUs on any host",
        }
    }
}

/// The evaluator's view of a job or whole array for dependencies.
pub fn outcome_of<'a>(mut jobs: impl Iterator<Item = &'a Job>) -> Outcome {
    let (mut done, mut exit, mut any) = (false, false, false);
    let unfinished = jobs.any(|j| {
        any = true;
        done |= j.state == JobState::Done;
        exit |= j.state == JobState::Exit;
        !j.state.is_finished()
    });
    match (any, unfinished, done, exit) {
        (false, ..) => Outcome::Gone,
        (_, true, ..) => Outcome::Unfinished,
        (_, _, true, true) => Outcome::Mixed,
        (_, _, true, false) => Outcome::Done,
        _ => Outcome::Exit,
    }
}
