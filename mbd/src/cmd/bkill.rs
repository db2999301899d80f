//! `bkill [-s SIG] job_ref...`: signal jobs (default SIGTERM).

use super::{client, fail, parse_args, parse_target_refs, VERSION};
use proto::mbd::{op, SignalRequest};
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bkill", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Signal batch jobs")]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// kill, term, stop, cont, int, hup, tstp, or a number (default term)
    #[arg(short = 's', long)]
    signal: Option<String>,
    /// N, N[i], or 0 for all your jobs
    #[arg(required = true)]
    job_refs: Vec<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let signal = match args
        .signal
        .as_deref()
        .map_or(Some(libc::SIGTERM as u32), parse_signal)
    {
        Some(s) => s,
        None => {
            return fail(
                "bkill",
                format!("invalid signal '{}'", args.signal.unwrap_or_default()),
            )
        }
    };
    send("bkill", &args.job_refs, signal, "signaled")
}

/// Sends `signal` to each job of `job_refs` (`0`: all the caller's),
/// saying `Job <N> is being <done>` for each; exit 1 unless one worked.
pub fn send(prog: &str, job_refs: &[String], signal: u32, done: &str) -> ExitCode {
    let refs = match parse_target_refs(prog, job_refs) {
        Ok(refs) => refs,
        Err(code) => return code,
    };
    let client = match client(prog) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut any_ok = false;
    for (job, text) in refs {
        match client.call::<_, ()>(op::SIGNAL, &SignalRequest { job, signal }) {
            Ok(()) if job.id == 0 => os::sayln!("All your jobs are being {done}"),
            Ok(()) => os::sayln!("Job <{text}> is being {done}"),
            Err(e) => {
                eprintln!("{prog}: failed to signal job <{text}>: {}", e.reason());
                continue;
            }
        }
        any_ok = true;
    }
    if any_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A signal name (case-insensitive, LavaLite's set) or number 1..NSIG-1.
pub fn parse_signal(text: &str) -> Option<u32> {
    let named = match text.to_ascii_lowercase().as_str() {
        "kill" => libc::SIGKILL,
        "term" | "terminate" => libc::SIGTERM,
        "stop" => libc::SIGSTOP,
        "cont" | "continue" => libc::SIGCONT,
        "int" => libc::SIGINT,
        "hup" => libc::SIGHUP,
        "tstp" => libc::SIGTSTP,
        _ => return text.parse::<u32>().ok().filter(|n| (1..65).contains(n)),
    };
    Some(named as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("Cont"), Some(libc::SIGCONT as u32));
        assert_eq!(parse_signal("12"), Some(12));
        for bad in ["0", "65", "usr1", "-9", ""] {
            assert_eq!(parse_signal(bad), None, "{bad}");
        }
    }
}
