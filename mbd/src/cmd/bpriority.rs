//! `bpriority --priority N job_id`: change an unfinished job's priority.

use super::{client, fail, parse_args, parse_job_id, VERSION};
use proto::mbd::{op, PriorityRequest};
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bpriority", override_usage = "bpriority --priority <N> <JOB_ID>", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Change the priority of a job; it cannot exceed the queue's priority unless you are the admin")]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// New priority (0 or more)
    #[arg(short = 'p', long, value_name = "N", allow_hyphen_values = true)]
    priority: Option<String>,
    /// The job's id
    job_id: Option<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let Some(text) = args.priority else {
        return fail("bpriority", "--priority is required");
    };
    let Some(priority) = parse_priority(&text) else {
        return fail("bpriority", format!("invalid priority '{text}'"));
    };
    let Some(text) = args.job_id else {
        return fail("bpriority", "job_id is required");
    };
    let Some(job_id) = parse_job_id(&text) else {
        return fail("bpriority", format!("invalid job_id '{text}'"));
    };
    let client = match client("bpriority") {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.call::<_, ()>(op::PRIORITY, &PriorityRequest { job_id, priority }) {
        Ok(()) => {
            os::sayln!("Job <{job_id}> priority set to {priority}.");
            ExitCode::SUCCESS
        }
        Err(e) => fail(
            "bpriority",
            format!("job <{job_id}> priority change failed: {}", e.reason()),
        ),
    }
}

/// A priority: a whole number, 0 or more.
fn parse_priority(text: &str) -> Option<i32> {
    text.parse::<i32>().ok().filter(|p| *p >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_are_whole_and_not_negative() {
        assert_eq!(parse_priority("0"), Some(0));
        assert_eq!(parse_priority("10"), Some(10));
        for bad in ["-1", "1.5", "x", "", "99999999999"] {
            assert_eq!(parse_priority(bad), None, "{bad}");
        }
    }
}
