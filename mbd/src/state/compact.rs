//! Compaction: forgetting old finished jobs and the changes that rebuild
//! what is left as the first records of a fresh log.

use super::{Jobs, State};
use crate::change::{AllocRecord, Change, Checkpoint, Controlled, EnvImage, JobOfSpec, SpecOfEnv};
use crate::env_pool;
use crate::job::{Alloc, Spec};
use std::collections::HashMap;
use std::sync::Arc;

impl State {
    /// The finished jobs `compact(keep)` forgets, oldest first, with
    /// their array ids: what the archive it leaves behind is the last
    /// record of.
    pub fn droppable(&self, keep: usize) -> Vec<(u32, u32)> {
        let drop = self.finished().saturating_sub(keep);
        (self.finished_jobs())
            .take(drop)
            .map(|j| (j.id, j.array_id))
            .collect()
    }

    /// Forgets all but the newest `keep` finished jobs and returns the
    /// changes that rebuild what is left: the first records of a fresh log.
    pub fn compact(&mut self, keep: usize) -> Vec<Change> {
        self.forget_finished(keep);
        self.frozen().snapshot().collect()
    }

    /// Forgets all but the newest `keep` finished jobs.
    pub fn forget_finished(&mut self, keep: usize) {
        let dropped = self.droppable(keep);
        for (id, _) in &dropped {
            self.drop_job(*id);
            self.reasons.forget(*id);
        }
        self.env_pool.sweep();
        self.shapes.sweep();
    }

    /// What the snapshot is made of, taken in one step: the jobs are
    /// shared, not copied (a million in tens of milliseconds), so the
    /// snapshot can be encoded and written while the state goes on.
    pub fn frozen(&self) -> Frozen {
        Frozen {
            jobs: self.jobs.clone(),
            next_id: self.next_id,
            queue_open: self.queue_open.clone(),
            host_open: self.host_open.clone(),
            queue_accepting: self.queue_accepting.clone(),
            queue_names: self.cluster.queues.iter().map(|q| q.name.clone()).collect(),
            host_names: self.cluster.hosts.iter().map(|h| h.name.clone()).collect(),
        }
    }
}

/// The state as [`State::frozen`] took it: what compaction writes.
pub struct Frozen {
    jobs: Jobs,
    next_id: u32,
    queue_open: Vec<bool>,
    host_open: Vec<bool>,
    queue_accepting: Vec<bool>,
    queue_names: Vec<String>,
    host_names: Vec<String>,
}

impl Frozen {
    /// The changes that rebuild the state as it was frozen, made one at a
    /// time as they are taken (a snapshot of a million jobs is written as
    /// it is made, never held whole).
    pub fn snapshot(&self) -> impl Iterator<Item = Change> + '_ {
        let closed = |open: &[bool], name: &dyn Fn(usize) -> String| -> Vec<String> {
            (open.iter().enumerate())
                .filter(|(_, o)| !**o)
                .map(|(i, _)| name(i))
                .collect()
        };
        let checkpoint = Change::Checkpoint(Checkpoint {
            next_id: self.next_id,
            closed_queues: closed(&self.queue_open, &|i| self.queue_names[i].clone()),
            closed_hosts: closed(&self.host_open, &|i| self.host_names[i].clone()),
        });
        // Not in the checkpoint: a log an older mbd wrote has none.
        let not_accepting = closed(&self.queue_accepting, &|i| self.queue_names[i].clone())
            .into_iter()
            .map(|name| {
                Change::QueueAccepting(Controlled {
                    name,
                    open: false,
                    time: 0,
                })
            });
        // Each environment once, before the first specification of it;
        // each specification once, before the first job of it: an array's
        // elements (or any jobs sharing one) cost a few bytes each.
        let mut env_ids: HashMap<*const (), u32> = HashMap::new();
        let mut spec_ids: HashMap<*const Spec, u32> = HashMap::new();
        let jobs = self.jobs.values().flat_map(move |j| {
            let mut images = Vec::new();
            let next = spec_ids.len() as u32;
            let spec_id = *spec_ids.entry(Arc::as_ptr(&j.spec)).or_insert_with(|| {
                let next_env = env_ids.len() as u32;
                let env_ptr = Arc::as_ptr(&j.spec.env) as *const ();
                let env_id = *env_ids.entry(env_ptr).or_insert_with(|| {
                    images.push(Change::EnvImage(EnvImage {
                        env_id: next_env,
                        vars: env_pool::to_strings(&j.spec.env),
                    }));
                    next_env
                });
                images.push(Change::SpecOfEnv(Box::new(SpecOfEnv {
                    spec_id: next,
                    env_id,
                    user: j.spec.user.clone(),
                    uid: j.spec.uid,
                    queue: j.spec.queue.clone(),
                    submit_time: j.spec.submit_time,
                    request: j.spec.request.clone(),
                })));
                next
            });
            let job = Change::JobOfSpec(Box::new(JobOfSpec {
                id: j.id,
                array_id: j.array_id,
                index: j.index,
                spec_id,
                priority: j.priority,
                state: j.state,
                events: j.events.clone(),
                attempt: j.attempt,
                pid: j.pid,
                allocs: alloc_records(&self.host_names, j.hosts_shown()),
            }));
            images.push(job);
            images
        });
        std::iter::once(checkpoint).chain(not_accepting).chain(jobs)
    }
}

/// `alloc` as the log names its hosts.
pub(super) fn alloc_records(host_names: &[String], alloc: &[Alloc]) -> Vec<AllocRecord> {
    (alloc.iter())
        .map(|a| AllocRecord {
            host: host_names[a.host].clone(),
            cpus: a.cpus,
            gpus: a.gpus.clone(),
        })
        .collect()
}
