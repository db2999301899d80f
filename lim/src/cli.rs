//! What lsid, lsload and lshosts share: LavaLite's short options plus
//! `--help` and `--json`, and how they fail.

use crate::client::{ClientError, LimClient};
use conf::ConfDir;

/// The version every LavaLite command reports.
pub const VERSION: &str = "LavaLite 1.1.0";

/// A daemon's `main`: starts its log (see [`crate::log_file`]), runs
/// `run`, and turns an error into one log line and exit status 1.
pub fn daemon_main(
    daemon: &str,
    confdir: Option<&std::path::Path>,
    host: &str,
    run: impl FnOnce() -> anyhow::Result<()>,
) -> std::process::ExitCode {
    let repeat_errors = match crate::log_file::init(daemon, confdir, host) {
        Ok(repeat) => repeat,
        Err(e) => {
            eprintln!("{daemon}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log::error!(target: daemon, "{e:#}");
            if repeat_errors {
                eprintln!("{daemon}: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Parsed options of one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub long: bool,
    pub json: bool,
    /// Host names given as operands (lsload, lshosts): only these.
    pub hosts: Vec<String>,
}

/// What a command accepts beyond `-V`, `--help` and `--json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepts {
    /// `-l`, the long form.
    pub long: bool,
    /// Host names as operands.
    pub hosts: bool,
}

/// The command line of `prog` (clap; long options may be abbreviated to
/// any unambiguous prefix, as LavaLite's getopt_long allowed).
fn command(prog: &'static str, accepts: Accepts) -> clap::Command {
    use clap::{Arg, ArgAction};
    let mut cmd = clap::Command::new(prog)
        .version(VERSION)
        .disable_version_flag(true)
        .infer_long_args(true)
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Print the version"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print JSON"),
        );
    if accepts.long {
        cmd = cmd.arg(
            Arg::new("long")
                .short('l')
                .action(ArgAction::SetTrue)
                .help("Long format"),
        );
    }
    if accepts.hosts {
        cmd = cmd.arg(
            Arg::new("hosts")
                .value_name("HOST")
                .num_args(0..)
                .help("Only these hosts"),
        );
    }
    cmd
}

/// Parses `args` (argv0 first).
pub fn parse(
    prog: &'static str,
    args: &[String],
    accepts: Accepts,
) -> Result<Options, clap::Error> {
    let matches = command(prog, accepts).try_get_matches_from(args)?;
    let flag = |id: &str| matches.try_get_one::<bool>(id).ok().flatten() == Some(&true);
    Ok(Options {
        long: flag("long"),
        json: flag("json"),
        hosts: (matches.try_get_many::<String>("hosts").ok().flatten())
            .map_or_else(Vec::new, |h| h.cloned().collect()),
    })
}

/// Runs a command's body with LavaLite's exit conventions: `main` prints
/// what it got; an error is one line on stderr and exit 1. Help goes to
/// standard output, the version bare (`LavaLite 1.1.0`).
pub fn run(
    prog: &'static str,
    accepts: Accepts,
    main: impl FnOnce(Options, &LimClient) -> Result<String, String>,
) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let opts = match parse(prog, &args, accepts) {
        Ok(opts) => opts,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {
            os::sayln!("{VERSION}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let client = ConfDir::from_env()
        .map_err(|e| e.to_string())
        .and_then(|dir| LimClient::from_conf(&dir).map_err(|e| e.to_string()));
    let result = client.and_then(|client| main(opts, &client));
    match result {
        Ok(text) => {
            os::say!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(line) => {
            eprintln!("{prog}: {line}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The records of the hosts named in `wanted` (all, if it is empty), in
/// the order lim gave them; a name lim does not know is an error.
pub fn only_hosts(
    records: Vec<proto::lim::HostRecord>,
    wanted: &[String],
) -> Result<Vec<proto::lim::HostRecord>, String> {
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !records.iter().any(|r| &r.name == *w))
    {
        return Err(format!("unknown host '{unknown}'"));
    }
    Ok(if wanted.is_empty() {
        records
    } else {
        records
            .into_iter()
            .filter(|r| wanted.contains(&r.name))
            .collect()
    })
}

/// The command-line form of a failed query.
pub fn describe(what: &str, e: &ClientError) -> String {
    format!("{what} failed: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    const LSLOAD: Accepts = Accepts {
        long: true,
        hosts: true,
    };
    const LSID: Accepts = Accepts {
        long: false,
        hosts: false,
    };

    #[test]
    fn options_as_lavalite_plus_json_hosts_and_abbreviations() {
        let opts = parse(
            "lsload",
            &args(&["lsload", "-l", "--js", "host2", "host1"]),
            LSLOAD,
        );
        assert_eq!(
            opts.ok(),
            Some(Options {
                long: true,
                json: true,
                hosts: vec!["host2".into(), "host1".into()],
            })
        );
        let version = parse("lsid", &args(&["lsid", "-V"]), LSID).unwrap_err();
        assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
        let help = parse("lsload", &args(&["lsload", "--help"]), LSLOAD).unwrap_err();
        assert!(!help.use_stderr(), "help goes to standard output");
        assert!(parse("lsid", &args(&["lsid", "-l"]), LSID).is_err());
        assert!(parse("lsid", &args(&["lsid", "host1"]), LSID).is_err());
    }

    #[test]
    fn named_hosts_are_kept_in_lims_order_and_an_unknown_one_is_an_error() {
        let record = |name: &str| proto::lim::HostRecord {
            name: name.into(),
            ..Default::default()
        };
        let all = || vec![record("a"), record("b"), record("c")];
        let names = |r: Vec<proto::lim::HostRecord>| -> Vec<String> {
            r.into_iter().map(|h| h.name).collect()
        };
        assert_eq!(names(only_hosts(all(), &[]).unwrap()), ["a", "b", "c"]);
        let wanted = ["c".to_owned(), "a".to_owned()];
        assert_eq!(names(only_hosts(all(), &wanted).unwrap()), ["a", "c"]);
        let err = only_hosts(all(), &["x".to_owned()]).unwrap_err();
        assert_eq!(err, "unknown host 'x'");
    }
}
