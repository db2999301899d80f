//! The rules between mbd and the execution daemons: dispatching planned
//! jobs, sbd's reports, and reconciling what a (re-)registering sbd runs
//! with what mbd believes runs there (docs/mbd.md, "Execution").

use super::State;
use crate::change::{Change, Dispatched, Ended, Forked, StateChanged};
use crate::job::{Alloc, Job};
use proto::mbd::{event, JobState};
use proto::sbd::{Finished, JobKey, JobStart, Register, Started, Usage};

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
            env: r.env.clone(),
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
        };
        Some((host, start))
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

    /// `host`'s sbd says a job ended: the change, unless a duplicate.
    pub fn ended(&self, host: usize, f: &Finished) -> Option<Change> {
        self.run_on(host, f.job)?;
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
            let state = if r.suspended {
                JobState::Susp
            } else {
                JobState::Run
            };
            if state != job.state {
                out.changes.push(Change::StateChanged(StateChanged {
                    id: job.id,
                    time: now,
                    state,
                    signal: 0,
                    exit_code: 0,
                }));
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
                out.resend.push(job.id);
            } else {
                out.changes.push(Change::Ended(Ended {
                    id: job.id,
                    attempt: job.attempt,
                    time: now,
                    exit_code: LOST_EXIT,
                    signal: 0,
                    usage: Usage::default(),
                    note: format!(
                        "Lost: the execution host {} no longer knows the job",
                        self.cluster.hosts[host].name
                    ),
                }));
            }
        }
        out
    }
}

fn key(job: &Job) -> JobKey {
    JobKey {
        id: job.id,
        attempt: job.attempt,
    }
}

/// Records how a running job ended: a note if it did not end by itself,
/// DONE or EXIT, and its resource usage.
pub(super) fn apply_ended(job: &mut Job, e: &Ended) {
    if !e.note.is_empty() {
        job.record_text(e.time, event::NOTE, 0, e.note.clone());
    }
    let state = if e.exit_code == 0 && e.signal == 0 && e.note.is_empty() {
        JobState::Done
    } else {
        JobState::Exit
    };
    job.transition(state, e.time, 0, e.exit_code);
    job.record_text(e.time, event::USAGE, 0, usage_text(&e.usage));
}

fn usage_text(u: &Usage) -> String {
    format!(
        "CPU time: {:.2} s (user {:.2} s, system {:.2} s)  Max memory: {:.1} MB",
        (u.user_ms + u.system_ms) as f64 / 1000.0,
        u.user_ms as f64 / 1000.0,
        u.system_ms as f64 / 1000.0,
        u.max_rss_kb as f64 / 1024.0
    )
}
