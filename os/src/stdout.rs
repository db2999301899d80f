//! Standard output for the commands. When its reader has gone (`bjobs |
//! head`, `lavalite status | grep -q`) the command ends quietly with
//! status 141, as a C tool killed by SIGPIPE does, instead of Rust's panic
//! on EPIPE ("failed printing to stdout"). Use [`crate::say!`] and
//! [`crate::sayln!`] where `print!` and `println!` would go.

use std::fmt;
use std::io::{self, Write};

/// Status a shell reports for a command that SIGPIPE ended (128 + 13).
pub const CLOSED_PIPE_STATUS: i32 = 141;

/// Writes `text` to standard output; ends the process quietly if no one
/// reads it any more, or with one line on stderr if it cannot be written.
pub fn write(text: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        end_after(&e);
    }
}

fn end_after(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(CLOSED_PIPE_STATUS);
    }
    let _ = writeln!(io::stderr(), "cannot write the output: {e}");
    std::process::exit(1);
}

/// `print!` for commands (see the module).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` for commands (see the module).
#[macro_export]
macro_rules! sayln {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
