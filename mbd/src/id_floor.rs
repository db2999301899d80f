//! The job-id floor: the lowest id mbd may still hand out, kept in
//! `LL_STATE_DIR/mbd/next_id` beside the event log, so that nothing that
//! happens to the log (a torn tail cut off at start, a log an admin moved
//! away) brings back an id a job already had: `bhist 1` then still shows
//! the first job ever, not a new one.
//!
//! mbd writes it (synced) at start, after each compaction and when it
//! stops; ids handed out between those are in the log, and those of a torn
//! tail are read from its whole records before it is cut.

use crate::change::Change;
use crate::event_log::Record;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file's name in mbd's state directory.
pub const FILE: &str = "next_id";

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// The floor recorded in `path`: 1 if there is none yet. A file that does
/// not hold a number is an error: guessing could reuse ids.
pub fn read(path: &Path) -> io::Result<u32> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold a job id: {:?}",
                    path.display(),
                    text.trim()
                ),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(1),
        Err(e) => Err(e),
    }
}

/// Records `next` as the floor, durably (written beside, synced, renamed).
pub fn write(path: &Path, next: u32) -> io::Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut file = conf::state_dir::private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&part)?;
    file.write_all(format!("{next}\n").as_bytes())?;
    file.sync_data()?;
    std::fs::rename(&part, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The first id after every job the (unchecked) records of a torn tail
/// submitted; 1 if they submitted none.
pub fn after_torn(records: &[Record]) -> u32 {
    (records.iter())
        .filter_map(|r| match Change::from_record(r) {
            Ok(Change::Submitted(s)) => Some(s.job_ids().end),
            _ => None,
        })
        .max()
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_round_trips_and_a_bad_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("mbd-id-floor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = path(&dir);
        let _ = std::fs::remove_file(&file);
        assert_eq!(read(&file).unwrap(), 1);
        write(&file, 867).unwrap();
        assert_eq!(read(&file).unwrap(), 867);
        std::fs::write(&file, "eight\n").unwrap();
        assert!(read(&file)
            .unwrap_err()
            .to_string()
            .contains("does not hold a job id"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
