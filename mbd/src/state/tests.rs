//! The state's rules, checked change by change.

use super::*;
use crate::change::Change;
use crate::cluster::tests::sample;
use crate::event_log::{EventLog, Record};
use proto::mbd::{event, ArraySpec, Control, JobRef, JobsRequest, SubmitRequest, TokenRequest};

pub(crate) fn ann() -> Caller {
    Caller {
        uid: 1000,
        gid: 0,
        user: "ann".into(),
        admin: false,
    }
}

pub(crate) fn request(command: &str) -> SubmitRequest {
    SubmitRequest {
        command: command.into(),
        cpus: 1,
        nhosts: 1,
        ..SubmitRequest::default()
    }
}

/// Submits and applies; returns the first job id.
pub(crate) fn submit(state: &mut State, who: &Caller, r: SubmitRequest) -> u32 {
    let change = state.submit(who, r, 100).unwrap();
    state.apply(&change);
    match change {
        Change::Submitted(s) => s.first_id,
        _ => unreachable!(),
    }
}

fn kill(state: &mut State, who: &Caller, id: u32, index: u32, signal: u32) -> Result<usize, u32> {
    let changes = state
        .signal(who, JobRef { id, index }, signal, 200)
        .map_err(|r| r.status)?;
    changes.iter().for_each(|c| state.apply(c));
    Ok(changes.len())
}

fn states(state: &State) -> Vec<(u32, JobState)> {
    state.jobs().map(|j| (j.id, j.state)).collect()
}

#[test]
fn submissions_get_consecutive_ids_the_default_queue_and_its_priority() {
    let mut s = State::new(sample());
    let a = submit(&mut s, &ann(), request("true"));
    let b = submit(
        &mut s,
        &ann(),
        SubmitRequest {
            hold: true,
            ..request("true")
        },
    );
    assert_eq!((a, b), (1, 2));
    let job = s.job(b).unwrap();
    assert_eq!(
        (job.state, job.spec.queue.as_str(), job.priority),
        (JobState::Held, "normal", 30)
    );
}

#[test]
fn bad_submissions_are_refused_with_lavalites_errno() {
    let s = State::new(sample());
    let refuse = |r: SubmitRequest| s.submit(&ann(), r, 0).unwrap_err().status;
    let q = |name: &str| SubmitRequest {
        queue: name.into(),
        ..request("true")
    };
    assert_eq!(refuse(q("nope")), status::EINVAL);
    let named = |len: usize| SubmitRequest {
        name: "j".repeat(len),
        ..request("true")
    };
    let long = s
        .submit(&ann(), named(proto::mbd::MAX_JOB_NAME + 1), 0)
        .unwrap_err();
    assert_eq!(long.status, status::EINVAL);
    assert!(
        long.message.contains("job name too long"),
        "{}",
        long.message
    );
    assert!(s.submit(&ann(), named(proto::mbd::MAX_JOB_NAME), 0).is_ok());
    let carl = Caller {
        user: "carl".into(),
        ..ann()
    };
    assert_eq!(
        s.submit(&carl, q("short"), 0).unwrap_err().status,
        status::EPERM
    );
    assert!(
        s.submit(
            &Caller {
                user: "bob".into(),
                ..ann()
            },
            q("short"),
            0
        )
        .is_ok(),
        "bob is in group team"
    );
    let tokens = vec![TokenRequest {
        pool: "nope".into(),
        count: 1,
    }];
    assert_eq!(
        refuse(SubmitRequest {
            tokens,
            ..request("true")
        }),
        status::EINVAL
    );
    assert_eq!(
        refuse(SubmitRequest {
            dependency: "done(5)".into(),
            ..request("true")
        }),
        status::EINVAL
    );
    assert_eq!(
        refuse(SubmitRequest {
            machines: vec!["x".into()],
            ..request("true")
        }),
        status::EINVAL
    );
    assert_eq!(refuse(request(" ")), status::EINVAL);
    let huge = ArraySpec {
        start: 1,
        end: 1_000_000,
        step: 1,
    };
    assert_eq!(
        refuse(SubmitRequest {
            array: huge,
            ..request("true")
        }),
        status::EINVAL
    );
}

#[test]
fn arrays_are_elements_with_their_own_ids() {
    let mut s = State::new(sample());
    submit(&mut s, &ann(), request("true"));
    let array = ArraySpec {
        start: 1,
        end: 7,
        step: 3,
    };
    let id = submit(
        &mut s,
        &ann(),
        SubmitRequest {
            array,
            ..request("true")
        },
    );
    assert_eq!(id, 2);
    let shown: Vec<_> = s.jobs().skip(1).map(|j| (j.id, j.display_id())).collect();
    assert_eq!(
        shown,
        [(2, "2[1]".into()), (3, "2[4]".into()), (4, "2[7]".into())]
    );
    let next = submit(&mut s, &ann(), request("true"));
    assert_eq!(next, 5);
    // N[i] names one element; N the whole array; an element's own id one job.
    assert_eq!(kill(&mut s, &ann(), 2, 4, sig::STOP), Ok(1));
    assert_eq!(s.job(3).unwrap().state, JobState::Held);
    assert_eq!(kill(&mut s, &ann(), 2, 0, sig::TERM), Ok(3));
    assert_eq!(kill(&mut s, &ann(), 2, 9, sig::TERM), Err(status::ESRCH));
    assert!(s
        .jobs()
        .filter(|j| j.array_id == 2)
        .all(|j| j.state == JobState::Exit));
    assert_eq!(
        kill(&mut s, &ann(), 2, 0, sig::TERM),
        Err(status::EINVAL),
        "all finished"
    );
}

#[test]
fn bkill_on_pending_jobs_follows_lavalite() {
    let mut s = State::new(sample());
    let id = submit(&mut s, &ann(), request("true"));
    assert_eq!(
        kill(&mut s, &ann(), id, 0, sig::CONT),
        Ok(0),
        "CONT on PEND is a no-op"
    );
    assert_eq!(kill(&mut s, &ann(), id, 0, sig::TSTP), Ok(1));
    assert_eq!(s.job(id).unwrap().state, JobState::Held);
    assert_eq!(
        kill(&mut s, &ann(), id, 0, sig::STOP),
        Ok(0),
        "already held"
    );
    assert_eq!(
        kill(&mut s, &ann(), id, 0, libc::SIGHUP as u32),
        Err(status::EINVAL)
    );
    let bob = Caller {
        user: "bob".into(),
        uid: 1001,
        gid: 0,
        admin: false,
    };
    assert_eq!(kill(&mut s, &bob, id, 0, sig::TERM), Err(status::EPERM));
    assert_eq!(kill(&mut s, &ann(), id, 0, sig::CONT), Ok(1));
    assert_eq!(kill(&mut s, &ann(), id, 0, sig::KILL), Ok(1));
    let job = s.job(id).unwrap();
    assert_eq!(job.state, JobState::Exit);
    let whats: Vec<_> = job.events.iter().map(|e| (e.what, e.code)).collect();
    assert_eq!(
        whats,
        [
            (event::SUBMITTED, 0),
            (event::SIGNAL, sig::TSTP as i32),
            (event::HELD, 0),
            (event::SIGNAL, sig::CONT as i32),
            (event::RELEASED, 0),
            (event::SIGNAL, 9),
            (event::FINISHED, 137)
        ]
    );
    assert_eq!(
        kill(&mut s, &ann(), id, 0, sig::TERM),
        Err(status::EINVAL),
        "finished"
    );
    assert_eq!(kill(&mut s, &ann(), 99, 0, sig::TERM), Err(status::ESRCH));
}

#[test]
fn bkill_0_signals_only_the_callers_jobs_unless_admin() {
    let mut s = State::new(sample());
    let bob = Caller {
        user: "bob".into(),
        uid: 1001,
        gid: 0,
        admin: false,
    };
    submit(&mut s, &ann(), request("a"));
    submit(&mut s, &bob, request("b"));
    assert_eq!(kill(&mut s, &ann(), 0, 0, sig::STOP), Ok(1));
    assert_eq!(states(&s), [(1, JobState::Held), (2, JobState::Pend)]);
    let root = Caller {
        user: "root".into(),
        uid: 0,
        gid: 0,
        admin: true,
    };
    assert_eq!(kill(&mut s, &root, 0, 0, sig::TERM), Ok(2));
}

#[test]
fn listings_filter_by_owner_state_and_user() {
    let mut s = State::new(sample());
    let bob = Caller {
        user: "bob".into(),
        uid: 1001,
        gid: 0,
        admin: false,
    };
    let root = Caller {
        user: "root".into(),
        uid: 0,
        gid: 0,
        admin: true,
    };
    submit(&mut s, &ann(), request("a"));
    submit(&mut s, &bob, request("b"));
    submit(
        &mut s,
        &ann(),
        SubmitRequest {
            queue: "short".into(),
            ..request("c")
        },
    );
    kill(&mut s, &ann(), 1, 0, sig::TERM).unwrap();
    let ids = |who: &Caller, req: JobsRequest| -> Vec<u32> {
        s.job_rows(who, &req).unwrap().map(|r| r.id).collect()
    };
    assert_eq!(
        ids(&ann(), JobsRequest::default()),
        [3],
        "own unfinished only"
    );
    assert_eq!(
        ids(&root, JobsRequest::default()),
        [3, 2],
        "short (40) before normal (30)"
    );
    assert_eq!(
        ids(
            &ann(),
            JobsRequest {
                done: true,
                ..Default::default()
            }
        ),
        [1]
    );
    let all = JobsRequest {
        pend: true,
        run: true,
        done: true,
        ..Default::default()
    };
    assert_eq!(
        ids(
            &root,
            JobsRequest {
                user: "bob".into(),
                ..all.clone()
            }
        ),
        [2]
    );
    assert_eq!(ids(&root, all), [3, 2, 1]);
    let named = |id| JobsRequest {
        job: JobRef { id, index: 0 },
        ..Default::default()
    };
    assert_eq!(ids(&ann(), named(1)), [1], "a named finished job is shown");
    assert_eq!(
        s.job_rows(&ann(), &named(2)).err().map(|e| e.status),
        Some(status::EPERM)
    );
    assert_eq!(
        s.job_rows(&ann(), &named(9)).err().map(|e| e.status),
        Some(status::ESRCH)
    );
    let queues = s.queue_rows();
    assert_eq!((queues[0].pend, queues[1].pend), (1, 1));
}

#[test]
fn replaying_the_logged_changes_rebuilds_the_same_state() {
    let dir = std::env::temp_dir().join(format!("mbd-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events");
    let (mut log, _) = EventLog::open(&path).unwrap();
    let mut live = State::new(sample());
    let root = Caller {
        user: "root".into(),
        uid: 0,
        gid: 0,
        admin: true,
    };
    let mut changes = vec![live
        .submit(
            &ann(),
            SubmitRequest {
                hold: true,
                ..request("a")
            },
            10,
        )
        .unwrap()];
    live.apply(&changes[0]);
    let array = ArraySpec {
        start: 1,
        end: 3,
        step: 1,
    };
    changes.push(
        live.submit(
            &ann(),
            SubmitRequest {
                array,
                ..request("b")
            },
            11,
        )
        .unwrap(),
    );
    live.apply(&changes[1]);
    for change in live
        .signal(&ann(), JobRef { id: 2, index: 2 }, sig::TERM, 12)
        .unwrap()
    {
        live.apply(&change);
        changes.push(change);
    }
    let close = Control {
        name: "short".into(),
        open: false,
    };
    changes.push(live.control_queue(&root, &close, 13).unwrap());
    live.apply(changes.last().unwrap());
    for c in &changes {
        log.append(c.kind(), &c.payload()).unwrap();
    }
    log.commit().unwrap();
    drop(log);
    let (_, replay) = EventLog::open(&path).unwrap();
    let again = State::replay(sample(), &replay.records).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(states(&again), states(&live));
    assert_eq!(states(&again)[2], (3, JobState::Exit));
    assert!(!again.queue_open(1));
    assert_eq!(again.next_id, 5);
    let events = |s: &State| s.jobs().map(|j| j.events.clone()).collect::<Vec<_>>();
    assert_eq!(events(&again), events(&live));
}

#[test]
fn an_environment_is_held_once_and_given_back_whole() {
    let mut s = State::new(sample());
    let env: Vec<String> = vec!["HOME=/home/ann".into(), "PATH=/bin".into()];
    let with_env = || SubmitRequest {
        env: env.clone(),
        hold: true,
        ..request("x")
    };
    let a = submit(&mut s, &ann(), with_env());
    let b = submit(&mut s, &ann(), with_env());
    let spec = |s: &State, id| Arc::clone(&s.job(id).unwrap().spec);
    assert!(Arc::ptr_eq(&spec(&s, a).env, &spec(&s, b).env));
    assert!(spec(&s, a).request.env.is_empty(), "not held twice");
    let snapshot = s.compact(0);
    let spec_of_b = snapshot.iter().find_map(|c| match c {
        Change::JobOfSpec(j) if j.id == b => Some(j.spec_id),
        _ => None,
    });
    let env_of_b = snapshot.iter().find_map(|c| match c {
        Change::SpecOfEnv(i) if Some(i.spec_id) == spec_of_b => Some(i.env_id),
        _ => None,
    });
    let logged: Vec<_> = (snapshot.iter())
        .filter_map(|c| match c {
            Change::EnvImage(e) => Some((e.env_id, e.vars.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        logged,
        [(env_of_b.unwrap(), env.clone())],
        "compaction logs it whole, once for both jobs"
    );
    let mut rebuilt = State::new(sample());
    snapshot.iter().for_each(|c| rebuilt.apply(c));
    assert_eq!(spec(&rebuilt, b).full_request().env, env);
    let records: Vec<Record> = (snapshot.iter())
        .map(|c| Record {
            format: crate::event_log::FORMAT,
            kind: c.kind(),
            payload: c.payload().into(),
        })
        .collect();
    let replayed = State::replay(sample(), &records).unwrap();
    assert_eq!(
        spec(&replayed, b).full_request().env,
        env,
        "replay moves it"
    );
}

#[test]
fn a_snapshot_written_before_environments_were_pooled_still_replays() {
    use crate::change::{Checkpoint, JobOfSpec, SpecImage};
    let env = vec!["HOME=/home/ann".to_string()];
    let old_snapshot = [
        Change::Checkpoint(Checkpoint {
            next_id: 8,
            closed_queues: vec![],
            closed_hosts: vec![],
        }),
        Change::SpecImage(Box::new(SpecImage {
            spec_id: 0,
            user: "ann".into(),
            uid: 1000,
            queue: "normal".into(),
            submit_time: 100,
            request: SubmitRequest {
                env: env.clone(),
                ..request("x")
            },
        })),
        Change::JobOfSpec(Box::new(JobOfSpec {
            id: 7,
            array_id: 0,
            index: 0,
            spec_id: 0,
            priority: 0,
            state: JobState::Pend,
            events: vec![],
            attempt: 0,
            pid: 0,
            allocs: vec![],
        })),
    ];
    let mut s = State::new(sample());
    old_snapshot.iter().for_each(|c| s.apply(c));
    let job = s.job(7).expect("the job is back");
    assert_eq!(job.spec.full_request().env, env);
}

#[test]
fn a_pending_array_is_one_specification_in_a_snapshot_and_comes_back_whole() {
    let mut s = State::new(sample());
    let first = submit(
        &mut s,
        &ann(),
        SubmitRequest {
            array: proto::mbd::ArraySpec {
                start: 1,
                end: 1000,
                step: 1,
            },
            env: vec!["HOME=/home/ann".into()],
            ..request("x")
        },
    );
    let snapshot = s.compact(0);
    let specs = (snapshot.iter())
        .filter(|c| matches!(c, Change::SpecOfEnv(_)))
        .count();
    assert_eq!(specs, 1, "one specification for 1,000 elements");
    let bytes: usize = snapshot.iter().map(|c| c.payload().len()).sum();
    assert!(
        bytes < 1000 * 100,
        "{bytes} bytes for 1,000 pending elements"
    );
    let mut rebuilt = State::new(sample());
    snapshot.iter().for_each(|c| rebuilt.apply(c));
    let (a, b) = (rebuilt.job(first), rebuilt.job(first + 999));
    let (a, b) = (a.expect("first element"), b.expect("last element"));
    assert!(Arc::ptr_eq(&a.spec, &b.spec), "the elements share it again");
    assert_eq!((b.array_id, b.index), (first, 1000));
    assert_eq!(b.spec.full_request().env, ["HOME=/home/ann"]);
}

#[test]
fn a_large_backlog_is_compacted_less_often() {
    let mut s = State::new(sample());
    let held = SubmitRequest {
        hold: true,
        ..request("x")
    };
    for _ in 0..40 {
        submit(&mut s, &ann(), held.clone());
    }
    for _ in 0..6 {
        let id = submit(&mut s, &ann(), request("y"));
        kill(&mut s, &ann(), id, 0, sig::TERM).unwrap();
    }
    assert!(
        s.compaction_due(5),
        "6 finished > the threshold of 5 and 40 / 8"
    );
    for _ in 0..200 {
        submit(&mut s, &ann(), held.clone());
    }
    assert!(
        !s.compaction_due(5),
        "6 finished do not pay for rewriting 240 live jobs"
    );
    for _ in 0..30 {
        let id = submit(&mut s, &ann(), request("y"));
        kill(&mut s, &ann(), id, 0, sig::TERM).unwrap();
    }
    assert!(s.compaction_due(5), "36 finished for 240 live: they do");
}

#[test]
fn compaction_keeps_live_jobs_and_the_newest_finished_ones() {
    let mut s = State::new(sample());
    for _ in 0..5 {
        let id = submit(&mut s, &ann(), request("x"));
        kill(&mut s, &ann(), id, 0, sig::TERM).unwrap();
    }
    let live = submit(
        &mut s,
        &ann(),
        SubmitRequest {
            hold: true,
            ..request("y")
        },
    );
    assert_eq!(s.finished(), 5);
    let snapshot = s.compact(2);
    assert_eq!(s.finished(), 2);
    assert_eq!(s.jobs().map(|j| j.id).collect::<Vec<_>>(), [4, 5, live]);
    let mut rebuilt = State::new(sample());
    snapshot.iter().for_each(|c| rebuilt.apply(c));
    assert_eq!(states(&rebuilt), states(&s));
    assert_eq!(rebuilt.finished(), 2);
    assert_eq!(rebuilt.job(5).unwrap().events, s.job(5).unwrap().events);
    let next = submit(&mut rebuilt, &ann(), request("z"));
    assert_eq!(next, live + 1, "ids are never reused after compaction");
}

#[test]
fn an_array_stays_addressable_after_compaction_drops_its_first_element() {
    let mut s = State::new(sample());
    let array = ArraySpec {
        start: 1,
        end: 3,
        step: 1,
    };
    let id = submit(
        &mut s,
        &ann(),
        SubmitRequest {
            array,
            ..request("x")
        },
    );
    kill(&mut s, &ann(), id, 1, sig::TERM).unwrap();
    s.compact(0);
    assert!(s.job(id).is_none(), "the first element is gone");
    let whole = JobRef { id, index: 0 };
    assert_eq!(s.resolve(whole).map(|j| j.len()), Ok(2));
    assert_eq!(kill(&mut s, &ann(), id, 0, sig::TERM), Ok(2));
    assert_eq!(s.outcome(id), Outcome::Exit);
}

#[test]
fn a_reconfigured_state_keeps_every_job_as_a_replay_would() {
    use crate::change::{AllocRecord, Dispatched};
    let mut s = State::new(sample());
    s.set_sbd_up(1, true);
    let running = submit(&mut s, &ann(), request("sleep 9"));
    let held = submit(
        &mut s,
        &ann(),
        SubmitRequest {
            hold: true,
            ..request("true")
        },
    );
    s.apply(&Change::Dispatched(Dispatched {
        id: running,
        attempt: 1,
        time: 5,
        allocs: vec![AllocRecord {
            host: "cpu02".into(),
            cpus: 1,
            gpus: vec![],
        }],
    }));
    let rows = |s: &State| -> Vec<_> {
        let all = JobsRequest {
            pend: true,
            run: true,
            done: true,
            ..JobsRequest::default()
        };
        s.job_rows(&ann(), &all).unwrap().collect()
    };
    let before = rows(&s);
    // cpu01 taken out: cpu02 moves to position 0, the job with it.
    let mut fewer = crate::cluster::tests::sample();
    fewer.hosts.remove(0);
    let mut again = s.reconfigured(fewer);
    again.set_sbd_up(0, true);
    assert_eq!(rows(&again), before);
    assert_eq!(again.job(running).unwrap().first_host(), Some(0));
    assert_eq!(again.job(held).unwrap().state, JobState::Held);
}
