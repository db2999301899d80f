//! Applying logged changes to the state, live and at replay: the one path
//! both take, so a restarted mbd rebuilds exactly what it acknowledged.

use super::execution::{apply_ended, apply_requeue_asked, apply_requeued};
use super::{Place, State};
use crate::change::{
    self, AllocRecord, BadRecord, Change, Checkpoint, Dispatched, JobImage, JobOfSpec, SpecImage,
    SpecOfEnv, Submitted,
};
use crate::depend::Dep;
use crate::event_log::{Record, RecordRef, FORMAT};
use crate::job::{Alloc, Job, Spec};
use crate::shape::Shape;
use crate::Cluster;
use proto::mbd::{event, HistEvent, JobState, SubmitRequest};
use std::sync::Arc;

impl State {
    /// The state `records` (an event log's, in order) leave behind; an
    /// undecodable record is an error naming its 1-based position.
    pub fn replay(cluster: Cluster, records: &[Record]) -> Result<State, (usize, BadRecord)> {
        let mut state = State::new(cluster);
        for (n, record) in records.iter().enumerate() {
            state
                .replay_record(record.as_ref())
                .map_err(|e| (n + 1, e))?;
        }
        state.replayed();
        Ok(state)
    }

    /// Applies one record of a log being replayed into this (new) state;
    /// call [`State::replayed`] after the last.
    pub fn replay_record(&mut self, record: RecordRef<'_>) -> Result<(), BadRecord> {
        if record.kind == change::SUBMITTED && record.format == FORMAT {
            // Most of a log of submissions is their environments, most of
            // them one shell's: each is looked up by its bytes, and only a
            // new one is decoded.
            let pool = &mut self.env_pool;
            let (submitted, env) =
                Submitted::decode_env_with(record.payload, |e| pool.intern_encoded(e)).map_err(
                    |error| BadRecord::Body {
                        kind: record.kind,
                        error,
                    },
                )?;
            self.apply_submitted(&submitted, env);
            return Ok(());
        }
        self.apply_owned(Change::decode(record)?);
        Ok(())
    }

    /// The replay is over: what only it needed is let go.
    pub fn replayed(&mut self) {
        self.snapshot_specs.clear();
        self.snapshot_envs.clear();
    }

    /// This state under another configuration (`badmin reconfig`): its
    /// jobs as a snapshot (compaction's records, nothing dropped) applied
    /// to a fresh state of `cluster`, as a replay of the log would. Which
    /// sbds are connected is the caller's to say again.
    pub fn reconfigured(&mut self, cluster: Cluster) -> State {
        let mut state = State::new(cluster);
        self.forget_finished(usize::MAX);
        // Taken one change at a time: a million jobs' changes are never
        // held at once.
        let frozen = self.frozen();
        for change in frozen.snapshot() {
            state.apply_owned(change);
        }
        state.replayed();
        state
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
            Change::Submitted(s) => {
                let env = self.env_pool.intern(&env);
                self.apply_submitted(s, env)
            }
            Change::JobImage(i) => self.apply_image(i, &env),
            Change::SpecImage(i) => self.apply_spec_image(i, &env),
            _ => {}
        }
    }

    /// Applies one logged change. Records that name jobs mbd no longer
    /// holds are skipped with a log line.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Submitted(s) => {
                let env = self.env_pool.intern(&s.request.env);
                self.apply_submitted(s, env)
            }
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
            Change::QueueAccepting(c) => {
                if let Some(q) = self.cluster.queue(&c.name) {
                    self.queue_accepting[q] = c.open;
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
            Change::EnvImage(e) => {
                let env = self.env_pool.intern(&e.vars);
                self.snapshot_envs.insert(e.env_id, env);
            }
            Change::SpecOfEnv(i) => self.apply_spec_of_env(i),
            Change::JobOfSpec(j) => self.apply_job_of_spec(j),
            Change::Moved(m) => self.apply_moved(m),
            Change::Reprioritized(r) => self.apply_reprioritized(r),
            Change::Requeued(r) => self.update(r.id, |job| apply_requeued(job, r)),
            Change::RequeueAsked(r) => self.update(r.id, |job| apply_requeue_asked(job, r)),
            Change::Modified(m) => self.apply_modified(m),
        }
    }

    /// Changes job `id` with `f`, keeping the indexes of jobs right.
    pub(super) fn update(&mut self, id: u32, f: impl FnOnce(&mut Job)) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return log::warn!("change for unknown job {id} skipped");
        };
        let before = Place::of(&self.cluster, job);
        f(job);
        let after = Place::of(&self.cluster, job);
        if !job.is_running() {
            self.run_usage.remove(&id);
        }
        (self.index).change(
            &self.cluster,
            id,
            &job.spec.user,
            Some(&before),
            Some(&after),
        );
    }

    /// Adds `job` (replacing one of its id, returned), keeping the
    /// indexes of jobs right.
    fn put_job(&mut self, job: Job) -> Option<Arc<Job>> {
        let id = job.id;
        let old = self.jobs.insert(id, job);
        if let Some(old) = &old {
            let before = Place::of(&self.cluster, old);
            (self.index).change(&self.cluster, id, &old.spec.user, Some(&before), None);
        }
        if let Some(job) = self.jobs.get(&id) {
            let after = Place::of(&self.cluster, job);
            (self.index).change(&self.cluster, id, &job.spec.user, None, Some(&after));
        }
        old
    }

    /// Drops job `id`, keeping the indexes of jobs right.
    pub(super) fn drop_job(&mut self, id: u32) {
        if let Some(old) = self.jobs.remove(&id) {
            let before = Place::of(&self.cluster, &old);
            (self.index).change(&self.cluster, id, &old.spec.user, Some(&before), None);
        }
    }

    /// The jobs that hold hosts.
    pub fn allocated_jobs(&self) -> impl Iterator<Item = &Job> {
        (self.index.allocated.iter()).filter_map(|id| self.jobs.get(id))
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
        self.reasons.forget(d.id);
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
        let env = self.env_pool.intern(env);
        self.spec_with_env(user, uid, queue, time, request, env)
    }

    /// [`State::spec`] with its environment already pooled.
    pub(super) fn spec_with_env(
        &mut self,
        user: &str,
        uid: u32,
        queue: &str,
        time: u64,
        request: &SubmitRequest,
        env: crate::env_pool::Env,
    ) -> Spec {
        let dep = (!request.dependency.is_empty())
            .then(|| Dep::parse(&request.dependency).ok())
            .flatten();
        let machines = self.cluster.expand_hosts(&request.machines).ok();
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
            env,
            dep,
        }
    }

    /// A submission; `env` is its environment, pooled.
    fn apply_submitted(&mut self, s: &Submitted, env: crate::env_pool::Env) {
        let spec = self.spec_with_env(&s.user, s.uid, &s.queue, s.time, &s.request, env);
        let spec = Arc::new(spec);
        let array = s.request.is_array();
        let state = if s.request.hold {
            JobState::Held
        } else {
            JobState::Pend
        };
        let mut id = s.first_id;
        for index in s.request.indices() {
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
            self.put_job(job);
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

    fn apply_spec_of_env(&mut self, i: &SpecOfEnv) {
        let env = match self.snapshot_envs.get(&i.env_id) {
            Some(env) => Arc::clone(env),
            None => {
                log::warn!(
                    "specification {} names unknown environment {}: its jobs run without one",
                    i.spec_id,
                    i.env_id
                );
                self.env_pool.intern(&[])
            }
        };
        let spec = self.spec_with_env(&i.user, i.uid, &i.queue, i.submit_time, &i.request, env);
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
        self.put_job(job);
        self.next_id = self.next_id.max(id + 1);
    }

    fn apply_checkpoint(&mut self, c: &Checkpoint) {
        // A new snapshot: its specifications count from 0 again.
        self.snapshot_specs.clear();
        self.snapshot_envs.clear();
        self.next_id = self.next_id.max(c.next_id);
        for (i, q) in self.cluster.queues.iter().enumerate() {
            self.queue_open[i] = !c.closed_queues.contains(&q.name);
        }
        for (i, h) in self.cluster.hosts.iter().enumerate() {
            self.host_open[i] = !c.closed_hosts.contains(&h.name);
        }
    }

    pub(super) fn alloc_records(&self, alloc: &[Alloc]) -> Vec<AllocRecord> {
        (alloc.iter())
            .map(|a| AllocRecord {
                host: self.cluster.hosts[a.host].name.clone(),
                cpus: a.cpus,
                gpus: a.gpus.clone(),
            })
            .collect()
    }
}
