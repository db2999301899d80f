//! Job histories read from mbd's event logs on disk, for `bhist`: the
//! archives compaction leaves behind hold the jobs mbd no longer keeps in
//! memory, and the current log stands in for mbd when it is down.
//!
//! Each file is replayed on its own into a fresh [`State`]: an archive
//! starts with the snapshot compaction wrote, so it is complete by itself.
//! A job's newest file holds its whole history, so files are read newest
//! first and a job already found is skipped.

use crate::change::BadRecord;
use crate::event_log::{self, LogError};
use crate::state::{Caller, Refusal, State};
use crate::Cluster;
use proto::mbd::{status, HistoryRequest, JobHistory};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum ArchiveError {
    Log(LogError),
    Record {
        path: PathBuf,
        number: usize,
        error: BadRecord,
    },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Log(e) => e.fmt(f),
            ArchiveError::Record {
                path,
                number,
                error,
            } => write!(f, "{}: record {number}: {error}", path.display()),
        }
    }
}

impl std::error::Error for ArchiveError {}

/// What the files on disk add to what mbd answered.
#[derive(Debug, Default)]
pub struct Found {
    pub jobs: Vec<JobHistory>,
    /// The named job exists but `who` may not see it.
    pub refused: Option<Refusal>,
}

/// Which of mbd's files to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Files {
    /// Only the archives: mbd answered for the jobs it holds.
    Archives,
    /// The current log too: mbd is not answering.
    All,
}

/// The histories `req` asks for from the logs beside (and, with
/// [`Files::All`], at) `log_path`, leaving out the ids in `known` (jobs
/// mbd already answered for) and adding the ids it returns to it.
pub fn histories(
    log_path: &Path,
    files: Files,
    cluster: &Cluster,
    who: &Caller,
    req: &HistoryRequest,
    known: &mut BTreeSet<u32>,
) -> Result<Found, ArchiveError> {
    let mut paths = event_log::archives(log_path).map_err(|source| {
        ArchiveError::Log(LogError::Io {
            path: log_path.to_owned(),
            source,
        })
    })?;
    if files == Files::All && log_path.exists() {
        paths.push(log_path.to_owned());
    }
    let mut found = Found::default();
    for path in paths.iter().rev() {
        let state = replay(path, cluster)?;
        match state.history(who, req) {
            Ok(jobs) => {
                found.jobs.extend(jobs.filter(|j| known.insert(j.row.id)));
            }
            Err(refusal) if refusal.status == status::EPERM => {
                found.refused.get_or_insert(refusal);
            }
            Err(_) => {}
        };
    }
    found.jobs.sort_by_key(|j| j.row.id);
    Ok(found)
}

/// The jobs of one log file, as mbd held them when the file ended.
fn replay(path: &Path, cluster: &Cluster) -> Result<State, ArchiveError> {
    let records = event_log::read_records(path).map_err(ArchiveError::Log)?;
    State::replay(cluster.clone(), &records).map_err(|(number, error)| ArchiveError::Record {
        path: path.to_owned(),
        number,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::cluster::tests::sample;
    use crate::event_log::EventLog;
    use crate::state::tests::{ann, request};
    use proto::mbd::{JobRef, JobState};

    const TERM: u32 = 15;

    fn apply(events: &mut EventLog, live: &mut State, changes: Vec<Change>) {
        for c in changes {
            events.append(c.kind(), &c.payload()).unwrap();
            live.apply(&c);
        }
        events.commit().unwrap();
    }

    fn submit_and_kill(events: &mut EventLog, live: &mut State) {
        let change = live.submit(&ann(), request("true"), 100).unwrap();
        let Change::Submitted(s) = &change else {
            unreachable!()
        };
        let id = s.first_id;
        apply(events, live, vec![change]);
        let kill = live.signal(&ann(), JobRef { id, index: 0 }, TERM, 200);
        apply(events, live, kill.unwrap());
    }

    fn compact(events: &mut EventLog, live: &mut State) {
        let snapshot: Vec<_> = (live.compact(1).iter())
            .map(|c| (c.kind(), c.payload()))
            .collect();
        events.rewrite(&snapshot).unwrap();
    }

    /// A log where jobs 1-4 were submitted and killed, a compaction kept
    /// only job 4, then job 5 was submitted and killed and a second one
    /// kept 5; job 6 is still pending. Returns the live state.
    fn history_with_two_archives(log: &Path) -> State {
        let (mut events, _) = EventLog::open(log).unwrap();
        let mut live = State::new(sample());
        for _ in 0..4 {
            submit_and_kill(&mut events, &mut live);
        }
        compact(&mut events, &mut live);
        submit_and_kill(&mut events, &mut live);
        compact(&mut events, &mut live);
        let pending = live.submit(&ann(), request("sleep 1"), 300).unwrap();
        apply(&mut events, &mut live, vec![pending]);
        live
    }

    fn ids(found: &Found) -> Vec<u32> {
        found.jobs.iter().map(|j| j.row.id).collect()
    }

    #[test]
    fn archives_supply_the_jobs_compaction_dropped_and_nothing_twice() {
        let dir = std::env::temp_dir().join(format!("mbd-archive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("events");
        let live = history_with_two_archives(&log);
        let all = HistoryRequest::default();
        let held: Vec<u32> = live.jobs().map(|j| j.id).collect();
        assert_eq!(
            held,
            [5, 6],
            "mbd keeps the newest finished job and the pending one"
        );

        let mut known: BTreeSet<u32> = held.iter().copied().collect();
        let found = histories(&log, Files::Archives, &sample(), &ann(), &all, &mut known).unwrap();
        assert_eq!(ids(&found), [1, 2, 3, 4]);
        assert!(found.jobs.iter().all(|j| j.row.state == JobState::Exit));
        assert!(
            found.jobs[3].events.len() >= 2,
            "job 4's history is whole (submitted, then killed) though it spans two logs"
        );
        assert_eq!(known.len(), 6);

        let mut none = BTreeSet::new();
        let down = histories(&log, Files::All, &sample(), &ann(), &all, &mut none).unwrap();
        assert_eq!(
            ids(&down),
            [1, 2, 3, 4, 5, 6],
            "mbd down: the current log too"
        );
        assert_eq!(down.jobs[5].row.state, JobState::Pend);

        let bob = Caller {
            uid: 1001,
            user: "bob".into(),
            admin: false,
        };
        let job_2 = HistoryRequest {
            job: JobRef { id: 2, index: 0 },
            ..HistoryRequest::default()
        };
        let refused = histories(
            &log,
            Files::Archives,
            &sample(),
            &bob,
            &job_2,
            &mut BTreeSet::new(),
        )
        .unwrap();
        assert!(refused.jobs.is_empty());
        assert_eq!(refused.refused.map(|r| r.status), Some(status::EPERM));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
