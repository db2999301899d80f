//! sbd's spool: one directory per job run, `<id>.<attempt>`, holding
//! `job` (what mbd sent), `pid` (the runner's, = the job's process group)
//! and `result` (how it ended). A restarted sbd rebuilds its table from
//! these; mbd's acknowledgement of the result removes the directory.

use proto::sbd::{Finished, JobKey, JobStart};
use proto::{Decode, Encode};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    /// Holds the spool's lock for as long as this sbd runs.
    _lock: os::fs::ExclusiveLock,
}

/// The lock file in the spool directory (not a job run: its name does
/// not parse as one).
const LOCK_FILE: &str = "lock";

/// One job run found in the spool.
#[derive(Debug)]
pub struct Entry {
    pub key: JobKey,
    pub dir: PathBuf,
    pub start: Option<JobStart>,
    pub pid: Option<u32>,
    pub result: Option<Finished>,
}

impl Spool {
    /// Opens (creating) the spool, which one sbd at a time may hold: a
    /// second sbd for the same host would adopt the same jobs and fight
    /// the first for mbd's link.
    pub fn open(dir: &Path) -> io::Result<Spool> {
        // Owner-only (tightened if an older sbd left it readable): each
        // run's `job` holds its submit environment.
        conf::state_dir::make_private(dir)?;
        let lock = conf::state_dir::private_file()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        let Some(lock) = os::fs::try_lock_exclusive(&lock)? else {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another sbd for this host is running on this spool",
            ));
        };
        Ok(Spool {
            dir: dir.to_owned(),
            _lock: lock,
        })
    }

    pub fn job_dir(&self, key: JobKey) -> PathBuf {
        self.dir.join(format!("{}.{}", key.id, key.attempt))
    }

    /// Makes the run's directory, writes what mbd sent, and reserves the
    /// room its result will take (see [`reserve_result`]).
    pub fn create(&self, start: &JobStart) -> io::Result<PathBuf> {
        let dir = self.job_dir(start.job);
        conf::state_dir::make_private(&dir)?;
        write_xdr(&dir.join("job"), start)?;
        reserve_result(&dir)?;
        Ok(dir)
    }

    pub fn remove(&self, key: JobKey) {
        let dir = self.job_dir(key);
        if let Err(e) = fs::remove_dir_all(&dir) {
            if e.kind() != io::ErrorKind::NotFound {
                log::warn!("cannot remove {}: {e}", dir.display());
            }
        }
    }

    /// Every run in the spool (unreadable names are skipped).
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let dir = entry?.path();
            let Some(key) = dir.file_name().and_then(|n| n.to_str()).and_then(parse_key) else {
                continue;
            };
            out.push(Entry {
                key,
                start: read_xdr(&dir.join("job")),
                pid: read_pid(&dir),
                result: read_result(&dir),
                dir,
            });
        }
        out.sort_by_key(|e| e.key);
        Ok(out)
    }
}

fn parse_key(name: &str) -> Option<JobKey> {
    let (id, attempt) = name.split_once('.')?;
    Some(JobKey {
        id: id.parse().ok()?,
        attempt: attempt.parse().ok()?,
    })
}

pub fn read_start(dir: &Path) -> Option<JobStart> {
    read_xdr(&dir.join("job"))
}

pub fn write_pid(dir: &Path, pid: u32) -> io::Result<()> {
    write_whole(&dir.join("pid"), format!("{pid}\n").as_bytes())
}

/// When the run started: when its runner's pid was recorded.
pub fn started_at(dir: &Path) -> Option<u64> {
    let modified = fs::metadata(dir.join("pid")).ok()?.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs(),
    )
}

pub fn read_pid(dir: &Path) -> Option<u32> {
    fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Bytes set aside for a run's `result` before its job starts: a result
/// with a long note fits.
const RESULT_ROOM: i64 = 16 << 10;

/// Creates the run's empty `result` with [`RESULT_ROOM`] bytes of disk
/// allocated to it (its size stays 0), so that the runner can record how
/// the job ended even if the disk fills while the job runs: a full spool
/// used to turn a job that ended well into `EXIT 1`. A disk already too
/// full fails here, and the dispatch is handed back before the job runs.
/// File systems that cannot preallocate (some network ones) run the job
/// without the reservation.
fn reserve_result(dir: &Path) -> io::Result<()> {
    use nix::fcntl::{fallocate, FallocateFlags};
    let file = conf::state_dir::private_file()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("result"))?;
    match fallocate(&file, FallocateFlags::FALLOC_FL_KEEP_SIZE, 0, RESULT_ROOM) {
        Err(nix::errno::Errno::EOPNOTSUPP) | Ok(()) => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// The result, once it is complete (a partly written one is `None`).
pub fn read_result(dir: &Path) -> Option<Finished> {
    read_xdr(&dir.join("result"))
}

pub fn write_result(dir: &Path, result: &Finished) -> io::Result<()> {
    write_xdr(&dir.join("result"), result)
}

fn write_xdr<T: Encode>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = Vec::new();
    value.encode(&mut bytes);
    write_whole(path, &bytes)
}

/// Writes `path` so that a reader (the next sbd, if this one is killed
/// meanwhile) finds the old content or the new, never a truncated file:
/// sbd rewrites the runner's `result` with the cgroup's usage, and an
/// empty one would turn a job that ended well into a lost one.
fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    conf::state_dir::write_private(Path::new(&part), bytes)?;
    fs::rename(&part, path)
}

fn read_xdr<T: Decode>(path: &Path) -> Option<T> {
    T::from_body(&fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_found_again_with_what_they_hold() {
        let root = std::env::temp_dir().join(format!("sbd-spool-{}", std::process::id()));
        let spool = Spool::open(&root).expect("spool");
        let key = JobKey { id: 12, attempt: 2 };
        let start = JobStart {
            job: key,
            command: "true".into(),
            ..JobStart::default()
        };
        let dir = spool.create(&start).expect("create");
        write_pid(&dir, 4321).expect("pid");
        fs::write(dir.join("result"), b"\0\0").expect("partial result");
        fs::create_dir_all(root.join("not-a-job")).expect("stray dir");
        let found = spool.entries().expect("entries");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].key, found[0].pid), (key, Some(4321)));
        assert_eq!(found[0].start.as_ref(), Some(&start));
        assert!(
            found[0].result.is_none(),
            "a partial result is not a result"
        );
        // sbd's rewrite (with the cgroup's usage) replaces the file whole.
        let rewritten = crate::launch::finished(key, 3, 0, Default::default(), "note".into());
        write_result(&dir, &rewritten).expect("rewrite");
        assert_eq!(read_result(&dir), Some(rewritten));
        assert!(!dir.join("result.part").exists(), "renamed into place");
        spool.remove(key);
        assert!(spool.entries().expect("entries").is_empty());
        let second = Spool::open(&root).expect_err("one sbd per spool");
        assert!(second.to_string().contains("another sbd"), "{second}");
        drop(spool);
        assert!(
            Spool::open(&root).is_ok(),
            "free again once the first is gone"
        );
        let _ = fs::remove_dir_all(&root);
    }
}
