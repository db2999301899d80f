//! One job run as sbd holds it: its process group and cgroup, how
//! signals reach it, `--terminate`, and how its end is recorded.

use crate::cgroup::JobCgroup;
use crate::launch;
use crate::run_limit::{self, Escalation, RunLimit};
use proto::sbd::{Finished, JobKey, Usage};
use std::path::PathBuf;

/// After `--terminate`'s SIGUSR2, how long before SIGKILL.
const TERMINATE_GRACE: u64 = 60;

/// One job run this sbd holds.
#[derive(Debug)]
pub(crate) struct LocalJob {
    /// The runner's pid, which is the job's process group.
    pub(crate) pgid: u32,
    /// Started by this sbd process (reaped through SIGCHLD); adopted runs
    /// from a previous sbd are polled instead.
    pub(crate) own_child: bool,
    pub(crate) suspended: bool,
    pub(crate) terminate: u64,
    pub(crate) usr2_sent: Option<u64>,
    /// `-W` or the queue's `RUNLIMIT`, if any.
    pub(crate) run_limit: Option<RunLimit>,
    /// Why sbd ended it, if it did.
    pub(crate) note: String,
    /// Set once it ended; kept until mbd acknowledges it.
    pub(crate) finished: Option<Finished>,
    pub(crate) dir: PathBuf,
    /// Its cgroup, when it runs in one.
    pub(crate) cgroup: Option<JobCgroup>,
    /// sbd sent it SIGKILL (so a runner gone without a result was killed
    /// with it, not lost).
    pub(crate) killed: bool,
}

impl LocalJob {
    /// A run this sbd started (adoption and failed starts adjust it).
    pub(crate) fn new(pgid: u32, terminate: u64, dir: PathBuf, cgroup: Option<JobCgroup>) -> Self {
        LocalJob {
            pgid,
            own_child: true,
            suspended: false,
            terminate,
            usr2_sent: None,
            run_limit: None,
            note: String::new(),
            finished: None,
            dir,
            cgroup,
            killed: false,
        }
    }
}

/// `--terminate`: SIGUSR2 to the job's group at the deadline, SIGKILL a
/// grace period later.
pub(crate) fn enforce_terminate(key: JobKey, job: &mut LocalJob, now: u64) {
    if job.terminate == 0 || now < job.terminate {
        return;
    }
    let signo = match job.usr2_sent {
        None => libc::SIGUSR2,
        Some(at) if now >= at + TERMINATE_GRACE => libc::SIGKILL,
        Some(_) => return,
    };
    log::info!(
        "job {}: --terminate time reached, sending signal {signo}",
        key.id
    );
    job.note = "Terminated: the --terminate time was reached".into();
    job.deliver(key.id, signo);
    if signo == libc::SIGUSR2 {
        job.usr2_sent = Some(now);
    } else {
        job.terminate = 0;
    }
}

/// The run limit: see [`crate::run_limit`].
pub(crate) fn enforce_run_limit(key: JobKey, job: &mut LocalJob, now: u64, e: Escalation) {
    let suspended = job.suspended;
    let Some(signo) = job
        .run_limit
        .as_mut()
        .and_then(|l| l.tick(now, suspended, e))
    else {
        return;
    };
    log::info!("job {}: run limit reached, sending signal {signo}", key.id);
    job.note = run_limit::NOTE.into();
    job.deliver(key.id, signo);
}

/// How a run ended whose runner sbd reaped without a result in the spool.
/// A runner killed by a signal went with its job's process group (a
/// `bkill -s KILL`): the job ended by that signal. A runner that exited
/// could not record the job's outcome, which is then unknown: said so,
/// never the runner's own exit code passed off as the job's.
pub(crate) fn unrecorded(key: JobKey, runner: &os::process::ChildExit) -> Finished {
    if runner.signal != 0 {
        let signal = runner.signal as u32;
        return launch::finished(key, runner.code, signal, Usage::default(), String::new());
    }
    let note = format!(
        "result not recorded: the job's runner exited {} before recording it (its reason is on sbd's standard error)",
        runner.code
    );
    launch::finished(key, -1, 0, Usage::default(), note)
}

/// A run whose runner is gone without leaving a result: killed with
/// the job by sbd's SIGKILL (as a reaped runner would report it), or lost.
pub(crate) fn lost(key: JobKey, killed: bool) -> Finished {
    if killed {
        let kill = libc::SIGKILL;
        return launch::finished(
            key,
            128 + kill,
            kill as u32,
            Usage::default(),
            String::new(),
        );
    }
    let note = "Lost: the job's runner ended without recording a result".into();
    launch::finished(key, -1, 0, Usage::default(), note)
}

/// What a new sbd makes of a run the previous one left in the spool.
#[derive(Debug, PartialEq)]
pub(crate) enum Adopted {
    /// No runner pid is recorded, so the job never ran: the runner waits
    /// for sbd's go, given only after the pid is written, and removes the
    /// pid if sbd died before giving it.
    Unstarted,
    /// Its runner is still at work.
    Running,
    /// It ended: with its result, or lost if the runner is gone without one.
    Ended(Finished),
}

/// Classifies a spooled run from its `pid` and `result` files as read;
/// `reread` reads the result again (the runner may have written it and
/// exited since the spool was read). Whether the runner lives is asked
/// of `launch::is_runner`.
pub(crate) fn adopted(
    key: JobKey,
    pid: Option<u32>,
    result: Option<Finished>,
    reread: impl FnOnce() -> Option<Finished>,
) -> Adopted {
    classify(key, pid, result, launch::is_runner, reread)
}

fn classify(
    key: JobKey,
    pid: Option<u32>,
    result: Option<Finished>,
    runner_alive: impl FnOnce(u32) -> bool,
    reread: impl FnOnce() -> Option<Finished>,
) -> Adopted {
    if let Some(f) = result {
        return Adopted::Ended(f);
    }
    let Some(pid) = pid else {
        return Adopted::Unstarted;
    };
    if runner_alive(pid) {
        return Adopted::Running;
    }
    Adopted::Ended(reread().unwrap_or_else(|| lost(key, false)))
}

impl LocalJob {
    /// Sends `signo` to the whole job. With a cgroup, KILL and STOP act on
    /// the cgroup (`cgroup.kill`, `cgroup.freeze`: processes that left the
    /// job's process group included) and CONT thaws it and also goes to
    /// the group (for what TSTP stopped); otherwise the process group.
    pub(crate) fn deliver(&mut self, id: u32, signo: i32) {
        self.killed |= signo == libc::SIGKILL;
        // An empty cgroup while the job runs: its runner could not enter
        // it (and said so); the process group is all there is.
        let cgroup = (self.cgroup.as_ref()).filter(|cg| cg.populated().unwrap_or(false));
        let by_cgroup = cgroup.and_then(|cg| match signo {
            libc::SIGKILL => Some(("cgroup.kill", cg.kill())),
            libc::SIGSTOP => Some(("cgroup.freeze", cg.set_frozen(true))),
            libc::SIGCONT => Some(("cgroup.freeze", cg.set_frozen(false))),
            _ => None,
        });
        let done = match by_cgroup {
            Some((_, Ok(()))) => signo != libc::SIGCONT,
            Some((file, Err(e))) => {
                log::warn!("job {id}: {file} failed ({e}); signalling its process group");
                false
            }
            None => false,
        };
        let sent = if done {
            Ok(())
        } else {
            os::process::signal_group(self.pgid, signo)
        };
        match sent {
            Ok(()) => log::info!("job {id}: signal {signo} delivered"),
            Err(e) => log::warn!("job {id}: cannot deliver signal {signo}: {e}"),
        }
    }
}

/// The cgroup's CPU time and peak memory into `f` (they count processes
/// the job's shell did not wait for), then SIGKILL to whatever the job
/// left running: a job's processes end with it.
pub(crate) fn collect_cgroup(key: JobKey, cg: &JobCgroup, f: &mut Finished) {
    match cg.usage() {
        Ok(usage) => f.usage = usage.over(f.usage),
        Err(e) => log::debug!("job {}: no cgroup usage: {e}", key.id),
    }
    let oom_kills = cg.oom_kills();
    if oom_kills > 0 && f.note.is_empty() && (f.exit_code != 0 || f.signal != 0) {
        f.note = format!(
            "Out of memory: the kernel killed {oom_kills} of the job's processes at its --mem limit"
        );
    }
    if cg.populated().unwrap_or(false) {
        log::info!("job {}: killing the processes it left running", key.id);
        if let Err(e) = cg.kill() {
            log::warn!(
                "job {}: cannot kill what is left in {}: {e}",
                key.id,
                cg.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_without_a_result_never_lends_the_job_its_exit_code() {
        let key = JobKey { id: 3, attempt: 1 };
        let exited = os::process::ChildExit {
            code: 1,
            signal: 0,
            user_ms: 0,
            system_ms: 0,
            max_rss_kb: 0,
        };
        let f = unrecorded(key, &exited);
        assert_eq!(f.exit_code, -1);
        assert!(f.note.starts_with("result not recorded"), "{}", f.note);
        let killed = os::process::ChildExit {
            code: 128 + libc::SIGKILL,
            signal: libc::SIGKILL,
            ..exited
        };
        let f = unrecorded(key, &killed);
        assert_eq!(
            (f.exit_code, f.signal),
            (128 + libc::SIGKILL, libc::SIGKILL as u32)
        );
    }

    #[test]
    fn a_spooled_run_is_unstarted_running_ended_or_lost() {
        let key = JobKey { id: 7, attempt: 1 };
        let done = launch::finished(key, 0, 0, Usage::default(), String::new());
        let alive = |_| true;
        let gone = |_| false;
        let nothing = || None;
        let classify_as =
            |pid, result, runner: fn(u32) -> bool, reread: fn() -> Option<Finished>| {
                classify(key, pid, result, runner, reread)
            };
        assert_eq!(
            classify_as(None, None, gone, nothing),
            Adopted::Unstarted,
            "no pid: the runner never had the go"
        );
        assert_eq!(
            classify_as(Some(9), Some(done.clone()), gone, nothing),
            Adopted::Ended(done.clone())
        );
        assert_eq!(classify_as(Some(9), None, alive, nothing), Adopted::Running);
        let again = classify(key, Some(9), None, gone, || Some(done.clone()));
        assert_eq!(
            again,
            Adopted::Ended(done),
            "written since the spool was read"
        );
        let Adopted::Ended(lost) = classify_as(Some(9), None, gone, nothing) else {
            panic!("a gone runner without a result is an end");
        };
        assert_eq!(lost.exit_code, -1);
        assert!(lost.note.starts_with("Lost"), "{}", lost.note);
    }

    #[test]
    fn terminate_sends_usr2_at_the_deadline_and_kill_a_grace_period_later() {
        let key = JobKey { id: 1, attempt: 1 };
        // No process group: the signals fail harmlessly.
        let mut job = LocalJob::new(0, 100, PathBuf::new(), None);
        enforce_terminate(key, &mut job, 99);
        assert_eq!((job.usr2_sent, job.note.is_empty()), (None, true));
        enforce_terminate(key, &mut job, 100);
        assert_eq!(job.usr2_sent, Some(100));
        assert!(job.note.starts_with("Terminated"));
        enforce_terminate(key, &mut job, 100 + TERMINATE_GRACE - 1);
        assert_eq!(job.terminate, 100, "still in the grace period");
        enforce_terminate(key, &mut job, 100 + TERMINATE_GRACE);
        assert_eq!(job.terminate, 0, "killed; nothing more to enforce");
    }
}
