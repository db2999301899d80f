//! `mbd [-c DIR] [--sched_timer SECS]`: the master batch daemon.
//!
//! Reads `$LL_CONF_DIR` (or `-c DIR`), runs in the foreground, logs as
//! `lim::log_file` says and stops on SIGTERM or SIGINT.

use anyhow::Context;
use clap::Parser;
use conf::ConfDir;
use lim::LimClient;
use mbd::daemon::Mbd;
use mbd::settings::Settings;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "mbd", version = lim::cli::VERSION, about = "LavaLite master batch daemon")]
struct Args {
    /// Configuration directory (default: $LL_CONF_DIR).
    #[arg(short = 'c', long = "confdir")]
    confdir: Option<PathBuf>,
    /// Seconds between scheduling passes (default 2).
    #[arg(long = "sched_timer", value_parser = parse_seconds)]
    sched_timer: Option<Duration>,
    /// The host this mbd runs on, naming its log file (default: this
    /// machine's host name).
    #[arg(long)]
    host: Option<String>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.001 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("not a positive number of seconds: {text}")),
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let host = args.host.clone().unwrap_or_else(os::host::name);
    lim::cli::daemon_main("mbd", args.confdir.as_deref(), &host, || {
        run(args.confdir.clone(), args.sched_timer, &host)
    })
}

fn run(confdir: Option<PathBuf>, sched_timer: Option<Duration>, host: &str) -> anyhow::Result<()> {
    let dir = ConfDir::from_arg_or_env(confdir)?;
    let settings = Settings::load(&dir, sched_timer)
        .with_context(|| format!("bad configuration in {}", dir.path.display()))?;
    log::info!("mbd starting on host {host}");
    if let Some(warning) = dir.auth_key_exposure() {
        log::warn!("{warning}");
    }
    let ll = dir.ll_conf()?;
    let lim = match ll.get("LL_CLUSTER_NAME") {
        None => None,
        Some(_) => {
            let tick = ll.seconds(lim::settings::TICK_KEY, lim::settings::DEFAULT_TICK)?;
            match LimClient::from_conf(&dir) {
                Ok(client) => Some((client, tick)),
                Err(e) => {
                    log::warn!("cannot read lim's configuration ({e}): treating all hosts as up");
                    None
                }
            }
        }
    };
    Mbd::start(settings, lim)?.run()?;
    Ok(())
}
