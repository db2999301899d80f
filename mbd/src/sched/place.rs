//! Where a job goes: the hosts that fit it, the least loaded first, or
//! why none does.

use super::{Free, PendReason};
use crate::job::{Alloc, Job, Spec};
use crate::shape::Shape;
use crate::slots::SlotUse;
use crate::state::State;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn take(
    free: &mut [Free],
    tokens: &mut [u32],
    job: &Job,
    alloc: &[Alloc],
    c: &crate::Cluster,
) {
    take_hosts(free, job, alloc);
    job.take_tokens(c, tokens);
}

/// What `job` placed as `alloc` takes of its hosts.
pub(super) fn take_hosts(free: &mut [Free], job: &Job, alloc: &[Alloc]) {
    let r = &job.spec.request;
    for a in alloc {
        let Some(f) = free.get_mut(a.host) else {
            continue;
        };
        // A preempted job's CPUs are another's until it resumes.
        if !job.preempted() {
            f.cpus = f.cpus.saturating_sub(a.cpus);
        }
        f.mem_mb = f.mem_mb.saturating_sub(r.mem_mb);
        f.storage_mb = f.storage_mb.saturating_sub(r.storage_mb);
        f.gpus.retain(|g| !a.gpus.contains(g));
        f.jobs += 1;
        f.exclusive |= r.exclusive;
    }
}

/// Each queue's usable hosts in the order jobs take them (least loaded
/// first, then as listed in llb.hosts), and for each shape how many of
/// them, from the front, no longer fit it. Within a pass hosts only lose
/// capacity (a preemption aside: see [`Placer::forget_passed`]), so a host
/// that no longer fits a shape is passed over for good and a backlog of
/// alike jobs costs one look per host, not one per job and host.
#[derive(Default)]
pub(super) struct Placer {
    by_queue: HashMap<usize, Vec<usize>>,
    /// By the shape's address: the jobs borrow their shapes for the pass.
    passed: HashMap<*const Shape, usize>,
}

impl Placer {
    /// Capacity grew on some host (a preemption freed CPUs): look at every
    /// host again.
    pub(super) fn forget_passed(&mut self) {
        self.passed.clear();
    }

    /// The first `need` hosts of `queue` in order that fit `job`, if there
    /// are as many.
    fn first_fitting(
        &mut self,
        state: &State,
        job: &Job,
        queue: usize,
        need: usize,
        free: &[Free],
        slots: &SlotUse<'_>,
    ) -> Option<Vec<usize>> {
        let cluster = state.cluster();
        let order = self.by_queue.entry(queue).or_insert_with(|| {
            let mut usable: Vec<usize> = (cluster.queues[queue].hosts.iter().copied())
                .filter(|&h| free[h].usable)
                .collect();
            // Stable: equal loads keep llb.hosts order.
            usable.sort_by(|a, b| free[*a].load.total_cmp(&free[*b].load));
            usable
        });
        let passed = self.passed.entry(Arc::as_ptr(&job.spec.shape)).or_insert(0);
        let cpus = job.spec.request.cpus.max(1);
        let mut found = Vec::with_capacity(need);
        let mut at_front = true;
        for &h in order.get(*passed..).unwrap_or_default() {
            match fits(&job.spec, &cluster.hosts[h], &free[h]) {
                Err(_) if at_front => *passed += 1,
                Err(_) => {}
                // Another user's job may still go there.
                Ok(()) if !slots.host_admits(job, h, cpus) => at_front = false,
                Ok(()) => {
                    at_front = false;
                    found.push(h);
                    if found.len() == need {
                        return Some(found);
                    }
                }
            }
        }
        None
    }
}

/// Where `job` starts given what is `free`, or why it cannot.
pub(super) fn place(
    state: &State,
    job: &Job,
    free: &[Free],
    tokens: &[u32],
    slots: &SlotUse<'_>,
    placer: &mut Placer,
) -> Result<Vec<Alloc>, PendReason> {
    let spec = &job.spec;
    let r = &spec.request;
    let cluster = state.cluster();
    let queue = spec.shape.queue_pos.ok_or(PendReason::NoEligibleHosts)?;
    if !state.queue_open(queue) {
        return Err(PendReason::QueueClosed);
    }
    // Summed per pool: a job logged before submissions summed a pool
    // named twice must not take it twice over.
    let asked = |pool: &str| {
        (r.tokens.iter().filter(|t| t.pool == pool)).fold(0u32, |n, t| n.saturating_add(t.count))
    };
    let short_of_tokens = (r.tokens.iter()).any(|t| {
        cluster
            .pool(&t.pool)
            .is_none_or(|p| tokens[p] < asked(&t.pool))
    });
    if short_of_tokens {
        return Err(PendReason::TokensExhausted);
    }
    let machines = (spec.shape.machines.as_ref()).ok_or(PendReason::NoEligibleHosts)?;
    let hosts = if machines.is_empty() {
        let need = r.nhosts.max(1) as usize;
        match placer.first_fitting(state, job, queue, need, free, slots) {
            Some(hosts) => hosts,
            // None fits: a look at every host says why.
            None => scan(state, job, &cluster.queues[queue].hosts, need, free, slots)?,
        }
    } else {
        scan(state, job, machines, machines.len(), free, slots)?
    };
    Ok(allocs(job, &hosts, free))
}

/// The first `need` of `candidates` that fit `job`, least loaded first,
/// or the reason that ruled out most of them.
fn scan(
    state: &State,
    job: &Job,
    candidates: &[usize],
    need: usize,
    free: &[Free],
    slots: &SlotUse<'_>,
) -> Result<Vec<usize>, PendReason> {
    let cluster = state.cluster();
    let cpus = job.spec.request.cpus.max(1);
    let usable: Vec<usize> = (candidates.iter().copied())
        .filter(|&h| free[h].usable)
        .collect();
    if usable.len() < need {
        return Err(PendReason::NoEligibleHosts);
    }
    let mut fitting = Vec::new();
    let mut misses: Vec<PendReason> = Vec::new();
    for &h in &usable {
        match fits(&job.spec, &cluster.hosts[h], &free[h]) {
            Ok(()) if !slots.host_admits(job, h, cpus) => misses.push(PendReason::HostSlots),
            Ok(()) => fitting.push(h),
            Err(reason) => misses.push(reason),
        }
    }
    if fitting.len() < need {
        return Err(main_reason(&misses));
    }
    // Stable sort: equal loads keep llb.hosts order.
    fitting.sort_by(|a, b| free[*a].load.total_cmp(&free[*b].load));
    fitting.truncate(need);
    Ok(fitting)
}

/// `job`'s share of each of `hosts`.
fn allocs(job: &Job, hosts: &[usize], free: &[Free]) -> Vec<Alloc> {
    let r = &job.spec.request;
    (hosts.iter())
        .map(|&h| Alloc {
            host: h,
            cpus: r.cpus.max(1),
            gpus: free[h].gpus.iter().take(r.gpus as usize).copied().collect(),
        })
        .collect()
}

pub(super) fn fits(spec: &Spec, host: &conf::BatchHost, free: &Free) -> Result<(), PendReason> {
    let r = &spec.request;
    if !r.gpu_model.is_empty() && host.gpu_model.as_deref() != Some(r.gpu_model.as_str()) {
        return Err(PendReason::GpuModel);
    }
    if free.exclusive || (r.exclusive && free.jobs > 0) {
        return Err(PendReason::Exclusive);
    }
    if free.cpus < r.cpus.max(1) {
        return Err(PendReason::Cpus);
    }
    if free.mem_mb < r.mem_mb {
        return Err(PendReason::Mem);
    }
    if free.storage_mb < r.storage_mb {
        return Err(PendReason::Storage);
    }
    if (free.gpus.len() as u64) < u64::from(r.gpus) {
        return Err(PendReason::Gpus);
    }
    Ok(())
}

/// The reason to show when no host fits: the one that ruled out most
/// hosts (ties: the earlier check). A GPU model nobody has trumps all.
fn main_reason(misses: &[PendReason]) -> PendReason {
    if !misses.is_empty() && misses.iter().all(|m| *m == PendReason::GpuModel) {
        return PendReason::GpuModel;
    }
    let mut counts: Vec<(PendReason, usize)> = Vec::new();
    for m in misses.iter().filter(|m| **m != PendReason::GpuModel) {
        match counts.iter_mut().find(|(r, _)| r == m) {
            Some((_, n)) => *n += 1,
            None => counts.push((*m, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.first().map_or(PendReason::NoEligibleHosts, |c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::{capacity, HostStatus};
    use crate::state::Caller;
    use crate::Cluster;
    use proptest::prelude::*;
    use proto::mbd::SubmitRequest;

    const HOSTS: usize = 10;

    /// Ten hosts of 1 to 8 CPUs, some with a per-user slot limit, in one
    /// queue.
    fn cluster(cpus: &[u32], user_slots: &[bool]) -> Cluster {
        let mut text = String::from("Begin Host\nHOST_NAME CPU MEM STORAGE GPU_MODEL GPU_IDS\n");
        for (h, n) in cpus.iter().enumerate() {
            text.push_str(&format!("h{h} {n} {}G 1T - -\n", 2 * n));
        }
        text.push_str("End Host\n");
        let batch = conf::BatchHosts::parse(&text).unwrap();
        let names: Vec<String> = (0..cpus.len()).map(|h| format!("h{h}")).collect();
        let queues = conf::parse_queues(&format!(
            "Begin Queue\nQUEUE_NAME = normal\nPRIORITY = 30\nHOSTS = {}\nEnd Queue\n",
            names.join(" ")
        ))
        .unwrap();
        let mut cluster = Cluster::new(batch, queues, "normal", |_| Default::default()).unwrap();
        for (host, limited) in cluster.hosts.iter_mut().zip(user_slots) {
            host.user_slots = limited.then_some(2);
        }
        cluster
    }

    /// (cpus, nhosts, mem in GB, exclusive, user)
    type Asked = (u32, u32, u64, bool, usize);

    fn asked() -> impl Strategy<Value = Asked> {
        (
            prop::sample::select(vec![1, 1, 1, 2, 3, 8]),
            prop::sample::select(vec![1, 1, 1, 2]),
            prop::sample::select(vec![0, 0, 1, 4]),
            prop::bool::weighted(0.1),
            0..3usize,
        )
    }

    proptest! {
        /// Whatever the hosts and jobs, each job of a pass goes where a
        /// look at every host would send it, or waits for the same reason.
        #[test]
        fn passing_hosts_over_places_as_a_look_at_every_host_does(
            cpus in prop::collection::vec(prop::sample::select(vec![1u32, 2, 4, 8]), HOSTS),
            loads in prop::collection::vec(prop::sample::select(vec![0.0, 0.0, 0.5, 1.0]), HOSTS),
            user_slots in prop::collection::vec(prop::bool::weighted(0.2), HOSTS),
            jobs in prop::collection::vec(asked(), 1..60),
        ) {
            let mut state = State::new(cluster(&cpus, &user_slots));
            for h in 0..HOSTS {
                state.set_sbd_up(h, true);
            }
            for &(cpus, nhosts, mem_gb, exclusive, user) in &jobs {
                let who = Caller { uid: 1, gid: 0, user: format!("u{user}"), admin: true };
                let r = SubmitRequest {
                    command: "x".into(),
                    cpus,
                    nhosts,
                    mem_mb: mem_gb * 1024,
                    exclusive,
                    ..SubmitRequest::default()
                };
                let change = state.submit(&who, r, 100).unwrap();
                state.apply(&change);
            }
            let status: Vec<HostStatus> = (loads.iter())
                .map(|&load| HostStatus { up: true, load })
                .collect();
            let mut free = capacity(&state, &status);
            let mut tokens = Vec::new();
            let mut slots = SlotUse::new(&state);
            let mut placer = Placer::default();
            let queue_hosts = state.cluster().queues[0].hosts.clone();
            for job in state.waiting_jobs() {
                let need = job.spec.request.nhosts.max(1) as usize;
                let looked = scan(&state, job, &queue_hosts, need, &free, &slots);
                let placed = place(&state, job, &free, &tokens, &slots, &mut placer);
                let placed_hosts = placed.map(|a| a.iter().map(|a| a.host).collect::<Vec<_>>());
                prop_assert_eq!(&placed_hosts, &looked, "job {}", job.id);
                if let Ok(hosts) = looked {
                    let alloc = allocs(job, &hosts, &free);
                    take(&mut free, &mut tokens, job, &alloc, state.cluster());
                    slots.add(job, &alloc);
                }
            }
        }
    }
}
