//! What each user's jobs of each fair-share queue wait with, hold and
//! have used, kept as the jobs change: a pass then costs in proportion to
//! the users, not to every job they ever submitted.

use super::{Factors, Usage};
use crate::job::Job;
use crate::state::Waiting;
use crate::Cluster;
use proto::mbd::{event, JobState};
use std::collections::{BTreeSet, HashMap};

/// What one job counts for in its user's book.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// PEND: its place in scheduling order.
    Waiting(Waiting),
    /// Holding hosts (RUN, SUSP) since `started` (if logged).
    Running { slots: u32, started: Option<u64> },
    /// DONE or EXIT at `ended`, having used `cpu_hours`.
    Finished { cpu_hours: f64, ended: u64 },
}

impl Part {
    /// What `job` counts for, and in which fair-share queue (none
    /// outside them).
    pub fn of(cluster: &Cluster, job: &Job, waiting: Option<Waiting>) -> Option<(usize, Part)> {
        let q = job.spec.shape.queue_pos?;
        if cluster.queues.get(q)?.fairshare.is_empty() {
            return None;
        }
        let last = |what| job.events.iter().rev().find(|e| e.what == what);
        let part = if job.is_running() {
            Part::Running {
                slots: job.alloc.iter().map(|a| a.cpus).sum(),
                started: last(event::DISPATCHED).map(|e| e.time),
            }
        } else if job.state.is_finished() {
            let cpu_ms = last(event::USAGE)
                .and_then(|e| crate::job::parse_usage_text(&e.text))
                .map_or(0, |u| u.user_ms + u.system_ms);
            Part::Finished {
                cpu_hours: cpu_ms as f64 / 3_600_000.0,
                ended: last(event::FINISHED).map_or(0, |e| e.time),
            }
        } else if job.state == JobState::Pend {
            Part::Waiting(waiting?)
        } else {
            return None;
        };
        Some((q, part))
    }
}

/// CPU hours decayed by age, summed without walking the jobs: each is
/// kept scaled to `anchor`, so `sum` at `now` is one multiplication.
#[derive(Clone, Copy, Debug, Default)]
struct Decayed {
    jobs: u32,
    anchor: u64,
    sum: f64,
}

/// Past this many `hist_hours` from the anchor, move the anchor: a
/// weight of 10^30 keeps far from overflow.
const REANCHOR_AFTER: f64 = 30.0;

impl Decayed {
    /// How much an hour used at `ended` weighs against one used at the
    /// anchor.
    fn weight(&self, ended: u64, hist_hours: f64) -> f64 {
        if hist_hours <= 0.0 {
            return 1.0;
        }
        let hours = (ended as f64 - self.anchor as f64) / 3600.0;
        10f64.powf(hours / hist_hours)
    }

    fn add(&mut self, cpu_hours: f64, ended: u64, hist_hours: f64) {
        if self.jobs == 0 {
            *self = Decayed {
                jobs: 0,
                anchor: ended,
                sum: 0.0,
            };
        }
        let ahead = ended.saturating_sub(self.anchor) as f64 / 3600.0;
        if hist_hours > 0.0 && ahead / hist_hours > REANCHOR_AFTER {
            self.sum *= 1.0 / self.weight(ended, hist_hours);
            self.anchor = ended;
        }
        self.jobs += 1;
        self.sum += cpu_hours * self.weight(ended, hist_hours);
    }

    fn remove(&mut self, cpu_hours: f64, ended: u64, hist_hours: f64) {
        self.jobs = self.jobs.saturating_sub(1);
        self.sum = match self.jobs {
            0 => 0.0,
            _ => (self.sum - cpu_hours * self.weight(ended, hist_hours)).max(0.0),
        };
    }

    /// The decayed CPU hours at `now`: an hour used `hist_hours` ago
    /// weighs a tenth.
    fn at(&self, now: u64, hist_hours: f64) -> f64 {
        if self.jobs == 0 {
            return 0.0;
        }
        match hist_hours > 0.0 && now > self.anchor {
            true => self.sum / self.weight(now, hist_hours),
            false => self.sum,
        }
    }
}

/// One user's jobs in one fair-share queue.
#[derive(Debug, Default)]
pub struct Book {
    /// Its PEND jobs in scheduling order.
    pub waiting: BTreeSet<Waiting>,
    slots: u32,
    /// How many of its running jobs have a start time, and their sum: the
    /// hours they have run at `now` without walking them.
    timed: u32,
    started: u128,
    finished: Decayed,
}

impl Book {
    /// What these jobs hold and used at `now`.
    pub fn usage(&self, now: u64, f: &Factors) -> Usage {
        let run_secs = (u128::from(self.timed) * u128::from(now)).saturating_sub(self.started);
        Usage {
            slots: self.slots,
            run_hours: run_secs as f64 / 3600.0,
            cpu_hours: self.finished.at(now, f.hist_hours),
        }
    }

    fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.slots == 0 && self.timed == 0 && self.finished.jobs == 0
    }
}

/// Each fair-share queue's users' books.
#[derive(Debug, Default)]
pub struct Ledger {
    queues: HashMap<usize, HashMap<String, Book>>,
}

impl Ledger {
    /// Moves `user`'s job from counting `before` to counting `after`.
    pub fn change(
        &mut self,
        user: &str,
        before: Option<(usize, Part)>,
        after: Option<(usize, Part)>,
        f: &Factors,
    ) {
        if before == after {
            return;
        }
        if let Some((q, part)) = before {
            self.remove(q, user, part, f);
        }
        if let Some((q, part)) = after {
            let book = (self.queues.entry(q).or_default())
                .entry(user.to_owned())
                .or_default();
            match part {
                Part::Waiting(key) => {
                    book.waiting.insert(key);
                }
                Part::Running { slots, started } => {
                    book.slots += slots;
                    if let Some(t) = started {
                        book.timed += 1;
                        book.started += u128::from(t);
                    }
                }
                Part::Finished { cpu_hours, ended } => {
                    book.finished.add(cpu_hours, ended, f.hist_hours)
                }
            }
        }
    }

    fn remove(&mut self, q: usize, user: &str, part: Part, f: &Factors) {
        let Some(users) = self.queues.get_mut(&q) else {
            return;
        };
        let Some(book) = users.get_mut(user) else {
            return;
        };
        match part {
            Part::Waiting(key) => {
                book.waiting.remove(&key);
            }
            Part::Running { slots, started } => {
                book.slots = book.slots.saturating_sub(slots);
                if let Some(t) = started {
                    book.timed = book.timed.saturating_sub(1);
                    book.started = book.started.saturating_sub(u128::from(t));
                }
            }
            Part::Finished { cpu_hours, ended } => {
                book.finished.remove(cpu_hours, ended, f.hist_hours)
            }
        }
        if book.is_empty() {
            users.remove(user);
        }
    }

    /// The users of fair-share queue `q` with jobs in it, and their books.
    pub fn users(&self, q: usize) -> impl Iterator<Item = (&str, &Book)> {
        (self.queues.get(&q).into_iter().flatten()).map(|(u, b)| (u.as_str(), b))
    }
}

#[cfg(test)]
impl Ledger {
    /// Queue `q`'s books at `now` as text, by user: usage rounded to
    /// tell a kept ledger from one rebuilt from the jobs.
    pub fn summary(&self, q: usize, now: u64, f: &Factors) -> Vec<String> {
        let mut out: Vec<String> = (self.users(q))
            .map(|(user, book)| {
                let u = book.usage(now, f);
                let waiting: Vec<u32> = book.waiting.iter().map(|w| w.2).collect();
                format!(
                    "{user}: waiting {waiting:?} slots {} run {:.6} h cpu {:.6} h",
                    u.slots, u.run_hours, u.cpu_hours
                )
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn decayed_hours_weigh_a_tenth_after_hist_hours() {
        let mut d = Decayed::default();
        d.add(2.0, 0, 5.0);
        d.add(1.0, 5 * 3600, 5.0);
        assert!(
            near(d.at(5 * 3600, 5.0), 0.2 + 1.0),
            "{}",
            d.at(5 * 3600, 5.0)
        );
        assert!(near(d.at(10 * 3600, 5.0), 0.02 + 0.1));
        d.remove(1.0, 5 * 3600, 5.0);
        assert!(near(d.at(5 * 3600, 5.0), 0.2));
        d.remove(2.0, 0, 5.0);
        assert_eq!(d.at(5 * 3600, 5.0), 0.0);
        let mut flat = Decayed::default();
        flat.add(2.0, 0, 0.0);
        flat.add(1.0, 99 * 3600, 0.0);
        assert_eq!(
            flat.at(1000 * 3600, 0.0),
            3.0,
            "no decay without HIST_HOURS"
        );
    }

    #[test]
    fn a_year_of_ends_neither_overflows_nor_forgets_the_recent() {
        let mut d = Decayed::default();
        let hour = 3600;
        for h in 0..(365 * 24) {
            d.add(1.0, h * hour, 5.0);
        }
        let now = 365 * 24 * hour;
        // The last hour weighs 0.1^(1/5), the one before 0.1^(2/5)...
        let expected: f64 = (1..=365 * 24).map(|a| 0.1f64.powf(a as f64 / 5.0)).sum();
        assert!(d.at(now, 5.0).is_finite());
        assert!(
            near(d.at(now, 5.0), expected),
            "{} vs {expected}",
            d.at(now, 5.0)
        );
    }
}
