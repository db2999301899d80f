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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub long: bool,
    pub json: bool,
}

/// What to do instead of running the command.
#[derive(Debug, PartialEq, Eq)]
pub enum Early {
    /// Print this to stderr and exit 0.
    Help(String),
    /// Print the version to stdout and exit 0.
    Version,
    /// Print this to stderr and exit 1.
    Usage(String),
}

/// Parses `args` (without argv0). `-l` is accepted only if `long_ok`.
pub fn parse(prog: &str, args: &[String], long_ok: bool) -> Result<Options, Early> {
    let usage = format!(
        "Usage: {prog} [-h] [-V]{} [--json]",
        if long_ok { " [-l]" } else { "" }
    );
    let mut opts = Options::default();
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => return Err(Early::Help(usage)),
            "-V" | "--version" => return Err(Early::Version),
            "-l" if long_ok => opts.long = true,
            "--json" => opts.json = true,
            other => {
                return Err(Early::Usage(format!(
                    "{prog}: unknown option '{other}'\n{usage}"
                )))
            }
        }
    }
    Ok(opts)
}

/// Runs a command's body with LavaLite's exit conventions: `main` prints
/// what it got; an error is one line on stderr and exit 1.
pub fn run(
    long_ok: bool,
    main: impl FnOnce(&str, Options, &LimClient) -> Result<String, String>,
) -> std::process::ExitCode {
    // `lsload | head` ends quietly when head is done, as in LavaLite.
    let _ = chan::sys::default_signal(libc::SIGPIPE);
    let mut argv = std::env::args();
    let prog = argv
        .next()
        .as_deref()
        .and_then(|p| p.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "ls".into());
    let args: Vec<String> = argv.collect();
    let opts = match parse(&prog, &args, long_ok) {
        Ok(opts) => opts,
        Err(Early::Help(text)) => {
            eprintln!("{text}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(Early::Version) => {
            println!("{VERSION}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(Early::Usage(text)) => {
            eprintln!("{text}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let client = ConfDir::from_env()
        .map_err(|e| e.to_string())
        .and_then(|dir| LimClient::from_conf(&dir).map_err(|e| e.to_string()));
    let result = client.and_then(|client| main(&prog, opts, &client));
    match result {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(line) => {
            eprintln!("{prog}: {line}");
            std::process::ExitCode::FAILURE
        }
    }
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

    #[test]
    fn options_as_lavalite_plus_json() {
        assert_eq!(
            parse("lsload", &args(&["-l", "--json"]), true),
            Ok(Options {
                long: true,
                json: true
            })
        );
        assert_eq!(parse("lsid", &args(&["-V"]), false), Err(Early::Version));
        assert_eq!(
            parse("lsload", &args(&["-h"]), true),
            Err(Early::Help("Usage: lsload [-h] [-V] [-l] [--json]".into()))
        );
        let Err(Early::Usage(text)) = parse("lsid", &args(&["-l"]), false) else {
            panic!("-l is not an lsid option");
        };
        assert!(text.starts_with("lsid: unknown option '-l'\nUsage: lsid [-h] [-V] [--json]"));
    }
}
