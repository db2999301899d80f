//! Requests checked against the state and turned into the changes they
//! make (submit, signal, queue and host control), or refused with
//! LavaLite's errno.

use super::{sig, Caller, Refusal, State, MAX_ARRAY};
use crate::change::{Change, Controlled, StateChanged, Submitted};
use crate::depend::Dep;
use crate::job::Job;
use crate::QueueConf;
use proto::mbd::{status, Control, JobRef, JobState, SubmitRequest, TokenRequest, MAX_JOB_NAME};

impl State {
    /// Checks a submission; the change it makes, or why not.
    pub fn submit(
        &self,
        who: &Caller,
        mut request: SubmitRequest,
        now: u64,
    ) -> Result<Change, Refusal> {
        let queue = self.check_submission(who, &mut request, None)?;
        let elements = request.indices().len() as u32;
        if self.next_id.checked_add(elements).is_none() {
            return Err(Refusal::new(status::EINVAL, "job ids exhausted"));
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

    /// What a submission (or a `bmod`'s result) must be: a queue `who`
    /// may use (the default one if none is named), values in range,
    /// hosts, pools and dependencies that exist. Token requests are
    /// summed per pool; a queue closed to submissions (but the one a
    /// modified job is already `in`). The queue, or why not.
    pub(super) fn check_submission(
        &self,
        who: &Caller,
        request: &mut SubmitRequest,
        already_in: Option<&str>,
    ) -> Result<&QueueConf, Refusal> {
        let einval = |m: String| Refusal::new(status::EINVAL, m);
        if request.queue.is_empty() {
            request.queue = self.cluster.default_queue.clone();
        }
        let q = (self.cluster.queue(&request.queue))
            .ok_or_else(|| einval(format!("unknown queue {}", request.queue)))?;
        let queue = &self.cluster.queues[q];
        if already_in != Some(queue.name.as_str()) {
            self.check_accepting(q)?;
        }
        if !who.admin && !queue_admits(queue, &who.user, Some(who.gid)) {
            return Err(Refusal::new(
                status::EPERM,
                format!("user {} may not use queue {}", who.user, queue.name),
            ));
        }
        check_request(request).map_err(einval)?;
        check_run_limit(queue, request.options.run_limit).map_err(einval)?;
        if let Err(name) = self.cluster.expand_hosts(&request.machines) {
            return Err(einval(format!("unknown host or group {name}")));
        }
        if let Some(t) = (request.tokens.iter()).find(|t| self.cluster.pool(&t.pool).is_none()) {
            return Err(einval(format!("unknown token pool {}", t.pool)));
        }
        request.tokens = sum_tokens(&request.tokens).map_err(einval)?;
        if !request.dependency.is_empty() {
            let dep = Dep::parse(&request.dependency)
                .map_err(|_| einval(format!("bad dependency {}", request.dependency)))?;
            if let Some(id) = dep.ids().into_iter().find(|id| !self.jobs.contains_key(id)) {
                return Err(einval(format!("dependency on unknown job {id}")));
            }
        }
        Ok(queue)
    }

    /// The jobs a reference names: `N[i]`, every element of array `N`,
    /// or job `N`.
    pub(super) fn resolve(&self, r: JobRef) -> Result<Vec<&Job>, Refusal> {
        let no_such = || not_found(&show_ref(r));
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
                Err(not_yours(job))
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
            .ok_or_else(|| no_queue(&c.name))?;
        Ok(Change::QueueControlled(controlled(c, now)))
    }

    /// `badmin qopen/qclose`: whether a queue takes submissions.
    pub fn control_accepting(
        &self,
        who: &Caller,
        c: &Control,
        now: u64,
    ) -> Result<Change, Refusal> {
        require_admin(who)?;
        self.cluster
            .queue(&c.name)
            .ok_or_else(|| no_queue(&c.name))?;
        Ok(Change::QueueAccepting(controlled(c, now)))
    }

    /// Refuses a job into queue `q` while it is closed to submissions.
    pub(super) fn check_accepting(&self, q: usize) -> Result<(), Refusal> {
        if self.queue_accepting(q) {
            return Ok(());
        }
        Err(Refusal::new(
            status::EINVAL,
            format!(
                "queue {} is closed to new jobs (badmin qclose; badmin qopen opens it)",
                self.cluster.queues[q].name
            ),
        ))
    }

    pub fn control_host(&self, who: &Caller, c: &Control, now: u64) -> Result<Change, Refusal> {
        require_admin(who)?;
        self.cluster
            .host(&c.name)
            .ok_or_else(|| Refusal::new(status::EINVAL, format!("no host {}", c.name)))?;
        Ok(Change::HostControlled(controlled(c, now)))
    }
}

/// Checks what needs no state: counts, array spec, times, GPU options.
fn check_request(r: &SubmitRequest) -> Result<(), String> {
    if r.command.trim().is_empty() {
        return Err("no command".into());
    }
    check_job_name(&r.name)?;
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
    let list = &r.options.array_indices;
    if !list.is_empty()
        && (a.is_array()
            || list.len() > MAX_ARRAY as usize
            || list[0] == 0
            || list.windows(2).any(|w| w[0] >= w[1]))
    {
        return Err(format!(
            "bad array index list (ascending, positive, at most {MAX_ARRAY} elements)"
        ));
    }
    if r.begin != 0 && r.terminate != 0 && r.begin >= r.terminate {
        return Err("--begin must be before --terminate".into());
    }
    Ok(())
}

/// What a signal does to one job (LavaLite's rules: docs/mbd.md, "Jobs",
/// bkill on pending and running jobs).
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
        JobState::Done | JobState::Exit => einval("Job has already finished"),
        JobState::Pend | JobState::Held => match signal {
            sig::TERM | sig::INT | sig::KILL => Ok(to(JobState::Exit)),
            sig::STOP | sig::TSTP if job.state == JobState::Pend => Ok(to(JobState::Held)),
            sig::CONT if job.state == JobState::Held => Ok(to(JobState::Pend)),
            sig::STOP | sig::TSTP | sig::CONT => Ok(None),
            _ => einval("signal not supported for a pending job"),
        },
        _ if !reachable => Err(Refusal::new(
            status::EAGAIN,
            "its execution host's sbd is not connected; try again once it registers",
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

/// A job reference (`N`, `N[i]`) that names no job mbd knows.
pub(super) fn not_found(job: &str) -> Refusal {
    Refusal::new(status::ESRCH, format!("Job <{job}> is not found"))
}

/// `job` is another user's: the caller may not act on it or see it.
pub(super) fn not_yours(job: &Job) -> Refusal {
    let shown = if job.array_id != 0 {
        show_ref(JobRef {
            id: job.array_id,
            index: job.index,
        })
    } else {
        job.id.to_string()
    };
    Refusal::new(status::EPERM, format!("Job <{shown}> is another user's"))
}

/// A queue name that is not in llb.queues.
pub(super) fn no_queue(name: &str) -> Refusal {
    Refusal::new(status::ESRCH, format!("Queue <{name}> does not exist"))
}

/// Whether `name` may name a job: at most [`MAX_JOB_NAME`] bytes.
pub fn check_job_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_JOB_NAME {
        return Err(format!(
            "job name too long: {} bytes, at most {MAX_JOB_NAME}",
            name.len()
        ));
    }
    Ok(())
}

/// `--tokens` with each pool once: a pool named twice (`-T lic=3 -T
/// lic=3`) asks for the sum, in the order pools were first named.
pub(crate) fn sum_tokens(tokens: &[TokenRequest]) -> Result<Vec<TokenRequest>, String> {
    let mut summed: Vec<TokenRequest> = Vec::with_capacity(tokens.len());
    for t in tokens {
        match summed.iter_mut().find(|s| s.pool == t.pool) {
            Some(s) => {
                s.count = (s.count.checked_add(t.count))
                    .ok_or_else(|| format!("--tokens {}: too many", t.pool))?;
            }
            None => summed.push(t.clone()),
        }
    }
    Ok(summed)
}

/// Whether `user`, of primary group `gid` when known, may have jobs in
/// `queue` (its USERS line).
pub(super) fn queue_admits(queue: &QueueConf, user: &str, gid: Option<u32>) -> bool {
    (queue.users.as_ref()).is_none_or(|users| users.admit(user, gid))
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

/// A `-W` above the queue's `RUNLIMIT` max is refused, as in LSF.
fn check_run_limit(queue: &QueueConf, own: u64) -> Result<(), String> {
    match &queue.run_limit {
        Some(limit) if own > limit.max => Err(format!(
            "run limit of {} min is above queue {}'s RUNLIMIT of {} min",
            own / 60,
            queue.name,
            limit.max / 60
        )),
        _ => Ok(()),
    }
}
