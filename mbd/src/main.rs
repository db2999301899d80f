//! `mbd [-c DIR] [--sched_timer SECS]`: the master batch daemon.
//!
//! Reads `$LL_CONF_DIR` (or `-c DIR`), runs in the foreground, logs as
//! `lim::log_file` says and stops on SIGTERM or SIGINT.

use anyhow::Context;
use clap::Parser;
use conf::ConfDir;
use lim::LimClient;
use mbd::daemon::{DaemonError, Exit, Mbd};
use mbd::event_log::LogError;
use mbd::mastership::{Lease, Standby, Wait};
use mbd::settings::Settings;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    let masters = conf::batch_link::master_list(&dir, &ll)?;
    if masters.is_empty() {
        if Mbd::start(settings, lim)?.run()? == Exit::Restart {
            return Err(restart());
        }
        return Ok(());
    }
    if !masters.iter().any(|m| m == host) {
        anyhow::bail!(
            "host {host} is not in LL_MASTER_LIST ({}): mbd runs on the master candidates only",
            masters.join(" ")
        );
    }
    let Some((client, tick)) = lim else {
        anyhow::bail!("LL_MASTER_LIST needs lim (LL_CLUSTER_NAME): lim elects the master");
    };
    let bind = conf::batch_link::host_mbd_addr(&dir, &ll, host)?;
    serve_when_master(
        &dir,
        sched_timer,
        host,
        bind,
        client.local_first(host),
        tick,
    )
}

/// A master candidate's life: on standby until lim names this host
/// master, then serving until its lease ends, and on standby again.
fn serve_when_master(
    dir: &ConfDir,
    sched_timer: Option<Duration>,
    host: &str,
    bind: std::net::SocketAddr,
    lim: LimClient,
    tick: Duration,
) -> anyhow::Result<()> {
    // Asked twice a lim tick; a lease of two ticks ends before lim can
    // elect another master (three ticks of silence).
    let interval = tick / 2;
    let mut standby = Standby::new(host, interval)?;
    loop {
        if standby.until_master(&lim) == Wait::Stopped {
            return Ok(());
        }
        let mut settings = Settings::load(dir, sched_timer)
            .with_context(|| format!("bad configuration in {}", dir.path.display()))?;
        settings.bind = bind;
        let mbd = match Mbd::start(settings, Some((lim.clone(), tick))) {
            Err(DaemonError::Log(LogError::Locked { path })) => {
                standby.say(format!(
                    "lim names this host master, but {} is held by another mbd (the last master, still stepping down?): waiting",
                    path.display()
                ));
                if standby.pause() {
                    return Ok(());
                }
                continue;
            }
            other => other?,
        };
        log::info!("lim names this host master: taking over");
        let lease = Lease::new(host, 2 * tick, Instant::now());
        match mbd.with_lease(lease, lim.clone(), interval)?.run()? {
            Exit::Stopped => return Ok(()),
            Exit::Restart => return Err(restart()),
            Exit::SteppedDown => {}
        }
    }
}

/// `badmin mbdrestart`: this program again, with the same arguments, in
/// this process (its pid, which a service manager watches, stays). Every
/// descriptor mbd holds closes on exec; returns only if exec failed.
fn restart() -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return anyhow::anyhow!("cannot restart: cannot find mbd's own program: {e}"),
    };
    let e = std::process::Command::new(&program)
        .args(std::env::args_os().skip(1))
        .exec();
    anyhow::anyhow!(
        "cannot restart: cannot run {} again: {e}",
        program.display()
    )
}
