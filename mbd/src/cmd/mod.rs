//! The batch commands (bsub, bjobs, bkill, bhist, bqueues, bhosts, bmove,
//! bpriority, btokens, bgroups; LSF's bstop, bresume, bswitch, brequeue, bpeek, bmod): option
//! parsing, LavaLite's output formats, `--json`. Each `src/bin` file is a
//! one-line call into a module here.
//!
//! Conventions (docs/mbd.md): `--help` and `--version` print to stdout and
//! exit 0; a usage error or a failure prints one line to stderr and exits 1.

pub mod bacct;
pub mod badmin;
pub mod bgroups;
pub mod bhist;
pub mod bhosts;
pub mod bjobs;
mod bjobs_long;
pub mod bkill;
pub mod bmod;
pub mod bmove;
pub mod bpeek;
pub mod bpriority;
pub mod bqueues;
pub mod brequeue;
pub mod bstop;
pub mod bsub;
pub mod bswitch;
pub mod btokens;
pub mod job_script;
mod job_wait;
mod table;
mod time;

pub use table::{Align, Table};
pub use time::{format_time, parse_time, TimeColumn};

use crate::client::BatchClient;
use proto::mbd::{JobRef, JobRow};
use std::process::ExitCode;

/// The version every LavaLite command reports.
pub use lim::cli::VERSION;

/// The options every listing command has: `-v/--version` and `--json`.
#[derive(clap::Args, Debug)]
pub struct ListingFlags {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Print JSON instead of the table
    #[arg(long)]
    pub json: bool,
}

/// Parses the process's arguments; help and version are printed here.
pub fn parse_args<T: clap::Parser>() -> Result<T, ExitCode> {
    parse_args_from(std::env::args_os())
}

/// [`parse_args`] of `argv` (the command's name first).
pub fn parse_args_from<T: clap::Parser, A: Into<std::ffi::OsString> + Clone>(
    argv: impl IntoIterator<Item = A>,
) -> Result<T, ExitCode> {
    T::try_parse_from(argv).map_err(|e| {
        if e.kind() == clap::error::ErrorKind::DisplayVersion {
            // LavaLite prints the bare version, without the command name.
            os::sayln!("{VERSION}");
            return ExitCode::SUCCESS;
        }
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// `prog: message` on stderr, exit 1.
pub fn fail(prog: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{prog}: {message}");
    ExitCode::FAILURE
}

/// How long bhist and bacct wait for mbd to read its archives.
pub const ARCHIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The client for `$LL_CONF_DIR`'s cluster, or the failure printed.
pub fn client(prog: &str) -> Result<BatchClient, ExitCode> {
    BatchClient::from_env().map_err(|e| fail(prog, e))
}

/// bqueues' and bhosts' common part: with `-c NAME` / `-o NAME`, the
/// control request (`Err` carries the exit code: the work is done);
/// otherwise the listing `list_op` answers. `what` is `queue` or `host`
/// with its control op.
pub fn control_or_list<R: proto::Decode>(
    prog: &str,
    what: (&str, u32),
    list_op: u32,
    close: Option<&String>,
    open: Option<&String>,
) -> Result<R, ExitCode> {
    let client = client(prog)?;
    if let Some(code) = control(&client, prog, what, close, open) {
        return Err(code);
    }
    list(&client, prog, list_op)
}

/// A listing command's work once its options are parsed: asks for what
/// `op` lists (an empty request) and prints it as `render`s table, or with
/// `json` as a JSON array of `to_json` of each row.
pub fn print_list<R, J>(
    prog: &str,
    op: u32,
    json: bool,
    to_json: impl Fn(&R) -> J,
    render: impl Fn(&[R]) -> String,
) -> ExitCode
where
    Vec<R>: proto::Decode,
    J: serde::Serialize,
{
    let rows: Vec<R> = match client(prog).and_then(|c| list(&c, prog, op)) {
        Ok(rows) => rows,
        Err(code) => return code,
    };
    if json {
        print_json(&rows.iter().map(to_json).collect::<Vec<_>>());
    } else {
        os::say!("{}", render(&rows));
    }
    ExitCode::SUCCESS
}

fn list<R: proto::Decode>(client: &BatchClient, prog: &str, op: u32) -> Result<R, ExitCode> {
    client
        .call(op, &())
        .map_err(|e| fail(prog, format!("failed: {e}")))
}

/// `-c NAME` / `-o NAME`: prints `<what> <NAME> closed|opened`, or
/// `prog: NAME: <err>`. `None` when neither option was given.
fn control(
    client: &BatchClient,
    prog: &str,
    (what, op): (&str, u32),
    close: Option<&String>,
    open: Option<&String>,
) -> Option<ExitCode> {
    let (name, open) = close.map(|n| (n, false)).or(open.map(|n| (n, true)))?;
    let request = proto::mbd::Control {
        name: name.clone(),
        open,
    };
    Some(match client.call::<_, ()>(op, &request) {
        Ok(()) => {
            os::sayln!("{what} {name} {}", if open { "opened" } else { "closed" });
            ExitCode::SUCCESS
        }
        Err(e) => fail(prog, format!("{name}: {}", e.reason())),
    })
}

/// `argv` with LSF's options of more than one letter (`bsub -oo`, `bmod
/// -Wn`) respelled as `spellings` says, among the options only: never
/// in the command, nor as an option's value. `command` tells which
/// options take a value.
pub fn respell(
    argv: impl IntoIterator<Item = String>,
    command: &clap::Command,
    spellings: &[(&str, &str)],
) -> Vec<String> {
    let mut argv = argv.into_iter();
    let mut out: Vec<String> = argv.next().into_iter().collect();
    while let Some(arg) = argv.next() {
        if let Some((_, long)) = spellings.iter().find(|(lsf, _)| *lsf == arg) {
            let takes_value = takes_separate_value(command, long);
            out.push((*long).to_owned());
            if takes_value {
                out.extend(argv.next());
            }
            continue;
        }
        let operand = arg == "--" || arg == "-" || !arg.starts_with('-');
        let value_follows = !operand && takes_separate_value(command, &arg);
        out.push(arg);
        if operand {
            out.extend(argv);
            break;
        }
        if value_follows {
            out.extend(argv.next());
        }
    }
    out
}

/// Whether option word `arg` leaves its value to the next word.
fn takes_separate_value(command: &clap::Command, arg: &str) -> bool {
    let takes = |a: &clap::Arg| a.get_action().takes_values();
    if let Some(long) = arg.strip_prefix("--") {
        if long.contains('=') {
            return false;
        }
        let named = |a: &&clap::Arg| a.get_long() == Some(long);
        let prefixed = |a: &&clap::Arg| a.get_long().is_some_and(|l| l.starts_with(long));
        if let Some(a) = command.get_arguments().find(named) {
            return takes(a);
        }
        let mut matches = command.get_arguments().filter(prefixed);
        return match (matches.next(), matches.next()) {
            (Some(a), None) => takes(a),
            _ => false,
        };
    }
    // A cluster of short flags, maybe ending in one that takes a value.
    let flags = &arg[1..];
    for (at, c) in flags.char_indices() {
        match command.get_arguments().find(|a| a.get_short() == Some(c)) {
            Some(a) if takes(a) => return at + c.len_utf8() == flags.len(),
            Some(_) => continue,
            None => return false,
        }
    }
    false
}

/// A plain job id: digits, 1 or more.
pub fn parse_job_id(text: &str) -> Option<u32> {
    (text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<u32>().ok())
        .flatten()
        .filter(|n| *n > 0)
}

/// `N` or `N[i]` (N >= 1, i >= 1).
pub fn parse_job_ref(text: &str) -> Option<JobRef> {
    match text.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((id, index)) => Some(JobRef {
            id: parse_job_id(id)?,
            index: parse_job_id(index)?,
        }),
        None => Some(JobRef {
            id: parse_job_id(text)?,
            index: 0,
        }),
    }
}

/// The job operands of bkill and its kin: `N`, `N[i]`, or `0` (all
/// the caller's jobs), each with its text; the first bad one fails.
pub fn parse_target_refs<'a>(
    prog: &str,
    texts: &'a [String],
) -> Result<Vec<(JobRef, &'a String)>, ExitCode> {
    (texts.iter())
        .map(|text| match (text.as_str(), parse_job_ref(text)) {
            ("0", _) => Ok((JobRef::default(), text)),
            (_, Some(r)) => Ok((r, text)),
            (_, None) => Err(fail(prog, format!("invalid jobid '{text}'"))),
        })
        .collect()
}

/// `N` or `ARRAY[i]`.
pub fn display_id(row: &JobRow) -> String {
    if row.array_id == 0 {
        row.id.to_string()
    } else {
        format!("{}[{}]", row.array_id, row.index)
    }
}

/// `-` for an empty string.
pub fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "-"
    } else {
        text
    }
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => os::sayln!("{text}"),
        Err(e) => eprintln!("cannot encode JSON: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_references() {
        assert_eq!(parse_job_ref("12"), Some(JobRef { id: 12, index: 0 }));
        assert_eq!(parse_job_ref("12[3]"), Some(JobRef { id: 12, index: 3 }));
        for bad in [
            "0", "-1", "12[0]", "12[", "a", "12[3]x", "", "+4", "1[2][3]",
        ] {
            assert_eq!(parse_job_ref(bad), None, "{bad}");
        }
    }
}
