//! Who may read the daemons' state under `LL_STATE_DIR`: its owner alone.
//!
//! mbd's event log and its archives, and each sbd's spool, hold every
//! job's command and submit environment, where users keep secrets. So the
//! daemons' directories there are created mode 0700 and their files 0600,
//! and what an older version left readable is tightened at start.
//! (`LL_STATE_DIR` itself stays searchable: lim's signing sockets are
//! there for every local user.)

use std::fs::{self, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the files a daemon keeps under `LL_STATE_DIR`.
pub const FILE_MODE: u32 = 0o600;
/// Mode of its directories there.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and its parents) for one daemon's state, or tightens it
/// and everything in it when it exists: no group or other access left.
pub fn make_private(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(_) => tighten(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private(dir),
        Err(e) => Err(e),
    }
}

/// Creates `dir` with mode 0700 (its parents with the default mode).
fn create_private(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => tighten(dir),
    }
}

/// Options that create a file with mode 0600 (the umask can only narrow it).
pub fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Writes `bytes` to a new or truncated `path` with mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    // An existing file keeps its mode through open: set it.
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    file.write_all(bytes)
}

/// Clears the group and other bits of `path` and, for a directory,
/// of everything below it. Symbolic links are left alone (their target
/// is not ours to change).
fn tighten(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(path, Permissions::from_mode(mode & 0o7700))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            tighten(&entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_dir_is_owner_only_and_an_old_one_is_tightened_throughout() {
        let root = std::env::temp_dir().join(format!("conf-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let fresh = root.join("fresh");
        make_private(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);

        let old = root.join("old");
        fs::create_dir_all(old.join("5.1")).unwrap();
        fs::set_permissions(&old, Permissions::from_mode(0o755)).unwrap();
        fs::write(old.join("events"), b"env").unwrap();
        fs::set_permissions(old.join("events"), Permissions::from_mode(0o644)).unwrap();
        fs::write(old.join("5.1").join("job"), b"env").unwrap();
        fs::set_permissions(old.join("5.1").join("job"), Permissions::from_mode(0o666)).unwrap();
        make_private(&old).unwrap();
        assert_eq!(mode(&old), 0o700);
        assert_eq!(mode(&old.join("events")), 0o600);
        assert_eq!(mode(&old.join("5.1")), 0o700);
        assert_eq!(mode(&old.join("5.1").join("job")), 0o600);

        let file = old.join("index");
        write_private(&file, b"1 2 0\n").unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        write_private(&file, b"3 4 0\n").unwrap();
        assert_eq!(mode(&file), 0o600, "a rewritten file is owner-only again");
        let _ = fs::remove_dir_all(&root);
    }
}
