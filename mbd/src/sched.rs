//! The scheduler: a pure function of (jobs, hosts, now) that says which
//! pending jobs start where, and why the others wait.
//!
//! Order: queue PRIORITY (high first), then job priority (high first),
//! then job id (submit order). A job that cannot start does not block
//! later ones. Among hosts that fit, the least loaded (lim's r1m per CPU)
//! is taken, then the one listed first in llb.hosts.

mod place;

pub use crate::cluster::HostStatus;
use crate::fairshare::FairShare;
pub use crate::job::PendReason;
use crate::job::{Alloc, Job};
use crate::reasons::Reasons;
use crate::shape::Shape;
use crate::slots::SlotUse;
use crate::state::State;
use place::{fits, place, take, Placer};
use proto::mbd::JobState;
use std::collections::HashMap;
use std::sync::Arc;

/// What the next scheduling pass must look at, from what changed since
/// the last one.
///
/// Between passes a pending job can only become placeable if capacity
/// grew (a job ended, a host or queue opened, an sbd came back, lim's
/// view changed), a dependency or `--begin` time came due (the timer) or
/// the job is new. When only new jobs arrived, the jobs the last pass
/// could not place still cannot be placed — capacity only shrank since —
/// so a pass over the new ones gives the same plan as a full pass, at
/// the cost of the submission instead of the whole backlog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Replan {
    #[default]
    Nothing,
    /// Only these jobs were submitted.
    New(Vec<u32>),
    All,
}

impl Replan {
    pub fn all(&mut self) {
        *self = Replan::All;
    }

    pub fn new_jobs(&mut self, ids: impl Iterator<Item = u32>) {
        match self {
            Replan::Nothing => *self = Replan::New(ids.collect()),
            Replan::New(known) => known.extend(ids),
            Replan::All => {}
        }
    }
}

/// The outcome of one scheduling pass.
#[derive(Debug, Default)]
pub struct Plan {
    /// Jobs that can start now, in dispatch order, with their hosts.
    pub starts: Vec<(u32, Vec<Alloc>)>,
    /// Why the other PEND jobs wait.
    pub reasons: Reasons,
    /// Running jobs to suspend so that `starts` fit (preemption).
    pub preempt: Vec<u32>,
    /// Preempted jobs whose CPUs are free again: resume them.
    pub resume: Vec<u32>,
}

/// What is left on one host.
#[derive(Clone, Debug)]
struct Free {
    usable: bool,
    load: f64,
    cpus: u32,
    mem_mb: u64,
    storage_mb: u64,
    gpus: Vec<u32>,
    jobs: u32,
    exclusive: bool,
}

/// Jobs a pass still looks at once no CPU is left anywhere (see `plan`).
pub(crate) const LOOKED_AT_WHEN_FULL: usize = 1000;

/// Plans one pass over `state`'s pending jobs (`New`: only those).
pub fn plan(state: &State, status: &[HostStatus], now: u64, scope: &Replan) -> Plan {
    let cluster = state.cluster();
    let Held {
        mut free,
        mut tokens,
        mut array_running,
        mut slots,
        preempted,
        running_on,
    } = Held::of(state, status);
    let mut plan = Plan {
        starts: Vec::new(),
        reasons: Reasons::new(now),
        preempt: Vec::new(),
        resume: Vec::new(),
    };
    // The last refusal since capacity was last taken: alike jobs are next
    // to each other in scheduling order (an array's elements, a script's
    // bsubs), so a backlog of them costs one placement attempt. By shape,
    // and by user too when the reason may be the user's own (JL/U:
    // another user's alike job may fit).
    let mut refused: Option<(&Arc<Shape>, Option<&str>, PendReason)> = None;
    // Only a full pass can find CPUs freed (a pass over new jobs follows
    // submissions alone).
    if *scope == Replan::All {
        plan.resume = resume(state, preempted, &mut free, &mut slots);
    }
    // A full pass takes waiting jobs in order as it goes, and ends once
    // no CPU is left on any host (none can start then: every job needs
    // one) and it has looked at `LOOKED_AT_WHEN_FULL` more jobs (their own
    // reasons, an array's limit say, are worth telling) — but not while
    // jobs of a queue that may preempt can still come up (CPUs can be
    // freed for them): the order takes queues by priority, so once a turn
    // is below the lowest such queue none is left. Not when no host is
    // usable at all: each job's own reason says more then (its queue
    // closed, its hosts down).
    let listed = match scope {
        Replan::All => None,
        _ => Some(pending(state, scope)),
    };
    let turns: Box<dyn Iterator<Item = &Job>> = match &listed {
        None => Box::new(state.waiting_jobs().filter(|j| j.state == JobState::Pend)),
        Some(jobs) => Box::new(jobs.iter().copied()),
    };
    let lowest_preemptor = (cluster.queues.iter())
        .filter(|q| !q.preempts.is_empty())
        .map(|q| q.priority)
        .min();
    let queue_priority = |job: &Job| {
        let queue = job.spec.shape.queue_pos.and_then(|q| cluster.queues.get(q));
        queue.map_or(i32::MIN, |q| q.priority)
    };
    let any_usable = free.iter().any(|f| f.usable);
    let mut free_cpus: u64 = (free.iter().filter(|f| f.usable))
        .map(|f| u64::from(f.cpus))
        .sum();
    let mut fairshare = FairShare::new(state, now, cluster.fairshare, listed.as_deref());
    let mut placer = Placer::default();
    let mut looked_at_when_full = 0;
    for turn in turns {
        let past_preemptors = lowest_preemptor.is_none_or(|p| queue_priority(turn) < p);
        if any_usable && past_preemptors && free_cpus == 0 {
            if looked_at_when_full == LOOKED_AT_WHEN_FULL {
                plan.reasons.rest(PendReason::Cpus);
                break;
            }
            looked_at_when_full += 1;
        }
        // In a fair-share queue, this turn goes to the account that
        // deserves it most.
        let Some(job) = fairshare.take(turn) else {
            continue;
        };
        let own = ready(state, job, now)
            .and_then(|()| array_running.admits(job))
            .and_then(|()| slots.admits(job));
        if let Err(reason) = own {
            plan.reasons.job(job.id, reason);
            continue;
        }
        let user = job.spec.user.as_str();
        let placed = match refused {
            Some((shape, who, reason))
                if Arc::ptr_eq(shape, &job.spec.shape) && who.is_none_or(|w| w == user) =>
            {
                Err(reason)
            }
            _ => place(state, job, &free, &tokens, &slots, &mut placer).inspect_err(|&reason| {
                let who = (reason == PendReason::HostSlots).then_some(user);
                refused = Some((&job.spec.shape, who, reason));
                plan.reasons.shape(&job.spec.shape, who, reason);
            }),
        };
        // Kept for the shape already, unless preemption finds otherwise.
        let shape_reason = placed.as_ref().err().copied();
        // A job of a preemptive queue short of CPUs: suspend lower jobs,
        // if then it starts (else their CPUs go back).
        let placed = match placed {
            Err(PendReason::Cpus) => {
                match preempt(state, job, &mut free, &running_on, &plan.preempt) {
                    Some((victims, host, before)) => {
                        // The victims' CPUs are free: hosts passed over may fit again.
                        placer.forget_passed();
                        let placed = place(state, job, &free, &tokens, &slots, &mut placer);
                        match placed {
                            Ok(_) => plan.preempt.extend(victims),
                            Err(_) => free[host] = before,
                        }
                        placed
                    }
                    None => Err(PendReason::Cpus),
                }
            }
            other => other,
        };
        match placed {
            Ok(alloc) => {
                let cpus: u64 = alloc.iter().map(|a| u64::from(a.cpus)).sum();
                free_cpus = free_cpus.saturating_sub(cpus);
                take(&mut free, &mut tokens, job, &alloc, cluster);
                array_running.started(job);
                slots.add(job, &alloc);
                fairshare.started(job, alloc.iter().map(|a| a.cpus).sum());
                plan.starts.push((job.id, alloc));
                refused = None;
            }
            Err(reason) if Some(reason) != shape_reason => plan.reasons.job(job.id, reason),
            Err(_) => {}
        }
    }
    plan
}

/// What the running jobs leave free and what they count against limits,
/// gathered in one walk over them: at a million jobs each walk is a cache
/// miss per running job, and a pass used to make four.
struct Held<'a> {
    free: Vec<Free>,
    tokens: Vec<u32>,
    array_running: ArrayRunning,
    slots: SlotUse<'a>,
    preempted: Vec<&'a Job>,
    /// With a preemptive queue: per host, the running jobs on it alone
    /// (what a preemption there may suspend); otherwise empty.
    running_on: Vec<Vec<&'a Job>>,
}

impl<'a> Held<'a> {
    fn of(state: &'a State, status: &[HostStatus]) -> Held<'a> {
        let cluster = state.cluster();
        let may_preempt = cluster.queues.iter().any(|q| !q.preempts.is_empty());
        let mut held = Held {
            free: capacity(state, status),
            tokens: cluster.pools.iter().map(|p| p.available).collect(),
            array_running: ArrayRunning(HashMap::new()),
            slots: SlotUse::new(state),
            preempted: Vec::new(),
            running_on: match may_preempt {
                true => vec![Vec::new(); cluster.hosts.len()],
                false => Vec::new(),
            },
        };
        for job in state.allocated_jobs() {
            if let ([only], JobState::Run) = (job.alloc.as_slice(), job.state) {
                if let Some(on) = held.running_on.get_mut(only.host) {
                    on.push(job);
                }
            }
            take(&mut held.free, &mut held.tokens, job, &job.alloc, cluster);
            held.array_running.started(job);
            // A preempted job's slots are another's until it resumes.
            if job.preempted() {
                held.preempted.push(job);
            } else {
                held.slots.add(job, &job.alloc);
            }
        }
        held
    }
}

/// Running elements of the arrays that limit them (`-J "a[1-9]%2"`).
struct ArrayRunning(HashMap<u32, u32>);

impl ArrayRunning {
    fn limit(job: &Job) -> Option<u32> {
        let limit = job.spec.request.options.max_running;
        (job.array_id != 0 && limit > 0).then_some(limit)
    }

    fn admits(&self, job: &Job) -> Result<(), PendReason> {
        match Self::limit(job) {
            Some(limit) if self.0.get(&job.array_id).copied().unwrap_or(0) >= limit => {
                Err(PendReason::ArrayLimit)
            }
            _ => Ok(()),
        }
    }

    fn started(&mut self, job: &Job) {
        if Self::limit(job).is_some() {
            *self.0.entry(job.array_id).or_default() += 1;
        }
    }
}

/// Preempted jobs whose CPUs are free again, highest queue first: their
/// CPUs are taken back in `free` and `slots`.
fn resume<'a>(
    state: &'a State,
    preempted: Vec<&'a Job>,
    free: &mut [Free],
    slots: &mut SlotUse<'a>,
) -> Vec<u32> {
    let preempted = state.in_order(preempted.into_iter());
    let mut resumed = Vec::new();
    for job in preempted {
        let room = (job.alloc.iter()).all(|a| free.get(a.host).is_some_and(|f| f.cpus >= a.cpus));
        if room {
            for a in &job.alloc {
                free[a.host].cpus -= a.cpus;
            }
            slots.add(job, &job.alloc);
            resumed.push(job.id);
        }
    }
    resumed
}

/// Running jobs of the queues `job`'s queue preempts, on one host, whose
/// CPUs would let `job` (on one host) start there; their CPUs are given
/// to `free`. Lowest queue first, then the newest; none already taken.
/// The victims, the host, and what was free there before.
fn preempt(
    state: &State,
    job: &Job,
    free: &mut [Free],
    running_on: &[Vec<&Job>],
    taken: &[u32],
) -> Option<(Vec<u32>, usize, Free)> {
    let cluster = state.cluster();
    let r = &job.spec.request;
    let q = job.spec.shape.queue_pos?;
    let preempts = &cluster.queues[q].preempts;
    if preempts.is_empty() || r.nhosts > 1 || !r.machines.is_empty() {
        return None;
    }
    let need = r.cpus.max(1);
    for &h in &cluster.queues[q].hosts {
        if !free[h].usable {
            continue;
        }
        let on_h = running_on.get(h).into_iter().flatten().copied();
        let mut victims: Vec<&Job> = on_h
            .filter(|v| {
                v.spec
                    .shape
                    .queue_pos
                    .is_some_and(|vq| preempts.contains(&vq))
            })
            .filter(|v| !taken.contains(&v.id))
            .collect();
        let rank = |v: &Job| {
            v.spec
                .shape
                .queue_pos
                .map_or(i32::MIN, |vq| cluster.queues[vq].priority)
        };
        victims.sort_by_key(|v| (rank(v), std::cmp::Reverse(v.id)));
        let mut room = free[h].clone();
        let mut chosen = Vec::new();
        for v in victims {
            if room.cpus >= need {
                break;
            }
            room.cpus += v.alloc[0].cpus;
            chosen.push(v.id);
        }
        if room.cpus >= need && fits(&job.spec, &cluster.hosts[h], &room).is_ok() {
            let before = std::mem::replace(&mut free[h], room);
            return Some((chosen, h, before));
        }
    }
    None
}

/// What each host has before any job takes its share.
fn capacity(state: &State, status: &[HostStatus]) -> Vec<Free> {
    let cluster = state.cluster();
    (cluster.hosts.iter().enumerate())
        .map(|(i, h)| {
            let s = status.get(i).copied().unwrap_or_default();
            Free {
                usable: s.up && state.host_open(i) && state.sbd_up(i),
                load: s.load,
                cpus: h.cpus,
                mem_mb: h.mem_mb,
                storage_mb: h.storage_mb,
                gpus: h.gpu_ids.clone(),
                jobs: 0,
                exclusive: false,
            }
        })
        .collect()
}

/// The PEND jobs among those `scope` names, in scheduling order.
fn pending<'a>(state: &'a State, scope: &Replan) -> Vec<&'a Job> {
    match scope {
        Replan::New(ids) => state.in_order(
            (ids.iter().filter_map(|id| state.job(*id))).filter(|j| j.state == JobState::Pend),
        ),
        _ => Vec::new(),
    }
}

/// What keeps this job itself from starting, whatever is free.
pub(crate) fn ready(state: &State, job: &Job, now: u64) -> Result<(), PendReason> {
    if job.spec.request.begin > now {
        return Err(PendReason::NotReady);
    }
    match &job.spec.dep {
        Some(dep) if !dep.holds(&|id| state.outcome(id)) => Err(PendReason::Dependency),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::cluster::tests::sample;
    use crate::state::Caller;
    use proto::mbd::{JobRef, SubmitRequest, TokenRequest};

    /// A state whose every host's sbd is connected.
    fn connected(cluster: crate::Cluster) -> State {
        let mut s = State::new(cluster);
        for h in 0..s.cluster().hosts.len() {
            s.set_sbd_up(h, true);
        }
        s
    }

    /// Submits `r` (as an admin) and returns the logged change.
    fn submitted(state: &mut State, r: SubmitRequest) -> Change {
        submitted_by(state, "ann", r)
    }

    /// Submits `r` as `user` (an admin, so any queue takes it).
    fn submitted_by(state: &mut State, user: &str, r: SubmitRequest) -> Change {
        let who = Caller {
            uid: 1,
            gid: 0,
            user: user.into(),
            admin: true,
        };
        let r = SubmitRequest {
            command: "x".into(),
            cpus: r.cpus.max(1),
            nhosts: r.nhosts.max(1),
            ..r
        };
        let change = state.submit(&who, r, 100).unwrap();
        state.apply(&change);
        change
    }

    fn add(state: &mut State, r: SubmitRequest) -> u32 {
        match submitted(state, r) {
            Change::Submitted(s) => s.first_id,
            _ => unreachable!(),
        }
    }

    /// An array `1..=end` of `cpus(n)` jobs.
    fn array_of(end: u32, n: u32) -> SubmitRequest {
        SubmitRequest {
            array: proto::mbd::ArraySpec {
                start: 1,
                end,
                step: 1,
            },
            ..cpus(n)
        }
    }

    fn cpus(n: u32) -> SubmitRequest {
        SubmitRequest {
            cpus: n,
            ..SubmitRequest::default()
        }
    }

    type Starts = Vec<(u32, Vec<&'static str>)>;

    /// Host names per started job, and the reasons.
    fn run(state: &State, status: &[HostStatus]) -> (Starts, Vec<(u32, PendReason)>) {
        let names = ["cpu01", "cpu02", "gpu01"];
        let plan = plan(state, status, 1000, &Replan::All);
        let starts = (plan.starts.iter())
            .map(|(id, alloc)| (*id, alloc.iter().map(|a| names[a.host]).collect()))
            .collect();
        (starts, listed(state, &plan))
    }

    /// The reason `plan` gives every PEND job it does not start, by job id.
    fn listed(state: &State, plan: &Plan) -> Vec<(u32, PendReason)> {
        let started = |id| plan.starts.iter().any(|(s, _)| *s == id);
        (state.jobs())
            .filter(|j| j.state == JobState::Pend && !started(j.id))
            .filter_map(|j| Some((j.id, plan.reasons.of(j)?)))
            .collect()
    }

    fn why(state: &State, plan: &Plan, id: u32) -> Option<PendReason> {
        plan.reasons.of(state.job(id)?)
    }

    #[test]
    fn a_pool_named_twice_in_a_logged_job_is_asked_for_in_sum() {
        // Logged before submissions summed repeated pools: `-T ansys=1 -T
        // ansys=1 -T ansys=1` against a pool of 2 never starts.
        let mut s = State::new(sample());
        let one = TokenRequest {
            pool: "ansys".into(),
            count: 1,
        };
        let Change::Submitted(mut old) = submitted(&mut s, cpus(1)) else {
            unreachable!()
        };
        let mut s = State::new(sample());
        old.request.tokens = vec![one.clone(), one.clone(), one];
        s.apply(&Change::Submitted(old.clone()));
        let (starts, reasons) = run(&s, &[]);
        assert!(starts.is_empty(), "{starts:?}");
        assert_eq!(reasons, [(old.first_id, PendReason::TokensExhausted)]);
    }

    #[test]
    fn jobs_fill_hosts_in_order_until_cpus_run_out() {
        let mut s = connected(sample());
        for _ in 0..5 {
            add(&mut s, cpus(4));
        }
        let (starts, reasons) = run(&s, &[]);
        assert_eq!(
            starts,
            [
                (1, vec!["cpu01"]),
                (2, vec!["cpu02"]),
                (3, vec!["gpu01"]),
                (4, vec!["gpu01"])
            ]
        );
        assert_eq!(reasons, [(5, PendReason::Cpus)]);
    }

    #[test]
    fn a_pass_over_new_jobs_plans_them_as_a_full_pass_would() {
        let mut s = connected(sample());
        for _ in 0..3 {
            add(&mut s, cpus(4));
        }
        let first = plan(&s, &[], 1000, &Replan::All);
        for change in s.dispatch(&first.starts, 1000) {
            s.apply(&change);
        }
        // gpu01 has 4 CPUs left; a backlog of alike 8-CPU jobs waits.
        let backlog: Vec<u32> = (0..50).map(|_| add(&mut s, cpus(8))).collect();
        let full = plan(&s, &[], 1000, &Replan::All);
        assert!(full.starts.is_empty());
        assert!(backlog
            .iter()
            .all(|&id| why(&s, &full, id) == Some(PendReason::Cpus)));
        assert_eq!(full.reasons.kept(), (0, 1), "one reason for the backlog");
        let new = vec![
            add(&mut s, cpus(2)),
            add(&mut s, cpus(8)),
            add(&mut s, cpus(2)),
        ];
        let only_new = plan(&s, &[], 1000, &Replan::New(new.clone()));
        let full = plan(&s, &[], 1000, &Replan::All);
        assert_eq!(only_new.starts, full.starts);
        assert_eq!(only_new.starts.len(), 2, "both 2-CPU jobs fit on gpu01");
        assert_eq!(why(&s, &only_new, new[1]), Some(PendReason::Cpus));
        assert_eq!(why(&s, &only_new, new[1]), why(&s, &full, new[1]));
    }

    /// The sample cluster where `short` may suspend `normal`'s jobs.
    fn short_preempts_normal() -> crate::Cluster {
        let mut cluster = sample();
        let normal = cluster.queue("normal").unwrap();
        let short = cluster.queue("short").unwrap();
        cluster.queues[short].preempts = vec![normal];
        cluster
    }

    /// Every CPU of `s` taken (by the returned jobs), and a backlog: more
    /// 1-CPU jobs than a full pass looks at, then 2-CPU ones.
    fn full_with_backlog(s: &mut State) -> Vec<u32> {
        let running: Vec<u32> = (0..4).map(|_| add(s, cpus(4))).collect();
        let first = plan(s, &[], 1000, &Replan::All);
        for change in s.dispatch(&first.starts, 1000) {
            s.apply(&change);
        }
        for _ in 0..LOOKED_AT_WHEN_FULL {
            add(s, cpus(1));
        }
        for _ in 0..5 {
            add(s, cpus(2));
        }
        running
    }

    #[test]
    fn a_full_pass_ends_once_no_cpu_is_left_and_listings_still_say_why() {
        let mut s = connected(sample());
        // And, last, a job waiting for a running job's end.
        let running = full_with_backlog(&mut s);
        let dependent = add(
            &mut s,
            SubmitRequest {
                dependency: format!("done({})", running[0]),
                ..cpus(1)
            },
        );
        let full = plan(&s, &[], 1000, &Replan::All);
        assert!(full.starts.is_empty());
        assert_eq!(full.reasons.kept(), (0, 1), "the 2-CPU jobs were not tried");
        s.set_reasons(full.reasons);
        let who = crate::state::tests::ann();
        let all = proto::mbd::JobsRequest {
            pend: true,
            ..Default::default()
        };
        let rows: Vec<_> = s.job_rows(&who, &all).unwrap().collect();
        assert_eq!(rows.len(), LOOKED_AT_WHEN_FULL + 6);
        for row in rows {
            let expected = match row.id == dependent {
                true => PendReason::Dependency,
                false => PendReason::Cpus,
            };
            assert_eq!(row.pend_reason, expected.as_str(), "job {}", row.id);
        }
    }

    #[test]
    fn a_full_pass_below_every_preemptive_queue_ends_early_too() {
        let mut s = connected(short_preempts_normal());
        // Full; `short` could free CPUs for its jobs, but none waits:
        // `normal`'s backlog is looked at as if nothing preempted.
        full_with_backlog(&mut s);
        let full = plan(&s, &[], 1000, &Replan::All);
        assert!(full.starts.is_empty() && full.preempt.is_empty());
        assert_eq!(full.reasons.kept(), (0, 1), "the 2-CPU jobs were not tried");
    }

    #[test]
    fn array_elements_fill_hosts_then_all_wait_for_the_same_reason() {
        let mut s = connected(sample());
        let first = add(&mut s, array_of(7, 4));
        let (starts, reasons) = run(&s, &[]);
        let placed: Vec<u32> = starts.iter().map(|(id, _)| *id).collect();
        assert_eq!(placed, (first..first + 4).collect::<Vec<_>>());
        assert_eq!(
            reasons,
            [
                (first + 4, PendReason::Cpus),
                (first + 5, PendReason::Cpus),
                (first + 6, PendReason::Cpus)
            ]
        );
    }

    #[test]
    fn an_array_runs_at_most_its_limit_of_elements_at_once() {
        let mut s = connected(sample());
        let mut limited = array_of(5, 1);
        limited.options.max_running = 2;
        let first = add(&mut s, limited);
        let plan1 = plan(&s, &[], 1000, &Replan::All);
        let placed: Vec<u32> = plan1.starts.iter().map(|(id, _)| *id).collect();
        assert_eq!(placed, [first, first + 1]);
        assert_eq!(why(&s, &plan1, first + 2), Some(PendReason::ArrayLimit));
        // Running elements count in the next pass too.
        for change in s.dispatch(&plan1.starts, 1000) {
            s.apply(&change);
        }
        let plan2 = plan(&s, &[], 1001, &Replan::All);
        assert!(plan2.starts.is_empty());
        assert_eq!(listed(&s, &plan2).len(), 3);
    }

    /// Job ids of `user`'s submissions of `r`, `n` times.
    fn add_as(state: &mut State, user: &str, n: usize, r: SubmitRequest) -> Vec<u32> {
        (0..n)
            .map(|_| match submitted_by(state, user, r.clone()) {
                Change::Submitted(s) => s.first_id,
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn queue_slot_limits_hold_back_one_user_not_another() {
        let mut cluster = sample();
        let normal = cluster.queue("normal").unwrap();
        cluster.queues[normal].limits.per_user = Some(2);
        let mut s = connected(cluster);
        let ann = add_as(&mut s, "ann", 3, cpus(1));
        let bob = add_as(&mut s, "bob", 1, cpus(1));
        let (starts, reasons) = run(&s, &[]);
        let started: Vec<u32> = starts.iter().map(|(id, _)| *id).collect();
        assert_eq!(started, [ann[0], ann[1], bob[0]]);
        assert_eq!(reasons, [(ann[2], PendReason::QueueUserSlots)]);

        let mut cluster = sample();
        cluster.queues[normal].limits.total = Some(3);
        let mut s = connected(cluster);
        let jobs = add_as(&mut s, "ann", 2, cpus(2));
        let (_, reasons) = run(&s, &[]);
        assert_eq!(reasons, [(jobs[1], PendReason::QueueSlots)], "2 + 2 > 3");
    }

    #[test]
    fn host_slot_limits_send_jobs_elsewhere_then_hold_them() {
        let mut cluster = sample();
        for h in &mut cluster.hosts {
            h.max_slots = Some(1);
        }
        let mut s = connected(cluster);
        let jobs = add_as(&mut s, "ann", 4, cpus(1));
        let (starts, reasons) = run(&s, &[]);
        let hosts: Vec<&str> = starts.iter().flat_map(|(_, h)| h.clone()).collect();
        assert_eq!(hosts, ["cpu01", "cpu02", "gpu01"], "one slot each");
        assert_eq!(reasons, [(jobs[3], PendReason::HostSlots)]);

        // JL/U: a user's fourth job waits, another user's starts.
        let mut cluster = sample();
        for h in &mut cluster.hosts {
            h.user_slots = Some(1);
        }
        let mut s = connected(cluster);
        let ann = add_as(&mut s, "ann", 4, cpus(1));
        let bob = add_as(&mut s, "bob", 1, cpus(1));
        let (starts, reasons) = run(&s, &[]);
        assert_eq!(starts.len(), 4, "three of ann's, one of bob's");
        assert!(starts.iter().any(|(id, _)| *id == bob[0]));
        assert_eq!(reasons, [(ann[3], PendReason::HostSlots)]);
    }

    #[test]
    fn user_and_group_limits_of_llb_users_count_every_queue() {
        let mut cluster = sample();
        cluster.users = conf::UserLimits::parse(
            "Begin UserGroup\nGROUP_NAME GROUP_MEMBER\nteam (bob carl)\nEnd UserGroup\n\
             Begin User\nUSER_NAME MAX_JOBS\nann 1\nteam 2\nEnd User\n",
        )
        .unwrap();
        let mut s = connected(cluster);
        let ann = add_as(&mut s, "ann", 2, cpus(1));
        let bob = add_as(&mut s, "bob", 2, cpus(1));
        let carl = add_as(&mut s, "carl", 1, cpus(1));
        let (starts, reasons) = run(&s, &[]);
        let started: Vec<u32> = starts.iter().map(|(id, _)| *id).collect();
        assert_eq!(started, [ann[0], bob[0], bob[1]]);
        assert_eq!(
            reasons,
            [
                (ann[1], PendReason::UserSlots),
                (carl[0], PendReason::GroupSlots)
            ]
        );
    }

    #[test]
    fn fair_share_hands_out_slots_by_shares_not_by_submission() {
        let mut cluster = sample();
        let normal = cluster.queue("normal").unwrap();
        cluster.queues[normal].fairshare = vec![("ann".into(), 3), ("bob".into(), 1)];
        let mut s = connected(cluster);
        // ann's backlog first: first come, first served would give her all.
        let ann = add_as(&mut s, "ann", 30, cpus(1));
        let bob = add_as(&mut s, "bob", 30, cpus(1));
        let carl = add_as(&mut s, "carl", 1, cpus(1));
        let (starts, _) = run(&s, &[]);
        let count = |ids: &[u32]| starts.iter().filter(|(id, _)| ids.contains(id)).count();
        assert_eq!(starts.len(), 16, "every CPU of the queue's hosts");
        assert_eq!(
            (count(&ann), count(&bob), count(&carl)),
            (12, 4, 0),
            "3:1; no shares, last"
        );
        // Each user's own jobs still go in order.
        let first_of_bob: Vec<u32> = starts
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| bob.contains(id))
            .collect();
        assert_eq!(first_of_bob, bob[..4]);
    }

    #[test]
    fn usage_lowers_a_users_priority() {
        use crate::fairshare::{Factors, Usage};
        let f = Factors::default();
        let idle = Usage::default().priority(2, &f);
        let busy = Usage {
            slots: 4,
            run_hours: 1.0,
            cpu_hours: 2.0,
        }
        .priority(2, &f);
        assert!((idle - 2.0 / 3.0).abs() < 1e-9);
        assert!((busy - 2.0 / (2.0 * 0.7 + 0.7 + 5.0 * 3.0)).abs() < 1e-9);
    }

    #[test]
    fn a_preemptive_queues_job_suspends_lower_jobs_which_resume_after_it() {
        use crate::change::{Ended, StateChanged};
        let mut s = connected(short_preempts_normal());
        let on_cpu01 = SubmitRequest {
            machines: vec!["cpu01".into()],
            ..cpus(1)
        };
        let low = add_as(&mut s, "bob", 4, on_cpu01);
        let first = plan(&s, &[], 1000, &Replan::All);
        for c in s.dispatch(&first.starts, 1000) {
            s.apply(&c);
        }
        let urgent = add_as(
            &mut s,
            "ann",
            1,
            SubmitRequest {
                queue: "short".into(),
                ..cpus(2)
            },
        )[0];
        let p = plan(&s, &[], 1001, &Replan::All);
        assert_eq!(
            p.preempt,
            [low[3], low[2]],
            "the newest lower jobs, enough for 2 CPUs"
        );
        assert_eq!(
            p.starts.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [urgent]
        );
        for &id in &p.preempt {
            s.apply(&Change::StateChanged(StateChanged {
                id,
                time: 1001,
                state: JobState::Susp,
                signal: 19,
                exit_code: crate::job::PREEMPTED,
            }));
        }
        for c in s.dispatch(&p.starts, 1001) {
            s.apply(&c);
        }
        assert!(s.job(low[3]).unwrap().preempted());
        // Nothing more to preempt or resume while it runs.
        let busy = plan(&s, &[], 1002, &Replan::All);
        assert!(busy.preempt.is_empty() && busy.resume.is_empty());
        s.apply(&Change::Ended(Ended {
            id: urgent,
            attempt: 1,
            time: 1003,
            exit_code: 0,
            signal: 0,
            usage: Default::default(),
            note: String::new(),
        }));
        let after = plan(&s, &[], 1004, &Replan::All);
        assert_eq!(after.resume, [low[2], low[3]]);
    }

    #[test]
    fn what_changed_decides_the_next_pass() {
        let mut r = Replan::default();
        assert_eq!(r, Replan::Nothing);
        r.new_jobs(1..3);
        r.new_jobs(7..8);
        assert_eq!(r, Replan::New(vec![1, 2, 7]));
        r.all();
        r.new_jobs(9..10);
        assert_eq!(r, Replan::All, "a full pass covers new jobs too");
    }

    #[test]
    fn the_least_loaded_host_wins_and_down_hosts_are_skipped() {
        let mut s = connected(sample());
        add(&mut s, cpus(1));
        add(
            &mut s,
            SubmitRequest {
                nhosts: 3,
                ..cpus(1)
            },
        );
        let busy = HostStatus {
            up: true,
            load: 2.0,
        };
        let idle = HostStatus {
            up: true,
            load: 0.1,
        };
        let down = HostStatus {
            up: false,
            load: 0.0,
        };
        let (starts, reasons) = run(&s, &[busy, idle, down]);
        assert_eq!(starts, [(1, vec!["cpu02"])]);
        assert_eq!(reasons, [(2, PendReason::NoEligibleHosts)]);
    }

    #[test]
    fn each_resource_gives_its_own_pend_reason() {
        let mut s = connected(sample());
        let mem = add(
            &mut s,
            SubmitRequest {
                mem_mb: 64 * 1024,
                ..cpus(1)
            },
        );
        let model = add(
            &mut s,
            SubmitRequest {
                gpus: 1,
                gpu_model: "H100".into(),
                ..cpus(1)
            },
        );
        let gpus = add(&mut s, SubmitRequest { gpus: 3, ..cpus(1) });
        let storage = add(
            &mut s,
            SubmitRequest {
                storage_mb: 10 << 20,
                ..cpus(1)
            },
        );
        let tokens = vec![TokenRequest {
            pool: "ansys".into(),
            count: 3,
        }];
        let pool = add(&mut s, SubmitRequest { tokens, ..cpus(1) });
        let machines = vec!["gpu01".into()];
        let gpu = add(
            &mut s,
            SubmitRequest {
                gpus: 2,
                gpu_model: "A100".into(),
                exclusive: true,
                machines,
                ..cpus(1)
            },
        );
        let after = add(
            &mut s,
            SubmitRequest {
                machines: vec!["gpu01".into()],
                ..cpus(1)
            },
        );
        let (starts, reasons) = run(&s, &[]);
        assert_eq!(starts, [(gpu, vec!["gpu01"])]);
        assert_eq!(
            reasons,
            [
                (mem, PendReason::Mem),
                (model, PendReason::GpuModel),
                (gpus, PendReason::Gpus),
                (storage, PendReason::Storage),
                (pool, PendReason::TokensExhausted),
                (after, PendReason::Exclusive),
            ]
        );
    }

    #[test]
    fn a_job_naming_a_host_removed_since_pends_and_never_runs_elsewhere() {
        let mut s = connected(sample());
        let names = |n: &[&str]| n.iter().map(|h| h.to_string()).collect();
        let requests = [names(&["gpu01"]), names(&["cpu01", "gpu01"]), vec![]];
        let log: Vec<Change> = (requests.into_iter())
            .map(|machines| {
                submitted(
                    &mut s,
                    SubmitRequest {
                        machines,
                        ..cpus(1)
                    },
                )
            })
            .collect();
        // mbd restarts after gpu01 was taken out of llb.hosts.
        let mut restarted = connected(crate::cluster::tests::sample_without_gpu01());
        log.iter().for_each(|c| restarted.apply(c));
        assert_eq!(restarted.stranded(), [1, 2]);
        let (starts, reasons) = run(&restarted, &[]);
        assert_eq!(starts, [(3, vec!["cpu01"])]);
        assert_eq!(
            reasons,
            [
                (1, PendReason::NoEligibleHosts),
                (2, PendReason::NoEligibleHosts)
            ]
        );
    }

    #[test]
    fn time_dependencies_closed_queues_and_holds_keep_jobs_pending() {
        let mut s = connected(sample());
        let first = add(
            &mut s,
            SubmitRequest {
                hold: true,
                ..cpus(1)
            },
        );
        let later = add(
            &mut s,
            SubmitRequest {
                begin: 5000,
                ..cpus(1)
            },
        );
        let dependent = add(
            &mut s,
            SubmitRequest {
                dependency: format!("done({first})"),
                ..cpus(1)
            },
        );
        let short = add(
            &mut s,
            SubmitRequest {
                queue: "short".into(),
                ..cpus(1)
            },
        );
        let who = Caller {
            uid: 0,
            gid: 0,
            user: "root".into(),
            admin: true,
        };
        let close = proto::mbd::Control {
            name: "short".into(),
            open: false,
        };
        let change = s.control_queue(&who, &close, 1).unwrap();
        s.apply(&change);
        let (starts, reasons) = run(&s, &[]);
        assert!(starts.is_empty(), "{starts:?}");
        assert_eq!(
            reasons,
            [
                (later, PendReason::NotReady),
                (dependent, PendReason::Dependency),
                (short, PendReason::QueueClosed)
            ],
            "a HELD job has no reason"
        );
        // The target ends EXIT: done() never holds, the job waits forever.
        let kill = s
            .signal(
                &who,
                JobRef {
                    id: first,
                    index: 0,
                },
                15,
                2,
            )
            .unwrap();
        kill.iter().for_each(|c| s.apply(c));
        assert_eq!(run(&s, &[]).1[1], (dependent, PendReason::Dependency));
    }
}
