//! `brequeue`: a job back to PEND (or HELD) with its id, submit time and
//! queue, to run again from the start. A finished job goes back at once;
//! a running or suspended one is killed first and goes back when its sbd
//! reports the end (docs/lsf.md).

use super::request::not_yours;
use super::{sig, Caller, Refusal, State};
use crate::change::{Change, RequeueAsked, StateChanged};
use crate::job::Job;
use proto::mbd::{status, JobState, RequeueRequest};

impl State {
    /// Checks a `brequeue`: the changes it makes (for a running job, also
    /// the SIGKILL its sbd is sent). Jobs of an array or of `0` (all the
    /// caller's) not in a state the flags name are skipped; a single job
    /// that is not, or none at all, is refused.
    pub fn requeue(
        &self,
        who: &Caller,
        req: &RequeueRequest,
        now: u64,
    ) -> Result<Vec<Change>, Refusal> {
        let jobs: Vec<&Job> = if req.job.id == 0 {
            (self.jobs.values()).filter(|j| who.may_act_on(j)).collect()
        } else {
            self.resolve(req.job)?
        };
        if let Some(job) = jobs.iter().find(|j| !who.may_act_on(j)) {
            return Err(not_yours(job));
        }
        let mut changes = Vec::new();
        for job in jobs.iter().filter(|j| wanted(req, j)) {
            let running = !job.state.is_finished();
            if running && !self.reachable(job) {
                return Err(Refusal::new(
                    status::EAGAIN,
                    "its execution host's sbd is not connected; try again once it registers",
                ));
            }
            changes.push(Change::RequeueAsked(RequeueAsked {
                id: job.id,
                time: now,
                hold: req.hold,
                by: who.user.clone(),
            }));
            if running {
                changes.push(Change::StateChanged(StateChanged {
                    id: job.id,
                    time: now,
                    state: job.state,
                    signal: sig::KILL,
                    exit_code: 0,
                }));
            }
        }
        if changes.is_empty() {
            return Err(Refusal::new(
                status::EINVAL,
                "no job in a state to requeue (-d DONE, -e EXIT, -r RUN or SUSP, -a all; default -r)",
            ));
        }
        Ok(changes)
    }
}

/// Whether `req`'s state flags take `job`.
fn wanted(req: &RequeueRequest, job: &Job) -> bool {
    match job.state {
        JobState::Done => req.done,
        JobState::Exit => req.exit,
        JobState::Run | JobState::Susp | JobState::Unknown => req.run && job.pid != 0,
        JobState::Pend | JobState::Held => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{AllocRecord, Dispatched, Ended, Forked};
    use crate::cluster::tests::sample;
    use crate::state::tests::{ann, request, submit};
    use proto::mbd::{event, JobRef};
    use proto::sbd::Usage;

    fn req(id: u32, run: bool, exit: bool, hold: bool) -> RequeueRequest {
        RequeueRequest {
            job: JobRef { id, index: 0 },
            done: false,
            exit,
            run,
            hold,
        }
    }

    fn apply(s: &mut State, changes: &[Change]) {
        for c in changes {
            s.apply(c);
        }
    }

    /// Job `id` dispatched to host 0 and started.
    fn start(s: &mut State, id: u32, attempt: u32) {
        apply(
            s,
            &[
                Change::Dispatched(Dispatched {
                    id,
                    attempt,
                    time: 10,
                    allocs: vec![AllocRecord {
                        host: "cpu01".into(),
                        cpus: 1,
                        gpus: vec![],
                    }],
                }),
                Change::Forked(Forked {
                    id,
                    attempt,
                    time: 11,
                    pid: 4242,
                }),
            ],
        );
    }

    fn end(s: &mut State, id: u32, attempt: u32, exit_code: i32) {
        s.apply(&Change::Ended(Ended {
            id,
            attempt,
            time: 20,
            exit_code,
            signal: 0,
            usage: Usage::default(),
            note: String::new(),
        }));
    }

    #[test]
    fn a_running_job_is_killed_then_pends_with_its_id_and_runs_again() {
        let mut s = State::new(sample());
        s.set_sbd_up(0, true);
        let id = submit(&mut s, &ann(), request("sleep 9"));
        start(&mut s, id, 1);
        let changes = s.requeue(&ann(), &req(id, true, false, false), 15).unwrap();
        assert!(matches!(
            changes[1],
            Change::StateChanged(StateChanged {
                signal: sig::KILL,
                ..
            })
        ));
        apply(&mut s, &changes);
        assert_eq!(s.job(id).unwrap().state, JobState::Run, "until sbd reports");
        end(&mut s, id, 1, 137);
        let job = s.job(id).unwrap();
        assert_eq!((job.state, job.is_running()), (JobState::Pend, false));
        // The next run ends as it ends: the request was for the last one.
        start(&mut s, id, 2);
        end(&mut s, id, 2, 0);
        assert_eq!(s.job(id).unwrap().state, JobState::Done);
    }

    #[test]
    fn finished_jobs_go_back_at_once_when_their_state_is_named() {
        let mut s = State::new(sample());
        s.set_sbd_up(0, true);
        let id = submit(&mut s, &ann(), request("false"));
        start(&mut s, id, 1);
        end(&mut s, id, 1, 1);
        let refused = s.requeue(&ann(), &req(id, true, false, false), 30);
        assert_eq!(refused.unwrap_err().status, status::EINVAL, "default -r");
        let changes = s.requeue(&ann(), &req(id, false, true, true), 30).unwrap();
        apply(&mut s, &changes);
        let job = s.job(id).unwrap();
        assert_eq!(job.state, JobState::Held);
        assert!(job
            .events
            .iter()
            .any(|e| e.what == event::REQUEUE && e.text == "by ann"));
        let mut bob = ann();
        bob.user = "bob".into();
        assert_eq!(
            s.requeue(&bob, &req(id, false, true, false), 31)
                .unwrap_err()
                .status,
            status::EPERM
        );
    }
}
