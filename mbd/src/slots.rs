//! Job slot limits, LSF's: per queue (`QJOB_LIMIT` in all, `UJOB_LIMIT`
//! per user, `HJOB_LIMIT` per host, `PJOB_LIMIT` per CPU of a host), per
//! host (`MXJ`, `JL/U` in llb.hosts) and per user or user group
//! (`MAX_JOBS` in llb.users). A slot is one CPU of one host; running and
//! suspended jobs hold theirs. The scheduler counts what is held, asks
//! before it places a job, and counts each job it places. Only what some
//! configured limit reads is counted: a cluster without limits pays
//! nothing per job or host (a pass at 5,000 hosts spent over half its
//! time hashing counts no limit read).

use crate::job::{Alloc, Job, PendReason};
use crate::state::State;
use crate::Cluster;
use std::collections::HashMap;

/// The slots held, by each thing a limit counts.
pub struct SlotUse<'a> {
    cluster: &'a Cluster,
    counted: Counted,
    queue: HashMap<usize, u32>,
    queue_user: HashMap<(usize, &'a str), u32>,
    queue_host: HashMap<(usize, usize), u32>,
    host: HashMap<usize, u32>,
    host_user: HashMap<(usize, &'a str), u32>,
    user: HashMap<&'a str, u32>,
    group: HashMap<&'a str, u32>,
}

/// Which counts some limit reads; the others are not kept.
#[derive(Clone, Copy, Debug)]
struct Counted {
    queue: bool,
    queue_user: bool,
    queue_host: bool,
    host: bool,
    host_user: bool,
    users: bool,
}

impl Counted {
    fn of(c: &Cluster) -> Counted {
        let queues = |f: fn(&conf::QueueLimits) -> bool| c.queues.iter().any(|q| f(&q.limits));
        Counted {
            queue: queues(|l| l.total.is_some()),
            queue_user: queues(|l| l.per_user.is_some()),
            queue_host: queues(|l| l.per_host.is_some() || l.per_processor.is_some()),
            host: c.hosts.iter().any(|h| h.max_slots.is_some()),
            host_user: c.hosts.iter().any(|h| h.user_slots.is_some()),
            users: !c.users.is_empty(),
        }
    }
}

/// `used + more` within `limit` (`None`: no limit).
fn within(used: Option<&u32>, more: u32, limit: Option<u32>) -> bool {
    limit.is_none_or(|max| used.copied().unwrap_or(0) + more <= max)
}

impl<'a> SlotUse<'a> {
    /// What the jobs holding hosts in `state` use.
    /// Nothing counted yet; the caller adds the running jobs.
    pub fn new(state: &'a State) -> SlotUse<'a> {
        SlotUse {
            cluster: state.cluster(),
            counted: Counted::of(state.cluster()),
            queue: HashMap::new(),
            queue_user: HashMap::new(),
            queue_host: HashMap::new(),
            host: HashMap::new(),
            host_user: HashMap::new(),
            user: HashMap::new(),
            group: HashMap::new(),
        }
    }

    /// Counts `job` holding `alloc`.
    pub fn add(&mut self, job: &'a Job, alloc: &[Alloc]) {
        let user = job.spec.user.as_str();
        let queue = job.spec.shape.queue_pos;
        let slots: u32 = alloc.iter().map(|a| a.cpus).sum();
        let c = self.counted;
        if c.users {
            *self.user.entry(user).or_default() += slots;
            for (group, _) in self.cluster.users.totals_of(user) {
                *self.group.entry(group).or_default() += slots;
            }
        }
        if let Some(q) = queue {
            if c.queue {
                *self.queue.entry(q).or_default() += slots;
            }
            if c.queue_user {
                *self.queue_user.entry((q, user)).or_default() += slots;
            }
        }
        for a in alloc {
            if c.host {
                *self.host.entry(a.host).or_default() += a.cpus;
            }
            if c.host_user {
                *self.host_user.entry((a.host, user)).or_default() += a.cpus;
            }
            if let (Some(q), true) = (queue, c.queue_host) {
                *self.queue_host.entry((q, a.host)).or_default() += a.cpus;
            }
        }
    }

    /// The limits that hold `job` back wherever it would go.
    pub fn admits(&self, job: &Job) -> Result<(), PendReason> {
        let r = &job.spec.request;
        let hosts = r.machines.len().max(r.nhosts.max(1) as usize) as u32;
        let slots = r.cpus.max(1) * hosts;
        let user = job.spec.user.as_str();
        let users = &self.cluster.users;
        if let Some(q) = job.spec.shape.queue_pos {
            let limits = &self.cluster.queues[q].limits;
            if !within(self.queue.get(&q), slots, limits.total) {
                return Err(PendReason::QueueSlots);
            }
            if !within(self.queue_user.get(&(q, user)), slots, limits.per_user) {
                return Err(PendReason::QueueUserSlots);
            }
        }
        if !within(self.user.get(user), slots, users.own(user)) {
            return Err(PendReason::UserSlots);
        }
        let mut groups = users.totals_of(user);
        if groups.any(|(g, max)| !within(self.group.get(g), slots, Some(max))) {
            return Err(PendReason::GroupSlots);
        }
        Ok(())
    }

    /// Whether host `h` has room for `cpus` more of `job`'s slots.
    pub fn host_admits(&self, job: &Job, h: usize, cpus: u32) -> bool {
        let c = self.counted;
        let host = &self.cluster.hosts[h];
        let user = job.spec.user.as_str();
        let host_ok = !c.host || within(self.host.get(&h), cpus, host.max_slots);
        let host_user_ok =
            !c.host_user || within(self.host_user.get(&(h, user)), cpus, host.user_slots);
        let queue_ok = !c.queue_host
            || job.spec.shape.queue_pos.is_none_or(|q| {
                let limits = &self.cluster.queues[q].limits;
                let used = self.queue_host.get(&(q, h));
                within(used, cpus, limits.per_host)
                    && within(used, cpus, limits.processor_slots(host.cpus))
            });
        host_ok && host_user_ok && queue_ok
    }
}
