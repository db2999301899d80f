//! The rules between mbd and the execution daemons: dispatching planned
//! jobs, sbd's reports, and reconciling what a (re-)registering sbd runs
//! with what mbd believes runs there (docs/mbd.md, "Execution").

use super::{sig, State};
use crate::change::{Change, Dispatched, Ended, Forked, RequeueAsked, Requeued};
use crate::job::{usage_text, Alloc, Job};
use proto::mbd::{event, JobState};
use proto::sbd::{
    Finished, JobKey, JobStart, Register, Rejected, RunUsage, Started, Usage, PRE_EXEC_RETRY,
};

/// What to do after an sbd registered.
#[derive(Debug, Default, PartialEq)]
pub struct Reconciled {
    pub changes: Vec<Change>,
    /// Jobs whose dispatch sbd never acknowledged: send them again.
    pub resend: Vec<u32>,
    /// Runs sbd holds that mbd does not believe in: kill them.
    pub kill: Vec<JobKey>,
    /// Finish reports to acknowledge once durable.
    pub ack: Vec<JobKey>,
    /// Signals to send again so that sbd's runs are as users' bkills left
    /// them (see `signal_again`).
    pub signal: Vec<(JobKey, u32)>,
}

/// Exit code recorded for a job whose sbd lost it.
pub const LOST_EXIT: i32 = -1;

impl State {
    /// The changes that dispatch `starts` (from `sched::plan`).
    pub fn dispatch(&self, starts: &[(u32, Vec<Alloc>)], now: u64) -> Vec<Change> {
        (starts.iter())
            .filter_map(|(id, alloc)| {
                let job = self.jobs.get(id)?;
                Some(Change::Dispatched(Dispatched {
                    id: *id,
                    attempt: job.attempt + 1,
                    time: now,
                    allocs: self.alloc_records(alloc),
                }))
            })
            .collect()
    }

    /// The running job `id`'s first host and what its sbd needs.
    pub fn job_start(&self, id: u32) -> Option<(usize, JobStart)> {
        let job = self.jobs.get(&id)?;
        let host = job.first_host()?;
        let r = &job.spec.request;
        let start = JobStart {
            job: key(job),
            index: job.index,
            user: job.spec.user.clone(),
            uid: job.spec.uid,
            queue: job.spec.queue.clone(),
            name: r.name.clone(),
            command: r.command.clone(),
            cwd: r.cwd.clone(),
            env: crate::env_pool::to_strings(&job.spec.env),
            stdin: r.stdin.clone(),
            stdout: r.stdout.clone(),
            stderr: r.stderr.clone(),
            umask: r.umask,
            terminate: r.terminate,
            hosts: job.slots(|h| self.cluster.hosts[h].name.clone()),
            gpus: job
                .alloc
                .first()
                .map(|a| a.gpus.clone())
                .unwrap_or_default(),
            mem_mb: r.mem_mb,
            options: proto::JobOptions {
                run_limit: self.run_limit_of(job),
                ..r.options.clone()
            },
        };
        Some((host, start))
    }

    /// Seconds the job may run: its `-W`, else its queue's `RUNLIMIT`.
    pub fn run_limit_of(&self, job: &Job) -> u64 {
        let queue = self.cluster.queue(&job.spec.queue);
        let limit = queue.and_then(|q| self.cluster.queues[q].run_limit.as_ref());
        conf::RunLimit::for_job(limit, job.spec.request.options.run_limit)
    }

    /// The running job `job` names on `host`, if it is that run.
    fn run_on(&self, host: usize, job: JobKey) -> Option<&Job> {
        let j = self.jobs.get(&job.id)?;
        (j.first_host() == Some(host) && j.attempt == job.attempt).then_some(j)
    }

    /// `host`'s sbd started a job: the change, unless already known.
    pub fn started(&self, host: usize, s: &Started, now: u64) -> Option<Change> {
        let job = self.run_on(host, s.job)?;
        (job.pid == 0).then_some(Change::Forked(Forked {
            id: job.id,
            attempt: job.attempt,
            time: now,
            pid: s.pid,
        }))
    }

    /// `host`'s sbd could not set a job up: it never ran, so it is
    /// pending again — unless a user ended it meanwhile (then it ends as
    /// one bkilled before it started). Nothing if the run is not news.
    pub fn rejected(&self, host: usize, r: &Rejected, now: u64) -> Option<Change> {
        let job = self.run_on(host, r.job).filter(|j| j.pid == 0)?;
        if let Some(signal) = ending_signal(job) {
            return Some(unstarted_kill(job, signal, now));
        }
        Some(Change::Requeued(Requeued {
            id: job.id,
            attempt: job.attempt,
            time: now,
            note: format!(
                "Not started on {}: {}",
                self.cluster.hosts[host].name, r.reason
            ),
        }))
    }

    /// `host`'s sbd says a job ended: the change, unless a duplicate. A
    /// rerunnable job sbd lost (its runner gone without a result) is
    /// requeued instead.
    pub fn ended(&self, host: usize, f: &Finished) -> Option<Change> {
        let job = self.run_on(host, f.job)?;
        if f.exit_code == LOST_EXIT && f.note.starts_with("Lost") {
            return Some(lost(job, f.time, &f.note));
        }
        if f.exit_code == PRE_EXEC_RETRY {
            return Some(pre_exec_retry(job, f));
        }
        Some(Change::Ended(Ended {
            id: f.job.id,
            attempt: f.job.attempt,
            time: f.time,
            exit_code: f.exit_code,
            signal: f.signal,
            usage: f.usage,
            note: f.note.clone(),
        }))
    }

    /// What `host`'s sbd says its running jobs have used so far; reports
    /// of runs mbd does not place there are ignored.
    pub fn note_usage(&mut self, host: usize, reports: &[RunUsage]) {
        for r in reports {
            if self.run_on(host, r.job).is_some_and(Job::is_running) {
                self.run_usage.insert(r.job.id, r.usage);
            }
        }
    }

    /// Compares what `host`'s sbd holds with what mbd believes runs there:
    /// - a finish report is applied (if it is news) and acknowledged;
    /// - a run sbd holds that mbd knows: its pid and SUSP/RUN are taken;
    /// - a run sbd holds that mbd does not know (finished meanwhile, or
    ///   another attempt): sbd is told to kill it;
    /// - a job mbd believes runs there that sbd does not hold: sent again
    ///   if sbd never acknowledged it (it may never have arrived), else it
    ///   ends EXIT as lost (sbd had it and forgot: its spool was lost).
    ///   A job is never started twice.
    pub fn reconcile(&self, host: usize, reg: &Register, now: u64) -> Reconciled {
        let mut out = Reconciled::default();
        for f in &reg.finished {
            out.changes.extend(self.ended(host, f));
            out.ack.push(f.job);
        }
        for r in &reg.running {
            let Some(job) = self.run_on(host, r.job).filter(|j| j.is_running()) else {
                out.kill.push(r.job);
                continue;
            };
            out.signal
                .extend(signal_again(job, r.suspended).map(|s| (r.job, s)));
            if job.pid == 0 {
                out.changes.extend(self.started(
                    host,
                    &Started {
                        job: r.job,
                        pid: r.pid,
                    },
                    now,
                ));
            }
        }
        let held = |j: &Job| {
            let k = key(j);
            reg.running.iter().any(|r| r.job == k) || reg.finished.iter().any(|f| f.job == k)
        };
        for job in self.jobs.values() {
            if job.first_host() != Some(host) || held(job) {
                continue;
            }
            if job.pid == 0 {
                match ending_signal(job) {
                    // bkilled before sbd took it: it never ran, and will not.
                    Some(signal) => out.changes.push(unstarted_kill(job, signal, now)),
                    None => out.resend.push(job.id),
                }
            } else {
                let host = &self.cluster.hosts[host].name;
                let why = format!("the execution host {host} no longer knows the job");
                out.changes.push(lost(job, now, &why));
            }
        }
        out
    }

    /// Runs whose execution host llb.hosts no longer lists (removed while
    /// they ran): no sbd can report them, so they end EXIT, lost, instead
    /// of showing RUN for ever. For mbd's start, after the replay; if the
    /// host comes back, its sbd is told to kill what it still runs.
    pub fn runs_on_removed_hosts(&self, now: u64) -> Vec<Change> {
        (self.jobs.values())
            .filter(|job| matches!(job.state, JobState::Run | JobState::Susp))
            .filter_map(|job| {
                let dispatched = (job.events.iter().rev()).find(|e| e.what == event::DISPATCHED)?;
                let host = dispatched.hosts.first()?;
                let why = || format!("its execution host {host} is no longer in llb.hosts");
                self.cluster
                    .host(host)
                    .is_none()
                    .then(|| lost(job, now, &why()))
            })
            .collect()
    }

    /// Waiting jobs whose queue or `--machines` host or group is no longer
    /// configured: they stay pending (`no eligible hosts in queue`).
    pub fn stranded(&self) -> Vec<u32> {
        (self.jobs.values())
            .filter(|job| job.state.is_pending())
            .filter(|job| job.spec.shape.queue_pos.is_none() || job.spec.shape.machines.is_none())
            .map(|job| job.id)
            .collect()
    }
}

/// Runs a job gets whose pre-exec command keeps failing (LSF's
/// `MAX_PREEXEC_RETRY` default) before it ends EXIT.
pub const MAX_PRE_EXEC_TRIES: usize = 5;

/// What starts the note of a run requeued because its pre-exec failed.
const PRE_EXEC_REQUEUED: &str = "Requeued: ";

/// A run whose pre-exec command failed (`bsub -E`, sbd's
/// `PRE_EXEC_RETRY`): back to PEND, to be tried again, at most
/// [`MAX_PRE_EXEC_TRIES`] times in all.
fn pre_exec_retry(job: &Job, f: &Finished) -> Change {
    let tries = 1
        + (job.events.iter())
            .filter(|e| e.what == event::NOTE && e.text.starts_with(PRE_EXEC_REQUEUED))
            .count();
    if tries >= MAX_PRE_EXEC_TRIES {
        return Change::Ended(Ended {
            id: job.id,
            attempt: job.attempt,
            time: f.time,
            exit_code: f.exit_code,
            signal: 0,
            usage: f.usage,
            note: format!("TERM_PRE_EXEC_FAIL: {} ({tries} tries)", f.note),
        });
    }
    Change::Requeued(Requeued {
        id: job.id,
        attempt: job.attempt,
        time: f.time,
        note: format!("{PRE_EXEC_REQUEUED}{}", f.note),
    })
}

/// The end of a run no sbd will report, `why` it is lost; a rerunnable
/// job (`bsub -r`) goes back to PEND instead, as in LSF.
fn lost(job: &Job, now: u64, why: &str) -> Change {
    let why = why.strip_prefix("Lost: ").unwrap_or(why);
    if job.spec.request.options.rerunnable {
        return Change::Requeued(Requeued {
            id: job.id,
            attempt: job.attempt,
            time: now,
            note: format!("Requeued (rerunnable): {why}"),
        });
    }
    Change::Ended(Ended {
        id: job.id,
        attempt: job.attempt,
        time: now,
        exit_code: LOST_EXIT,
        signal: 0,
        usage: Usage::default(),
        note: format!("Lost: {why}"),
    })
}

/// The signal that brings a run sbd holds (`suspended` or not) back to
/// what users asked of it, as mbd recorded it: their last TERM, INT or
/// KILL if they ended it, else STOP or CONT if mbd's SUSP/RUN differs.
/// One may have been lost with the old connection (acknowledged to
/// bkill, unread by an sbd that died, or unsent by an mbd killed after
/// its commit), and an sbd restarted without cgroups cannot tell that a
/// job is stopped. Repeating any of them does no harm.
fn signal_again(job: &Job, suspended: bool) -> Option<u32> {
    let wants_suspended = job.state == JobState::Susp;
    ending_signal(job).or(match (wants_suspended, suspended) {
        (true, false) => Some(sig::STOP),
        (false, true) => Some(sig::CONT),
        _ => None,
    })
}

/// A dispatched job sbd never took that a user ended meanwhile.
fn unstarted_kill(job: &Job, signal: u32, now: u64) -> Change {
    Change::Ended(Ended {
        id: job.id,
        attempt: job.attempt,
        time: now,
        exit_code: 128 + signal as i32,
        signal,
        usage: Usage::default(),
        note: format!("Signal {signal} arrived before the job started: not started"),
    })
}

/// The last TERM, INT or KILL a user sent the job's current run, if any.
pub(super) fn ending_signal(job: &Job) -> Option<u32> {
    (job.events.iter().rev())
        .take_while(|e| e.what != event::DISPATCHED)
        .filter(|e| e.what == event::SIGNAL)
        .map(|e| e.code as u32)
        .find(|s| matches!(*s, sig::TERM | sig::INT | sig::KILL))
}

/// The run of `job` sbd knows it by.
pub(super) fn key(job: &Job) -> JobKey {
    JobKey {
        id: job.id,
        attempt: job.attempt,
    }
}

/// Records how a running job ended: a note if it did not end by itself,
/// DONE or EXIT, and its resource usage.
pub(super) fn apply_requeued(job: &mut Job, r: &Requeued) {
    if job.attempt != r.attempt || !job.is_running() {
        return;
    }
    job.record_text(r.time, event::NOTE, 0, r.note.clone());
    job.transition(JobState::Pend, r.time, 0, 0);
}

pub(super) fn apply_ended(job: &mut Job, e: &Ended) {
    if !e.note.is_empty() {
        job.record_text(e.time, event::NOTE, 0, e.note.clone());
    }
    let state = match requeue_asked(job) {
        Some(true) => JobState::Held,
        Some(false) => JobState::Pend,
        None if e.exit_code == 0 && e.signal == 0 && e.note.is_empty() => JobState::Done,
        None => JobState::Exit,
    };
    job.transition(state, e.time, 0, e.exit_code);
    job.record_text(e.time, event::USAGE, 0, usage_text(&e.usage));
}

/// `brequeue`: a finished job is pending again at once; a running one is
/// marked, and goes back when its run ends (`apply_ended`).
pub(super) fn apply_requeue_asked(job: &mut Job, r: &RequeueAsked) {
    job.record_text(
        r.time,
        event::REQUEUE,
        i32::from(r.hold),
        format!("by {}", r.by),
    );
    if job.state.is_finished() {
        let to = if r.hold {
            JobState::Held
        } else {
            JobState::Pend
        };
        job.transition(to, r.time, 0, 0);
    }
}

/// Whether the current run was asked to requeue (`Some(hold)`).
fn requeue_asked(job: &Job) -> Option<bool> {
    (job.events.iter().rev())
        .take_while(|e| e.what != event::DISPATCHED)
        .find(|e| e.what == event::REQUEUE)
        .map(|e| e.code != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests::sample;
    use crate::state::tests::{ann, request, submit};
    use crate::state::Caller;
    use proto::sbd::RunningJob;

    const NOW: u64 = 1000;

    fn apply_all(state: &mut State, changes: &[Change]) {
        for c in changes {
            state.apply(c);
        }
    }

    /// A state with job 1 dispatched to host 0 (attempt 1).
    fn running() -> State {
        let mut s = State::new(sample());
        s.set_sbd_up(0, true);
        let id = submit(&mut s, &ann(), request("sleep 9"));
        let alloc = vec![Alloc {
            host: 0,
            cpus: 1,
            gpus: vec![],
        }];
        let changes = s.dispatch(&[(id, alloc)], NOW);
        apply_all(&mut s, &changes);
        s
    }

    #[test]
    fn runs_on_a_host_removed_from_llb_hosts_end_lost() {
        let mut s = State::new(sample());
        let mut log = Vec::new();
        for host in [0, 2] {
            let submitted = s.submit(&ann(), request("sleep 9"), NOW).expect("submit");
            s.apply(&submitted);
            let Change::Submitted(job) = &submitted else {
                unreachable!("submit makes a Submitted change")
            };
            let alloc = vec![Alloc {
                host,
                cpus: 1,
                gpus: vec![],
            }];
            let dispatched = s.dispatch(&[(job.first_id, alloc)], NOW);
            apply_all(&mut s, &dispatched);
            log.push(submitted);
            log.extend(dispatched);
        }
        assert!(
            s.runs_on_removed_hosts(NOW).is_empty(),
            "every host is there"
        );

        // gpu01 (job 2's host) taken out of llb.hosts, then mbd restarts.
        let mut restarted = State::new(crate::cluster::tests::sample_without_gpu01());
        apply_all(&mut restarted, &log);
        let lost = restarted.runs_on_removed_hosts(NOW + 1);
        assert_eq!(lost.len(), 1, "{lost:?}");
        let Change::Ended(ended) = &lost[0] else {
            panic!("{lost:?}")
        };
        assert_eq!((ended.id, ended.exit_code), (2, LOST_EXIT));
        assert_eq!(
            ended.note,
            "Lost: its execution host gpu01 is no longer in llb.hosts"
        );
        apply_all(&mut restarted, &lost);
        assert!(restarted.stranded().is_empty(), "ended, not waiting");
        let job = |id| restarted.job(id).expect("job").state;
        assert_eq!((job(1), job(2)), (JobState::Run, JobState::Exit));
        assert!(restarted.runs_on_removed_hosts(NOW + 2).is_empty());
    }

    /// `running`, with job 1 bkilled (TERM) before sbd acknowledged it.
    fn bkilled_running() -> State {
        let mut s = running();
        let term = s.signal(
            &ann(),
            proto::mbd::JobRef { id: 1, index: 0 },
            sig::TERM,
            NOW,
        );
        apply_all(&mut s, &term.expect("TERM accepted"));
        s
    }

    fn run1(pid: u32, suspended: bool) -> RunningJob {
        RunningJob {
            job: JobKey { id: 1, attempt: 1 },
            pid,
            suspended,
        }
    }

    fn finished(exit_code: i32) -> Finished {
        Finished {
            job: JobKey { id: 1, attempt: 1 },
            time: NOW + 5,
            exit_code,
            signal: 0,
            usage: Usage::default(),
            note: String::new(),
        }
    }

    #[test]
    fn a_dispatched_job_runs_there_and_its_start_is_taken_once() {
        let mut s = running();
        let job = s.job(1).expect("job 1");
        assert_eq!(
            (job.state, job.attempt, job.first_host()),
            (JobState::Run, 1, Some(0))
        );
        let (host, start) = s.job_start(1).expect("a start message");
        assert_eq!(
            (host, start.job, start.command.as_str()),
            (0, JobKey { id: 1, attempt: 1 }, "sleep 9")
        );
        let started = Started {
            job: start.job,
            pid: 77,
        };
        let change = s.started(0, &started, NOW).expect("Forked");
        s.apply(&change);
        assert_eq!(s.job(1).map(|j| j.pid), Some(77));
        assert_eq!(s.started(0, &started, NOW), None, "a duplicate is harmless");
        assert_eq!(
            s.started(1, &started, NOW),
            None,
            "another host cannot claim it"
        );
    }

    #[test]
    fn exit_code_zero_is_done_anything_else_exit_and_duplicates_are_ignored() {
        let mut s = running();
        let change = s.ended(0, &finished(0)).expect("Ended");
        s.apply(&change);
        assert_eq!(
            s.job(1).map(|j| (j.state, j.is_running())),
            Some((JobState::Done, false))
        );
        assert_eq!(s.finished(), 1);
        assert_eq!(s.ended(0, &finished(0)), None);
        let mut s = running();
        let change = s.ended(0, &finished(3)).expect("Ended");
        s.apply(&change);
        let job = s.job(1).expect("job 1");
        assert_eq!(job.state, JobState::Exit);
        assert!(job
            .events
            .iter()
            .any(|e| e.what == event::FINISHED && e.code == 3));
    }

    /// The ids `allocated_jobs` gives, checked against every job.
    fn holding_hosts(s: &State) -> Vec<u32> {
        let index: Vec<u32> = s.allocated_jobs().map(|j| j.id).collect();
        let scan: Vec<u32> = (s.jobs().filter(|j| !j.alloc.is_empty()))
            .map(|j| j.id)
            .collect();
        assert_eq!(index, scan, "the allocation index matches the jobs");
        index
    }

    #[test]
    fn a_finished_job_still_shows_where_it_ran_also_after_compaction() {
        let mut s = running();
        assert_eq!(holding_hosts(&s), [1]);
        let mut replayed = State::new(sample());
        apply_all(&mut replayed, &s.compact(10));
        assert_eq!(holding_hosts(&replayed), [1], "a snapshot keeps it");
        let change = s.ended(0, &finished(0)).expect("Ended");
        s.apply(&change);
        assert_eq!(holding_hosts(&s), [0u32; 0]);
        let shown = |s: &State| {
            let job = s.job(1).expect("job 1");
            let hosts: Vec<usize> = job.hosts_shown().iter().map(|a| a.host).collect();
            (job.is_running(), hosts)
        };
        assert_eq!(shown(&s), (false, vec![0]));
        let mut rebuilt = State::new(sample());
        apply_all(&mut rebuilt, &s.compact(10));
        assert_eq!(shown(&rebuilt), (false, vec![0]));
        assert_eq!(rebuilt.host_rows(&[])[0].njobs, 0, "it holds no slot");
        assert_eq!(holding_hosts(&rebuilt), [0u32; 0]);
    }

    #[test]
    fn a_running_job_shows_unknown_while_its_sbd_is_away_and_refuses_signals() {
        let mut s = running();
        s.set_sbd_up(0, false);
        let who = ann();
        assert_eq!(s.shown_state(s.job(1).expect("job")), JobState::Unknown);
        let refused = s.signal(&who, proto::mbd::JobRef { id: 1, index: 0 }, 15, NOW);
        assert_eq!(
            refused.map_err(|r| r.status),
            Err(proto::mbd::status::EAGAIN)
        );
        s.set_sbd_up(0, true);
        let stop = s.signal(&who, proto::mbd::JobRef { id: 1, index: 0 }, 19, NOW);
        apply_all(&mut s, &stop.expect("STOP accepted"));
        assert_eq!(s.job(1).map(|j| j.state), Some(JobState::Susp));
        let admin = Caller { admin: true, ..who };
        let term = s.signal(&admin, proto::mbd::JobRef { id: 1, index: 0 }, 15, NOW);
        let term = term.expect("TERM accepted");
        apply_all(&mut s, &term);
        assert_eq!(
            s.job(1).map(|j| j.state),
            Some(JobState::Susp),
            "TERM waits for sbd's report"
        );
        assert_eq!(term.len(), 1, "one logged change carries the signal");
    }

    #[test]
    fn registration_resends_unacknowledged_starts_and_loses_forgotten_ones() {
        let s = running();
        let empty = Register {
            host: "cpu01".into(),
            ..Register::default()
        };
        let r = s.reconcile(0, &empty, NOW);
        assert_eq!(
            (r.resend, r.changes),
            (vec![1], vec![]),
            "never acknowledged: sent again"
        );

        let mut s = running();
        let forked = s.started(
            0,
            &Started {
                job: JobKey { id: 1, attempt: 1 },
                pid: 5,
            },
            NOW,
        );
        apply_all(&mut s, forked.as_slice());
        let r = s.reconcile(0, &empty, NOW);
        assert!(r.resend.is_empty(), "never started twice");
        apply_all(&mut s, &r.changes);
        let job = s.job(1).expect("job 1");
        assert_eq!(job.state, JobState::Exit);
        assert!(job
            .events
            .iter()
            .any(|e| e.what == event::NOTE && e.text.starts_with("Lost")));
    }

    #[test]
    fn a_rerunnable_job_whose_host_lost_it_pends_again_with_its_id() {
        let mut s = State::new(sample());
        s.set_sbd_up(0, true);
        let mut r = request("sleep 9");
        r.options.rerunnable = true;
        let id = submit(&mut s, &ann(), r);
        let alloc = || {
            vec![Alloc {
                host: 0,
                cpus: 1,
                gpus: vec![],
            }]
        };
        let changes = s.dispatch(&[(id, alloc())], NOW);
        apply_all(&mut s, &changes);
        let pid = Started {
            job: JobKey { id, attempt: 1 },
            pid: 5,
        };
        let forked = s.started(0, &pid, NOW);
        apply_all(&mut s, forked.as_slice());
        // Its spool gone: sbd registers without it.
        let empty = Register {
            host: "cpu01".into(),
            ..Register::default()
        };
        let r = s.reconcile(0, &empty, NOW);
        apply_all(&mut s, &r.changes);
        let job = s.job(id).expect("job");
        assert_eq!((job.state, job.is_running()), (JobState::Pend, false));
        assert!(job
            .events
            .iter()
            .any(|e| e.text.starts_with("Requeued (rerunnable): ")));
        // Its runner gone without a result (sbd::job::lost): the same.
        let changes = s.dispatch(&[(id, alloc())], NOW);
        apply_all(&mut s, &changes);
        let lost = Finished {
            job: JobKey { id, attempt: 2 },
            time: NOW,
            exit_code: LOST_EXIT,
            signal: 0,
            usage: Usage::default(),
            note: "Lost: the job's runner ended without recording a result".into(),
        };
        let ended = s.ended(0, &lost);
        apply_all(&mut s, ended.as_slice());
        assert_eq!(s.job(id).expect("job").state, JobState::Pend);
    }

    #[test]
    fn a_running_jobs_usage_is_kept_from_its_own_sbd_until_it_ends() {
        let mut s = running();
        let usage = Usage {
            user_ms: 1500,
            system_ms: 0,
            max_rss_kb: 2048,
        };
        let report = |host_attempt: u32| RunUsage {
            job: JobKey {
                id: 1,
                attempt: host_attempt,
            },
            usage,
        };
        s.note_usage(1, &[report(1)]);
        s.note_usage(0, &[report(2)]);
        let row = |s: &State| {
            s.job_rows(&ann(), &Default::default())
                .unwrap()
                .next()
                .unwrap()
        };
        assert_eq!(
            row(&s).run_usage,
            Usage::default(),
            "another host's or run's"
        );
        s.note_usage(0, &[report(1)]);
        assert_eq!(row(&s).run_usage, usage);
        let ended = s.ended(0, &finished(0));
        apply_all(&mut s, ended.as_slice());
        assert!(s.run_usage.is_empty());
    }

    #[test]
    fn a_failed_pre_exec_requeues_the_job_until_the_tries_run_out() {
        let mut s = running();
        let report = |attempt| Finished {
            job: JobKey { id: 1, attempt },
            time: NOW,
            exit_code: PRE_EXEC_RETRY,
            signal: 0,
            usage: Usage::default(),
            note: "the pre-exec command exited 3: the job did not run".into(),
        };
        for attempt in 1..=MAX_PRE_EXEC_TRIES as u32 {
            let job = s.job(1).unwrap();
            assert_eq!((job.state, job.attempt), (JobState::Run, attempt));
            let change = s.ended(0, &report(attempt));
            apply_all(&mut s, change.as_slice());
            if attempt < MAX_PRE_EXEC_TRIES as u32 {
                assert_eq!(s.job(1).unwrap().state, JobState::Pend);
                let alloc = vec![Alloc {
                    host: 0,
                    cpus: 1,
                    gpus: vec![],
                }];
                let changes = s.dispatch(&[(1, alloc)], NOW);
                apply_all(&mut s, &changes);
            }
        }
        let job = s.job(1).unwrap();
        assert_eq!(job.state, JobState::Exit);
        let last = job
            .events
            .iter()
            .rev()
            .find(|e| e.what == event::NOTE)
            .unwrap();
        assert_eq!(
            last.text,
            "TERM_PRE_EXEC_FAIL: the pre-exec command exited 3: the job did not run (5 tries)"
        );
    }

    #[test]
    fn registration_sends_a_run_what_users_asked_of_it_again() {
        let reg = Register {
            host: "cpu01".into(),
            challenge: 0,
            running: vec![run1(5, false)],
            finished: vec![],
        };
        let mut s = running();
        assert!(
            s.reconcile(0, &reg, NOW).signal.is_empty(),
            "no bkill, nothing sent"
        );
        let owner = ann();
        for (signal, resent) in [
            (sig::STOP, Some(sig::STOP)),
            (sig::CONT, None),
            (sig::STOP, Some(sig::STOP)),
            (sig::TERM, Some(sig::TERM)),
            (sig::KILL, Some(sig::KILL)),
        ] {
            let changes = s.signal(&owner, proto::mbd::JobRef { id: 1, index: 0 }, signal, NOW);
            apply_all(&mut s, &changes.expect("signal accepted"));
            let r = s.reconcile(0, &reg, NOW);
            assert_eq!(
                r.signal,
                resent
                    .map(|sig| (JobKey { id: 1, attempt: 1 }, sig))
                    .into_iter()
                    .collect::<Vec<_>>(),
                "after signal {signal}"
            );
        }
    }

    #[test]
    fn a_job_bkilled_before_sbd_took_it_ends_instead_of_being_sent_again() {
        let mut s = bkilled_running();
        let empty = Register {
            host: "cpu01".into(),
            ..Register::default()
        };
        let r = s.reconcile(0, &empty, NOW);
        assert!(r.resend.is_empty(), "not started after a bkill");
        apply_all(&mut s, &r.changes);
        assert_eq!(s.job(1).map(|j| j.state), Some(JobState::Exit));
    }

    #[test]
    fn a_run_sbd_could_not_set_up_is_pending_again_unless_bkilled() {
        let key = JobKey { id: 1, attempt: 1 };
        let rejected = Rejected {
            job: key,
            reason: "cannot spool the job: No space left on device".into(),
        };
        let mut s = running();
        assert_eq!(s.rejected(1, &rejected, NOW), None, "not that host's run");
        let change = s.rejected(0, &rejected, NOW + 1).expect("news");
        apply_all(&mut s, &[change]);
        let job = s.job(1).expect("job");
        assert_eq!(
            (job.state, job.alloc.len(), job.pid),
            (JobState::Pend, 0, 0)
        );
        let tail: Vec<_> = (job.events.iter().rev().take(2).rev())
            .map(|e| (e.what, e.text.as_str()))
            .collect();
        let note = "Not started on cpu01: cannot spool the job: No space left on device";
        assert_eq!(tail, [(event::NOTE, note), (event::PENDING, "")]);
        assert_eq!(s.allocated_jobs().count(), 0);
        assert_eq!(s.rejected(0, &rejected, NOW + 2), None, "a duplicate");

        // bkilled while its dispatch was on the way: it ends, not pending.
        let mut s = bkilled_running();
        let change = s.rejected(0, &rejected, NOW + 1).expect("news");
        apply_all(&mut s, &[change]);
        assert_eq!(s.job(1).map(|j| j.state), Some(JobState::Exit));

        // Started: sbd's word that it was not is not news.
        let mut s = running();
        let forked = s.started(0, &Started { job: key, pid: 77 }, NOW);
        apply_all(&mut s, forked.as_slice());
        assert_eq!(s.rejected(0, &rejected, NOW + 1), None);
    }

    #[test]
    fn registration_takes_reports_and_kills_runs_mbd_does_not_know() {
        let mut s = running();
        let mut stray = run1(9, false);
        stray.job.id = 42;
        let reg = Register {
            host: "cpu01".into(),
            challenge: 0,
            running: vec![run1(5, true), stray],
            finished: vec![],
        };
        let r = s.reconcile(0, &reg, NOW);
        assert_eq!(r.kill, vec![stray.job]);
        let cont = (JobKey { id: 1, attempt: 1 }, sig::CONT);
        assert_eq!(r.signal, [cont], "stopped, though no user asked");
        apply_all(&mut s, &r.changes);
        assert_eq!(s.job(1).map(|j| (j.pid, j.state)), Some((5, JobState::Run)));

        let reg = Register {
            host: "cpu01".into(),
            challenge: 0,
            running: vec![],
            finished: vec![finished(0)],
        };
        let r = s.reconcile(0, &reg, NOW);
        assert_eq!(r.ack, vec![JobKey { id: 1, attempt: 1 }]);
        apply_all(&mut s, &r.changes);
        assert_eq!(s.job(1).map(|j| j.state), Some(JobState::Done));
        let again = s.reconcile(0, &reg, NOW);
        assert!(
            again.changes.is_empty() && again.ack.len() == 1,
            "a repeated report is only acknowledged"
        );
    }
}
