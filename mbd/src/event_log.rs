//! The event log: an append-only file of checksummed batches of records,
//! written with group commit and replayed at start.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! file   = batch*
//! batch  = length:u32  check:u64  record*        (length = bytes of the records)
//! record = length:u32  format:u16  kind:u16  payload   (length = 4 + payload)
//! ```
//!
//! `check` is the first 8 bytes of SHA-256 over the batch's records. One
//! batch is one commit: one write, one fdatasync. A crash can only tear
//! the last batch (written but not yet synced): cut short, or with its
//! last sectors never written (zeros). Replay drops such a tail whole and
//! truncates the file there; none of its records was acknowledged. Any
//! other bad batch (one with a whole batch after it, a last one whose
//! length alone is wrong, a last one written in full whose bytes changed)
//! is damage, and an error: skipping it would lose acknowledged changes.
//!
//! Group commit: [`EventLog::append`] only buffers; [`EventLog::commit`]
//! writes everything buffered with one `write` and one `fdatasync`, and
//! returns how many records are durable. The daemon appends while it
//! handles one pass of events, commits once, then sends the replies whose
//! records are durable.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Version of the record body layout (2: jobs carry their dispatch).
pub const FORMAT: u16 = 2;

const BATCH_HEADER_LEN: usize = 4 + 8;
const RECORD_HEADER_LEN: usize = 4 + 2 + 2;
/// No single record is larger (a job with a huge environment is far less).
pub const MAX_RECORD: usize = 16 << 20;
/// No batch is larger: a commit that would pass it is refused.
const MAX_BATCH: usize = u32::MAX as usize;

/// One replayed record, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub format: u16,
    pub kind: u16,
    pub payload: Bytes,
}

/// One record as replay hands it out: borrowed from the read buffer, which
/// is reused batch after batch. A restart reads a log of gigabytes through
/// a few megabytes, instead of holding the file and a copy of each record
/// (which set mbd's peak memory, and its start time: faulting in fresh
/// pages was half of a replay).
#[derive(Clone, Copy, Debug)]
pub struct RecordRef<'a> {
    pub format: u16,
    pub kind: u16,
    pub payload: &'a [u8],
}

impl Record {
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            format: self.format,
            kind: self.kind,
            payload: &self.payload,
        }
    }

    fn owned(record: RecordRef<'_>) -> Record {
        Record {
            format: record.format,
            kind: record.kind,
            payload: Bytes::copy_from_slice(record.payload),
        }
    }
}

/// How much of the log is read at a time (more when a batch is larger).
const READ_CHUNK: usize = 4 << 20;
/// A snapshot's batches end once this large: one commit of a million
/// jobs must not be one batch a replay has to hold whole.
const SNAPSHOT_BATCH: usize = 4 << 20;

#[derive(Debug)]
pub enum LogError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// A batch that is not the last one is damaged.
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: &'static str,
    },
    /// A payload too large to be a record.
    TooLarge {
        len: usize,
    },
    /// Another process (a second mbd) has the log open.
    Locked {
        path: PathBuf,
    },
    /// A batch could not be written or synced (a full disk, say) and was
    /// cut off again: the log holds exactly what it held before the
    /// commit, and nothing of the batch is durable.
    Unwritten {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LogError::Corrupt {
                path,
                offset,
                reason,
            } => write!(
                f,
                "{}: damaged batch at byte {offset} ({reason}); refusing to drop \
                 acknowledged changes: restore the file, or move it aside to start empty",
                path.display()
            ),
            LogError::TooLarge { len } => write!(f, "record of {len} bytes exceeds {MAX_RECORD}"),
            LogError::Locked { path } => write!(
                f,
                "{} is in use by another mbd (stop it first: two would damage the log)",
                path.display()
            ),
            LogError::Unwritten { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LogError {}

/// What replay found.
#[derive(Debug)]
pub struct Replay {
    pub records: Vec<Record>,
    /// Bytes of a torn last batch that were cut off (0 if none).
    pub torn_bytes: u64,
    /// Whatever records of that batch could still be read (unchecked:
    /// none was acknowledged), so that the job ids it handed out are not
    /// handed out again.
    pub torn_records: Vec<Record>,
}

/// What [`EventLog::open_replaying`] found, besides the records it
/// handed out.
#[derive(Debug)]
pub struct Replayed {
    /// Records handed out.
    pub records: u64,
    pub torn_bytes: u64,
    pub torn_records: Vec<Record>,
}

/// Why [`EventLog::open_replaying`] failed: the log, or the caller's
/// verdict on its `number`th record (from 1).
#[derive(Debug)]
pub enum ReplayError<E> {
    Log(LogError),
    Record { number: u64, error: E },
}

/// An open event log.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: File,
    /// Held while the log is open: one mbd per log.
    _lock: os::fs::ExclusiveLock,
    pending: Vec<u8>,
    pending_records: u64,
    durable_records: u64,
    /// The file's length after the last commit.
    durable_len: u64,
    commits: u64,
}

impl EventLog {
    /// Opens (creating if needed) the log at `path`, replays it, cuts off
    /// a torn last record, and positions for appending.
    pub fn open(path: &Path) -> Result<(EventLog, Replay), LogError> {
        EventLog::open_saving(path, |_| Ok(()))
    }

    /// [`EventLog::open`], calling `save` with the readable records of a
    /// torn tail before the tail is cut (what must outlive it, such as the
    /// job ids it handed out; its failure leaves the log uncut).
    pub fn open_saving(
        path: &Path,
        save: impl FnOnce(&[Record]) -> io::Result<()>,
    ) -> Result<(EventLog, Replay), LogError> {
        let mut records = Vec::new();
        let collect = |record: RecordRef<'_>| {
            records.push(Record::owned(record));
            Ok::<(), std::convert::Infallible>(())
        };
        let (log, replayed) =
            EventLog::open_replaying(path, save, collect).map_err(|e| match e {
                ReplayError::Log(e) => e,
                ReplayError::Record { error, .. } => match error {},
            })?;
        let torn_records = replayed.torn_records;
        let torn_bytes = replayed.torn_bytes;
        Ok((
            log,
            Replay {
                records,
                torn_bytes,
                torn_records,
            },
        ))
    }

    /// [`EventLog::open_saving`], handing each durable record to `visit`
    /// as it is read instead of collecting them: what mbd's start does.
    /// The first error of `visit` stops the replay.
    pub fn open_replaying<E>(
        path: &Path,
        save: impl FnOnce(&[Record]) -> io::Result<()>,
        mut visit: impl FnMut(RecordRef<'_>) -> Result<(), E>,
    ) -> Result<(EventLog, Replayed), ReplayError<E>> {
        let io_err = |source| {
            ReplayError::Log(LogError::Io {
                path: path.to_owned(),
                source,
            })
        };
        finish_rewrite(path).map_err(io_err)?;
        let mut file = conf::state_dir::private_file()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err)?;
        let lock = lock(&file, path).map_err(ReplayError::Log)?;
        let mut count = 0u64;
        let mut counted = |record: RecordRef<'_>| {
            count += 1;
            visit(record).map_err(|error| ReplayError::Record {
                number: count,
                error,
            })
        };
        let (good_len, tail) = scan(&mut file, &mut counted).map_err(|e| match e {
            Scan::Io(source) => io_err(source),
            Scan::Corrupt(offset, reason) => ReplayError::Log(LogError::Corrupt {
                path: path.to_owned(),
                offset,
                reason,
            }),
            Scan::Visit(e) => e,
        })?;
        let torn_bytes = tail.len() as u64;
        let torn_records = readable_records(&tail);
        if torn_bytes > 0 {
            save(&torn_records).map_err(io_err)?;
            log::warn!(
                "{}: dropping a torn last batch ({torn_bytes} bytes at byte {good_len}), left by a crash mid-write",
                path.display()
            );
            file.set_len(good_len).map_err(io_err)?;
            file.sync_data().map_err(io_err)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io_err)?;
        let log = EventLog {
            path: path.to_owned(),
            file,
            _lock: lock,
            pending: Vec::new(),
            pending_records: 0,
            durable_records: count,
            durable_len: good_len,
            commits: 0,
        };
        let replayed = Replayed {
            records: count,
            torn_bytes,
            torn_records,
        };
        Ok((log, replayed))
    }

    /// Buffers a record; returns its sequence number (records since the
    /// log was created, from 1). It is durable once [`EventLog::commit`]
    /// returns a count at least this large.
    pub fn append(&mut self, kind: u16, payload: &[u8]) -> Result<u64, LogError> {
        let len = RECORD_HEADER_LEN + payload.len();
        if len > MAX_RECORD || self.pending.len() + len > MAX_BATCH {
            return Err(LogError::TooLarge { len });
        }
        if self.pending.is_empty() {
            // Room for the batch header, filled in by commit.
            self.pending.resize(BATCH_HEADER_LEN, 0);
        }
        self.pending.extend_from_slice(&(len as u32).to_be_bytes());
        self.pending.extend_from_slice(&FORMAT.to_be_bytes());
        self.pending.extend_from_slice(&kind.to_be_bytes());
        self.pending.extend_from_slice(payload);
        self.pending_records += 1;
        Ok(self.durable_records + self.pending_records)
    }

    /// Writes every buffered record with one write and one fdatasync;
    /// returns the number of durable records. Nothing buffered: no I/O.
    pub fn commit(&mut self) -> Result<u64, LogError> {
        self.write_batch(true)
    }

    /// Writes the buffered records as one batch, synced or not (a
    /// snapshot's batches but its last: the final sync covers them all).
    fn write_batch(&mut self, sync: bool) -> Result<u64, LogError> {
        if self.pending.is_empty() {
            return Ok(self.durable_records);
        }
        let records_len = (self.pending.len() - BATCH_HEADER_LEN) as u32;
        let check = Sha256::digest(&self.pending[BATCH_HEADER_LEN..]);
        self.pending[..4].copy_from_slice(&records_len.to_be_bytes());
        self.pending[4..BATCH_HEADER_LEN].copy_from_slice(&check[..8]);
        let written = (self.file.write_all(&self.pending)).and_then(|()| {
            if sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(source) = written {
            return Err(self.take_back(source));
        }
        self.durable_len += self.pending.len() as u64;
        self.pending.clear();
        self.durable_records += self.pending_records;
        self.pending_records = 0;
        self.commits += u64::from(sync);
        Ok(self.durable_records)
    }

    /// Appends `batches`, whole batches as another log holds them (their
    /// `records` records), and syncs.
    fn append_batches(&mut self, batches: &[u8], records: u64) -> Result<(), LogError> {
        if batches.is_empty() {
            return Ok(());
        }
        let written = (self.file.write_all(batches)).and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            return Err(self.take_back(source));
        }
        self.durable_len += batches.len() as u64;
        self.durable_records += records;
        self.commits += 1;
        Ok(())
    }

    /// Drops the batch a failed commit was writing and cuts the file back
    /// to its last commit. `Unwritten` if that worked (the log is as it
    /// was: the caller may go on), `Io` if even that failed.
    fn take_back(&mut self, failure: io::Error) -> LogError {
        self.pending.clear();
        self.pending_records = 0;
        let cut = self.durable_len;
        let restored = (self.file.set_len(cut))
            .and_then(|()| self.file.seek(SeekFrom::Start(cut)).map(drop))
            .and_then(|()| self.file.sync_data());
        let path = self.path.clone();
        match restored {
            Ok(()) => LogError::Unwritten {
                path,
                source: failure,
            },
            Err(source) => LogError::Io { path, source },
        }
    }

    /// Replaces the log with `records` (a snapshot of the state): the
    /// old log is archived beside it. At once, on the caller's thread; see
    /// [`EventLog::write_snapshot`] and [`EventLog::adopt`] for the same in
    /// two steps, the first anywhere.
    pub fn rewrite(
        &mut self,
        records: impl IntoIterator<Item = (u16, Vec<u8>)>,
    ) -> Result<PathBuf, LogError> {
        let at = self.mark()?;
        let fresh = EventLog::write_snapshot(&self.path, records)?;
        self.adopt(fresh, at)
    }

    /// Commits, and says where the log ends: where a snapshot of the state
    /// as it is now takes over (see [`EventLog::adopt`]).
    pub fn mark(&mut self) -> Result<Mark, LogError> {
        self.commit()?;
        Ok(Mark {
            len: self.durable_len,
            records: self.durable_records,
        })
    }

    /// The path of this log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `records` into a fresh log beside the one at `path` (not yet
    /// in its place), synced once at the end: the first half of a
    /// compaction, which needs nothing of the live log and so may run on
    /// another thread while the live log takes more records.
    pub fn write_snapshot(
        path: &Path,
        records: impl IntoIterator<Item = (u16, Vec<u8>)>,
    ) -> Result<EventLog, LogError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| LogError::Io { path, source }
        };
        let fresh = with_suffix(path, "new");
        // Readable too: once in place, a later compaction reads its tail.
        let file = (conf::state_dir::private_file()
            .read(true)
            .write(true)
            .create(true))
        .truncate(true)
        .open(&fresh)
        .map_err(io_err(&fresh))?;
        let lock = lock(&file, &fresh)?;
        let mut next = EventLog {
            path: fresh,
            file,
            _lock: lock,
            pending: Vec::new(),
            pending_records: 0,
            durable_records: 0,
            durable_len: 0,
            commits: 0,
        };
        // Written as it is made, in batches a replay reads a few megabytes
        // at a time; synced once, at the end, before the swap.
        for (kind, payload) in records {
            next.append(kind, &payload)?;
            if next.pending.len() >= SNAPSHOT_BATCH {
                next.write_batch(false)?;
            }
        }
        next.commit()?;
        Ok(next)
    }

    /// Puts `fresh` (from [`EventLog::write_snapshot`]) in this log's
    /// place, with what this log took since `at` (when the snapshot's
    /// state was taken) copied after the snapshot, as the whole batches
    /// they were, and synced; the old log, cut back to `at`, is archived.
    /// Crash-safe as `rewrite` is. Returns the archive's path.
    ///
    /// `Unwritten` means this log is as it was and still in use (the fresh
    /// one could not be finished); any other error, that the swap stopped
    /// half-way, which [`EventLog::open`] completes.
    pub fn adopt(&mut self, mut fresh: EventLog, at: Mark) -> Result<PathBuf, LogError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| LogError::Io { path, source }
        };
        let untouched = |path: &Path| {
            let path = path.to_owned();
            move |source| LogError::Unwritten { path, source }
        };
        self.commit()?;
        let mut tail = vec![0; self.durable_len.saturating_sub(at.len) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut tail, at.len)
            .map_err(untouched(&self.path))?;
        let tail_records = self.durable_records.saturating_sub(at.records);
        (fresh.append_batches(&tail, tail_records)).map_err(|e| match e {
            LogError::Io { path, source } => LogError::Unwritten { path, source },
            other => other,
        })?;
        let archive = next_archive(&self.path).map_err(untouched(&self.path))?;
        std::fs::rename(&self.path, &archive).map_err(untouched(&self.path))?;
        // The archive ends where the snapshot was taken: what came after
        // is in the new log. (Left whole if this fails, or on a crash just
        // before: the archive is history, never replayed.)
        if let Err(e) = self.file.set_len(at.len) {
            log::warn!("cannot cut {} back to its snapshot: {e}", archive.display());
        }
        std::fs::rename(&fresh.path, &self.path).map_err(io_err(&fresh.path))?;
        sync_dir(&self.path).map_err(io_err(&self.path))?;
        fresh.path = self.path.clone();
        fresh.commits = self.commits + 1;
        *self = fresh;
        Ok(archive)
    }

    /// Whether records are buffered that the next commit will write.
    pub fn has_pending(&self) -> bool {
        self.pending_records > 0
    }

    /// Records written and synced so far (including those replayed).
    pub fn durable(&self) -> u64 {
        self.durable_records
    }

    /// Commits done since open: each is one write plus one fdatasync.
    pub fn commits(&self) -> u64 {
        self.commits
    }
}

/// Where a log ended when a snapshot of the state was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    len: u64,
    records: u64,
}

/// Reads the records of a log without changing it: for archives, which
/// nothing writes any more. A torn last batch is left out, as replay would.
pub fn read_records(path: &Path) -> Result<Vec<Record>, LogError> {
    let io_err = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let mut records = Vec::new();
    let mut collect = |record: RecordRef<'_>| {
        records.push(Record::owned(record));
        Ok::<(), std::convert::Infallible>(())
    };
    scan(&mut file, &mut collect).map_err(|e| match e {
        Scan::Io(source) => io_err(source),
        Scan::Corrupt(offset, reason) => LogError::Corrupt {
            path: path.to_owned(),
            offset,
            reason,
        },
        Scan::Visit(never) => match never {},
    })?;
    Ok(records)
}

/// The archives [`EventLog::rewrite`] left beside the log at `path`
/// (`<path>.<n>`), oldest first. None yet (or no directory): empty.
pub fn archives(path: &Path) -> io::Result<Vec<PathBuf>> {
    let Some(name) = path.file_name() else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let entries = match std::fs::read_dir(dir_of(path)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut numbered = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let number = (file_name.to_str())
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = number {
            numbered.push((n, entry.path()));
        }
    }
    numbered.sort_unstable();
    Ok(numbered.into_iter().map(|(_, p)| p).collect())
}

/// Holds `file` for this process alone: a second mbd on the same state
/// directory would cut off batches the first is writing.
fn lock(file: &File, path: &Path) -> Result<os::fs::ExclusiveLock, LogError> {
    match os::fs::try_lock_exclusive(file) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(LogError::Locked {
            path: path.to_owned(),
        }),
        Err(source) => Err(LogError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The name the current log takes when it is archived: one number above
/// the highest archive, so numbers keep the order of time even after an
/// admin deleted old archives (a first free number would not).
fn next_archive(path: &Path) -> io::Result<PathBuf> {
    let last = archives(path)?
        .last()
        .and_then(|p| p.extension()?.to_str()?.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(with_suffix(path, &(last + 1).to_string()))
}

/// A rewrite synced `<path>.new` and then renamed `path` away and
/// `.new` into place. Crashed between the renames: `.new` is the log.
/// Crashed before: `.new` may be partial and the old log is intact.
fn finish_rewrite(path: &Path) -> io::Result<()> {
    let fresh = with_suffix(path, "new");
    match (path.exists(), fresh.exists()) {
        (false, true) => {
            log::warn!("{}: finishing an interrupted compaction", path.display());
            std::fs::rename(&fresh, path)?;
            sync_dir(path)
        }
        (true, true) => std::fs::remove_file(&fresh),
        _ => Ok(()),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes renames in `path`'s directory durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(dir_of(path))?.sync_all()
}

/// The directory holding `path` (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Reads whole batches from `file`, handing their records to `visit`.
/// Returns the length of the good prefix and the bytes after it. A bad
/// batch is a torn tail, excluded from the prefix, only if it is what a
/// crash in the middle of the last write leaves (see [`torn`]) and no
/// whole batch follows it; anything else is damage to acknowledged data:
/// `Scan::Corrupt(offset, reason)`.
fn scan<E>(
    file: &mut impl Read,
    visit: &mut impl FnMut(RecordRef<'_>) -> Result<(), E>,
) -> Result<(u64, Vec<u8>), Scan<E>> {
    scan_by(file, READ_CHUNK, visit)
}

/// [`scan`] reading `chunk` bytes at a time (or a whole batch, if larger).
fn scan_by<E>(
    file: &mut impl Read,
    chunk: usize,
    visit: &mut impl FnMut(RecordRef<'_>) -> Result<(), E>,
) -> Result<(u64, Vec<u8>), Scan<E>> {
    let mut reader = Chunks::new(file, chunk);
    loop {
        reader.want(BATCH_HEADER_LEN).map_err(Scan::Io)?;
        let rest = reader.rest();
        if rest.is_empty() {
            return Ok((reader.offset(), Vec::new()));
        }
        let claimed_end = BATCH_HEADER_LEN.saturating_add(be_u32(rest) as usize);
        reader.want(claimed_end).map_err(Scan::Io)?;
        let at = reader.offset();
        let rest = reader.rest();
        let batch = rest
            .get(BATCH_HEADER_LEN..claimed_end)
            .filter(|records| checksum_matches(rest, records));
        match batch {
            Some(batch) => {
                visit_records(batch, visit).map_err(|e| e.at(at))?;
                reader.consume(claimed_end);
            }
            None => {
                // A bad batch: whether it is a torn tail or damage depends
                // on everything after it, so read all of that.
                let tail = reader.all_the_rest().map_err(Scan::Io)?;
                return if next_batch(&tail, 1).is_some() {
                    Err(Scan::Corrupt(
                        at,
                        "checksum mismatch or impossible length, with whole batches after it",
                    ))
                } else if torn(&tail, at) {
                    Ok((at, tail))
                } else {
                    Err(Scan::Corrupt(
                        at,
                        "a last batch written in full whose bytes changed",
                    ))
                };
            }
        }
    }
}

/// Why a scan stopped early.
enum Scan<E> {
    Io(io::Error),
    Corrupt(u64, &'static str),
    Visit(E),
}

impl<E> Scan<E> {
    /// A malformed record's error placed at its batch's offset.
    fn at(self, offset: u64) -> Scan<E> {
        match self {
            Scan::Corrupt(_, reason) => Scan::Corrupt(offset, reason),
            other => other,
        }
    }
}

/// A file read front to back through one buffer, reused: what is consumed
/// is dropped before more is read.
struct Chunks<'f, R> {
    file: &'f mut R,
    buf: Vec<u8>,
    /// Where in `buf` the unconsumed bytes start.
    start: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    chunk: usize,
}

impl<'f, R: Read> Chunks<'f, R> {
    fn new(file: &'f mut R, chunk: usize) -> Self {
        Chunks {
            file,
            buf: Vec::new(),
            start: 0,
            base: 0,
            eof: false,
            chunk,
        }
    }

    /// File offset of the first unconsumed byte.
    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    fn rest(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Reads until `n` unconsumed bytes are buffered or the file ends.
    fn want(&mut self, n: usize) -> io::Result<()> {
        if self.rest().len() >= n || self.eof {
            return Ok(());
        }
        self.buf.drain(..self.start);
        self.base += self.start as u64;
        self.start = 0;
        let more = (n - self.buf.len()).max(self.chunk);
        self.buf.reserve(more);
        let got = (&mut *self.file)
            .take(more as u64)
            .read_to_end(&mut self.buf)?;
        self.eof = got < more;
        // A batch longer than one chunk takes several reads.
        self.want(n)
    }

    /// Every unconsumed byte to the end of the file.
    fn all_the_rest(mut self) -> io::Result<Vec<u8>> {
        self.file.read_to_end(&mut self.buf)?;
        Ok(self.buf.split_off(self.start))
    }
}

/// Hands each record of one checksummed batch to `visit`. A malformed
/// record inside a batch whose checksum matched was written that way:
/// damage, not a torn tail.
fn visit_records<E>(
    mut batch: &[u8],
    visit: &mut impl FnMut(RecordRef<'_>) -> Result<(), E>,
) -> Result<(), Scan<E>> {
    while !batch.is_empty() {
        let record =
            record_ref(batch).ok_or(Scan::Corrupt(0, "bad record length inside a batch"))?;
        visit(record).map_err(Scan::Visit)?;
        batch = &batch[RECORD_HEADER_LEN + record.payload.len()..];
    }
    Ok(())
}

/// The whole record at the start of `bytes`, if its length fits.
fn record_ref(bytes: &[u8]) -> Option<RecordRef<'_>> {
    let len = be_u32(bytes) as usize;
    let record = bytes.get(..len).filter(|_| len >= RECORD_HEADER_LEN)?;
    Some(RecordRef {
        format: u16::from_be_bytes([record[4], record[5]]),
        kind: u16::from_be_bytes([record[6], record[7]]),
        payload: &record[RECORD_HEADER_LEN..],
    })
}

/// Whether the batch at the start of `batch_and_rest` carries `records`'
/// checksum.
fn checksum_matches(batch_and_rest: &[u8], records: &[u8]) -> bool {
    batch_and_rest.get(4..BATCH_HEADER_LEN) == Some(&Sha256::digest(records)[..8])
}

/// Bytes of a disk sector: a crash may leave whole sectors of the last
/// write unwritten (zeros), never part of one.
const SECTOR: u64 = 512;

/// Whether the bad batch `rest` starts with (at file offset `at`), the
/// last thing in the file, is what a crash during its write and
/// fdatasync leaves (never acknowledged): the file ends before the batch
/// does (a short write) although the batch's length is not what is
/// wrong, or the batch is whole but its last sector and everything after
/// it are zeros (pages that never reached the disk).
fn torn(rest: &[u8], at: u64) -> bool {
    let claimed_end = BATCH_HEADER_LEN.saturating_add(be_u32(rest) as usize);
    if claimed_end > rest.len() {
        // Its records all there under a wrong length: the length is damaged.
        let whole =
            rest.len() > BATCH_HEADER_LEN && checksum_matches(rest, &rest[BATCH_HEADER_LEN..]);
        return !whole;
    }
    // Sectors are counted from the start of the file.
    let end = at + claimed_end as u64;
    let last_sector = ((end - 1) / SECTOR * SECTOR).max(at);
    rest[(last_sector - at) as usize..].iter().all(|b| *b == 0)
}

/// The offset of the first whole batch (length, checksum and a first
/// record that fit) starting at or after `from`, if any. Looked for only
/// when a batch is bad, to tell a torn tail from damage in the middle.
fn next_batch(bytes: &[u8], from: usize) -> Option<usize> {
    let first_record = BATCH_HEADER_LEN;
    (from..bytes.len()).find(|&o| {
        let rest = &bytes[o..];
        let len = be_u32(rest) as usize;
        let record_len = be_u32(rest.get(first_record..).unwrap_or_default()) as usize;
        let format = rest.get(first_record + 4..first_record + 6);
        len >= RECORD_HEADER_LEN
            && BATCH_HEADER_LEN + len <= rest.len()
            && (RECORD_HEADER_LEN..=len).contains(&record_len)
            && format.is_some_and(|f| (1..=FORMAT).contains(&u16::from_be_bytes([f[0], f[1]])))
            && checksum_matches(rest, &rest[BATCH_HEADER_LEN..BATCH_HEADER_LEN + len])
    })
}

/// The records of a torn batch that are whole, unchecked, up to the first
/// that is not.
fn readable_records(torn: &[u8]) -> Vec<Record> {
    let mut records = Vec::new();
    let mut batch = torn.get(BATCH_HEADER_LEN..).unwrap_or_default();
    while let Some(record) = record_ref(batch) {
        records.push(Record::owned(record));
        batch = &batch[RECORD_HEADER_LEN + record.payload.len()..];
    }
    records
}

/// The big-endian u32 at the start of `bytes` (0 if there are fewer than
/// four bytes, which every caller then treats as too short).
fn be_u32(bytes: &[u8]) -> u32 {
    match bytes.get(..4) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("mbd-log-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn log(&self) -> PathBuf {
            self.0.join("events.log")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write_three(path: &Path) -> Vec<u8> {
        let (mut log, replay) = EventLog::open(path).unwrap();
        assert!(replay.records.is_empty());
        assert_eq!(log.append(1, b"first").unwrap(), 1);
        assert_eq!(log.append(2, b"").unwrap(), 2);
        assert_eq!(log.commit().unwrap(), 2);
        assert_eq!(log.append(3, &[7; 1000]).unwrap(), 3);
        assert_eq!(log.commit().unwrap(), 3);
        assert_eq!(
            log.commits(),
            2,
            "one write+sync per commit, not per record"
        );
        assert_eq!(log.commit().unwrap(), 3);
        assert_eq!(log.commits(), 2, "nothing pending: no I/O");
        std::fs::read(path).unwrap()
    }

    #[test]
    fn records_replay_in_order_and_appends_continue() {
        let dir = TempDir::new("replay");
        write_three(&dir.log());
        let (mut log, replay) = EventLog::open(&dir.log()).unwrap();
        let kinds: Vec<_> = replay
            .records
            .iter()
            .map(|r| (r.format, r.kind, r.payload.len()))
            .collect();
        assert_eq!(kinds, [(FORMAT, 1, 5), (FORMAT, 2, 0), (FORMAT, 3, 1000)]);
        assert_eq!(replay.records[0].payload, &b"first"[..]);
        assert_eq!((replay.torn_bytes, log.durable()), (0, 3));
        assert_eq!(log.append(4, b"more").unwrap(), 4);
        log.commit().unwrap();
        drop(log);
        assert_eq!(EventLog::open(&dir.log()).unwrap().1.records.len(), 4);
    }

    #[test]
    fn a_torn_tail_at_any_byte_is_dropped_and_the_log_stays_usable() {
        let dir = TempDir::new("torn");
        let full = write_three(&dir.log());
        let third_starts = full.len() - (BATCH_HEADER_LEN + RECORD_HEADER_LEN + 1000);
        for cut in third_starts + 1..full.len() {
            std::fs::write(dir.log(), &full[..cut]).unwrap();
            let (mut log, replay) = EventLog::open(&dir.log()).unwrap();
            assert_eq!(replay.records.len(), 2, "cut at {cut}");
            assert_eq!(replay.torn_bytes, (cut - third_starts) as u64);
            assert_eq!(
                std::fs::metadata(dir.log()).unwrap().len(),
                third_starts as u64
            );
            log.append(9, b"after").unwrap();
            log.commit().unwrap();
            drop(log);
            let kinds: Vec<_> = EventLog::open(&dir.log())
                .unwrap()
                .1
                .records
                .iter()
                .map(|r| r.kind)
                .collect();
            assert_eq!(kinds, [1, 2, 9], "cut at {cut}");
        }
        // A last batch the filesystem zero-filled (its pages never reached
        // the disk) is torn too.
        let mut zeroed = full[..third_starts].to_vec();
        zeroed.resize(full.len(), 0);
        std::fs::write(dir.log(), &zeroed).unwrap();
        let (_, replay) = EventLog::open(&dir.log()).unwrap();
        assert_eq!(
            (replay.records.len(), replay.torn_bytes),
            (2, (full.len() - third_starts) as u64)
        );
    }

    /// What `scan_by` finds in `bytes` read `chunk` at a time: the kinds
    /// of the records, the good prefix and the torn tail's length, or the
    /// damage's offset.
    fn scan_bytes(bytes: &[u8], chunk: usize) -> Result<(Vec<u16>, u64, usize), u64> {
        let mut kinds = Vec::new();
        let mut visit = |r: RecordRef<'_>| {
            kinds.push(r.kind);
            Ok::<(), ()>(())
        };
        match scan_by(&mut &bytes[..], chunk, &mut visit) {
            Ok((good, tail)) => Ok((kinds, good, tail.len())),
            Err(Scan::Corrupt(at, _)) => Err(at),
            Err(_) => panic!("no I/O error or refusal here"),
        }
    }

    #[test]
    fn reading_in_chunks_of_any_size_finds_what_one_read_finds() {
        let dir = TempDir::new("chunks");
        let full = write_three(&dir.log());
        let third_starts = full.len() - (BATCH_HEADER_LEN + RECORD_HEADER_LEN + 1000);
        let torn = &full[..full.len() - 10];
        let mut damaged = full.clone();
        damaged[BATCH_HEADER_LEN + RECORD_HEADER_LEN] ^= 1;
        for chunk in [1, 7, 12, 13, 64, 1000, 1 << 20] {
            assert_eq!(
                scan_bytes(&full, chunk),
                Ok((vec![1, 2, 3], full.len() as u64, 0)),
                "chunk {chunk}"
            );
            assert_eq!(
                scan_bytes(torn, chunk),
                Ok((vec![1, 2], third_starts as u64, torn.len() - third_starts)),
                "chunk {chunk}"
            );
            assert_eq!(
                scan_bytes(&damaged, chunk).map(|_| ()),
                Err(0),
                "chunk {chunk}"
            );
        }
    }

    /// Opening `bytes` as a log: the records kept, or the damage found.
    fn open_bytes(dir: &TempDir, bytes: &[u8]) -> Result<usize, String> {
        std::fs::write(dir.log(), bytes).unwrap();
        match EventLog::open(&dir.log()) {
            Ok((_, replay)) => Ok(replay.records.len()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn damage_anywhere_but_a_short_or_zeroed_last_write_is_refused_never_cut() {
        let dir = TempDir::new("damage");
        let full = write_three(&dir.log());
        let third_starts = full.len() - (BATCH_HEADER_LEN + RECORD_HEADER_LEN + 1000);
        // The first batch's length claims more than the file holds: not a
        // torn tail, a whole batch follows.
        for flip in [0x40u8, 0x01] {
            let mut bytes = full.clone();
            bytes[0] ^= flip;
            let err = open_bytes(&dir, &bytes).unwrap_err();
            assert!(err.contains("damaged batch at byte 0"), "{err}");
            bytes[0] ^= flip;
            bytes[3] ^= flip;
            let err = open_bytes(&dir, &bytes).unwrap_err();
            assert!(err.contains("damaged batch at byte 0"), "{err}");
        }
        // The last batch's length damaged, its records all there.
        let mut bytes = full.clone();
        bytes[third_starts + 1] ^= 0x10;
        let err = open_bytes(&dir, &bytes).unwrap_err();
        assert!(err.contains(&format!("byte {third_starts}")), "{err}");
        // A whole last batch whose bytes were garbled was written in full:
        // acknowledged, so damage.
        let mut garbled = full.clone();
        garbled[third_starts + 500] ^= 1;
        assert!(open_bytes(&dir, &garbled).is_err());
        let mut garbled = full.clone();
        *garbled.last_mut().unwrap() ^= 1;
        assert!(open_bytes(&dir, &garbled).is_err());
        // Short, or its last sector never written: torn, dropped.
        assert_eq!(open_bytes(&dir, &full[..full.len() - 1]), Ok(2));
        std::fs::write(dir.log(), &full[..full.len() - 1]).unwrap();
        let (_, replay) = EventLog::open(&dir.log()).unwrap();
        assert!(
            replay.torn_records.is_empty(),
            "the one record is cut short"
        );
        // A torn batch's whole records are still read, unchecked.
        std::fs::write(dir.log(), &full).unwrap();
        let (mut log, _) = EventLog::open(&dir.log()).unwrap();
        log.append(5, b"abc").unwrap();
        log.append(6, &[9; 1000]).unwrap();
        log.commit().unwrap();
        drop(log);
        let four = std::fs::read(dir.log()).unwrap();
        std::fs::write(dir.log(), &four[..four.len() - 10]).unwrap();
        let (_, replay) = EventLog::open(&dir.log()).unwrap();
        assert_eq!(replay.records.len(), 3);
        let torn: Vec<_> = replay.torn_records.iter().map(|r| r.kind).collect();
        assert_eq!(torn, [5]);
        let mut unwritten = full.clone();
        let len = unwritten.len();
        unwritten[(len - 1) / 512 * 512..].fill(0);
        assert_eq!(open_bytes(&dir, &unwritten), Ok(2));
        // And the log as written is whole.
        assert_eq!(open_bytes(&dir, &full), Ok(3));
    }

    #[test]
    fn a_large_snapshot_is_written_in_bounded_batches_with_one_sync() {
        let dir = TempDir::new("snapshot");
        let (mut log, _) = EventLog::open(&dir.log()).unwrap();
        let record = vec![5u8; 4096];
        let count = 3 * SNAPSHOT_BATCH / record.len();
        let before = log.commits();
        log.rewrite((0..count).map(|_| (6, record.clone())))
            .unwrap();
        assert_eq!(log.commits(), before + 1, "one sync for the snapshot");
        drop(log);
        let bytes = std::fs::read(dir.log()).unwrap();
        let mut batches = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = BATCH_HEADER_LEN + be_u32(&bytes[at..]) as usize;
            batches.push(len);
            at += len;
        }
        let largest = SNAPSHOT_BATCH + BATCH_HEADER_LEN + RECORD_HEADER_LEN + record.len();
        assert!(batches.len() > 3, "{batches:?}");
        assert!(batches.iter().all(|&b| b <= largest), "{batches:?}");
        assert_eq!(EventLog::open(&dir.log()).unwrap().1.records.len(), count);
    }

    #[test]
    fn a_rewrite_archives_the_old_log_and_survives_a_crash_between_renames() {
        let dir = TempDir::new("rewrite");
        let old = write_three(&dir.log());
        let (mut log, _) = EventLog::open(&dir.log()).unwrap();
        log.append(4, b"pending").unwrap();
        let archive = log.rewrite([(6, b"snap".to_vec())]).unwrap();
        assert_eq!(archive, with_suffix(&dir.log(), "1"));
        let archived = std::fs::read(&archive).unwrap();
        assert_eq!(
            &archived[..old.len()],
            &old[..],
            "the old log is kept whole"
        );
        log.append(7, b"after").unwrap();
        log.commit().unwrap();
        drop(log);
        let kinds = |p: &Path| -> Vec<u16> {
            EventLog::open(p)
                .unwrap()
                .1
                .records
                .iter()
                .map(|r| r.kind)
                .collect()
        };
        assert_eq!(kinds(&dir.log()), [6, 7]);
        assert_eq!(kinds(&archive), [1, 2, 3, 4]);
        // Crash after the first rename: only `.new` exists.
        std::fs::rename(dir.log(), with_suffix(&dir.log(), "new")).unwrap();
        assert_eq!(kinds(&dir.log()), [6, 7]);
        // Crash while writing `.new`: the old log wins, `.new` goes.
        std::fs::write(with_suffix(&dir.log(), "new"), b"partial").unwrap();
        assert_eq!(kinds(&dir.log()), [6, 7]);
        assert!(!with_suffix(&dir.log(), "new").exists());
    }

    #[test]
    fn a_snapshot_written_apart_takes_over_with_what_came_after_it() {
        let dir = TempDir::new("adopt");
        write_three(&dir.log());
        let (mut log, _) = EventLog::open(&dir.log()).unwrap();
        log.append(4, b"before the snapshot").unwrap();
        let at = log.mark().unwrap();
        // As on the compaction thread, while the live log goes on.
        let fresh = EventLog::write_snapshot(log.path(), [(6, b"snap".to_vec())]).unwrap();
        log.append(5, b"during").unwrap();
        log.commit().unwrap();
        log.append(7, b"also during").unwrap();
        log.append(8, b"and pending").unwrap();
        let archive = log.adopt(fresh, at).unwrap();
        assert_eq!(log.durable(), 4, "the snapshot and the three since");
        log.append(9, b"after").unwrap();
        log.commit().unwrap();
        let kinds = |p: &Path| -> Vec<u16> {
            let (_, replay) = EventLog::open(p).unwrap();
            replay.records.iter().map(|r| r.kind).collect()
        };
        assert_eq!(kinds(&archive), [1, 2, 3, 4], "cut back to the snapshot");
        // And again, on the log the first compaction put in place.
        let at = log.mark().unwrap();
        let fresh = EventLog::write_snapshot(log.path(), [(6, b"snap 2".to_vec())]).unwrap();
        log.append(10, b"during the second").unwrap();
        let second = log.adopt(fresh, at).unwrap();
        drop(log);
        assert_eq!(kinds(&second), [6, 5, 7, 8, 9]);
        assert_eq!(kinds(&dir.log()), [6, 10]);
    }

    #[test]
    fn archives_are_listed_oldest_first_and_read_without_change() {
        let dir = TempDir::new("archives");
        let (mut log, _) = EventLog::open(&dir.log()).unwrap();
        for round in 0..11u8 {
            log.append(1, &[round]).unwrap();
            log.rewrite([(6, vec![round])]).unwrap();
        }
        std::fs::write(dir.0.join("events.log.new.tmp"), b"x").unwrap();
        let found = archives(&dir.log()).unwrap();
        let names: Vec<String> = (found.iter())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let expected: Vec<String> = (1..=11).map(|n| format!("events.log.{n}")).collect();
        assert_eq!(names, expected, "numeric order, other files ignored");
        let last = found.last().unwrap();
        let before = std::fs::read(last).unwrap();
        let records = read_records(last).unwrap();
        assert_eq!(records.iter().map(|r| r.kind).collect::<Vec<_>>(), [6, 1]);
        assert_eq!(records[1].payload, &[10u8][..]);
        assert_eq!(std::fs::read(last).unwrap(), before, "read-only");
        assert!(archives(&dir.0.join("nowhere/events")).unwrap().is_empty());
        // An admin trims the oldest: the next archive still sorts last.
        std::fs::remove_file(&found[0]).unwrap();
        log.rewrite([(6, vec![11])]).unwrap();
        let newest = archives(&dir.log()).unwrap().pop().unwrap();
        assert!(newest.ends_with("events.log.12"), "{}", newest.display());
    }

    #[test]
    fn a_second_opener_is_refused_until_the_first_closes() {
        let dir = TempDir::new("locked");
        let (first, _) = EventLog::open(&dir.log()).unwrap();
        let second = EventLog::open(&dir.log()).map(drop).unwrap_err();
        assert!(matches!(second, LogError::Locked { .. }), "{second}");
        assert!(second.to_string().contains("in use by another mbd"));
        drop(first);
        assert!(EventLog::open(&dir.log()).is_ok());
    }

    #[test]
    fn damage_before_the_end_is_an_error_not_a_silent_loss() {
        let dir = TempDir::new("damage-before-end");
        let mut bytes = write_three(&dir.log());
        bytes[BATCH_HEADER_LEN + RECORD_HEADER_LEN] ^= 0xff; // inside the first payload
        std::fs::write(dir.log(), &bytes).unwrap();
        let err = EventLog::open(&dir.log()).unwrap_err().to_string();
        assert!(
            err.contains("damaged batch at byte 0 (checksum mismatch"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(dir.log()).unwrap(),
            bytes,
            "a damaged log is never truncated"
        );
    }
}
