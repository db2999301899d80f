//! `badmin`: LSF's administration command. `reconfig` makes mbd read
//! llb.hosts, llb.queues and llb.users again without a restart;
//! `hclose`/`hopen` and `qinact`/`qact` are `bhosts -c/-o` and
//! `bqueues -c/-o` (a closed queue here dispatches nothing and still
//! takes jobs: LSF's inactive queue). LSF's `qclose` (refuse
//! submissions) has no counterpart and says so.

use super::{client, fail, parse_args, VERSION};
use proto::mbd::{op, Control};
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "badmin", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Administer the batch system")]
pub struct Args {
    #[arg(short = 'V', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Read llb.hosts, llb.queues and llb.users again, without a restart
    Reconfig,
    /// Close hosts to new jobs (running ones go on)
    Hclose { hosts: Vec<String> },
    /// Open hosts
    Hopen { hosts: Vec<String> },
    /// Stop queues dispatching (they still take jobs)
    Qinact { queues: Vec<String> },
    /// Let queues dispatch again
    Qact { queues: Vec<String> },
    /// LSF's: refuse submissions to queues (not available here)
    Qclose { queues: Vec<String> },
    /// LSF's: take submissions again (not available here)
    Qopen { queues: Vec<String> },
    /// LSF's: restart mbd (restart its service here)
    Mbdrestart,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let client = match client("badmin") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let control = |what: &str, op: u32, names: &[String], open: bool| {
        if names.is_empty() {
            return fail("badmin", format!("name the {what}s"));
        }
        let mut failed = false;
        for name in names {
            let request = Control {
                name: name.clone(),
                open,
            };
            match client.call::<_, ()>(op, &request) {
                Ok(()) => os::sayln!("{what} {name} {}", if open { "opened" } else { "closed" }),
                Err(e) => {
                    eprintln!("badmin: {name}: {}", e.reason());
                    failed = true;
                }
            }
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    };
    match args.command {
        Command::Reconfig => match client.call::<_, ()>(op::RECONFIG, &()) {
            Ok(()) => {
                os::sayln!("Reconfiguration done: mbd reads llb.hosts, llb.queues and llb.users anew");
                ExitCode::SUCCESS
            }
            Err(e) => fail("badmin", format!("reconfig refused: {}", e.reason())),
        },
        Command::Hclose { hosts } => control("host", op::HOST_CONTROL, &hosts, false),
        Command::Hopen { hosts } => control("host", op::HOST_CONTROL, &hosts, true),
        Command::Qinact { queues } => control("queue", op::QUEUE_CONTROL, &queues, false),
        Command::Qact { queues } => control("queue", op::QUEUE_CONTROL, &queues, true),
        Command::Qclose { .. } | Command::Qopen { .. } => fail(
            "badmin",
            "queues here do not refuse submissions (LSF's qclose); badmin qinact/qact stop and resume their dispatch",
        ),
        Command::Mbdrestart => fail(
            "badmin",
            "restart mbd's service (systemctl restart lavalite-mbd); llb.* changes need only badmin reconfig",
        ),
    }
}
