use std::fmt;
use std::path::{Path, PathBuf};

/// Why configuration could not be loaded; the message names the file and
/// line an admin has to fix.
#[derive(Debug)]
pub enum ConfError {
    /// `$LL_CONF_DIR` is not set.
    NoConfDir,
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key that must be set in ll.conf is missing.
    Missing(&'static str),
    /// A key's value cannot be used.
    BadValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A line of a sectioned file is wrong; `line` counts from 1.
    Syntax {
        path: Option<PathBuf>,
        line: usize,
        reason: String,
    },
    ShortKey {
        path: PathBuf,
        len: usize,
    },
    /// Settings that cannot be used together, or a value that names
    /// nothing (a host that does not resolve): what is wrong, in words.
    Invalid(String),
}

impl ConfError {
    pub(crate) fn syntax(line: usize, reason: impl Into<String>) -> ConfError {
        ConfError::Syntax {
            path: None,
            line,
            reason: reason.into(),
        }
    }

    pub(crate) fn in_file(self, file: &Path) -> ConfError {
        match self {
            ConfError::Syntax { line, reason, .. } => ConfError::Syntax {
                path: Some(file.to_owned()),
                line,
                reason,
            },
            other => other,
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfError::NoConfDir => write!(f, "{} is not set", crate::CONF_DIR_ENV),
            ConfError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfError::Missing(key) => write!(f, "ll.conf: {key} is not set"),
            ConfError::BadValue {
                key,
                value,
                expected,
            } => write!(f, "ll.conf: {key} = {value:?}: expected {expected}"),
            ConfError::Syntax { path, line, reason } => match path {
                Some(path) => write!(f, "{}:{line}: {reason}", path.display()),
                None => write!(f, "line {line}: {reason}"),
            },
            ConfError::Invalid(why) => f.write_str(why),
            ConfError::ShortKey { path, len } => write!(
                f,
                "{}: {len} bytes; the key needs at least {}",
                path.display(),
                crate::AUTH_KEY_LEN
            ),
        }
    }
}

impl std::error::Error for ConfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
