//! Job histories read from mbd's event logs on disk, for `bhist`: the
//! archives compaction leaves behind hold the jobs mbd no longer keeps in
//! memory, and the current log stands in for mbd when it is down.
//!
//! Each file is replayed on its own into a fresh [`State`]: an archive
//! starts with the snapshot compaction wrote, so it is complete by itself.
//! A job's newest file holds its whole history, so files are read newest
//! first and a job already found is skipped.
//!
//! Beside each archive, compaction leaves an index of the jobs whose
//! history ends there (those it dropped from memory), so `bhist ID`
//! replays one archive instead of all. An archive without an index
//! (written by an older mbd, or a compaction cut short before it) is
//! read whole, as before.

use crate::acct::{self, Tally};
use crate::change::BadRecord;
use crate::event_log::{self, LogError};
use crate::state::{Caller, Refusal, State};
use crate::Cluster;
use proto::mbd::{status, AcctRecord, HistoryRequest, JobHistory, JobRef};
use std::collections::BTreeSet;
use std::fmt;
use std::io;
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
    let mut paths = event_log::archives(log_path).map_err(io_error(log_path))?;
    if req.job.id != 0 {
        paths.retain(|archive| read_index(archive).is_none_or(|ended| holds(&ended, req.job)));
    }
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

/// Adds to `tally` the finished jobs `filter` selects from the archives
/// beside `log_path`: from the accounting kept beside each (made, and
/// kept, from the archive and its index where it is missing). `held` are
/// the jobs mbd holds: an archive with no index (an older mbd's) may hold
/// them and the jobs of newer archives too, and counts none twice.
pub fn acct(
    log_path: &Path,
    cluster: &Cluster,
    filter: &acct::Filter,
    held: &BTreeSet<u32>,
    tally: &mut Tally,
) -> Result<(), ArchiveError> {
    let paths = event_log::archives(log_path).map_err(io_error(log_path))?;
    let unindexed = |p: &PathBuf| !acct::path_of(p).exists() && read_index(p).is_none();
    // Ids already counted: needed only to read an unindexed archive.
    let mut seen: Option<BTreeSet<u32>> = paths.iter().any(unindexed).then(|| held.clone());
    for path in paths.iter().rev() {
        // A job's accounting is in one file only: none is counted twice.
        let mut part = tally.part();
        let mut ids = Vec::new();
        let kept = acct::read(path, |r| {
            if seen.is_some() {
                ids.push(r.id);
            }
            if filter.matches(&r) {
                part.add(r);
            }
        });
        let kept = kept.map_err(io_error(&acct::path_of(path)))?;
        if kept {
            tally.merge(part);
            if let Some(seen) = seen.as_mut() {
                seen.extend(ids);
            }
            continue;
        }
        let add = |r: AcctRecord| {
            let first = seen.as_mut().is_none_or(|s| s.insert(r.id));
            if first && filter.matches(&r) {
                tally.add(r);
            }
        };
        let state = replay(path, cluster)?;
        match read_index(path) {
            Some(runs) => {
                let records: Vec<AcctRecord> = (runs.iter())
                    .flat_map(|r| r.first..=r.last)
                    .filter_map(|id| state.acct_of(id))
                    .collect();
                if let Err(e) = acct::write(path, &records) {
                    log::warn!("cannot keep the accounting of {} ({e})", path.display());
                }
                records.into_iter().for_each(add);
            }
            None => state
                .jobs()
                .filter_map(|j| state.acct_of(j.id))
                .for_each(add),
        }
    }
    Ok(())
}

/// An I/O failure on `path`, as an archive error.
fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| {
        ArchiveError::Log(LogError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// Consecutive job ids of one array (0: plain jobs) whose history ends
/// in an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EndedRun {
    first: u32,
    last: u32,
    array_id: u32,
}

/// Where the index of `archive` lives: `events.<n>.jobs`.
fn index_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".jobs");
    PathBuf::from(name)
}

/// Writes the index of `archive`: the jobs (id, array id) compaction
/// dropped when it wrote it, one line per run (`first last array_id`).
/// Not synced: a lost index only makes bhist read the archive whole.
pub fn write_index(archive: &Path, dropped: &[(u32, u32)]) -> io::Result<()> {
    let mut dropped = dropped.to_vec();
    dropped.sort_unstable();
    let mut runs: Vec<EndedRun> = Vec::new();
    for (id, array_id) in dropped {
        match runs.last_mut() {
            Some(r) if r.array_id == array_id && r.last.checked_add(1) == Some(id) => r.last = id,
            _ => runs.push(EndedRun {
                first: id,
                last: id,
                array_id,
            }),
        }
    }
    let mut text = String::from("# first last array_id: jobs whose history ends in this archive\n");
    for r in &runs {
        text.push_str(&format!("{} {} {}\n", r.first, r.last, r.array_id));
    }
    let path = index_path(archive);
    let tmp = index_path(&path);
    conf::state_dir::write_private(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, &path)
}

/// The runs an archive's index lists; `None` if it has none (or one this
/// bhist cannot read): then the archive may hold any job.
fn read_index(archive: &Path) -> Option<Vec<EndedRun>> {
    let text = std::fs::read_to_string(index_path(archive)).ok()?;
    (text.lines())
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let mut n = line.split_whitespace().map(|f| f.parse::<u32>().ok());
            Some(EndedRun {
                first: n.next()??,
                last: n.next()??,
                array_id: n.next()??,
            })
        })
        .collect()
}

/// Whether the jobs `job` names may end in an archive with these runs.
fn holds(ended: &[EndedRun], job: JobRef) -> bool {
    ended
        .iter()
        .any(|r| r.array_id == job.id || (job.index == 0 && (r.first..=r.last).contains(&job.id)))
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
    use proto::mbd::{AcctRequest, JobRef, JobState};

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
        let dropped = live.droppable(1);
        let records: Vec<AcctRecord> = (dropped.iter())
            .filter_map(|(id, _)| live.acct_of(*id))
            .collect();
        let snapshot: Vec<_> = (live.compact(1).iter())
            .map(|c| (c.kind(), c.payload()))
            .collect();
        let archive = events.rewrite(snapshot).unwrap();
        write_index(&archive, &dropped).unwrap();
        acct::write(&archive, &records).unwrap();
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
            gid: 0,
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

    #[test]
    fn bacct_counts_each_archived_job_once_with_or_without_its_accounting_file() {
        let dir = std::env::temp_dir().join(format!("mbd-acct-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("events");
        let live = history_with_two_archives(&log);
        let held: BTreeSet<u32> = live.jobs().map(|j| j.id).collect();
        let request = AcctRequest {
            ended_to: u64::MAX,
            per_job: true,
            ..AcctRequest::default()
        };
        let filter = acct::Filter::new(&request, false, "ann");
        let counted = || {
            let mut tally = Tally::new(&request);
            acct(&log, &sample(), &filter, &held, &mut tally).unwrap();
            let mut ids: Vec<u32> = tally.records.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            (ids, tally.summary.exited)
        };
        let archives = event_log::archives(&log).unwrap();
        assert_eq!(
            counted(),
            (vec![1, 2, 3, 4], 4),
            "from the accounting files"
        );
        for a in &archives {
            std::fs::remove_file(acct::path_of(a)).unwrap();
        }
        assert_eq!(
            counted(),
            (vec![1, 2, 3, 4], 4),
            "from the archives and their indexes"
        );
        assert!(
            archives.iter().all(|a| acct::path_of(a).exists()),
            "kept for the next bacct"
        );
        for a in &archives {
            std::fs::remove_file(acct::path_of(a)).unwrap();
            std::fs::remove_file(index_path(a)).unwrap();
        }
        assert_eq!(
            counted(),
            (vec![1, 2, 3, 4], 4),
            "from an older mbd's bare archives"
        );
        let bob = acct::Filter::new(&request, false, "bob");
        let mut tally = Tally::new(&request);
        acct(&log, &sample(), &bob, &held, &mut tally).unwrap();
        assert_eq!(tally.summary.jobs(), 0, "bob sees none of ann's");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bhist_of_one_job_reads_only_the_archive_its_history_ends_in() {
        let dir = std::env::temp_dir().join(format!("mbd-index-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("events");
        history_with_two_archives(&log);
        let ask = |id| {
            let req = HistoryRequest {
                job: JobRef { id, index: 0 },
                ..HistoryRequest::default()
            };
            histories(
                &log,
                Files::Archives,
                &sample(),
                &ann(),
                &req,
                &mut BTreeSet::new(),
            )
        };
        // Job 2 ended in events.1 (the first compaction dropped 1-3), job
        // 4 in events.2. Make events.2 unreadable (a directory): job 2 is
        // still answered.
        std::fs::remove_file(dir.join("events.2")).unwrap();
        std::fs::create_dir(dir.join("events.2")).unwrap();
        assert_eq!(ids(&ask(2).unwrap()), [2]);
        assert!(ask(4).is_err(), "job 4 needs events.2");
        // Without its index an archive may hold anything: read whole.
        std::fs::remove_file(dir.join("events.2.jobs")).unwrap();
        assert!(ask(2).is_err(), "events.2 is read now");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_index_lists_runs_of_one_array_and_answers_for_ids_and_elements() {
        let dir = std::env::temp_dir().join(format!("mbd-runs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("events.1");
        let dropped = [(8, 7), (1, 0), (2, 0), (3, 0), (7, 7), (10, 0)];
        write_index(&archive, &dropped).unwrap();
        let runs = read_index(&archive).unwrap();
        let run = |first, last, array_id| EndedRun {
            first,
            last,
            array_id,
        };
        assert_eq!(runs, [run(1, 3, 0), run(7, 8, 7), run(10, 10, 0)]);
        let r = |id, index| JobRef { id, index };
        for yes in [r(2, 0), r(7, 0), r(8, 0), r(7, 2), r(10, 0)] {
            assert!(holds(&runs, yes), "{yes:?}");
        }
        for no in [r(4, 0), r(9, 0), r(2, 1), r(11, 0)] {
            assert!(!holds(&runs, no), "{no:?}");
        }
        std::fs::write(index_path(&archive), "1 x 0\n").unwrap();
        assert_eq!(read_index(&archive), None, "unreadable: read the archive");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
