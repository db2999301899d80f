//! mbd's in-memory state and the rules that change it.
//!
//! Requests never change the state directly: each is checked against the
//! state and turned into [`Change`]s, which the daemon logs and then
//! [`State::apply`]s — the same function replay uses, so a restarted mbd
//! rebuilds exactly what it acknowledged. Nothing here does I/O; time is a
//! parameter.

mod amend;
mod execution;

pub use execution::Reconciled;

use execution::apply_ended;

use crate::change::{
    AllocRecord, BadRecord, Change, Checkpoint, Controlled, Dispatched, JobImage, JobOfSpec,
    SpecImage, StateChanged, Submitted,
};
use crate::depend::{Dep, Outcome};
use crate::env_pool::EnvPool;
use crate::event_log::Record;
use crate::job::{Alloc, Job, Spec};
use crate::sched::{outcome_of, HostStatus, PendReason};
use crate::shape::{Shape, ShapePool};
use crate::{Cluster, QueueConf};
use proto::mbd::{
    event, status, Control, GroupRow, HistEvent, HistoryRequest, HostRow, JobHistory, JobRef,
    JobRow, JobState, JobsRequest, QueueRow, SubmitRequest, TokenRow,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// Most elements one `--array` may have.
pub const MAX_ARRAY: u32 = 100_000;

/// Who sent a request (from its verified auth block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
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

#[derive(Debug)]
pub struct State {
    cluster: Cluster,
    jobs: BTreeMap<u32, Job>,
    next_id: u32,
    queue_open: Vec<bool>,
    host_open: Vec<bool>,
    /// From the last scheduling pass.
    reasons: HashMap<u32, PendReason>,
    /// DONE and EXIT jobs held (kept current: checked every pass).
    finished: usize,
    /// Jobs holding hosts (RUN, SUSP): what the scheduler subtracts from
    /// capacity, without walking a backlog of pending jobs.
    allocated: BTreeSet<u32>,
    /// Which hosts' sbd is connected (not logged: a restarted mbd starts
    /// with none and learns as they register).
    sbd_up: Vec<bool>,
    /// The jobs' environments, each distinct one held once.
    env_pool: EnvPool,
    /// The jobs' shapes, likewise.
    shapes: ShapePool,
    /// While a snapshot is replayed: its specifications by `spec_id`.
    snapshot_specs: HashMap<u32, Arc<Spec>>,
}

impl State {
    pub fn new(cluster: Cluster) -> State {
        State {
            queue_open: vec![true; cluster.queues.len()],
            host_open: vec![true; cluster.hosts.len()],
            sbd_up: vec![false; cluster.hosts.len()],
            jobs: BTreeMap::new(),
            next_id: 1,
            reasons: HashMap::new(),
            finished: 0,
            allocated: BTreeSet::new(),
            env_pool: EnvPool::default(),
            shapes: ShapePool::default(),
            snapshot_specs: HashMap::new(),
            cluster,
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
    }

    pub fn job(&self, id: u32) -> Option<&Job> {
        self.jobs.get(&id)
    }

    pub fn queue_open(&self, queue: usize) -> bool {
        self.queue_open.get(queue).copied().unwrap_or(false)
    }

    pub fn host_open(&self, host: usize) -> bool {
        self.host_open.get(host).copied().unwrap_or(false)
    }

    pub fn finished(&self) -> usize {
        self.finished
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
        self.in_order(self.jobs.values().filter(|j| j.state.is_pending()))
    }

    /// `jobs` in scheduling order: queue priority, job priority, job id.
    pub fn in_order<'a>(&'a self, jobs: impl Iterator<Item = &'a Job>) -> Vec<&'a Job> {
        let mut jobs: Vec<&Job> = jobs.collect();
        jobs.sort_by_cached_key(|j| {
            let queue = j
                .spec
                .shape
                .queue_pos
                .and_then(|q| self.cluster.queues.get(q));
            let prio = queue.map_or(i32::MIN, |q| q.priority);
            (Reverse(prio), Reverse(j.priority), j.id)
        });
        jobs
    }

    /// Keeps a full scheduling pass's pending reasons for `bjobs`.
    pub fn set_reasons(&mut self, reasons: HashMap<u32, PendReason>) {
        self.reasons = reasons;
    }

    /// Adds the reasons of a pass over new jobs only.
    pub fn add_reasons(&mut self, reasons: HashMap<u32, PendReason>) {
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
        (self.jobs.range(array_id..).map(|(_, j)| j)).take_while(move |j| j.array_id == array_id)
    }

    // ---- applying changes (live and at replay) ----

    /// The state `records` (an event log's, in order) leave behind; an
    /// undecodable record is an error naming its 1-based position.
    pub fn replay(cluster: Cluster, records: &[Record]) -> Result<State, (usize, BadRecord)> {
        let mut state = State::new(cluster);
        for (n, record) in records.iter().enumerate() {
            state.apply_owned(Change::from_record(record).map_err(|e| (n + 1, e))?);
        }
        state.snapshot_specs.clear();
        Ok(state)
    }

    /// [`State::apply`] for a change nobody else needs: a job's request
    /// is kept without copying its environment first.
    fn apply_owned(&mut self, mut change: Change) {
        let env = match &mut change {
            Change::Submitted(s) => std::mem::take(&mut s.request.env),
            Change::JobImage(i) => std::mem::take(&mut i.request.env),
            Change::SpecImage(i) => std::mem::take(&mut i.request.env),
            _ => return self.apply(&change),
        };
        match &change {
            Change::Submitted(s) => self.apply_submitted(s, &env),
            Change::JobImage(i) => self.apply_image(i, &env),
            Change::SpecImage(i) => self.apply_spec_image(i, &env),
            _ => {}
        }
    }

    /// Applies one logged change. Records that name jobs mbd no longer
    /// holds are skipped with a log line.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Submitted(s) => self.apply_submitted(s, &s.request.env),
            Change::StateChanged(c) => self.update(c.id, |job| {
                job.transition(c.state, c.time, c.signal, c.exit_code)
            }),
            Change::Dispatched(d) => self.apply_dispatched(d),
            Change::Forked(f) => self.update(f.id, |job| {
                job.pid = f.pid;
                job.record(f.time, event::FORKED, f.pid as i32);
            }),
            Change::Ended(e) => self.update(e.id, |job| apply_ended(job, e)),
            Change::QueueControlled(c) => {
                if let Some(q) = self.cluster.queue(&c.name) {
                    self.queue_open[q] = c.open;
                }
            }
            Change::HostControlled(c) => {
                if let Some(h) = self.cluster.host(&c.name) {
                    self.host_open[h] = c.open;
                }
            }
            Change::JobImage(image) => self.apply_image(image, &image.request.env),
            Change::Checkpoint(c) => self.apply_checkpoint(c),
            Change::SpecImage(i) => self.apply_spec_image(i, &i.request.env),
            Change::JobOfSpec(j) => self.apply_job_of_spec(j),
            Change::Moved(m) => self.apply_moved(m),
            Change::Reprioritized(r) => self.apply_reprioritized(r),
        }
    }

    /// Changes job `id` with `f`, keeping the finished count right.
    fn update(&mut self, id: u32, f: impl FnOnce(&mut Job)) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return log::warn!("change for unknown job {id} skipped");
        };
        let was = job.state.is_finished();
        f(job);
        let is = job.state.is_finished();
        self.finished = self.finished + usize::from(is && !was) - usize::from(was && !is);
        index_alloc(&mut self.allocated, job);
    }

    /// The jobs that hold hosts.
    pub fn allocated_jobs(&self) -> impl Iterator<Item = &Job> {
        self.allocated.iter().filter_map(|id| self.jobs.get(id))
    }

    fn allocs(&self, records: &[AllocRecord]) -> Vec<Alloc> {
        (records.iter())
            .filter_map(|r| match self.cluster.host(&r.host) {
                Some(host) => Some(Alloc {
                    host,
                    cpus: r.cpus,
                    gpus: r.gpus.clone(),
                }),
                None => {
                    log::warn!(
                        "host {} is no longer configured; its share of a job is dropped",
                        r.host
                    );
                    None
                }
            })
            .collect()
    }

    fn apply_dispatched(&mut self, d: &Dispatched) {
        let alloc = self.allocs(&d.allocs);
        self.reasons.remove(&d.id);
        self.update(d.id, |job| {
            job.attempt = d.attempt;
            job.pid = 0;
            job.state = JobState::Run;
            let gpus: Vec<String> = (alloc.iter())
                .flat_map(|a| a.gpus.iter().map(u32::to_string))
                .collect();
            job.events.push(HistEvent {
                time: d.time,
                what: event::DISPATCHED,
                code: 0,
                hosts: d.allocs.iter().map(|a| a.host.clone()).collect(),
                text: gpus.join(","),
            });
            job.alloc = alloc;
        });
    }

    fn spec(
        &mut self,
        user: &str,
        uid: u32,
        queue: &str,
        time: u64,
        request: &SubmitRequest,
        env: &[String],
    ) -> Spec {
        let dep = (!request.dependency.is_empty())
            .then(|| Dep::parse(&request.dependency).ok())
            .flatten();
        let machines = (request.machines.iter())
            .filter_map(|name| self.cluster.expand_hosts(std::slice::from_ref(name)).ok())
            .flatten()
            .collect();
        let shape = Shape::new(self.cluster.queue(queue), machines, request);
        Spec {
            user: user.to_owned(),
            uid,
            queue: queue.to_owned(),
            shape: self.shapes.intern(shape),
            submit_time: time,
            // Cheap at replay, where the environment was moved out.
            request: SubmitRequest {
                env: Vec::new(),
                ..request.clone()
            },
            env: self.env_pool.intern(env),
            dep,
        }
    }

    /// A submission; `env` is its environment (`s.request.env`, unless
    /// that was moved out).
    fn apply_submitted(&mut self, s: &Submitted, env: &[String]) {
        let spec = Arc::new(self.spec(&s.user, s.uid, &s.queue, s.time, &s.request, env));
        let array = s.request.array.is_array();
        let state = if s.request.hold {
            JobState::Held
        } else {
            JobState::Pend
        };
        let mut id = s.first_id;
        for index in s.request.array.indices() {
            let mut job = Job {
                id,
                array_id: if array { s.first_id } else { 0 },
                index,
                spec: Arc::clone(&spec),
                state,
                priority: s.priority,
                alloc: Vec::new(),
                ran_on: Vec::new(),
                attempt: 0,
                pid: 0,
                events: Vec::new(),
            };
            job.record(s.time, event::SUBMITTED, 0);
            self.jobs.insert(id, job);
            id += 1;
        }
        self.next_id = self.next_id.max(id);
    }

    fn apply_image(&mut self, i: &JobImage, env: &[String]) {
        let spec = Arc::new(self.spec(&i.user, i.uid, &i.queue, i.submit_time, &i.request, env));
        let job = Job {
            id: i.id,
            array_id: i.array_id,
            index: i.index,
            spec,
            state: i.state,
            priority: i.priority,
            alloc: Vec::new(),
            ran_on: Vec::new(),
            attempt: i.attempt,
            pid: i.pid,
            events: i.events.clone(),
        };
        self.insert_image(job, &i.allocs);
    }

    fn apply_spec_image(&mut self, i: &SpecImage, env: &[String]) {
        let spec = self.spec(&i.user, i.uid, &i.queue, i.submit_time, &i.request, env);
        self.snapshot_specs.insert(i.spec_id, Arc::new(spec));
    }

    fn apply_job_of_spec(&mut self, j: &JobOfSpec) {
        let Some(spec) = self.snapshot_specs.get(&j.spec_id) else {
            return log::warn!(
                "job {} names unknown specification {}: skipped",
                j.id,
                j.spec_id
            );
        };
        let job = Job {
            id: j.id,
            array_id: j.array_id,
            index: j.index,
            spec: Arc::clone(spec),
            state: j.state,
            priority: j.priority,
            alloc: Vec::new(),
            ran_on: Vec::new(),
            attempt: j.attempt,
            pid: j.pid,
            events: j.events.clone(),
        };
        self.insert_image(job, &j.allocs);
    }

    /// Puts a job from a snapshot in place (replacing any of its id).
    fn insert_image(&mut self, mut job: Job, allocs: &[AllocRecord]) {
        // A snapshot holds a finished job's last hosts the way it holds a
        // running job's: where they belong depends on the state.
        let hosts = self.allocs(allocs);
        if job.state.is_finished() {
            job.ran_on = hosts;
        } else {
            job.alloc = hosts;
        }
        let id = job.id;
        self.finished += usize::from(job.state.is_finished());
        index_alloc(&mut self.allocated, &job);
        if let Some(old) = self.jobs.insert(id, job) {
            self.finished -= usize::from(old.state.is_finished());
        }
        self.next_id = self.next_id.max(id + 1);
    }

    fn apply_checkpoint(&mut self, c: &Checkpoint) {
        // A new snapshot: its specifications count from 0 again.
        self.snapshot_specs.clear();
        self.next_id = self.next_id.max(c.next_id);
        for (i, q) in self.cluster.queues.iter().enumerate() {
            self.queue_open[i] = !c.closed_queues.contains(&q.name);
        }
        for (i, h) in self.cluster.hosts.iter().enumerate() {
            self.host_open[i] = !c.closed_hosts.contains(&h.name);
        }
    }

    fn alloc_records(&self, alloc: &[Alloc]) -> Vec<AllocRecord> {
        (alloc.iter())
            .map(|a| AllocRecord {
                host: self.cluster.hosts[a.host].name.clone(),
                cpus: a.cpus,
                gpus: a.gpus.clone(),
            })
            .collect()
    }

    // ---- requests -> changes ----

    /// Checks a submission; the change it makes, or why not.
    pub fn submit(
        &self,
        who: &Caller,
        mut request: SubmitRequest,
        now: u64,
    ) -> Result<Change, Refusal> {
        let einval = |m: String| Refusal::new(status::EINVAL, m);
        if request.queue.is_empty() {
            request.queue = self.cluster.default_queue.clone();
        }
        let q = (self.cluster.queue(&request.queue))
            .ok_or_else(|| einval(format!("unknown queue {}", request.queue)))?;
        let queue = &self.cluster.queues[q];
        if !who.admin && !queue_admits(queue, &who.user) {
            return Err(Refusal::new(
                status::EPERM,
                format!("user {} may not use queue {}", who.user, queue.name),
            ));
        }
        check_request(&request).map_err(einval)?;
        if let Err(name) = self.cluster.expand_hosts(&request.machines) {
            return Err(einval(format!("unknown host or group {name}")));
        }
        if let Some(t) = (request.tokens.iter()).find(|t| self.cluster.pool(&t.pool).is_none()) {
            return Err(einval(format!("unknown token pool {}", t.pool)));
        }
        if !request.dependency.is_empty() {
            let dep = Dep::parse(&request.dependency)
                .map_err(|_| einval(format!("bad dependency {}", request.dependency)))?;
            if let Some(id) = dep.ids().into_iter().find(|id| !self.jobs.contains_key(id)) {
                return Err(einval(format!("dependency on unknown job {id}")));
            }
        }
        let elements = request.array.indices().len() as u32;
        if self.next_id.checked_add(elements).is_none() {
            return Err(einval("job ids exhausted".into()));
        }
        Ok(Change::Submitted(Box::new(Submitted {
            first_id: self.next_id,
            time: now,
            user: who.user.clone(),
            uid: who.uid,
            queue: request.queue.clone(),
            priority: queue.priority,
            request,
        })))
    }

    /// The jobs a reference names: `N[i]`, every element of array `N`,
    /// or job `N`.
    fn resolve(&self, r: JobRef) -> Result<Vec<&Job>, Refusal> {
        let no_such = || Refusal::new(status::ESRCH, format!("no job {}", show_ref(r)));
        let jobs: Vec<&Job> = if r.index > 0 {
            (self.elements(r.id))
                .filter(|j| j.index == r.index)
                .collect()
        } else {
            self.named(r.id)
        };
        if jobs.is_empty() {
            return Err(no_such());
        }
        Ok(jobs)
    }

    /// Checks a bkill; the changes it makes. A pending job's change is
    /// immediate; a running job's signal needs its host's sbd.
    pub fn signal(
        &self,
        who: &Caller,
        target: JobRef,
        signal: u32,
        now: u64,
    ) -> Result<Vec<Change>, Refusal> {
        if target.id == 0 {
            let mine = (self.jobs.values()).filter(|j| !j.state.is_finished() && who.may_act_on(j));
            return Ok(mine
                .filter_map(|j| signal_one(j, signal, now, self.reachable(j)).ok().flatten())
                .collect());
        }
        let jobs = self.resolve(target)?;
        let several = jobs.len() > 1;
        let mut changes = Vec::new();
        let mut first_error = None;
        for job in jobs {
            let result = if who.may_act_on(job) {
                signal_one(job, signal, now, self.reachable(job))
            } else {
                Err(Refusal::new(status::EPERM, "not your job"))
            };
            match result {
                Ok(change) => changes.extend(change),
                Err(e) if !several => return Err(e),
                // An array's finished elements are skipped, not errors,
                // unless every element has finished.
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if changes.is_empty() => Err(e),
            _ => Ok(changes),
        }
    }

    pub fn control_queue(&self, who: &Caller, c: &Control, now: u64) -> Result<Change, Refusal> {
        require_admin(who)?;
        self.cluster
            .queue(&c.name)
            .ok_or_else(|| Refusal::new(status::ESRCH, format!("no queue {}", c.name)))?;
        Ok(Change::QueueControlled(controlled(c, now)))
    }

    pub fn control_host(&self, who: &Caller, c: &Control, now: u64) -> Result<Change, Refusal> {
        require_admin(who)?;
        self.cluster
            .host(&c.name)
            .ok_or_else(|| Refusal::new(status::EINVAL, format!("no host {}", c.name)))?;
        Ok(Change::HostControlled(controlled(c, now)))
    }

    // ---- queries ----

    fn visible(&self, who: &Caller, user_filter: &str, job: &Job) -> bool {
        who.may_act_on(job) && (user_filter.is_empty() || job.spec.user == user_filter)
    }

    /// The jobs a listing shows: the named job (checked for permission),
    /// or the caller's visible jobs matching the filters.
    fn listed(
        &self,
        who: &Caller,
        named: JobRef,
        user: &str,
        lists: [bool; 3],
    ) -> Result<Vec<&Job>, Refusal> {
        if named.id != 0 {
            let jobs = self.resolve(named)?;
            if jobs.iter().all(|j| !self.visible(who, "", j)) {
                return Err(Refusal::new(status::EPERM, "not your job"));
            }
            return Ok(jobs
                .into_iter()
                .filter(|j| self.visible(who, "", j))
                .collect());
        }
        let [pend, run, done] = lists;
        let mut out = Vec::new();
        if pend {
            out.extend(self.pending_in_order());
        }
        if run {
            out.extend(
                (self.jobs.values()).filter(|j| !j.state.is_pending() && !j.state.is_finished()),
            );
        }
        if done {
            out.extend(self.jobs.values().filter(|j| j.state.is_finished()));
        }
        out.retain(|j| self.visible(who, user, j));
        Ok(out)
    }

    /// `bjobs` rows, in mbd's list order.
    pub fn job_rows(
        &self,
        who: &Caller,
        req: &JobsRequest,
    ) -> Result<impl Iterator<Item = JobRow> + '_, Refusal> {
        let no_flag = !(req.pend || req.run || req.done);
        let lists = [req.pend || no_flag, req.run || no_flag, req.done];
        let jobs = self.listed(who, req.job, &req.user, lists)?;
        Ok(jobs.into_iter().map(|j| self.row(j)))
    }

    fn row(&self, job: &Job) -> JobRow {
        let pend_reason = match job.state {
            JobState::Pend => (self.reasons.get(&job.id))
                .unwrap_or(&PendReason::Scheduling)
                .as_str()
                .to_owned(),
            _ => String::new(),
        };
        JobRow {
            id: job.id,
            array_id: job.array_id,
            index: job.index,
            user: job.spec.user.clone(),
            state: self.shown_state(job),
            queue: job.spec.queue.clone(),
            priority: job.priority,
            hosts: job.slots(|h| self.cluster.hosts[h].name.clone()),
            name: job.spec.request.name.clone(),
            submit_time: job.spec.submit_time,
            pend_reason,
        }
    }

    /// `bhist` jobs, by job id.
    pub fn history(
        &self,
        who: &Caller,
        req: &HistoryRequest,
    ) -> Result<impl Iterator<Item = JobHistory> + '_, Refusal> {
        let mut jobs = self.listed(who, req.job, &req.user, [true, true, true])?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs.into_iter().map(|j| JobHistory {
            row: self.row(j),
            spec: j.spec.full_request(),
            events: j.events.clone(),
        }))
    }

    pub fn queue_rows(&self) -> Vec<QueueRow> {
        let mut rows: Vec<QueueRow> = (self.cluster.queues.iter().enumerate())
            .map(|(i, q)| QueueRow {
                name: q.name.clone(),
                priority: q.priority,
                open: self.queue_open(i),
                description: q.description.clone(),
                users: q.users_text.clone(),
                hosts: q.hosts_text.clone(),
                pend: 0,
                held: 0,
                run: 0,
                susp: 0,
                used_cpus: 0,
                used_hosts: 0,
            })
            .collect();
        for job in self.jobs.values() {
            let Some(row) = job.spec.shape.queue_pos.and_then(|q| rows.get_mut(q)) else {
                continue;
            };
            match job.state {
                JobState::Pend => row.pend += 1,
                JobState::Held => row.held += 1,
                JobState::Run | JobState::Unknown => row.run += 1,
                JobState::Susp => row.susp += 1,
                JobState::Done | JobState::Exit => continue,
            }
            row.used_cpus += job.alloc.iter().map(|a| a.cpus).sum::<u32>();
            row.used_hosts += job.alloc.len() as u32;
        }
        rows
    }

    /// `btokens` rows: each pool, and what running jobs hold of it.
    pub fn token_rows(&self) -> Vec<TokenRow> {
        let free = crate::sched::free_tokens(self);
        (self.cluster.pools.iter().zip(free))
            .map(|(p, free)| TokenRow {
                name: p.name.clone(),
                total: p.available,
                used: p.available - free,
            })
            .collect()
    }

    /// `bgroups` rows, in configuration order.
    pub fn group_rows(&self) -> Vec<GroupRow> {
        (self.cluster.groups.iter())
            .map(|g| GroupRow {
                name: g.name.clone(),
                members: g.members.clone(),
            })
            .collect()
    }

    pub fn host_rows(&self, status: &[HostStatus]) -> Vec<HostRow> {
        let mut rows: Vec<HostRow> = (self.cluster.hosts.iter().enumerate())
            .map(|(i, h)| HostRow {
                name: h.name.clone(),
                available: status.get(i).copied().unwrap_or_default().up,
                sbd: self.sbd_up(i),
                closed: !self.host_open(i),
                ncpu: h.cpus,
                mem_mb: h.mem_mb,
                storage_mb: h.storage_mb,
                ngpu: h.gpu_ids.len() as u32,
                njobs: 0,
                run: 0,
                susp: 0,
                used_cpu: 0,
                used_mb: 0,
                used_storage_mb: 0,
                used_gpu: 0,
                gpu_model: h.gpu_model.clone().unwrap_or_default(),
                gpu_ids: h.gpu_ids_text.clone(),
            })
            .collect();
        for job in self.allocated_jobs() {
            for a in &job.alloc {
                let Some(row) = rows.get_mut(a.host) else {
                    continue;
                };
                row.njobs += 1;
                if job.state == JobState::Susp {
                    row.susp += 1;
                } else {
                    row.run += 1;
                }
                row.used_cpu += a.cpus;
                row.used_mb += job.spec.request.mem_mb;
                row.used_storage_mb += job.spec.request.storage_mb;
                row.used_gpu += a.gpus.len() as u32;
            }
        }
        rows
    }

    // ---- compaction ----

    /// The finished jobs `compact(keep)` forgets, oldest first, with
    /// their array ids: what the archive it leaves behind is the last
    /// record of.
    pub fn droppable(&self, keep: usize) -> Vec<(u32, u32)> {
        let drop = self.finished.saturating_sub(keep);
        (self.jobs.values())
            .filter(|j| j.state.is_finished())
            .take(drop)
            .map(|j| (j.id, j.array_id))
            .collect()
    }

    /// Forgets all but the newest `keep` finished jobs and returns the
    /// changes that rebuild what is left: the first records of a fresh log.
    pub fn compact(&mut self, keep: usize) -> Vec<Change> {
        let dropped = self.droppable(keep);
        for (id, _) in &dropped {
            self.jobs.remove(id);
            self.reasons.remove(id);
            self.allocated.remove(id);
        }
        self.finished -= dropped.len();
        self.env_pool.sweep();
        self.shapes.sweep();
        let closed = |open: &[bool], name: &dyn Fn(usize) -> String| -> Vec<String> {
            (open.iter().enumerate())
                .filter(|(_, o)| !**o)
                .map(|(i, _)| name(i))
                .collect()
        };
        let mut out = vec![Change::Checkpoint(Checkpoint {
            next_id: self.next_id,
            closed_queues: closed(&self.queue_open, &|i| self.cluster.queues[i].name.clone()),
            closed_hosts: closed(&self.host_open, &|i| self.cluster.hosts[i].name.clone()),
        })];
        // Each specification once, before the first job of it: an array's
        // elements (or any jobs sharing one) cost a few bytes each.
        let mut spec_ids: HashMap<*const Spec, u32> = HashMap::new();
        for j in self.jobs.values() {
            let next = spec_ids.len() as u32;
            let spec_id = *spec_ids.entry(Arc::as_ptr(&j.spec)).or_insert_with(|| {
                out.push(Change::SpecImage(Box::new(SpecImage {
                    spec_id: next,
                    user: j.spec.user.clone(),
                    uid: j.spec.uid,
                    queue: j.spec.queue.clone(),
                    submit_time: j.spec.submit_time,
                    request: j.spec.full_request(),
                })));
                next
            });
            out.push(Change::JobOfSpec(Box::new(JobOfSpec {
                id: j.id,
                array_id: j.array_id,
                index: j.index,
                spec_id,
                priority: j.priority,
                state: j.state,
                events: j.events.clone(),
                attempt: j.attempt,
                pid: j.pid,
                allocs: self.alloc_records(j.hosts_shown()),
            })));
        }
        out
    }
}

/// Checks what needs no state: counts, array spec, times, GPU options.
fn check_request(r: &SubmitRequest) -> Result<(), String> {
    if r.command.trim().is_empty() {
        return Err("no command".into());
    }
    if r.cpus == 0 || r.nhosts == 0 {
        return Err("--cpus and --nhosts must be positive".into());
    }
    if !r.machines.is_empty() && r.nhosts > 1 {
        return Err("--nhosts and --machines are mutually exclusive".into());
    }
    if !r.gpu_model.is_empty() && r.gpus == 0 {
        return Err("--gpu-model requires --gpus".into());
    }
    if r.tokens.iter().any(|t| t.count == 0) {
        return Err("token counts must be positive".into());
    }
    let a = r.array;
    if a.is_array() && (a.end < a.start || a.step == 0 || (a.end - a.start) / a.step >= MAX_ARRAY) {
        return Err(format!(
            "bad array {}-{}:{} (at most {MAX_ARRAY} elements)",
            a.start, a.end, a.step
        ));
    }
    if r.begin != 0 && r.terminate != 0 && r.begin >= r.terminate {
        return Err("--begin must be before --terminate".into());
    }
    Ok(())
}

/// What a signal does to one job (LavaLite's rules, interface.md 4.6).
/// A running job's signal goes to its sbd (`reachable`: connected) and is
/// logged as a change of the state it leaves the job in.
fn signal_one(
    job: &Job,
    signal: u32,
    now: u64,
    reachable: bool,
) -> Result<Option<Change>, Refusal> {
    let to = |state| {
        Some(Change::StateChanged(StateChanged {
            id: job.id,
            time: now,
            state,
            signal,
            exit_code: if state == JobState::Exit {
                128 + signal as i32
            } else {
                0
            },
        }))
    };
    let einval = |m: &str| Err(Refusal::new(status::EINVAL, m));
    match job.state {
        JobState::Done | JobState::Exit => einval("job has finished"),
        JobState::Pend | JobState::Held => match signal {
            sig::TERM | sig::INT | sig::KILL => Ok(to(JobState::Exit)),
            sig::STOP | sig::TSTP if job.state == JobState::Pend => Ok(to(JobState::Held)),
            sig::CONT if job.state == JobState::Held => Ok(to(JobState::Pend)),
            sig::STOP | sig::TSTP | sig::CONT => Ok(None),
            _ => einval("signal not supported for a pending job"),
        },
        _ if !reachable => Err(Refusal::new(
            status::EAGAIN,
            "the job's execution host is not connected",
        )),
        JobState::Run | JobState::Unknown => match signal {
            sig::STOP | sig::TSTP => Ok(to(JobState::Susp)),
            sig::CONT => Ok(None),
            _ => Ok(to(job.state)),
        },
        JobState::Susp => match signal {
            sig::CONT => Ok(to(JobState::Run)),
            sig::STOP | sig::TSTP => Ok(None),
            _ => Ok(to(job.state)),
        },
    }
}

/// Whether `user` may have jobs in `queue` (its USERS line).
fn queue_admits(queue: &QueueConf, user: &str) -> bool {
    (queue.users.as_ref()).is_none_or(|users| users.iter().any(|u| u == user))
}

fn require_admin(who: &Caller) -> Result<(), Refusal> {
    if who.admin {
        Ok(())
    } else {
        Err(Refusal::new(
            status::EPERM,
            "only the cluster admin may do that",
        ))
    }
}

fn controlled(c: &Control, now: u64) -> Controlled {
    Controlled {
        name: c.name.clone(),
        open: c.open,
        time: now,
    }
}

fn show_ref(r: JobRef) -> String {
    if r.index > 0 {
        format!("{}[{}]", r.id, r.index)
    } else {
        r.id.to_string()
    }
}

/// Keeps the index of jobs holding hosts in step with `job`.
fn index_alloc(allocated: &mut BTreeSet<u32>, job: &Job) {
    if job.alloc.is_empty() {
        allocated.remove(&job.id);
    } else {
        allocated.insert(job.id);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cluster::tests::sample;
    use crate::event_log::EventLog;
    use proto::mbd::{ArraySpec, TokenRequest};

    pub(crate) fn ann() -> Caller {
        Caller {
            uid: 1000,
            user: "ann".into(),
            admin: false,
        }
    }

    pub(crate) fn request(command: &str) -> SubmitRequest {
        SubmitRequest {
            command: command.into(),
            cpus: 1,
            nhosts: 1,
            ..SubmitRequest::default()
        }
    }

    /// Submits and applies; returns the first job id.
    pub(crate) fn submit(state: &mut State, who: &Caller, r: SubmitRequest) -> u32 {
        let change = state.submit(who, r, 100).unwrap();
        state.apply(&change);
        match change {
            Change::Submitted(s) => s.first_id,
            _ => unreachable!(),
        }
    }

    fn kill(
        state: &mut State,
        who: &Caller,
        id: u32,
        index: u32,
        signal: u32,
    ) -> Result<usize, u32> {
        let changes = state
            .signal(who, JobRef { id, index }, signal, 200)
            .map_err(|r| r.status)?;
        changes.iter().for_each(|c| state.apply(c));
        Ok(changes.len())
    }

    fn states(state: &State) -> Vec<(u32, JobState)> {
        state.jobs().map(|j| (j.id, j.state)).collect()
    }

    #[test]
    fn submissions_get_consecutive_ids_the_default_queue_and_its_priority() {
        let mut s = State::new(sample());
        let a = submit(&mut s, &ann(), request("true"));
        let b = submit(
            &mut s,
            &ann(),
            SubmitRequest {
                hold: true,
                ..request("true")
            },
        );
        assert_eq!((a, b), (1, 2));
        let job = s.job(b).unwrap();
        assert_eq!(
            (job.state, job.spec.queue.as_str(), job.priority),
            (JobState::Held, "normal", 30)
        );
    }

    #[test]
    fn bad_submissions_are_refused_with_lavalites_errno() {
        let s = State::new(sample());
        let refuse = |r: SubmitRequest| s.submit(&ann(), r, 0).unwrap_err().status;
        let q = |name: &str| SubmitRequest {
            queue: name.into(),
            ..request("true")
        };
        assert_eq!(refuse(q("nope")), status::EINVAL);
        let carl = Caller {
            user: "carl".into(),
            ..ann()
        };
        assert_eq!(
            s.submit(&carl, q("short"), 0).unwrap_err().status,
            status::EPERM
        );
        assert!(
            s.submit(
                &Caller {
                    user: "bob".into(),
                    ..ann()
                },
                q("short"),
                0
            )
            .is_ok(),
            "bob is in group team"
        );
        let tokens = vec![TokenRequest {
            pool: "nope".into(),
            count: 1,
        }];
        assert_eq!(
            refuse(SubmitRequest {
                tokens,
                ..request("true")
            }),
            status::EINVAL
        );
        assert_eq!(
            refuse(SubmitRequest {
                dependency: "done(5)".into(),
                ..request("true")
            }),
            status::EINVAL
        );
        assert_eq!(
            refuse(SubmitRequest {
                machines: vec!["x".into()],
                ..request("true")
            }),
            status::EINVAL
        );
        assert_eq!(refuse(request(" ")), status::EINVAL);
        let huge = ArraySpec {
            start: 1,
            end: 1_000_000,
            step: 1,
        };
        assert_eq!(
            refuse(SubmitRequest {
                array: huge,
                ..request("true")
            }),
            status::EINVAL
        );
    }

    #[test]
    fn arrays_are_elements_with_their_own_ids() {
        let mut s = State::new(sample());
        submit(&mut s, &ann(), request("true"));
        let array = ArraySpec {
            start: 1,
            end: 7,
            step: 3,
        };
        let id = submit(
            &mut s,
            &ann(),
            SubmitRequest {
                array,
                ..request("true")
            },
        );
        assert_eq!(id, 2);
        let shown: Vec<_> = s.jobs().skip(1).map(|j| (j.id, j.display_id())).collect();
        assert_eq!(
            shown,
            [(2, "2[1]".into()), (3, "2[4]".into()), (4, "2[7]".into())]
        );
        let next = submit(&mut s, &ann(), request("true"));
        assert_eq!(next, 5);
        // N[i] names one element; N the whole array; an element's own id one job.
        assert_eq!(kill(&mut s, &ann(), 2, 4, sig::STOP), Ok(1));
        assert_eq!(s.job(3).unwrap().state, JobState::Held);
        assert_eq!(kill(&mut s, &ann(), 2, 0, sig::TERM), Ok(3));
        assert_eq!(kill(&mut s, &ann(), 2, 9, sig::TERM), Err(status::ESRCH));
        assert!(s
            .jobs()
            .filter(|j| j.array_id == 2)
            .all(|j| j.state == JobState::Exit));
        assert_eq!(
            kill(&mut s, &ann(), 2, 0, sig::TERM),
            Err(status::EINVAL),
            "all finished"
        );
    }

    #[test]
    fn bkill_on_pending_jobs_follows_lavalite() {
        let mut s = State::new(sample());
        let id = submit(&mut s, &ann(), request("true"));
        assert_eq!(
            kill(&mut s, &ann(), id, 0, sig::CONT),
            Ok(0),
            "CONT on PEND is a no-op"
        );
        assert_eq!(kill(&mut s, &ann(), id, 0, sig::TSTP), Ok(1));
        assert_eq!(s.job(id).unwrap().state, JobState::Held);
        assert_eq!(
            kill(&mut s, &ann(), id, 0, sig::STOP),
            Ok(0),
            "already held"
        );
        assert_eq!(
            kill(&mut s, &ann(), id, 0, libc::SIGHUP as u32),
            Err(status::EINVAL)
        );
        let bob = Caller {
            user: "bob".into(),
            uid: 1001,
            admin: false,
        };
        assert_eq!(kill(&mut s, &bob, id, 0, sig::TERM), Err(status::EPERM));
        assert_eq!(kill(&mut s, &ann(), id, 0, sig::CONT), Ok(1));
        assert_eq!(kill(&mut s, &ann(), id, 0, sig::KILL), Ok(1));
        let job = s.job(id).unwrap();
        assert_eq!(job.state, JobState::Exit);
        let whats: Vec<_> = job.events.iter().map(|e| (e.what, e.code)).collect();
        assert_eq!(
            whats,
            [
                (event::SUBMITTED, 0),
                (event::SIGNAL, sig::TSTP as i32),
                (event::HELD, 0),
                (event::SIGNAL, sig::CONT as i32),
                (event::RELEASED, 0),
                (event::SIGNAL, 9),
                (event::FINISHED, 137)
            ]
        );
        assert_eq!(
            kill(&mut s, &ann(), id, 0, sig::TERM),
            Err(status::EINVAL),
            "finished"
        );
        assert_eq!(kill(&mut s, &ann(), 99, 0, sig::TERM), Err(status::ESRCH));
    }

    #[test]
    fn bkill_0_signals_only_the_callers_jobs_unless_admin() {
        let mut s = State::new(sample());
        let bob = Caller {
            user: "bob".into(),
            uid: 1001,
            admin: false,
        };
        submit(&mut s, &ann(), request("a"));
        submit(&mut s, &bob, request("b"));
        assert_eq!(kill(&mut s, &ann(), 0, 0, sig::STOP), Ok(1));
        assert_eq!(states(&s), [(1, JobState::Held), (2, JobState::Pend)]);
        let root = Caller {
            user: "root".into(),
            uid: 0,
            admin: true,
        };
        assert_eq!(kill(&mut s, &root, 0, 0, sig::TERM), Ok(2));
    }

    #[test]
    fn listings_filter_by_owner_state_and_user() {
        let mut s = State::new(sample());
        let bob = Caller {
            user: "bob".into(),
            uid: 1001,
            admin: false,
        };
        let root = Caller {
            user: "root".into(),
            uid: 0,
            admin: true,
        };
        submit(&mut s, &ann(), request("a"));
        submit(&mut s, &bob, request("b"));
        submit(
            &mut s,
            &ann(),
            SubmitRequest {
                queue: "short".into(),
                ..request("c")
            },
        );
        kill(&mut s, &ann(), 1, 0, sig::TERM).unwrap();
        let ids = |who: &Caller, req: JobsRequest| -> Vec<u32> {
            s.job_rows(who, &req).unwrap().map(|r| r.id).collect()
        };
        assert_eq!(
            ids(&ann(), JobsRequest::default()),
            [3],
            "own unfinished only"
        );
        assert_eq!(
            ids(&root, JobsRequest::default()),
            [3, 2],
            "short (40) before normal (30)"
        );
        assert_eq!(
            ids(
                &ann(),
                JobsRequest {
                    done: true,
                    ..Default::default()
                }
            ),
            [1]
        );
        let all = JobsRequest {
            pend: true,
            run: true,
            done: true,
            ..Default::default()
        };
        assert_eq!(
            ids(
                &root,
                JobsRequest {
                    user: "bob".into(),
                    ..all.clone()
                }
            ),
            [2]
        );
        assert_eq!(ids(&root, all), [3, 2, 1]);
        let named = |id| JobsRequest {
            job: JobRef { id, index: 0 },
            ..Default::default()
        };
        assert_eq!(ids(&ann(), named(1)), [1], "a named finished job is shown");
        assert_eq!(
            s.job_rows(&ann(), &named(2)).err().map(|e| e.status),
            Some(status::EPERM)
        );
        assert_eq!(
            s.job_rows(&ann(), &named(9)).err().map(|e| e.status),
            Some(status::ESRCH)
        );
        let queues = s.queue_rows();
        assert_eq!((queues[0].pend, queues[1].pend), (1, 1));
    }

    #[test]
    fn replaying_the_logged_changes_rebuilds_the_same_state() {
        let dir = std::env::temp_dir().join(format!("mbd-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events");
        let (mut log, _) = EventLog::open(&path).unwrap();
        let mut live = State::new(sample());
        let root = Caller {
            user: "root".into(),
            uid: 0,
            admin: true,
        };
        let mut changes = vec![live
            .submit(
                &ann(),
                SubmitRequest {
                    hold: true,
                    ..request("a")
                },
                10,
            )
            .unwrap()];
        live.apply(&changes[0]);
        let array = ArraySpec {
            start: 1,
            end: 3,
            step: 1,
        };
        changes.push(
            live.submit(
                &ann(),
                SubmitRequest {
                    array,
                    ..request("b")
                },
                11,
            )
            .unwrap(),
        );
        live.apply(&changes[1]);
        for change in live
            .signal(&ann(), JobRef { id: 2, index: 2 }, sig::TERM, 12)
            .unwrap()
        {
            live.apply(&change);
            changes.push(change);
        }
        let close = Control {
            name: "short".into(),
            open: false,
        };
        changes.push(live.control_queue(&root, &close, 13).unwrap());
        live.apply(changes.last().unwrap());
        for c in &changes {
            log.append(c.kind(), &c.payload()).unwrap();
        }
        log.commit().unwrap();
        drop(log);
        let (_, replay) = EventLog::open(&path).unwrap();
        let again = State::replay(sample(), &replay.records).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(states(&again), states(&live));
        assert_eq!(states(&again)[2], (3, JobState::Exit));
        assert!(!again.queue_open(1));
        assert_eq!(again.next_id, 5);
        let events = |s: &State| s.jobs().map(|j| j.events.clone()).collect::<Vec<_>>();
        assert_eq!(events(&again), events(&live));
    }

    #[test]
    fn an_environment_is_held_once_and_given_back_whole() {
        let mut s = State::new(sample());
        let env: Vec<String> = vec!["HOME=/home/ann".into(), "PATH=/bin".into()];
        let with_env = || SubmitRequest {
            env: env.clone(),
            hold: true,
            ..request("x")
        };
        let a = submit(&mut s, &ann(), with_env());
        let b = submit(&mut s, &ann(), with_env());
        let spec = |s: &State, id| Arc::clone(&s.job(id).unwrap().spec);
        assert!(Arc::ptr_eq(&spec(&s, a).env, &spec(&s, b).env));
        assert!(spec(&s, a).request.env.is_empty(), "not held twice");
        let snapshot = s.compact(0);
        let spec_of_b = snapshot.iter().find_map(|c| match c {
            Change::JobOfSpec(j) if j.id == b => Some(j.spec_id),
            _ => None,
        });
        let logged = snapshot.iter().find_map(|c| match c {
            Change::SpecImage(i) if Some(i.spec_id) == spec_of_b => Some(i.request.env.clone()),
            _ => None,
        });
        assert_eq!(logged.as_ref(), Some(&env), "compaction logs it whole");
        let mut rebuilt = State::new(sample());
        snapshot.iter().for_each(|c| rebuilt.apply(c));
        assert_eq!(spec(&rebuilt, b).full_request().env, env);
        let records: Vec<Record> = (snapshot.iter())
            .map(|c| Record {
                format: crate::event_log::FORMAT,
                kind: c.kind(),
                payload: c.payload(),
            })
            .collect();
        let replayed = State::replay(sample(), &records).unwrap();
        assert_eq!(
            spec(&replayed, b).full_request().env,
            env,
            "replay moves it"
        );
    }

    #[test]
    fn a_pending_array_is_one_specification_in_a_snapshot_and_comes_back_whole() {
        let mut s = State::new(sample());
        let first = submit(
            &mut s,
            &ann(),
            SubmitRequest {
                array: proto::mbd::ArraySpec {
                    start: 1,
                    end: 1000,
                    step: 1,
                },
                env: vec!["HOME=/home/ann".into()],
                ..request("x")
            },
        );
        let snapshot = s.compact(0);
        let specs = (snapshot.iter())
            .filter(|c| matches!(c, Change::SpecImage(_)))
            .count();
        assert_eq!(specs, 1, "one specification for 1,000 elements");
        let bytes: usize = snapshot.iter().map(|c| c.payload().len()).sum();
        assert!(
            bytes < 1000 * 100,
            "{bytes} bytes for 1,000 pending elements"
        );
        let mut rebuilt = State::new(sample());
        snapshot.iter().for_each(|c| rebuilt.apply(c));
        let (a, b) = (rebuilt.job(first), rebuilt.job(first + 999));
        let (a, b) = (a.expect("first element"), b.expect("last element"));
        assert!(Arc::ptr_eq(&a.spec, &b.spec), "the elements share it again");
        assert_eq!((b.array_id, b.index), (first, 1000));
        assert_eq!(b.spec.full_request().env, ["HOME=/home/ann"]);
    }

    #[test]
    fn compaction_keeps_live_jobs_and_the_newest_finished_ones() {
        let mut s = State::new(sample());
        for _ in 0..5 {
            let id = submit(&mut s, &ann(), request("x"));
            kill(&mut s, &ann(), id, 0, sig::TERM).unwrap();
        }
        let live = submit(
            &mut s,
            &ann(),
            SubmitRequest {
                hold: true,
                ..request("y")
            },
        );
        assert_eq!(s.finished(), 5);
        let snapshot = s.compact(2);
        assert_eq!(s.finished(), 2);
        assert_eq!(s.jobs().map(|j| j.id).collect::<Vec<_>>(), [4, 5, live]);
        let mut rebuilt = State::new(sample());
        snapshot.iter().for_each(|c| rebuilt.apply(c));
        assert_eq!(states(&rebuilt), states(&s));
        assert_eq!(rebuilt.finished(), 2);
        assert_eq!(rebuilt.job(5).unwrap().events, s.job(5).unwrap().events);
        let next = submit(&mut rebuilt, &ann(), request("z"));
        assert_eq!(next, live + 1, "ids are never reused after compaction");
    }

    #[test]
    fn an_array_stays_addressable_after_compaction_drops_its_first_element() {
        let mut s = State::new(sample());
        let array = ArraySpec {
            start: 1,
            end: 3,
            step: 1,
        };
        let id = submit(
            &mut s,
            &ann(),
            SubmitRequest {
                array,
                ..request("x")
            },
        );
        kill(&mut s, &ann(), id, 1, sig::TERM).unwrap();
        s.compact(0);
        assert!(s.job(id).is_none(), "the first element is gone");
        let whole = JobRef { id, index: 0 };
        assert_eq!(s.resolve(whole).map(|j| j.len()), Ok(2));
        assert_eq!(kill(&mut s, &ann(), id, 0, sig::TERM), Ok(2));
        assert_eq!(s.outcome(id), Outcome::Exit);
    }
}
