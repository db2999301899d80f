//! `bsub [options] command [args...]`: submit a job.
//!
//! Options stop at the first operand (LavaLite permuted them, so
//! `bsub ls -l` failed); `--` also ends them.

use super::{client, fail, parse_args, parse_time, VERSION};
use crate::client::ClientError;
use crate::depend::Dep;
use proto::mbd::{op, ArraySpec, SubmitReply, SubmitRequest, TokenRequest};
use std::process::ExitCode;

/// Option values may start with `-`, as with getopt (`--array -1-2` is
/// reported as a bad array spec, not as an unknown option).
#[derive(clap::Parser, Debug, Default)]
#[command(
    name = "bsub",
    version = VERSION,
    disable_version_flag = true,
    infer_long_args = true,
    about = "Submit a batch job",
    override_usage = "bsub [options] command [args...]"
)]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Queue (default: LL_DEFAULT_QUEUE)
    #[arg(short = 'q', long, allow_hyphen_values = true)]
    pub queue: Option<String>,
    /// Job name
    #[arg(short = 'J', long, allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Project (shown by bhist)
    #[arg(short = 'P', long, allow_hyphen_values = true)]
    pub project: Option<String>,
    /// Comment (shown by bhist)
    #[arg(short = 'C', long, allow_hyphen_values = true)]
    pub comment: Option<String>,
    /// CPUs per host (default 1)
    #[arg(short = 'n', long, allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// Number of distinct hosts (default 1)
    #[arg(short = 'N', long, allow_hyphen_values = true)]
    pub nhosts: Option<String>,
    /// Memory per host: digits with optional M or G (default MB)
    #[arg(short = 'M', long, allow_hyphen_values = true)]
    pub mem: Option<String>,
    /// Storage per host, MB: digits with optional M or G
    #[arg(short = 's', long, allow_hyphen_values = true)]
    pub storage: Option<String>,
    /// GPUs per host
    #[arg(short = 'g', long, allow_hyphen_values = true)]
    pub gpus: Option<String>,
    /// GPU model (exact match; needs --gpus)
    #[arg(short = 'G', long = "gpu-model", allow_hyphen_values = true)]
    pub gpu_model: Option<String>,
    /// Token pool request name=N (repeatable)
    #[arg(short = 'T', long, allow_hyphen_values = true)]
    pub tokens: Vec<String>,
    /// No other job may share the host(s)
    #[arg(short = 'x', long)]
    pub exclusive: bool,
    /// Hosts or groups, all of which the job needs (spaces or commas)
    #[arg(short = 'm', long, allow_hyphen_values = true)]
    pub machines: Option<String>,
    /// stdout file (%J = job id, %I = array index)
    #[arg(short = 'o', long, allow_hyphen_values = true)]
    pub stdout: Option<String>,
    /// stderr file (%J = job id, %I = array index)
    #[arg(short = 'e', long, allow_hyphen_values = true)]
    pub stderr: Option<String>,
    /// stdin file (default /dev/null)
    #[arg(short = 'i', long, allow_hyphen_values = true)]
    pub stdin: Option<String>,
    /// Submit held (release with bkill -s CONT)
    #[arg(short = 'H', long)]
    pub hold: bool,
    #[arg(
        short = 'a',
        long,
        allow_hyphen_values = true,
        help = "Job array S-E[:K]"
    )]
    pub array: Option<String>,
    #[arg(
        short = 'b',
        long,
        allow_hyphen_values = true,
        help = "Start no earlier than [[month:]day:]hour:minute"
    )]
    pub begin: Option<String>,
    #[arg(
        short = 't',
        long,
        allow_hyphen_values = true,
        help = "Terminate at [[month:]day:]hour:minute"
    )]
    pub terminate: Option<String>,
    /// Dependency expression, e.g. "done(12) && exit(13)"
    #[arg(short = 'w', long, allow_hyphen_values = true)]
    pub dependency: Option<String>,
    /// The command and its arguments
    // No `allow_hyphen_values`: an unknown option before the command is an
    // error, not the command (`bsub --qeue q job` must not run `--qeue`).
    // After the first operand everything is the command's (`bsub ls -l`).
    #[arg(trailing_var_arg = true)]
    pub command: Vec<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let mut request = match request(&args, os::host::unix_now()) {
        Ok(r) => r,
        Err(e) => return fail("bsub", e),
    };
    request.cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    request.env = job_env(std::env::vars());
    request.umask = umask();
    request.submit_host = os::host::name();
    let client = match client("bsub") {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.call::<_, SubmitReply>(op::SUBMIT, &request) {
        Ok(reply) => {
            os::sayln!(
                "Job <{}> is submitted to queue <{}>.",
                reply.job_id,
                reply.queue
            );
            ExitCode::SUCCESS
        }
        // Not "not submitted": mbd may have taken it (and will run it).
        Err(e) if e.outcome_unknown() => {
            eprintln!("bsub: {e}; the job may have been submitted: check with bjobs before submitting it again");
            ExitCode::FAILURE
        }
        Err(e @ ClientError::TooLarge(_)) => {
            let env: usize = request.env.iter().map(String::len).sum();
            eprintln!("Job not submitted: {e} (the submit environment is {env} bytes of it)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("Job not submitted: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The request the options describe (without the environment, cwd,
/// umask and host, which `main` adds). Errors are LavaLite's messages.
pub fn request(a: &Args, now: u64) -> Result<SubmitRequest, String> {
    if a.command.is_empty() {
        return Err("no command specified".into());
    }
    if a.nhosts.is_some() && a.machines.is_some() {
        return Err("--nhosts and --machines are mutually exclusive".into());
    }
    let count = |flag: &str, v: &Option<String>, default: u32, min: u32| match v {
        None => Ok(default),
        Some(text) => (text.parse::<u32>().ok())
            .filter(|n| *n >= min)
            .ok_or(format!("{flag}: invalid value '{text}'")),
    };
    let gpus = count("--gpus", &a.gpus, 0, 0)?;
    // As LavaLite: `--gpus 0` is no GPUs, so it does not satisfy this.
    if a.gpu_model.is_some() && gpus == 0 {
        return Err("--gpu-model requires --gpus".into());
    }
    let size = |flag: &str, v: &Option<String>| match v {
        None => Ok(0),
        Some(text) => parse_size(text).ok_or(format!("{flag}: invalid value '{text}'")),
    };
    let time = |flag: &str, v: &Option<String>| match v {
        None => Ok(0),
        Some(text) => parse_time(text, now).ok_or(format!("{flag}: invalid time '{text}'")),
    };
    let begin = time("--begin", &a.begin)?;
    let terminate = time("--terminate", &a.terminate)?;
    if begin != 0 && terminate != 0 && begin >= terminate {
        return Err("--begin must be before --terminate".into());
    }
    if let Some(dep) = &a.dependency {
        Dep::parse(dep).map_err(|_| format!("--dependency: invalid expression '{dep}'"))?;
    }
    if let Some(name) = &a.name {
        crate::state::check_job_name(name).map_err(|e| format!("--name: {e}"))?;
    }
    Ok(SubmitRequest {
        queue: a.queue.clone().unwrap_or_default(),
        name: a.name.clone().unwrap_or_default(),
        project: a.project.clone().unwrap_or_default(),
        comment: a.comment.clone().unwrap_or_default(),
        command: a.command.join(" "),
        stdin: a.stdin.clone().unwrap_or_default(),
        stdout: a.stdout.clone().unwrap_or_default(),
        stderr: a.stderr.clone().unwrap_or_default(),
        cpus: count("--cpus", &a.cpus, 1, 1)?,
        nhosts: count("--nhosts", &a.nhosts, 1, 1)?,
        machines: (a.machines.iter())
            .flat_map(|m| m.split([' ', ',']))
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        mem_mb: size("--mem", &a.mem)?,
        storage_mb: size("--storage", &a.storage)?,
        gpus,
        gpu_model: a.gpu_model.clone().unwrap_or_default(),
        tokens: a
            .tokens
            .iter()
            .map(|t| parse_tokens(t))
            .collect::<Result<_, _>>()?,
        exclusive: a.exclusive,
        hold: a.hold,
        array: match &a.array {
            None => ArraySpec::default(),
            Some(text) => parse_array(text).ok_or(format!("--array: invalid spec '{text}'"))?,
        },
        begin,
        terminate,
        dependency: a.dependency.clone().unwrap_or_default(),
        ..SubmitRequest::default()
    })
}

/// Digits, then optionally `M` or `G` (uppercase; anything after the
/// letter is ignored, as in LavaLite); no letter = MB. Zero is refused.
pub fn parse_size(text: &str) -> Option<u64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = text[..digits].parse().ok().filter(|n| *n > 0)?;
    match text[digits..].chars().next() {
        None | Some('M') => Some(n),
        Some('G') => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// `S-E[:K]`: S >= 1, E >= S, K >= 1, nothing else.
pub fn parse_array(text: &str) -> Option<ArraySpec> {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (range, step) = match text.split_once(':') {
        Some((range, step)) => (range, number(step)?),
        None => (text, 1),
    };
    let (start, end) = range.split_once('-')?;
    let spec = ArraySpec {
        start: number(start)?,
        end: number(end)?,
        step,
    };
    (spec.start >= 1 && spec.end >= spec.start && spec.step >= 1).then_some(spec)
}

fn parse_tokens(text: &str) -> Result<TokenRequest, String> {
    let (pool, count) = (text.split_once('='))
        .filter(|(pool, _)| !pool.is_empty())
        .ok_or(format!(
            "--tokens: invalid format '{text}', expected name=N"
        ))?;
    let count = (count.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or(format!("--tokens: invalid count in '{text}'"))?;
    Ok(TokenRequest {
        pool: pool.to_owned(),
        count,
    })
}

/// The submit environment minus what belongs to the login session, the
/// terminal, module systems or an enclosing job.
pub fn job_env(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    const DENY: [&str; 14] = [
        "TERM",
        "TERMCAP",
        "COLORTERM",
        "DISPLAY",
        "XAUTHORITY",
        "WINDOWID",
        "PS1",
        "SHLVL",
        "_",
        "SESSION_MANAGER",
        "DBUS_SESSION_BUS_ADDRESS",
        "DESKTOP_SESSION",
        "INVOCATION_ID",
        "JOURNAL_STREAM",
    ];
    const DENY_PREFIX: [&str; 9] = [
        "XDG_",
        "LMOD",
        "MODULE",
        "_LMFILES_",
        "LOADEDMODULES",
        "LL_JOB",
        "LL_QUEUE",
        "LL_HOSTS",
        "BASH_FUNC_",
    ];
    vars.filter(|(k, v)| {
        !DENY.contains(&k.as_str())
            && !DENY_PREFIX.iter().any(|p| k.starts_with(p))
            && !v.contains('\n')
    })
    .map(|(k, v)| format!("{k}={v}"))
    .collect()
}

/// The process umask, from /proc (reading it with umask(2) would set it).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<SubmitRequest, String> {
        let args = Args::try_parse_from(std::iter::once("bsub").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        request(&args, 1_000_000)
    }

    #[test]
    fn long_options_may_be_abbreviated_to_an_unambiguous_prefix() {
        // As LavaLite's getopt_long allowed: --que is --queue, --dep --dependency.
        let r = parse(&["--que", "short", "--dep", "done(1)", "--hold", "true"]).unwrap();
        assert_eq!(
            (r.queue.as_str(), r.dependency.as_str()),
            ("short", "done(1)")
        );
        assert!(r.hold);
        // --m is --mem, --machines or --max...: ambiguous, refused.
        assert!(parse(&["--m", "x", "true"]).is_err());
    }

    #[test]
    fn options_stop_at_the_command() {
        let r = parse(&["-q", "short", "--hold", "ls", "-l", "--queue", "x"]).unwrap();
        assert_eq!(
            (r.queue.as_str(), r.hold, r.command.as_str()),
            ("short", true, "ls -l --queue x")
        );
        let r = parse(&["--", "-weird", "arg"]).unwrap();
        assert_eq!(r.command, "-weird arg");
        assert_eq!(
            parse(&["sh -c 'echo x >&2'"]).unwrap().command,
            "sh -c 'echo x >&2'"
        );
        // A mistyped option is an error, never the job's command.
        let typo = parse(&["--qeue", "short", "myjob"]).unwrap_err();
        assert!(typo.contains("unexpected argument '--qeue'"), "{typo}");
        assert!(parse(&["-Z", "myjob"]).is_err());
    }

    #[test]
    fn values_are_checked_with_lavalites_messages() {
        let err = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(err(&[]), "no command specified");
        assert_eq!(err(&["--cpus", "0", "x"]), "--cpus: invalid value '0'");
        assert_eq!(err(&["-M", "5K", "x"]), "--mem: invalid value '5K'");
        assert_eq!(err(&["-M", "5g", "x"]), "--mem: invalid value '5g'");
        assert_eq!(err(&["--array", "0-2", "x"]), "--array: invalid spec '0-2'");
        assert_eq!(
            err(&["--array", "-1-2", "x"]),
            "--array: invalid spec '-1-2'"
        );
        for bad in ["5-3", "1-4:0", "1-4x", "1-", "3"] {
            assert!(parse(&["--array", bad, "x"]).is_err(), "{bad}");
        }
        assert_eq!(
            err(&["-T", "ansys", "x"]),
            "--tokens: invalid format 'ansys', expected name=N"
        );
        assert_eq!(
            err(&["-T", "ansys=0", "x"]),
            "--tokens: invalid count in 'ansys=0'"
        );
        assert_eq!(err(&["-G", "A100", "x"]), "--gpu-model requires --gpus");
        let long = "n".repeat(proto::mbd::MAX_JOB_NAME + 1);
        assert_eq!(
            err(&["-J", &long, "x"]),
            "--name: job name too long: 4095 bytes, at most 4094"
        );
        assert!(parse(&["-J", &long[1..], "x"]).is_ok());
        let no_gpus = ["-g", "0", "-G", "A100", "x"];
        assert_eq!(err(&no_gpus), "--gpu-model requires --gpus");
        assert_eq!(
            err(&["-N", "2", "-m", "a", "x"]),
            "--nhosts and --machines are mutually exclusive"
        );
        assert_eq!(
            err(&["-w", "done(1", "x"]),
            "--dependency: invalid expression 'done(1'"
        );
        assert_eq!(err(&["-b", "25", "x"]), "--begin: invalid time '25'");
    }

    #[test]
    fn sizes_tokens_machines_and_arrays_are_parsed() {
        let r = parse(&[
            "-M", "2G", "-s", "512Mb", "-T", "a=1", "-T", "b=2", "-m", "h1,h2 g", "-a", "1-9:4",
            "x",
        ])
        .unwrap();
        assert_eq!((r.mem_mb, r.storage_mb), (2048, 512));
        assert_eq!(r.tokens.iter().map(|t| t.count).sum::<u32>(), 3);
        assert_eq!(r.machines, ["h1", "h2", "g"]);
        assert_eq!(r.array.indices(), [1, 5, 9]);
        assert_eq!(r.mem_mb, parse_size("2048").unwrap());
    }

    #[test]
    fn session_variables_stay_out_of_the_job_environment() {
        let vars = [
            ("HOME", "/h"),
            ("TERM", "xterm"),
            ("XDG_RUNTIME_DIR", "/r"),
            ("LL_JOBID", "4"),
            ("F", "a\nb"),
            ("PATH", "/bin"),
        ];
        let env = job_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(env, ["HOME=/h", "PATH=/bin"]);
    }
}
