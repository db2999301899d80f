//! `sbd [-c DIR] [--host NAME]`: the execution daemon of one host.
//!
//! Reads `$LL_CONF_DIR` (or `-c DIR`), runs in the foreground, logs as
//! `lim::log_file` says and stops on SIGTERM or SIGINT,
//! leaving its jobs running for the next sbd to adopt.

use anyhow::Context;
use clap::Parser;
use conf::ConfDir;
use sbd::daemon::Sbd;
use sbd::settings::Settings;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "sbd", version = lim::cli::VERSION, about = "LavaLite execution daemon")]
struct Args {
    /// Configuration directory (default: $LL_CONF_DIR).
    #[arg(short = 'c', long = "confdir")]
    confdir: Option<PathBuf>,
    /// The host this sbd serves, as named in llb.hosts (default: this
    /// machine's host name).
    #[arg(long)]
    host: Option<String>,
    /// Internal: run the job spooled in DIR (sbd starts one runner per job).
    #[arg(long = "run-job", value_name = "DIR", hide = true)]
    run_job: Option<PathBuf>,
    /// Internal, with --run-job: the job's cgroup, which the runner enters
    /// before it starts the job.
    #[arg(long, value_name = "DIR", hide = true, requires = "run_job")]
    cgroup: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(job_dir) = &args.run_job {
        let conf = args.confdir.clone().unwrap_or_default();
        let host = args.host.clone().unwrap_or_else(os::host::name);
        let cgroup = args
            .cgroup
            .clone()
            .map(|path| sbd::cgroup::JobCgroup { path });
        let code = sbd::launch::run_job(job_dir, cgroup.as_ref(), &conf, &host);
        return std::process::ExitCode::from(code as u8);
    }
    let host = args.host.clone().unwrap_or_else(os::host::name);
    lim::cli::daemon_main("sbd", args.confdir.as_deref(), &host, || {
        run(args.confdir.clone(), host.clone())
    })
}

fn run(confdir: Option<PathBuf>, host: String) -> anyhow::Result<()> {
    let dir = ConfDir::from_arg_or_env(confdir)?;
    let settings = Settings::load(&dir, Some(host))
        .with_context(|| format!("bad configuration in {}", dir.path.display()))?;
    Sbd::start(settings)?.run()
}
