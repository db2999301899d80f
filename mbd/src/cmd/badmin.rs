//! `badmin`: LSF's administration command. `reconfig` makes mbd read
//! llb.hosts, llb.queues and llb.users again without a restart;
//! `hclose`/`hopen` and `qinact`/`qact` are `bhosts -c/-o` and
//! `bqueues -c/-o` (a closed queue here dispatches nothing and still
//! takes jobs: LSF's inactive queue); `qclose`/`qopen` close a queue to
//! new jobs and open it again, as LSF's do (it still dispatches).

use super::{client, fail, parse_args, VERSION};
use proto::mbd::{op, Control, QueueRow};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long `mbdrestart` waits for mbd to answer again.
const RESTART_WAIT: Duration = Duration::from_secs(120);

fn mbd_restart(client: &crate::client::BatchClient) -> ExitCode {
    if let Err(e) = client.call::<_, ()>(op::MBD_RESTART, &()) {
        return fail("badmin", format!("mbdrestart refused: {}", e.reason()));
    }
    os::sayln!("mbd restarting ...");
    let deadline = Instant::now() + RESTART_WAIT;
    loop {
        match client.call::<_, Vec<QueueRow>>(op::QUEUES, &()) {
            Ok(_) => {
                os::sayln!("mbd answers again: restart done");
                return ExitCode::SUCCESS;
            }
            Err(e) if Instant::now() >= deadline => {
                let waited = RESTART_WAIT.as_secs();
                return fail(
                    "badmin",
                    format!(
                        "mbd has not answered for {waited} s since the restart: {}",
                        e.reason()
                    ),
                );
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

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
    /// Close queues to new jobs (their jobs still run)
    Qclose { queues: Vec<String> },
    /// Let queues take new jobs again
    Qopen { queues: Vec<String> },
    /// Restart mbd: it reads its event log again (its pid stays)
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
    let control = |what: &str, op: u32, names: &[String], open: bool, done: &str| {
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
                Ok(()) => os::sayln!("{what} {name} {done}"),
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
                os::sayln!(
                    "Reconfiguration done: mbd reads llb.hosts, llb.queues and llb.users anew"
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail("badmin", format!("reconfig refused: {}", e.reason())),
        },
        Command::Hclose { hosts } => control("host", op::HOST_CONTROL, &hosts, false, "closed"),
        Command::Hopen { hosts } => control("host", op::HOST_CONTROL, &hosts, true, "opened"),
        Command::Qinact { queues } => control(
            "queue",
            op::QUEUE_CONTROL,
            &queues,
            false,
            "inactivated: it dispatches no jobs",
        ),
        Command::Qact { queues } => control(
            "queue",
            op::QUEUE_CONTROL,
            &queues,
            true,
            "activated: it dispatches jobs",
        ),
        Command::Qclose { queues } => control(
            "queue",
            op::QUEUE_ACCEPT,
            &queues,
            false,
            "closed to new jobs",
        ),
        Command::Qopen { queues } => control(
            "queue",
            op::QUEUE_ACCEPT,
            &queues,
            true,
            "opened to new jobs",
        ),
        Command::Mbdrestart => mbd_restart(&client),
    }
}
