//! Changing a job after submission: `bmove` (another queue, while it
//! waits) and `bpriority` (another priority, until it ends), with
//! LavaLite's checks (docs/mbd.md, "Changing a job after submission"),
//! ownership first.

use super::{Caller, Refusal, State};
use crate::change::{Change, Moved, Reprioritized};
use crate::job::Job;
use proto::mbd::{event, status, MoveRequest, PriorityRequest};
use std::sync::Arc;

impl State {
    /// Checks a `bmove`: the change it makes, or `None` when the job is
    /// already in that queue.
    pub fn move_job(
        &self,
        who: &Caller,
        req: &MoveRequest,
        now: u64,
    ) -> Result<Option<Change>, Refusal> {
        let job = self.plain_job(req.job_id)?;
        // Who may touch it first: another user learns nothing of its state.
        check_owner(who, job)?;
        if !job.state.is_pending() {
            return Err(Refusal::new(
                status::EINVAL,
                format!(
                    "Job {} is {}: only waiting jobs move",
                    job.id,
                    job.state.as_str()
                ),
            ));
        }
        let to =
            (self.cluster.queue(&req.queue)).ok_or_else(|| super::request::no_queue(&req.queue))?;
        // As at submission: the owner must be admitted, unless the admin
        // moves their own job.
        // The owner's group is known when the owner asks.
        let gid = (who.uid == job.spec.uid).then_some(who.gid);
        let admitted = super::request::queue_admits(&self.cluster.queues[to], &job.spec.user, gid)
            || (who.admin && who.uid == job.spec.uid);
        if !admitted {
            return Err(Refusal::new(
                status::EPERM,
                format!("user {} may not use queue {}", job.spec.user, req.queue),
            ));
        }
        if job.spec.queue == req.queue {
            return Ok(None);
        }
        self.check_accepting(to)?;
        Ok(Some(Change::Moved(Moved {
            id: job.id,
            time: now,
            queue: req.queue.clone(),
        })))
    }

    /// Checks a `bpriority`: the change it makes, or `None` when the job
    /// already has that priority. Owners may only lower a priority, and
    /// not above their queue's; the admin may set any.
    pub fn reprioritize(
        &self,
        who: &Caller,
        req: &PriorityRequest,
        now: u64,
    ) -> Result<Option<Change>, Refusal> {
        let job = self.plain_job(req.job_id)?;
        check_owner(who, job)?;
        if job.state.is_finished() {
            return Err(Refusal::new(status::EINVAL, "Job has already finished"));
        }
        let queue_priority = (job.spec.shape.queue_pos)
            .and_then(|q| self.cluster.queues.get(q))
            .map_or(0, |q| q.priority);
        if !who.admin && req.priority > queue_priority {
            return Err(Refusal::new(
                status::EPERM,
                format!(
                    "priority {} is above queue {}'s {queue_priority}",
                    req.priority, job.spec.queue
                ),
            ));
        }
        if req.priority < 0 {
            return Err(Refusal::new(status::EINVAL, "negative priority"));
        }
        if !who.admin && req.priority > job.priority {
            return Err(Refusal::new(
                status::EPERM,
                "only the cluster admin may raise a priority",
            ));
        }
        if req.priority == job.priority {
            return Ok(None);
        }
        Ok(Some(Change::Reprioritized(Reprioritized {
            id: job.id,
            time: now,
            priority: req.priority,
        })))
    }

    /// Job `id` itself (never a whole array: LavaLite's bmove and
    /// bpriority take plain job ids).
    fn plain_job(&self, id: u32) -> Result<&Job, Refusal> {
        (self.jobs.get(&id)).ok_or_else(|| super::request::not_found(&id.to_string()))
    }

    pub(super) fn apply_moved(&mut self, m: &Moved) {
        let Some(job) = self.jobs.get(&m.id) else {
            return log::warn!("move of unknown job {} skipped", m.id);
        };
        let queue_pos = self.cluster.queue(&m.queue);
        let shape = self.shapes.intern(job.spec.shape.in_queue(queue_pos));
        let spec = Arc::new(job.spec.in_queue(&m.queue, shape));
        self.update(m.id, |job| {
            let from = std::mem::replace(&mut job.spec, spec);
            let text = format!("{} -> {}", from.queue, m.queue);
            job.record_text(m.time, event::MOVED, 0, text);
        });
    }

    pub(super) fn apply_reprioritized(&mut self, r: &Reprioritized) {
        self.update(r.id, |job| {
            let text = format!("{} -> {}", job.priority, r.priority);
            job.priority = r.priority;
            job.record_text(r.time, event::PRIORITY, 0, text);
        });
    }
}

fn check_owner(who: &Caller, job: &Job) -> Result<(), Refusal> {
    if who.may_act_on(job) {
        Ok(())
    } else {
        Err(super::request::not_yours(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{AllocRecord, Dispatched};
    use crate::cluster::tests::sample;
    use crate::state::tests::{ann, request, submit};
    use proto::mbd::{ArraySpec, JobState, SubmitRequest, TokenRequest};

    fn held() -> SubmitRequest {
        SubmitRequest {
            hold: true,
            ..request("sleep 60")
        }
    }

    fn admin() -> Caller {
        Caller {
            uid: 0,
            gid: 0,
            user: "root".into(),
            admin: true,
        }
    }

    fn carl() -> Caller {
        Caller {
            uid: 1002,
            gid: 0,
            user: "carl".into(),
            admin: false,
        }
    }

    fn to(job_id: u32, queue: &str) -> MoveRequest {
        MoveRequest {
            job_id,
            queue: queue.into(),
        }
    }

    fn prio(job_id: u32, priority: i32) -> PriorityRequest {
        PriorityRequest { job_id, priority }
    }

    /// Checks and applies; whether it changed anything, or the
    /// refusal's status.
    fn amend(s: &mut State, change: Result<Option<Change>, Refusal>) -> Result<bool, u32> {
        let change = change.map_err(|r| r.status)?;
        change.iter().for_each(|c| s.apply(c));
        Ok(change.is_some())
    }

    /// `bmove --to queue id` by `who`.
    fn mv(s: &mut State, who: &Caller, id: u32, queue: &str) -> Result<bool, u32> {
        let change = s.move_job(who, &to(id, queue), 200);
        amend(s, change)
    }

    /// `bpriority -p priority id` by `who`.
    fn set(s: &mut State, who: &Caller, id: u32, priority: i32) -> Result<bool, u32> {
        let change = s.reprioritize(who, &prio(id, priority), 200);
        amend(s, change)
    }

    fn run(s: &mut State, id: u32) {
        s.apply(&Change::Dispatched(Dispatched {
            id,
            attempt: 1,
            time: 150,
            allocs: vec![AllocRecord {
                host: "cpu01".into(),
                cpus: 1,
                gpus: vec![],
            }],
        }));
    }

    fn last_event(s: &State, id: u32) -> (u32, String) {
        let e = s.job(id).and_then(|j| j.events.last()).unwrap();
        (e.what, e.text.clone())
    }

    #[test]
    fn bmove_moves_waiting_jobs_the_owner_may_put_there() {
        let mut s = State::new(sample());
        let a = submit(&mut s, &ann(), held());
        assert_eq!(mv(&mut s, &ann(), a, "short"), Ok(true));
        let job = s.job(a).unwrap();
        assert_eq!(
            (job.spec.queue.as_str(), job.spec.shape.queue_pos),
            ("short", Some(1))
        );
        assert_eq!(
            (job.state, job.priority),
            (JobState::Held, 30),
            "priority kept"
        );
        assert_eq!(last_event(&s, a), (event::MOVED, "normal -> short".into()));
        assert_eq!(mv(&mut s, &ann(), a, "short"), Ok(false), "already there");

        assert_eq!(mv(&mut s, &ann(), a, "nope"), Err(status::ESRCH));
        assert_eq!(mv(&mut s, &carl(), a, "normal"), Err(status::EPERM));
        assert_eq!(mv(&mut s, &ann(), 99, "normal"), Err(status::ESRCH));
        assert_eq!(mv(&mut s, &admin(), a, "normal"), Ok(true));
        // carl may not use `short`, and neither may the admin put his job there.
        let c = submit(&mut s, &carl(), held());
        assert_eq!(mv(&mut s, &admin(), c, "short"), Err(status::EPERM));

        run(&mut s, a);
        assert_eq!(mv(&mut s, &ann(), a, "short"), Err(status::EINVAL));
        // Another user learns nothing of it, not even that it runs.
        assert_eq!(mv(&mut s, &carl(), a, "short"), Err(status::EPERM));
        s.apply(&Change::StateChanged(crate::change::StateChanged {
            id: a,
            time: 300,
            state: JobState::Done,
            signal: 0,
            exit_code: 0,
        }));
        assert_eq!(mv(&mut s, &ann(), a, "short"), Err(status::EINVAL));
    }

    #[test]
    fn a_moved_array_element_leaves_its_siblings_and_comes_back_from_a_snapshot() {
        let mut s = State::new(sample());
        let array = ArraySpec {
            start: 1,
            end: 3,
            step: 1,
        };
        let first = submit(&mut s, &ann(), SubmitRequest { array, ..held() });
        assert_eq!(mv(&mut s, &ann(), first + 1, "short"), Ok(true));
        let queues =
            |s: &State| -> Vec<String> { s.jobs().map(|j| j.spec.queue.clone()).collect() };
        assert_eq!(queues(&s), ["normal", "short", "normal"]);
        let rows = s.queue_rows();
        assert_eq!(
            (rows[0].held, rows[1].held),
            (2, 1),
            "bqueues counts it in short"
        );
        assert_eq!(
            s.pending_in_order()
                .iter()
                .map(|j| j.id)
                .collect::<Vec<_>>(),
            [first + 1, first, first + 2],
            "short's priority first"
        );
        let snapshot = s.compact(0);
        let specs = snapshot
            .iter()
            .filter(|c| matches!(c, Change::SpecOfEnv(_)));
        assert_eq!(specs.count(), 2);
        let mut rebuilt = State::new(sample());
        snapshot.iter().for_each(|c| rebuilt.apply(c));
        assert_eq!(queues(&rebuilt), queues(&s));
        let job = rebuilt.job(first + 1).unwrap();
        assert_eq!(job.spec.shape.queue_pos, Some(1));
        assert_eq!(
            last_event(&rebuilt, first + 1),
            (event::MOVED, "normal -> short".into())
        );
    }

    #[test]
    fn bpriority_lets_owners_lower_and_the_admin_set_any() {
        let mut s = State::new(sample());
        let a = submit(&mut s, &ann(), held());
        let b = submit(&mut s, &ann(), held());
        assert_eq!(set(&mut s, &ann(), a, 10), Ok(true));
        assert_eq!(s.job(a).unwrap().priority, 10);
        assert_eq!(last_event(&s, a), (event::PRIORITY, "30 -> 10".into()));
        assert_eq!(set(&mut s, &ann(), a, 10), Ok(false), "unchanged");
        assert_eq!(set(&mut s, &ann(), a, 20), Err(status::EPERM), "a raise");
        assert_eq!(
            set(&mut s, &ann(), b, 31),
            Err(status::EPERM),
            "above the queue"
        );
        assert_eq!(set(&mut s, &carl(), b, 1), Err(status::EPERM));
        assert_eq!(set(&mut s, &admin(), b, -1), Err(status::EINVAL));
        assert_eq!(set(&mut s, &ann(), 99, 1), Err(status::ESRCH));
        assert_eq!(set(&mut s, &admin(), a, 99), Ok(true));
        let order = |s: &State| {
            s.pending_in_order()
                .iter()
                .map(|j| j.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&s), [a, b], "99 before 30");

        run(&mut s, b);
        assert_eq!(set(&mut s, &ann(), b, 5), Ok(true), "running jobs too");
        s.apply(&Change::StateChanged(crate::change::StateChanged {
            id: b,
            time: 300,
            state: JobState::Done,
            signal: 0,
            exit_code: 0,
        }));
        assert_eq!(set(&mut s, &ann(), b, 1), Err(status::EINVAL));

        let snapshot = s.compact(10);
        let mut rebuilt = State::new(sample());
        snapshot.iter().for_each(|c| rebuilt.apply(c));
        assert_eq!(rebuilt.job(a).unwrap().priority, 99);
        assert_eq!(rebuilt.job(b).unwrap().priority, 5);
    }

    #[test]
    fn btokens_counts_what_running_jobs_hold_and_bgroups_lists_the_groups() {
        let mut s = State::new(sample());
        let tokens = vec![TokenRequest {
            pool: "ansys".into(),
            count: 2,
        }];
        let a = submit(
            &mut s,
            &ann(),
            SubmitRequest {
                tokens: tokens.clone(),
                ..request("x")
            },
        );
        submit(&mut s, &ann(), SubmitRequest { tokens, ..held() });
        let used = |s: &State| {
            s.token_rows()
                .iter()
                .map(|t| (t.total, t.used))
                .collect::<Vec<_>>()
        };
        assert_eq!(used(&s), [(2, 0)], "pending jobs hold none");
        run(&mut s, a);
        assert_eq!(used(&s), [(2, 2)]);
        let groups = s.group_rows();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].name.as_str(), groups[0].members.as_slice()),
            ("cpus", &["cpu01".to_string(), "cpu02".to_string()][..])
        );
    }
}
