//! `bstop job_ref...` / `bresume job_ref...`: LSF's commands to suspend
//! and resume jobs, as `bkill -s STOP` / `bkill -s CONT` (a pending job
//! is held and released; states are LavaLite's SUSP and HELD).

use super::{parse_args, VERSION};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// N, N[i], or 0 for all your jobs
    #[arg(required = true)]
    job_refs: Vec<String>,
}

/// `bstop`: SIGSTOP.
pub fn stop() -> ExitCode {
    run::<Stop>("bstop", libc::SIGSTOP, "stopped")
}

/// `bresume`: SIGCONT.
pub fn resume() -> ExitCode {
    run::<Resume>("bresume", libc::SIGCONT, "resumed")
}

fn run<A: clap::Parser + Into<Args>>(prog: &str, signal: i32, done: &str) -> ExitCode {
    let args: Args = match parse_args::<A>() {
        Ok(args) => args.into(),
        Err(code) => return code,
    };
    super::bkill::send(prog, &args.job_refs, signal as u32, done)
}

/// bstop's help.
#[derive(clap::Parser, Debug)]
#[command(name = "bstop", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Suspend batch jobs (held if pending)")]
struct Stop {
    #[command(flatten)]
    args: Args,
}

/// bresume's help.
#[derive(clap::Parser, Debug)]
#[command(name = "bresume", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Resume suspended jobs (release held ones)")]
struct Resume {
    #[command(flatten)]
    args: Args,
}

impl From<Stop> for Args {
    fn from(s: Stop) -> Args {
        s.args
    }
}

impl From<Resume> for Args {
    fn from(r: Resume) -> Args {
        r.args
    }
}
