//! `lim [-c DIR] [--host NAME]`: the Load Information Manager daemon.
//!
//! Reads `$LL_CONF_DIR` (or `-c DIR`), runs in the foreground, logs as
//! `lim::log_file` says and stops on SIGTERM or SIGINT.

use anyhow::Context;
use clap::Parser;
use conf::ConfDir;
use lim::daemon::Lim;
use lim::Settings;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "lim", version = lim::cli::VERSION, about = "LavaLite Load Information Manager")]
struct Args {
    /// Configuration directory (default: $LL_CONF_DIR).
    #[arg(short = 'c', long = "confdir")]
    confdir: Option<PathBuf>,
    /// This host's name in the cluster file (default: the system host name).
    #[arg(long)]
    host: Option<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let host = args.host.clone().unwrap_or_else(os::host::name);
    lim::cli::daemon_main("lim", args.confdir.as_deref(), &host, || {
        run(args.confdir.clone(), host.clone())
    })
}

fn run(confdir: Option<PathBuf>, host: String) -> anyhow::Result<()> {
    let dir = ConfDir::from_arg_or_env(confdir)?;
    let settings = Settings::load(&dir, &host)
        .with_context(|| format!("bad configuration in {}", dir.path.display()))?;
    if let Some(warning) = dir.auth_key_exposure() {
        log::warn!("{warning}");
    }
    Lim::bind(settings)?.run()?;
    Ok(())
}
