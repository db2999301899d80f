//! `bmod`: new values for a waiting job's submission (queue, CPUs,
//! memory, run limit, name, dependency), checked as a submission is. The
//! job keeps its id, priority and place; an array element changed alone
//! gets a specification of its own.

use super::request::not_yours;
use super::{Caller, Refusal, State};
use crate::change::{Change, Modified};
use crate::job::Job;
use proto::mbd::{field, status, FieldChange, ModifyRequest, SubmitRequest};
use std::sync::Arc;

impl State {
    /// Checks a `bmod`: one change per waiting job it names.
    pub fn modify(
        &self,
        who: &Caller,
        req: &ModifyRequest,
        now: u64,
    ) -> Result<Vec<Change>, Refusal> {
        let einval = |m: String| Refusal::new(status::EINVAL, m);
        if req.fields.is_empty() {
            return Err(einval("nothing to change".into()));
        }
        let jobs = self.resolve(req.job)?;
        if let Some(job) = jobs.iter().find(|j| !who.may_act_on(j)) {
            return Err(not_yours(job));
        }
        let waiting: Vec<&&Job> = jobs.iter().filter(|j| j.state.is_pending()).collect();
        let Some(first) = waiting.first() else {
            return Err(einval(format!(
                "Job <{}> is {}: only waiting jobs can be modified",
                jobs[0].display_id(),
                jobs[0].state.as_str()
            )));
        };
        // The elements of one submission share what is checked.
        let mut request =
            modified(&first.spec.request, &first.spec.queue, &req.fields).map_err(einval)?;
        self.check_submission(who, &mut request, Some(&first.spec.queue))?;
        Ok((waiting.iter())
            .map(|job| {
                Change::Modified(Modified {
                    id: job.id,
                    time: now,
                    fields: req.fields.clone(),
                })
            })
            .collect())
    }

    pub(super) fn apply_modified(&mut self, m: &Modified) {
        let Some(job) = self.jobs.get(&m.id) else {
            return log::warn!("modification of unknown job {} skipped", m.id);
        };
        let old = Arc::clone(&job.spec);
        let request = match modified(&old.request, &old.queue, &m.fields) {
            Ok(r) => r,
            Err(e) => return log::warn!("modification of job {} skipped: {e}", m.id),
        };
        let env = Arc::clone(&old.env);
        let spec = self.spec_with_env(
            &old.user,
            old.uid,
            &request.queue,
            old.submit_time,
            &request,
            env,
        );
        let spec = Arc::new(spec);
        self.update(m.id, |job| {
            job.spec = spec;
            job.record_text(m.time, proto::mbd::event::MODIFIED, 0, describe(&m.fields));
        });
    }
}

/// `request` (in `queue`) with `fields` set; the value of a field that
/// does not parse is an error.
fn modified(
    request: &SubmitRequest,
    queue: &str,
    fields: &[FieldChange],
) -> Result<SubmitRequest, String> {
    let mut r = request.clone();
    r.queue = queue.to_owned();
    let number = |f: &FieldChange| {
        (f.value.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or(format!("invalid value '{}'", f.value))
    };
    for f in fields {
        match f.field {
            field::QUEUE => r.queue = f.value.clone(),
            field::CPUS => {
                r.cpus =
                    u32::try_from(number(f)?).map_err(|_| format!("too many CPUs: {}", f.value))?
            }
            field::MEM_MB => r.mem_mb = number(f)?,
            field::RUN_LIMIT if f.value.is_empty() => r.options.run_limit = 0,
            field::RUN_LIMIT => r.options.run_limit = number(f)?,
            field::NAME => r.name = f.value.clone(),
            field::DEPENDENCY => r.dependency = f.value.clone(),
            other => return Err(format!("unknown field {other}")),
        }
    }
    Ok(r)
}

/// The history text of a modification: `name=value` pairs.
fn describe(fields: &[FieldChange]) -> String {
    let name = |f: u32| match f {
        field::QUEUE => "queue",
        field::CPUS => "cpus",
        field::MEM_MB => "mem_mb",
        field::RUN_LIMIT => "run_limit",
        field::NAME => "name",
        field::DEPENDENCY => "dependency",
        _ => "unknown",
    };
    let pairs: Vec<String> = (fields.iter())
        .map(|f| format!("{}={}", name(f.field), f.value))
        .collect();
    pairs.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests::sample;
    use crate::state::tests::{ann, request, submit};
    use proto::mbd::{JobRef, JobState};

    fn set(field: u32, value: &str) -> FieldChange {
        FieldChange {
            field,
            value: value.into(),
        }
    }

    fn bmod(id: u32, fields: Vec<FieldChange>) -> ModifyRequest {
        ModifyRequest {
            job: JobRef { id, index: 0 },
            fields,
        }
    }

    #[test]
    fn a_waiting_jobs_submission_changes_and_survives_a_replay() {
        let mut s = State::new(sample());
        let id = submit(&mut s, &ann(), request("sleep 9"));
        let fields = vec![
            set(field::QUEUE, "short"),
            set(field::CPUS, "2"),
            set(field::RUN_LIMIT, "600"),
            set(field::NAME, "renamed"),
        ];
        let changes = s.modify(&ann(), &bmod(id, fields), 50).unwrap();
        for c in &changes {
            s.apply(c);
        }
        let job = s.job(id).unwrap();
        let r = &job.spec.request;
        assert_eq!(
            (
                job.spec.queue.as_str(),
                r.cpus,
                r.options.run_limit,
                r.name.as_str()
            ),
            ("short", 2, 600, "renamed")
        );
        assert_eq!(job.spec.shape.queue_pos, s.cluster().queue("short"));
        let text = &job.events.last().unwrap().text;
        assert_eq!(text, "queue=short cpus=2 run_limit=600 name=renamed");
        let reset = s
            .modify(&ann(), &bmod(id, vec![set(field::RUN_LIMIT, "")]), 51)
            .unwrap();
        s.apply(&reset[0]);
        assert_eq!(s.job(id).unwrap().spec.request.options.run_limit, 0);
    }

    #[test]
    fn what_a_submission_may_not_be_a_modification_may_not_make() {
        let mut s = State::new(sample());
        let id = submit(&mut s, &ann(), request("sleep 9"));
        let refused = |fields| s.modify(&ann(), &bmod(id, fields), 50).unwrap_err();
        assert_eq!(
            refused(vec![set(field::QUEUE, "nosuch")]).message,
            "unknown queue nosuch"
        );
        assert_eq!(
            refused(vec![set(field::CPUS, "0")]).message,
            "invalid value '0'"
        );
        assert_eq!(
            refused(vec![set(field::DEPENDENCY, "done(99)")]).message,
            "dependency on unknown job 99"
        );
        assert_eq!(refused(vec![]).message, "nothing to change");
        let mut bob = ann();
        bob.user = "bob".into();
        let theirs = s.modify(&bob, &bmod(id, vec![set(field::CPUS, "2")]), 50);
        assert_eq!(theirs.unwrap_err().status, status::EPERM);
        assert_eq!(s.job(id).unwrap().state, JobState::Pend);
    }
}
