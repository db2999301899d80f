//! Why pending jobs wait, as the last scheduling passes found.
//!
//! Most of a large backlog waits for one reason per shape: within a pass
//! capacity only shrinks, so once a job of a shape is refused for want of
//! room, every later job of that shape is refused alike (the scheduler
//! does not try them). Those reasons are kept once per shape, not once per
//! job: at a million pending jobs a pass no longer writes a million map
//! entries. Reasons of a job's own (its dependency, its array's limit, its
//! user's slots) are kept per job and win over its shape's.

use crate::job::{ById, Job, PendReason};
use crate::shape::Shape;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Reasons {
    /// When the pass ran (what `--begin` times were compared with).
    time: u64,
    jobs: ById<PendReason>,
    shapes: HashMap<ShapeKey, ShapeReasons>,
    /// Why the jobs a pass did not reach wait: it ended when nothing was
    /// left to give.
    rest: Option<PendReason>,
}

/// A shape told apart by identity (shapes are interned), held so that its
/// address cannot be reused by another while the reason is kept.
#[derive(Debug)]
struct ShapeKey(Arc<Shape>);

impl PartialEq for ShapeKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ShapeKey {}

impl Hash for ShapeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

/// A shape's refusal for everyone, and for particular users (a per-host
/// slot limit is one user's: another's alike job may fit).
#[derive(Debug, Default)]
struct ShapeReasons {
    anyone: Option<PendReason>,
    users: HashMap<String, PendReason>,
}

impl Reasons {
    /// The reasons of a pass made at `time`.
    pub fn new(time: u64) -> Reasons {
        Reasons {
            time,
            ..Reasons::default()
        }
    }

    pub fn time(&self) -> u64 {
        self.time
    }

    /// The jobs not reached wait for `reason`.
    pub fn rest(&mut self, reason: PendReason) {
        self.rest = Some(reason);
    }

    /// `id` waits for a reason of its own.
    pub fn job(&mut self, id: u32, reason: PendReason) {
        self.jobs.insert(id, reason);
    }

    /// Every pending job of `shape` (of `user`'s, if given) waits for
    /// `reason` unless it has one of its own.
    pub fn shape(&mut self, shape: &Arc<Shape>, user: Option<&str>, reason: PendReason) {
        let entry = self.shapes.entry(ShapeKey(Arc::clone(shape))).or_default();
        match user {
            Some(user) => {
                entry.users.insert(user.to_owned(), reason);
            }
            None => entry.anyone = Some(reason),
        }
    }

    /// Why `job` waits, if a pass said.
    pub fn of(&self, job: &Job) -> Option<PendReason> {
        self.own(job.id).or_else(|| self.shared(job))
    }

    /// A reason of `id`'s own.
    pub fn own(&self, id: u32) -> Option<PendReason> {
        self.jobs.get(&id).copied()
    }

    /// Why jobs like `job` wait: its shape's (its user's) reason, or the
    /// reason of the jobs a pass did not reach.
    pub fn shared(&self, job: &Job) -> Option<PendReason> {
        self.of_shape(&job.spec.shape, &job.spec.user)
    }

    fn of_shape(&self, shape: &Arc<Shape>, user: &str) -> Option<PendReason> {
        let found = self.shapes.get(&ShapeKey(Arc::clone(shape)));
        (found.and_then(|s| s.users.get(user).copied().or(s.anyone))).or(self.rest)
    }

    /// A full pass's reasons take the place of these. One that ended
    /// early did not look at every shape: what was said of the others
    /// still holds (capacity did not grow for them).
    pub fn replace(&mut self, mut newer: Reasons) {
        if newer.rest.is_some() {
            for (shape, found) in self.shapes.drain() {
                newer.shapes.entry(shape).or_insert(found);
            }
        }
        *self = newer;
    }

    /// Adds a pass over new jobs: what it found holds with the rest.
    pub fn extend(&mut self, newer: Reasons) {
        self.jobs.extend(newer.jobs);
        for (shape, found) in newer.shapes {
            let kept = self.shapes.entry(shape).or_default();
            kept.anyone = found.anyone.or(kept.anyone);
            kept.users.extend(found.users);
        }
    }

    /// `id` is no longer pending (or no longer held).
    pub fn forget(&mut self, id: u32) {
        self.jobs.remove(&id);
    }

    /// Entries kept: jobs with a reason of their own, and shapes.
    pub fn kept(&self) -> (usize, usize) {
        (self.jobs.len(), self.shapes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::ShapePool;
    use proto::mbd::SubmitRequest;

    fn shape(pool: &mut ShapePool, cpus: u32) -> Arc<Shape> {
        let r = SubmitRequest {
            cpus,
            ..SubmitRequest::default()
        };
        pool.intern(Shape::new(Some(0), Some(vec![]), &r))
    }

    /// [`Reasons::of`] without a `Job`.
    fn find(r: &Reasons, id: u32, shape: &Arc<Shape>, user: &str) -> Option<PendReason> {
        r.own(id).or_else(|| r.of_shape(shape, user))
    }

    #[test]
    fn a_job_reason_wins_over_its_user_then_its_shape() {
        let mut pool = ShapePool::default();
        let (small, big) = (shape(&mut pool, 1), shape(&mut pool, 8));
        let mut reasons = Reasons::default();
        reasons.shape(&small, None, PendReason::Cpus);
        reasons.shape(&small, Some("ann"), PendReason::HostSlots);
        reasons.job(7, PendReason::Dependency);
        assert_eq!(
            find(&reasons, 7, &small, "ann"),
            Some(PendReason::Dependency)
        );
        assert_eq!(
            find(&reasons, 8, &small, "ann"),
            Some(PendReason::HostSlots)
        );
        assert_eq!(find(&reasons, 9, &small, "bob"), Some(PendReason::Cpus));
        assert_eq!(find(&reasons, 10, &big, "bob"), None);
        let mut newer = Reasons::default();
        newer.shape(&big, None, PendReason::Mem);
        reasons.extend(newer);
        assert_eq!(find(&reasons, 10, &big, "bob"), Some(PendReason::Mem));
        reasons.forget(7);
        assert_eq!(find(&reasons, 7, &small, "bob"), Some(PendReason::Cpus));
    }

    #[test]
    fn a_pass_that_ended_early_keeps_what_was_said_of_shapes_it_did_not_reach() {
        let mut pool = ShapePool::default();
        let (small, big) = (shape(&mut pool, 1), shape(&mut pool, 8));
        let mut kept = Reasons::default();
        kept.shape(&big, None, PendReason::Mem);
        kept.shape(&small, None, PendReason::Cpus);
        let mut early = Reasons::new(5);
        early.shape(&small, None, PendReason::HostSlots);
        early.rest(PendReason::Cpus);
        kept.replace(early);
        assert_eq!(find(&kept, 1, &big, "ann"), Some(PendReason::Mem));
        assert_eq!(find(&kept, 1, &small, "ann"), Some(PendReason::HostSlots));
        let third = shape(&mut pool, 3);
        assert_eq!(
            find(&kept, 1, &third, "ann"),
            Some(PendReason::Cpus),
            "the rest"
        );
        // A pass that saw everything says all there is to say.
        kept.replace(Reasons::new(6));
        assert_eq!(find(&kept, 1, &big, "ann"), None);
    }
}
