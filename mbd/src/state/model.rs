//! Random histories of what mbd is asked (bsub, bkill, bmove, bpriority,
//! queue and host control) and told (sbd's starts, ends and
//! registrations), with scheduling passes, compactions and restarts
//! between them. After every step:
//! - replaying the log (as written, compactions included) rebuilds the
//!   live state exactly: nothing acknowledged is lost or changed;
//! - a pass over only the jobs submitted since the last one plans the
//!   same starts as a full pass (what `Replan::New` relies on);
//! - the bookkeeping agrees with the jobs (finished count, allocations),
//!   and so do `bjobs -a` and `bqueues`;
//! - no host gives out more CPUs than it has or a GPU twice, and no
//!   token pool more tokens than it has;
//! - an sbd that registers is told to kill runs mbd does not know, and
//!   every run mbd believes it has is one it holds or one sent again
//!   because it never started; reports of other runs change nothing.

use super::execution::{ending_signal, key};
use super::tests::request;
use super::{sig, Caller, State};
use crate::change::Change;
use crate::cluster::tests::sample;
use crate::event_log::{Record, FORMAT};
use crate::sched::{self, HostStatus, Replan};
use crate::Cluster;
use proptest::prelude::*;
use proto::mbd::{
    ArraySpec, Control, JobRef, JobState, JobsRequest, MoveRequest, PriorityRequest, TokenRequest,
};
use proto::sbd::{Finished, JobKey, Register, Rejected, RunningJob, Started, Usage};

/// One thing that happens to mbd. Jobs and hosts are picked by index
/// into what exists, so most steps act on something real.
#[derive(Clone, Debug)]
enum Step {
    Submit(Submission),
    Signal {
        who: usize,
        job: usize,
        index: u32,
        signal: u32,
    },
    QueueControl {
        queue: usize,
        open: bool,
    },
    HostControl {
        host: usize,
        open: bool,
    },
    Move {
        who: usize,
        job: usize,
        queue: usize,
    },
    Priority {
        who: usize,
        job: usize,
        priority: i32,
    },
    /// lim's view changed.
    LimView {
        up: [bool; 3],
    },
    Schedule,
    Started {
        job: usize,
        report: Report,
        pid: u32,
    },
    Ended {
        job: usize,
        report: Report,
        exit_code: i32,
        signal: u32,
    },
    /// sbd could not set the run up (the job goes back to PEND).
    Rejected {
        job: usize,
        report: Report,
    },
    /// An sbd (re-)registers holding some of the jobs mbd believes it runs.
    Register {
        host: usize,
        held: u8,
        suspended: bool,
    },
    /// An sbd's connection closed.
    SbdLost {
        host: usize,
    },
    Compact {
        keep: usize,
    },
    Restart,
}

/// Where an sbd report comes from: mostly the run's own host, sometimes
/// another host or an earlier run's sbd (it must change nothing).
#[derive(Clone, Copy, Debug)]
enum Report {
    Own,
    OtherHost,
    OtherAttempt,
}

#[derive(Clone, Debug)]
struct Submission {
    who: usize,
    queue: usize,
    hold: bool,
    array: Option<(u32, u32, u32)>,
    cpus: u32,
    nhosts: u32,
    gpus: u32,
    tokens: u32,
    exclusive: bool,
    machines: Option<&'static [&'static str]>,
    /// `done(N)` etc. on the job picked by the index.
    dependency: Option<(&'static str, usize)>,
}

const USERS: [&str; 3] = ["ann", "bob", "root"];
const QUEUES: [&str; 3] = ["normal", "short", "nosuch"];
const HOSTS: [&str; 3] = ["cpu01", "cpu02", "gpu01"];
const SIGNALS: [u32; 6] = [
    sig::TERM,
    sig::KILL,
    sig::INT,
    sig::STOP,
    sig::CONT,
    sig::TSTP,
];

/// The sample cluster with fair share in `normal` (root has no shares
/// there), so the fair-share ledger is checked too.
fn cluster() -> Cluster {
    let mut cluster = sample();
    cluster.queues[0].fairshare = vec![("ann".into(), 3), ("bob".into(), 1)];
    cluster
}

fn caller(who: usize) -> Caller {
    let user = USERS[who % USERS.len()];
    Caller {
        uid: if user == "root" { 0 } else { 1000 + who as u32 },
        gid: 0,
        user: user.into(),
        admin: user == "root",
    }
}

fn submission() -> impl Strategy<Value = Submission> {
    let cpus = prop::sample::select(vec![1, 1, 1, 2, 3, 6]);
    let nhosts = prop::sample::select(vec![1, 1, 1, 2]);
    let gpus = prop::sample::select(vec![0, 0, 0, 0, 1, 2]);
    let tokens = prop::sample::select(vec![0, 0, 0, 1, 2]);
    let shape = (cpus, nhosts, gpus, tokens, prop::bool::weighted(0.2));
    let array = prop::option::weighted(0.3, (1u32..=3, 0u32..=4, 1u32..=2));
    // Overlapping and repeated names too: each host counts once.
    let machines: &[&[&str]] = &[
        &["cpus"],
        &["gpu01"],
        &["cpus", "cpu01"],
        &["gpu01", "gpu01"],
    ];
    let machines = prop::option::weighted(0.2, prop::sample::select(machines));
    let dep = prop::sample::select(vec!["done", "exit", "ended"]);
    let dependency = prop::option::weighted(0.2, (dep, any::<usize>()));
    (
        0..3usize,
        0..3usize,
        prop::bool::weighted(0.2),
        array,
        shape,
    )
        .prop_flat_map(move |s| (Just(s), machines.clone(), dependency.clone()))
        .prop_map(
            |((who, queue, hold, array, (cpus, nhosts, gpus, tokens, exclusive)), m, d)| {
                Submission {
                    who,
                    queue,
                    hold,
                    array: array.map(|(start, extra, step)| (start, start + extra, step)),
                    cpus,
                    nhosts,
                    gpus,
                    tokens,
                    exclusive,
                    machines: m,
                    dependency: d,
                }
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    let signal = prop::sample::select(SIGNALS.to_vec());
    // Mostly whole jobs; 1 and 2 name array elements.
    let index = prop::sample::select(vec![0, 0, 1, 2]);
    let exit_code = prop::sample::select(vec![0, 1, 2]);
    let ended_by = prop::sample::select(vec![0, sig::KILL, sig::TERM]);
    prop_oneof![
        4 => submission().prop_map(Step::Submit),
        3 => (0..3usize, any::<usize>(), index, signal)
            .prop_map(|(who, job, index, signal)| Step::Signal { who, job, index, signal }),
        1 => (0..3usize, prop::bool::weighted(0.6))
            .prop_map(|(queue, open)| Step::QueueControl { queue, open }),
        1 => (0..3usize, prop::bool::weighted(0.6))
            .prop_map(|(host, open)| Step::HostControl { host, open }),
        1 => (0..3usize, any::<usize>(), 0..3usize)
            .prop_map(|(who, job, queue)| Step::Move { who, job, queue }),
        1 => (0..3usize, any::<usize>(), -5i32..60)
            .prop_map(|(who, job, priority)| Step::Priority { who, job, priority }),
        1 => prop::array::uniform3(prop::bool::weighted(0.9)).prop_map(|up| Step::LimView { up }),
        6 => Just(Step::Schedule),
        4 => (any::<usize>(), report(), 1u32..1000)
            .prop_map(|(job, report, pid)| Step::Started { job, report, pid }),
        4 => (any::<usize>(), report(), exit_code, ended_by).prop_map(
            |(job, report, exit_code, signal)| Step::Ended { job, report, exit_code, signal }
        ),
        1 => (any::<usize>(), report()).prop_map(|(job, report)| Step::Rejected { job, report }),
        3 => (0..3usize, any::<u8>(), any::<bool>())
            .prop_map(|(host, held, suspended)| Step::Register { host, held, suspended }),
        1 => (0..3usize).prop_map(|host| Step::SbdLost { host }),
        1 => (0..4usize).prop_map(|keep| Step::Compact { keep }),
        1 => Just(Step::Restart),
    ]
}

fn report() -> impl Strategy<Value = Report> {
    prop_oneof![8 => Just(Report::Own), 1 => Just(Report::OtherHost), 1 => Just(Report::OtherAttempt)]
}

/// mbd's state with its log, as the daemon keeps them.
struct Mbd {
    state: State,
    log: Vec<Record>,
    /// What the next pass must look at (as the daemon tracks it).
    replan: Replan,
    hosts: Vec<HostStatus>,
    now: u64,
}

impl Mbd {
    /// Started with every sbd registered, as a cluster that is up.
    fn new() -> Mbd {
        let mut state = State::new(cluster());
        (0..HOSTS.len()).for_each(|h| state.set_sbd_up(h, true));
        Mbd {
            state,
            log: Vec::new(),
            replan: Replan::Nothing,
            hosts: vec![HostStatus::default(); HOSTS.len()],
            now: 1_000,
        }
    }

    /// Logs and applies, as `Daemon::change` does.
    fn change(&mut self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            self.log.push(record(&change));
            self.state.apply(&change);
            match &change {
                Change::Submitted(s) => self.replan.new_jobs(s.job_ids()),
                _ => self.replan.all(),
            }
        }
    }

    /// The id of the `n`th job mbd holds, or of one it does not.
    fn job(&self, n: usize) -> u32 {
        let ids: Vec<u32> = self.state.jobs.keys().copied().collect();
        ids.get(n % (ids.len() + 1))
            .copied()
            .unwrap_or(self.state.next_id)
    }

    /// The `n`th running job's key and host, as `report` gives them.
    fn running(&self, n: usize, report: Report) -> Option<(JobKey, usize)> {
        let running: Vec<_> = self.state.allocated_jobs().collect();
        let job = running.get(n % running.len().max(1))?;
        let mut key = key(job);
        let mut host = job.first_host()?;
        match report {
            Report::Own => {}
            Report::OtherHost => host = (host + 1) % HOSTS.len(),
            Report::OtherAttempt => key.attempt -= 1,
        }
        Some((key, host))
    }

    fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        self.now += 1;
        let now = self.now;
        match step {
            Step::Submit(s) => {
                let r = self.request(s);
                let change = self.state.submit(&caller(s.who), r, now);
                self.change(change.ok());
            }
            Step::Signal {
                who,
                job,
                index,
                signal,
            } => {
                let target = JobRef {
                    id: self.job(*job),
                    index: *index,
                };
                let changes = self.state.signal(&caller(*who), target, *signal, now);
                self.change(changes.unwrap_or_default());
            }
            Step::QueueControl { queue, open } => {
                let c = control(QUEUES[*queue], *open);
                let change = self.state.control_queue(&caller(2), &c, now);
                self.change(change.ok());
            }
            Step::HostControl { host, open } => {
                let c = control(HOSTS[*host], *open);
                let change = self.state.control_host(&caller(2), &c, now);
                self.change(change.ok());
            }
            Step::Move { who, job, queue } => {
                let req = MoveRequest {
                    job_id: self.job(*job),
                    queue: QUEUES[*queue].into(),
                };
                let change = self.state.move_job(&caller(*who), &req, now);
                self.change(change.ok().flatten());
            }
            Step::Priority { who, job, priority } => {
                let req = PriorityRequest {
                    job_id: self.job(*job),
                    priority: *priority,
                };
                let change = self.state.reprioritize(&caller(*who), &req, now);
                self.change(change.ok().flatten());
            }
            Step::LimView { up } => {
                for (status, up) in self.hosts.iter_mut().zip(up) {
                    status.up = *up;
                }
                self.replan.all();
            }
            Step::Schedule => self.schedule()?,
            Step::Started { job, report, pid } => {
                if let Some((job, host)) = self.running(*job, *report) {
                    let started = Started { job, pid: *pid };
                    let change = self.state.started(host, &started, now);
                    stray_changes_nothing(*report, &change)?;
                    self.change(change);
                }
            }
            Step::Ended {
                job,
                report,
                exit_code,
                signal,
            } => {
                if let Some((job, host)) = self.running(*job, *report) {
                    let change = self
                        .state
                        .ended(host, &finished(job, now, *exit_code, *signal));
                    stray_changes_nothing(*report, &change)?;
                    self.change(change);
                }
            }
            Step::Rejected { job, report } => {
                if let Some((job, host)) = self.running(*job, *report) {
                    let reason = "cannot spool the job".to_owned();
                    let change = self.state.rejected(host, &Rejected { job, reason }, now);
                    stray_changes_nothing(*report, &change)?;
                    let before = self.state.job(job.id).map(|j| (j.pid, ending_signal(j)));
                    self.change(change);
                    // A run that never started is back to PEND holding
                    // nothing, unless a user ended it; a started one is
                    // not news.
                    let after = self.state.job(job.id).map(|j| (j.state, j.alloc.len()));
                    match (*report, before) {
                        (Report::Own, Some((0, Some(_)))) => {
                            prop_assert_eq!(after.map(|a| a.0), Some(JobState::Exit))
                        }
                        (Report::Own, Some((0, None))) => {
                            prop_assert_eq!(after, Some((JobState::Pend, 0)))
                        }
                        _ => {}
                    }
                }
            }
            Step::Register {
                host,
                held,
                suspended,
            } => self.register(*host, *held, *suspended)?,
            Step::SbdLost { host } => {
                self.state.set_sbd_up(*host, false);
                self.replan.all();
            }
            Step::Compact { keep } => {
                self.log = self.state.compact(*keep).iter().map(record).collect();
            }
            Step::Restart => {
                self.state = replayed(&self.log)?;
                self.replan.all();
            }
        }
        self.check()
    }

    fn request(&self, s: &Submission) -> proto::mbd::SubmitRequest {
        let mut r = request("true");
        r.queue = QUEUES[s.queue].into();
        // Each user's shell, in two working directories: environments
        // alike and not, one after another, as a replay meets them.
        r.env = vec![
            format!("USER={}", USERS[s.who % USERS.len()]),
            format!("PWD=/home/{}", s.queue % 2),
            "PATH=/usr/bin:/bin".into(),
        ];
        r.hold = s.hold;
        if let Some((start, end, step)) = s.array {
            r.array = ArraySpec { start, end, step };
        }
        r.cpus = s.cpus;
        r.nhosts = s.nhosts;
        r.gpus = s.gpus;
        r.exclusive = s.exclusive;
        if s.tokens > 0 {
            r.tokens = vec![TokenRequest {
                pool: "ansys".into(),
                count: s.tokens,
            }];
        }
        r.machines = (s.machines.iter().copied().flatten())
            .map(|m| m.to_string())
            .collect();
        if let Some((condition, job)) = s.dependency {
            r.dependency = format!("{condition}({})", self.job(job));
        }
        r
    }

    /// One pass, as `Daemon::schedule` makes it, checked against a full
    /// pass over the same state.
    fn schedule(&mut self) -> Result<(), TestCaseError> {
        let scope = std::mem::take(&mut self.replan);
        let plan = sched::plan(&self.state, &self.hosts, self.now, &scope);
        let full = sched::plan(&self.state, &self.hosts, self.now, &Replan::All);
        prop_assert_eq!(&plan.starts, &full.starts, "a pass over {:?}", scope);
        self.state.set_reasons(full.reasons);
        let dispatched = self.state.dispatch(&plan.starts, self.now);
        self.change(dispatched);
        self.replan = Replan::Nothing;
        Ok(())
    }

    /// `host`'s sbd registers with the runs `held` picks of those mbd
    /// believes it has (as if it lost the others), the first of them
    /// possibly finished meanwhile.
    /// It also holds a run mbd never heard of, which it must be told to
    /// kill. Afterwards every run mbd believes is on `host` is one sbd
    /// holds, or one it never took (pid 0), sent again.
    fn register(&mut self, host: usize, held: u8, suspended: bool) -> Result<(), TestCaseError> {
        self.state.set_sbd_up(host, true);
        self.replan.all();
        let mine: Vec<JobKey> = (self.state.allocated_jobs())
            .filter(|j| j.first_host() == Some(host))
            .map(key)
            .collect();
        let mut reg = Register {
            host: HOSTS[host].into(),
            challenge: 0,
            running: Vec::new(),
            finished: Vec::new(),
        };
        for (n, job) in mine.into_iter().enumerate() {
            match (held >> (2 * (n % 4))) & 3 {
                0 => {}
                1 => reg.finished.push(finished(job, self.now, 0, 0)),
                _ => reg.running.push(RunningJob {
                    job,
                    pid: 4242,
                    suspended,
                }),
            }
        }
        let stray = JobKey {
            id: self.state.next_id + 7,
            attempt: 1,
        };
        reg.running.push(RunningJob {
            job: stray,
            pid: 4243,
            suspended,
        });
        let reconciled = self.state.reconcile(host, &reg, self.now);
        prop_assert!(reconciled.kill.contains(&stray), "{:?}", reconciled);
        self.change(reconciled.changes);
        for j in self
            .state
            .allocated_jobs()
            .filter(|j| j.first_host() == Some(host))
        {
            let key = key(j);
            let sent_again = reconciled.resend.contains(&j.id);
            prop_assert!(
                !sent_again || j.pid == 0,
                "job {} started yet sent again",
                j.id
            );
            let holds = reg.running.iter().any(|r| r.job == key);
            prop_assert!(holds || sent_again, "job {} neither held nor sent", j.id);
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let again = replayed(&self.log)?;
        if let Some(d) = first_difference(&image(&self.state), &image(&again)) {
            return Err(TestCaseError::fail(format!("replay differs:\n{d}")));
        }
        check_bookkeeping(&self.state)?;
        check_capacity(&self.state)?;
        check_listings(&self.state)
    }
}

fn check_bookkeeping(s: &State) -> Result<(), TestCaseError> {
    let finished: Vec<u32> = (s.jobs().filter(|j| j.state.is_finished()))
        .map(|j| j.id)
        .collect();
    prop_assert_eq!(s.finished(), finished.len());
    prop_assert_eq!(
        s.finished_jobs().map(|j| j.id).collect::<Vec<_>>(),
        finished
    );
    let users: std::collections::BTreeSet<&str> = s.jobs().map(|j| j.spec.user.as_str()).collect();
    prop_assert_eq!(s.index.by_user.len(), users.len(), "users indexed");
    for user in users {
        let theirs: Vec<u32> = (s.jobs().filter(|j| j.spec.user == user))
            .map(|j| j.id)
            .collect();
        prop_assert_eq!(s.jobs_of(user).map(|j| j.id).collect::<Vec<_>>(), theirs);
    }
    let holding: Vec<u32> = s.jobs().filter(|j| j.is_running()).map(|j| j.id).collect();
    prop_assert_eq!(
        s.index.allocated.iter().copied().collect::<Vec<_>>(),
        holding
    );
    let in_order = |jobs: Vec<&crate::job::Job>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    prop_assert_eq!(
        in_order(s.pending_in_order()),
        in_order(s.in_order(s.jobs().filter(|j| j.state.is_pending()))),
        "the waiting jobs' index"
    );
    let mut rebuilt = super::index::Indexes::default();
    for j in s.jobs() {
        let place = super::Place::of(&s.cluster, j);
        rebuilt.change(&s.cluster, j.id, &j.spec.user, None, Some(&place));
    }
    let at = |l: &crate::fairshare::Ledger| l.summary(0, 1_000_000, &s.cluster.fairshare);
    prop_assert_eq!(
        at(&s.index.ledger),
        at(&rebuilt.ledger),
        "the fair-share ledger"
    );
    for j in s.jobs() {
        let on_a_host = matches!(j.state, JobState::Run | JobState::Susp);
        prop_assert_eq!(j.is_running(), on_a_host, "job {} is {:?}", j.id, j.state);
    }
    Ok(())
}

/// No host gives out more CPUs than it has or a GPU twice; no pool more
/// tokens than it has.
fn check_capacity(s: &State) -> Result<(), TestCaseError> {
    for (h, host) in s.cluster.hosts.iter().enumerate() {
        let allocs = || {
            s.allocated_jobs()
                .flat_map(|j| &j.alloc)
                .filter(|a| a.host == h)
        };
        let cpus: u32 = allocs().map(|a| a.cpus).sum();
        prop_assert!(
            cpus <= host.cpus,
            "{} has {} CPUs given out",
            host.name,
            cpus
        );
        let mut gpus: Vec<u32> = allocs().flat_map(|a| a.gpus.clone()).collect();
        let given = gpus.len();
        gpus.sort_unstable();
        gpus.dedup();
        prop_assert_eq!(gpus.len(), given, "a GPU of {} given twice", &host.name);
    }
    for pool in &s.cluster.pools {
        let held: u32 = (s.allocated_jobs().flat_map(|j| &j.spec.request.tokens))
            .filter(|t| t.pool == pool.name)
            .map(|t| t.count)
            .sum();
        prop_assert!(
            held <= pool.available,
            "{} tokens of {} held",
            held,
            &pool.name
        );
    }
    Ok(())
}

/// `bjobs -a` by the admin lists every job once; `bqueues` counts every
/// unfinished job once.
fn check_listings(s: &State) -> Result<(), TestCaseError> {
    let all = JobsRequest {
        pend: true,
        run: true,
        done: true,
        ..JobsRequest::default()
    };
    let rows = s
        .job_rows(&caller(2), &all)
        .map_err(|r| TestCaseError::fail(r.to_string()))?;
    let mut listed: Vec<u32> = rows.map(|r| r.id).collect();
    listed.sort_unstable();
    prop_assert_eq!(listed, s.jobs().map(|j| j.id).collect::<Vec<_>>());
    let counted: u32 = (s.queue_rows().iter())
        .map(|q| q.pend + q.held + q.run + q.susp)
        .sum();
    let unfinished = s.jobs().filter(|j| !j.state.is_finished()).count();
    prop_assert_eq!(counted as usize, unfinished);
    for (q, row) in s.queue_rows().iter().enumerate() {
        let queued = || (s.jobs()).filter(|j| j.spec.shape.queue_pos == Some(q));
        let n = |state| queued().filter(|j| j.state == state).count() as u32;
        let counts = (
            n(JobState::Pend),
            n(JobState::Held),
            n(JobState::Run),
            n(JobState::Susp),
        );
        prop_assert_eq!(
            (row.pend, row.held, row.run, row.susp),
            counts,
            "{}",
            row.name
        );
        let held = queued()
            .filter(|j| !j.state.is_finished())
            .flat_map(|j| &j.alloc);
        let (cpus, hosts) = held.fold((0, 0), |(c, h), a| (c + a.cpus, h + 1));
        prop_assert_eq!(
            (row.used_cpus, row.used_hosts),
            (cpus, hosts),
            "{}",
            row.name
        );
    }
    Ok(())
}

fn stray_changes_nothing(report: Report, change: &Option<Change>) -> Result<(), TestCaseError> {
    if !matches!(report, Report::Own) {
        prop_assert!(change.is_none(), "{:?} report taken: {:?}", report, change);
    }
    Ok(())
}

fn control(name: &str, open: bool) -> Control {
    Control {
        name: name.into(),
        open,
    }
}

fn finished(job: JobKey, time: u64, exit_code: i32, signal: u32) -> Finished {
    Finished {
        job,
        time,
        exit_code,
        signal,
        usage: Usage::default(),
        note: String::new(),
    }
}

fn record(change: &Change) -> Record {
    Record {
        format: FORMAT,
        kind: change.kind(),
        payload: change.payload().into(),
    }
}

fn replayed(log: &[Record]) -> Result<State, TestCaseError> {
    State::replay(cluster(), log)
        .map_err(|(n, e)| TestCaseError::fail(format!("record {n} does not replay: {e}")))
}

/// Everything a restarted mbd must have back, as lines: every job whole,
/// the next id, which queues and hosts are open.
fn image(s: &State) -> Vec<String> {
    let mut lines: Vec<String> = s.jobs().map(|j| format!("{j:?}")).collect();
    lines.push(format!(
        "next {} queues {:?} hosts {:?}",
        s.next_id, s.queue_open, s.host_open
    ));
    lines
}

/// The first line where `live` and `replayed` differ, both ways.
fn first_difference(live: &[String], replayed: &[String]) -> Option<String> {
    let none = String::from("(nothing)");
    (0..live.len().max(replayed.len()))
        .map(|i| {
            (
                live.get(i).unwrap_or(&none),
                replayed.get(i).unwrap_or(&none),
            )
        })
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("live:     {a}\nreplayed: {b}"))
}

proptest! {
    #[test]
    fn any_history_replays_to_the_live_state(steps in prop::collection::vec(step(), 1..60)) {
        let mut mbd = Mbd::new();
        for step in &steps {
            mbd.run(step)?;
        }
    }
}
