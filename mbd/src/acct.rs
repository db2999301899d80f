//! Accounting of finished jobs for `bacct`: each job's figures as one
//! small record, the filters bacct asks for, and the records of the jobs
//! compaction drops, kept beside their archive (`events.<n>.acct`).
//!
//! A year of history is a million jobs in many archives. Replaying each
//! archive (every submission with its environment) to sum them costs
//! seconds and gigabytes; reading their records costs a fraction of a
//! second, and mbd sends bacct the sums, not the jobs.

use proto::mbd::{event, AcctRecord, AcctRequest, AcctSummary, HistEvent, JobRow, JobState};
use proto::xdr::{Decode, Encode};
use std::io;
use std::path::{Path, PathBuf};

/// The first bytes of an accounting file (and its format's version).
const MAGIC: &[u8; 8] = b"LLACCT01";

/// A finished job's record, from its listing row and events; `None` for
/// a job that has not finished.
pub fn record(row: &JobRow, events: &[HistEvent], command: &str) -> Option<AcctRecord> {
    if !row.state.is_finished() {
        return None;
    }
    let last = |what| events.iter().rev().find(|e| e.what == what);
    let dispatched = last(event::DISPATCHED);
    let usage = last(event::USAGE)
        .and_then(|e| crate::job::parse_usage_text(&e.text))
        .unwrap_or_default();
    Some(AcctRecord {
        id: row.id,
        array_id: row.array_id,
        index: row.index,
        user: row.user.clone(),
        queue: row.queue.clone(),
        done: row.state == JobState::Done,
        exit_code: row.exit_code,
        hosts: dispatched.map(|e| e.hosts.clone()).unwrap_or_default(),
        submit_time: row.submit_time,
        start_time: dispatched.map_or(0, |e| e.time),
        end_time: last(event::FINISHED).map_or(row.end_time, |e| e.time),
        cpu_ms: usage.user_ms + usage.system_ms,
        max_rss_kb: usage.max_rss_kb,
        command: command.to_owned(),
    })
}

/// What a `bacct` request selects, for a caller who sees all jobs
/// (`admin`) or only `user`'s own.
pub struct Filter<'a> {
    request: &'a AcctRequest,
    only_user: Option<&'a str>,
}

impl<'a> Filter<'a> {
    pub fn new(request: &'a AcctRequest, admin: bool, user: &'a str) -> Filter<'a> {
        Filter {
            request,
            only_user: (!admin).then_some(user),
        }
    }

    pub fn matches(&self, r: &AcctRecord) -> bool {
        let q = self.request;
        let named = q.jobs.is_empty()
            || (q.jobs.iter()).any(|j| match j.index {
                0 => j.id == r.id || j.id == r.array_id,
                index => j.id == r.array_id && index == r.index,
            });
        named
            && self.only_user.is_none_or(|u| r.user == u)
            && (q.user.is_empty() || r.user == q.user)
            && (q.queue.is_empty() || r.queue == q.queue)
            && (q.host.is_empty() || r.hosts.contains(&q.host))
            && (q.ended_from..=q.ended_to).contains(&r.end_time)
    }
}

/// The selected jobs summed, and each of them when asked for.
#[derive(Debug, Default)]
pub struct Tally {
    pub summary: AcctSummary,
    pub records: Vec<AcctRecord>,
    keep_records: bool,
}

impl Tally {
    pub fn new(request: &AcctRequest) -> Tally {
        Tally {
            keep_records: request.per_job,
            ..Tally::default()
        }
    }

    /// An empty tally keeping what this one keeps.
    pub fn part(&self) -> Tally {
        Tally {
            keep_records: self.keep_records,
            ..Tally::default()
        }
    }

    pub fn merge(&mut self, part: Tally) {
        self.summary.merge(&part.summary);
        self.records.extend(part.records);
    }

    pub fn add(&mut self, r: AcctRecord) {
        self.summary.add(&r);
        if self.keep_records {
            self.records.push(r);
        }
    }
}

/// Where the accounting of `archive` lives: `events.<n>.acct`.
pub fn path_of(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".acct");
    PathBuf::from(name)
}

/// Writes the records of the jobs whose history ends in `archive`. Not
/// synced: a lost file is made again from the archive when next needed.
pub fn write(archive: &Path, records: &[AcctRecord]) -> io::Result<()> {
    let mut bytes = MAGIC.to_vec();
    let mut body = Vec::new();
    for r in records {
        body.clear();
        r.encode(&mut body);
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&body);
    }
    let path = path_of(archive);
    let tmp = path_of(&path);
    conf::state_dir::write_private(&tmp, &bytes)?;
    std::fs::rename(&tmp, &path)
}

/// Feeds the records kept beside `archive` to `each`, as they are read;
/// `Ok(false)` if it has none, or a file this mbd cannot read whole (then
/// the caller drops what it was fed and reads the archive).
pub fn read(archive: &Path, mut each: impl FnMut(AcctRecord)) -> io::Result<bool> {
    let file = match std::fs::File::open(path_of(archive)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut file = io::BufReader::with_capacity(1 << 16, file);
    let mut magic = [0; MAGIC.len()];
    if !read_exact_or_end(&mut file, &mut magic)? || &magic != MAGIC {
        return Ok(false);
    }
    let mut body = Vec::new();
    loop {
        let mut len = [0; 4];
        if !read_exact_or_end(&mut file, &mut len)? {
            return Ok(true);
        }
        body.resize(u32::from_be_bytes(len) as usize, 0);
        if !read_exact_or_end(&mut file, &mut body)? {
            return Ok(false);
        }
        match AcctRecord::from_body(&body) {
            Ok(r) => each(r),
            Err(_) => return Ok(false),
        }
    }
}

/// Fills `buf`; `Ok(false)` at the end of the file (torn or not).
fn read_exact_or_end(file: &mut impl io::Read, buf: &mut [u8]) -> io::Result<bool> {
    match file.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::mbd::JobRef;

    fn job(id: u32, user: &str, end: u64) -> AcctRecord {
        AcctRecord {
            id,
            user: user.into(),
            queue: "normal".into(),
            done: true,
            hosts: vec!["n1".into()],
            submit_time: 100,
            start_time: 110,
            end_time: end,
            cpu_ms: 5_000,
            ..AcctRecord::default()
        }
    }

    #[test]
    fn filters_select_by_job_user_queue_host_and_end_time() {
        let mut req = AcctRequest {
            ended_to: u64::MAX,
            ..AcctRequest::default()
        };
        let ann = job(7, "ann", 200);
        assert!(Filter::new(&req, true, "root").matches(&ann));
        assert!(!Filter::new(&req, false, "bob").matches(&ann), "not bob's");
        req.host = "n2".into();
        assert!(!Filter::new(&req, true, "root").matches(&ann));
        req.host.clear();
        (req.ended_from, req.ended_to) = (201, 300);
        assert!(!Filter::new(&req, true, "root").matches(&ann));
        (req.ended_from, req.ended_to) = (0, u64::MAX);
        let element = AcctRecord {
            array_id: 5,
            index: 3,
            ..job(9, "ann", 200)
        };
        for (id, index, hit) in [(5, 0, true), (5, 3, true), (5, 2, false), (9, 0, true)] {
            req.jobs = vec![JobRef { id, index }];
            assert_eq!(Filter::new(&req, true, "root").matches(&element), hit);
        }
    }

    #[test]
    fn a_record_is_the_last_run_of_a_finished_job() {
        let usage = proto::sbd::Usage {
            user_ms: 3_000,
            system_ms: 1_000,
            max_rss_kb: 2048,
        };
        let ev = |time, what, hosts: &[&str], text: String| HistEvent {
            time,
            what,
            text,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..HistEvent::default()
        };
        let events = [
            ev(104, event::DISPATCHED, &["n1"], String::new()),
            ev(110, event::PENDING, &[], String::new()),
            ev(130, event::DISPATCHED, &["n2"], String::new()),
            ev(150, event::FINISHED, &[], String::new()),
            ev(150, event::USAGE, &[], crate::job::usage_text(&usage)),
        ];
        let mut row = JobRow {
            id: 4,
            user: "ann".into(),
            state: JobState::Exit,
            exit_code: 3,
            submit_time: 100,
            ..JobRow::default()
        };
        let r = record(&row, &events, "./run").unwrap();
        assert_eq!(
            (r.start_time, r.end_time, r.hosts.clone()),
            (130, 150, vec!["n2".to_string()])
        );
        assert_eq!(
            (r.cpu_ms, r.max_rss_kb, r.done, r.exit_code),
            (4_000, 2048, false, 3)
        );
        row.state = JobState::Run;
        assert_eq!(record(&row, &events[..3], "./run"), None, "not finished");
    }

    #[test]
    fn records_round_trip_and_a_torn_file_is_not_read() {
        let dir = std::env::temp_dir().join(format!("acct-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("events.1");
        assert!(!read(&archive, |_| {}).unwrap(), "none yet");
        let records = vec![job(1, "ann", 150), job(2, "bob", 160)];
        write(&archive, &records).unwrap();
        let mut back = Vec::new();
        assert!(read(&archive, |r| back.push(r)).unwrap());
        assert_eq!(back, records);
        let bytes = std::fs::read(path_of(&archive)).unwrap();
        std::fs::write(path_of(&archive), &bytes[..bytes.len() - 3]).unwrap();
        assert!(
            !read(&archive, |_| {}).unwrap(),
            "torn: read from the archive"
        );
        std::fs::write(path_of(&archive), b"LLACCT02").unwrap();
        assert!(!read(&archive, |_| {}).unwrap(), "another format");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_summary_counts_minima_from_the_first_job() {
        let mut tally = Tally::new(&AcctRequest::default());
        tally.add(job(1, "ann", 150));
        tally.add(AcctRecord {
            done: false,
            cpu_ms: 1_000,
            ..job(2, "ann", 300)
        });
        let s = &tally.summary;
        assert_eq!((s.done, s.exited), (1, 1));
        assert_eq!(
            (s.cpu_ms_min, s.cpu_ms_max, s.cpu_ms_total),
            (1_000, 5_000, 6_000)
        );
        assert_eq!((s.turnaround_min, s.turnaround_max), (50, 200));
        assert_eq!(s.hog_ppm_max, 100_000, "5 s of CPU over 50 s");
        assert!(tally.records.is_empty(), "not asked for");
    }

    #[test]
    fn tallies_merged_sum_as_one() {
        let jobs: Vec<AcctRecord> = (1..=5)
            .map(|i| AcctRecord {
                done: i % 2 == 0,
                cpu_ms: 1_000 * (6 - u64::from(i)),
                ..job(i, "ann", 150 + 10 * u64::from(i))
            })
            .collect();
        let request = AcctRequest {
            per_job: true,
            ..AcctRequest::default()
        };
        let mut whole = Tally::new(&request);
        jobs.iter().cloned().for_each(|r| whole.add(r));
        for split in 0..=jobs.len() {
            let mut merged = Tally::new(&request);
            let mut part = merged.part();
            jobs[..split].iter().cloned().for_each(|r| merged.add(r));
            jobs[split..].iter().cloned().for_each(|r| part.add(r));
            merged.merge(part);
            assert_eq!(merged.summary, whole.summary, "split at {split}");
            assert_eq!(merged.records, whole.records);
        }
    }
}
