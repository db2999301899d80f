//! A job as mbd holds it in memory.

use crate::depend::Dep;
use crate::env_pool::{self, Env};
use crate::shape::Shape;
use proto::mbd::{event, HistEvent, HostSlot, JobState, SubmitRequest};
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

/// One host's share of a running job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alloc {
    pub host: usize,
    pub cpus: u32,
    pub gpus: Vec<u32>,
}

#[derive(Debug)]
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
            (_, JobState::Susp) => self.record(time, event::SUSPENDED, 0),
            (JobState::Susp, JobState::Run) => self.record(time, event::RESUMED, 0),
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
