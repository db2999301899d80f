//! `bsub [options] command [args...]` or `bsub [options] < script`:
//! submit a job.
//!
//! Options stop at the first operand (LavaLite permuted them, so
//! `bsub ls -l` failed); `--` also ends them. A later option overrides
//! an earlier one, so the command line beats a script's `#BSUB` lines,
//! which go before it.

use super::job_script::{self, parse_job_name};
use super::{client, fail, parse_args_from, parse_time, VERSION};
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
    args_override_self = true,
    about = "Submit a batch job",
    override_usage = "bsub [options] command [args...]\n       bsub [options] < script"
)]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Queue (default: LL_DEFAULT_QUEUE)
    #[arg(short = 'q', long, allow_hyphen_values = true)]
    pub queue: Option<String>,
    /// Job name; NAME[1-10:2,15]%4 makes an array (at most 4 running)
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
    /// stdout file, overwritten (LSF's -oo; so is --stdout's)
    #[arg(
        long = "stdout-overwrite",
        conflicts_with = "stdout",
        allow_hyphen_values = true
    )]
    pub stdout_overwrite: Option<String>,
    /// stderr file, overwritten (LSF's -eo; so is --stderr's)
    #[arg(
        long = "stderr-overwrite",
        conflicts_with = "stderr",
        allow_hyphen_values = true
    )]
    pub stderr_overwrite: Option<String>,
    /// The job's working directory (LSF's -cwd; %J, %I expand, made if missing)
    #[arg(long, allow_hyphen_values = true)]
    pub cwd: Option<String>,
    /// Run limit, [hours:]minutes of run time
    #[arg(short = 'W', long = "run-limit", allow_hyphen_values = true)]
    pub run_limit: Option<String>,
    /// Wait for the job to finish and exit with its exit code
    #[arg(short = 'K', long = "wait")]
    pub wait: bool,
    /// Run before the job, as you, where it runs: 0 starts it, 99 ends it
    /// (EXIT), other statuses retry it later
    #[arg(short = 'E', long = "pre-exec", allow_hyphen_values = true)]
    pub pre_exec: Option<String>,
    /// Run after the job, whatever its end (LSF's -Ep)
    #[arg(long = "post-exec", allow_hyphen_values = true)]
    pub post_exec: Option<String>,
    /// Where the job's mail goes (default: you)
    #[arg(short = 'u', long = "mail-user", allow_hyphen_values = true)]
    pub mail_user: Option<String>,
    /// Mail when the job starts
    #[arg(short = 'B', long = "notify-begin")]
    pub notify_begin: bool,
    /// Mail the job report when it ends (LSF's -N; -N is --nhosts here)
    #[arg(long = "notify-end")]
    pub notify_end: bool,
    /// Rerunnable: if its host is lost, run it again (same id)
    #[arg(short = 'r', long)]
    pub rerunnable: bool,
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
    let argv = lsf_spellings(std::env::args_os().map(|a| a.to_string_lossy().into_owned()));
    let args: Args = match parse_args_from(&argv) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let (args, script) = match with_script(args, &argv, read_script, parse_script_files()) {
        Ok(found) => found,
        Err(e) => return fail("bsub", e),
    };
    let mut request = match request(&args, script, os::host::unix_now()) {
        Ok(r) => r,
        Err(e) => return fail("bsub", e),
    };
    let here = std::env::current_dir().unwrap_or_default();
    request.cwd = match &args.cwd {
        Some(dir) => here.join(dir).display().to_string(),
        None => here.display().to_string(),
    };
    request.env = job_env(std::env::vars());
    request.umask = umask();
    request.submit_host = os::host::name();
    let client = match client("bsub") {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(warning) = mail_warning(&args) {
        eprintln!("bsub: {warning}");
    }
    match client.call::<_, SubmitReply>(op::SUBMIT, &request) {
        Ok(reply) => {
            os::sayln!(
                "Job <{}> is submitted to queue <{}>.",
                reply.job_id,
                reply.queue
            );
            if args.wait {
                return super::job_wait::until_finished(&client, reply.job_id);
            }
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

/// LSF's options of more than one letter and this bsub's long spelling
/// of each.
const LSF_SPELLINGS: [(&str, &str); 4] = [
    ("-cwd", "--cwd"),
    ("-Ep", "--post-exec"),
    ("-oo", "--stdout-overwrite"),
    ("-eo", "--stderr-overwrite"),
];

/// `argv` with LSF's options of more than one letter (`-oo`, `-cwd`)
/// respelled as long options, among the options only.
pub fn lsf_spellings(argv: impl IntoIterator<Item = String>) -> Vec<String> {
    super::respell(
        argv,
        &<Args as clap::CommandFactory>::command(),
        &LSF_SPELLINGS,
    )
}

/// The job script and the options it adds: `bsub < script` (no command:
/// the script is read from stdin and kept with the job), or `bsub
/// script` when `LSB_BSUB_PARSE_SCRIPT = Y` (its `#BSUB` lines read, the
/// file run where it is). Directives go before the command line's
/// options, which so win. `stdin` reads the script.
fn with_script(
    args: Args,
    argv: &[String],
    stdin: impl FnOnce() -> Result<String, String>,
    parse_files: bool,
) -> Result<(Args, Option<String>), String> {
    let (text, spooled) = if args.command.is_empty() {
        (stdin()?, true)
    } else if args.command.len() == 1 && parse_files {
        match std::fs::read_to_string(&args.command[0]) {
            Ok(text) => (text, false),
            Err(_) => return Ok((args, None)),
        }
    } else {
        return Ok((args, None));
    };
    if spooled && text.trim().is_empty() {
        return Err("no command specified".into());
    }
    if spooled && !job_script::has_commands(&text) {
        return Err("No command is specified in the script file".into());
    }
    let words = job_script::directives(&text).map_err(|e| format!("#BSUB: {e}"))?;
    let script = spooled.then_some(text);
    if words.is_empty() {
        return Ok((args, script));
    }
    let words = lsf_spellings(std::iter::once("bsub".to_owned()).chain(words));
    // The directives alone first, so that a mistake in them says so.
    let directed = <Args as clap::Parser>::try_parse_from(&words)
        .map_err(|e| format!("#BSUB: {}", first_line(&e)))?;
    if let Some(word) = directed.command.first() {
        return Err(format!("#BSUB: '{word}' is not an option"));
    }
    let merged: Vec<&String> = words.iter().chain(&argv[1..]).collect();
    let args = <Args as clap::Parser>::try_parse_from(merged).map_err(|e| first_line(&e))?;
    Ok((args, script))
}

/// The largest script read from stdin (mbd takes requests of 4 MiB).
const MAX_SCRIPT: u64 = 4 << 20;

/// The job script on stdin; at a terminal, prompted for line by line as
/// LSF's bsub does, until end of file (Ctrl-D).
fn read_script() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal, Read, Write};
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        loop {
            os::say!("bsub> ");
            let _ = std::io::stdout().flush();
            match stdin.lock().read_line(&mut text) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => return Err(format!("cannot read the job script: {e}")),
            }
        }
        return Ok(text);
    }
    (stdin.lock().take(MAX_SCRIPT + 1))
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the job script from standard input: {e}"))?;
    if text.len() as u64 > MAX_SCRIPT {
        return Err(format!("the job script is over {MAX_SCRIPT} bytes"));
    }
    Ok(text)
}

/// `LSB_BSUB_PARSE_SCRIPT = Y`, in the environment or in ll.conf.
fn parse_script_files() -> bool {
    const KEY: &str = "LSB_BSUB_PARSE_SCRIPT";
    let value = std::env::var(KEY).ok().or_else(|| {
        let conf = conf::ConfDir::from_env().ok()?.ll_conf().ok()?;
        conf.get(KEY).map(str::to_owned)
    });
    value.is_some_and(|v| v.eq_ignore_ascii_case("y"))
}

/// What to say when mail is asked for and the site has no mailer
/// (`LSB_MAILPROG` in ll.conf): the job is submitted all the same.
fn mail_warning(a: &Args) -> Option<String> {
    if !(a.notify_begin || a.notify_end || a.mail_user.is_some()) {
        return None;
    }
    let conf = conf::ConfDir::from_env().ok()?.ll_conf().ok()?;
    conf.mailer().is_none().then(|| {
        "mail not configured (no LSB_MAILPROG in ll.conf): this job's -B/-u/--notify-end send nothing"
            .to_owned()
    })
}

/// clap's error without its usage lines.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// The request the options describe, running `script` if given (without
/// the environment, cwd, umask and host, which `main` adds). Errors are
/// LavaLite's messages.
pub fn request(a: &Args, script: Option<String>, now: u64) -> Result<SubmitRequest, String> {
    let command = match &script {
        Some(script) => job_script::one_line(script),
        None if a.command.is_empty() => return Err("no command specified".into()),
        None => a.command.join(" "),
    };
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
    let name = match &a.name {
        Some(text) => parse_job_name(text).map_err(|e| format!("--name: {e}"))?,
        None => job_script::JobName::default(),
    };
    crate::state::check_job_name(&name.name).map_err(|e| format!("--name: {e}"))?;
    let named_array = name.range.is_array() || !name.indices.is_empty();
    if named_array && a.array.is_some() {
        return Err("--array and an array in --name (NAME[...]) are mutually exclusive".into());
    }
    let run_limit = match &a.run_limit {
        None => 0,
        Some(text) => conf::parse_minutes(text).ok_or(format!(
            "--run-limit: invalid value '{text}', expected [hours:]minutes"
        ))?,
    };
    Ok(SubmitRequest {
        queue: a.queue.clone().unwrap_or_default(),
        name: name.name,
        project: a.project.clone().unwrap_or_default(),
        comment: a.comment.clone().unwrap_or_default(),
        command,
        stdin: a.stdin.clone().unwrap_or_default(),
        stdout: (a.stdout.clone().or(a.stdout_overwrite.clone())).unwrap_or_default(),
        stderr: (a.stderr.clone().or(a.stderr_overwrite.clone())).unwrap_or_default(),
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
            None => name.range,
            Some(text) => parse_array(text).ok_or(format!("--array: invalid spec '{text}'"))?,
        },
        begin,
        terminate,
        dependency: a.dependency.clone().unwrap_or_default(),
        options: proto::JobOptions {
            run_limit,
            max_running: name.max_running,
            array_indices: name.indices,
            script: script.unwrap_or_default(),
            rerunnable: a.rerunnable,
            pre_exec: a.pre_exec.clone().unwrap_or_default(),
            post_exec: a.post_exec.clone().unwrap_or_default(),
            mail_user: a.mail_user.clone().unwrap_or_default(),
            notify_begin: a.notify_begin,
            notify_end: a.notify_end,
        },
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
        let args = <Args as clap::Parser>::try_parse_from(
            std::iter::once("bsub").chain(args.iter().copied()),
        )
        .map_err(|e| e.to_string())?;
        request(&args, None, 1_000_000)
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

    fn argv(args: &[&str]) -> Vec<String> {
        lsf_spellings(
            std::iter::once("bsub")
                .chain(args.iter().copied())
                .map(String::from),
        )
    }

    /// What `bsub ARGS < script` submits.
    fn scripted(args: &[&str], script: &str) -> Result<SubmitRequest, String> {
        let argv = argv(args);
        let parsed = Args::try_parse_from(&argv).map_err(|e| e.to_string())?;
        let (parsed, text) = with_script(parsed, &argv, || Ok(script.to_owned()), false)?;
        request(&parsed, text, 1_000_000)
    }

    #[test]
    fn lsfs_two_letter_options_are_options_only_before_the_command() {
        assert_eq!(
            argv(&["-oo", "f", "echo", "x"]),
            ["bsub", "--stdout-overwrite", "f", "echo", "x"]
        );
        // A value that looks like one stays a value; the command is left alone.
        assert_eq!(
            argv(&["-q", "-oo", "-Hcwd", "ls", "-oo", "-cwd"]),
            ["bsub", "-q", "-oo", "-Hcwd", "ls", "-oo", "-cwd"]
        );
        assert_eq!(
            argv(&["--que", "q", "-eo", "e", "-cwd", "/d", "ls"])[3..],
            ["--stderr-overwrite", "e", "--cwd", "/d", "ls"]
        );
        let unspelled = parse(&["-oo", "f", "echo", "x"]).unwrap();
        assert_eq!(
            (unspelled.stdout.as_str(), unspelled.command.as_str()),
            ("o", "f echo x")
        );
        let argv = argv(&["-oo", "f", "-eo", "g", "echo", "x"]);
        let r = request(&Args::try_parse_from(&argv).unwrap(), None, 0).unwrap();
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.command.as_str()),
            ("f", "g", "echo x")
        );
    }

    #[test]
    fn a_scripts_directives_fill_what_the_command_line_leaves() {
        let script =
            "#!/bin/sh\n#BSUB -J sim -q short -n 2\n#BSUB -W 1:30 -o out.%J\necho hi\n#BSUB -H\n";
        let r = scripted(&["-q", "normal"], script).unwrap();
        assert_eq!(
            (
                r.name.as_str(),
                r.queue.as_str(),
                r.cpus,
                r.stdout.as_str(),
                r.hold
            ),
            ("sim", "normal", 2, "out.%J", true)
        );
        assert_eq!(r.options.run_limit, 90 * 60);
        assert_eq!(r.options.script, script);
        let err = |args: &[&str], script: &str| scripted(args, script).unwrap_err();
        assert_eq!(err(&[], ""), "no command specified");
        assert_eq!(
            err(&[], "#BSUB -q x\n"),
            "No command is specified in the script file"
        );
        assert!(err(&[], "#BSUB -Z\necho\n").starts_with("#BSUB: unexpected argument '-Z'"));
        assert_eq!(
            err(&[], "#BSUB -q a extra\necho\n"),
            "#BSUB: 'extra' is not an option"
        );
    }

    #[test]
    fn run_limits_and_array_names() {
        let r = parse(&["-W", "90", "-J", "arr[1-9:4]%2", "x"]).unwrap();
        assert_eq!((r.options.run_limit, r.name.as_str()), (5400, "arr"));
        assert_eq!((r.indices(), r.options.max_running), (vec![1, 5, 9], 2));
        let r = parse(&["-J", "a[3,1]", "x"]).unwrap();
        assert_eq!((r.is_array(), r.indices()), (true, vec![1, 3]));
        let err = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(
            err(&["-W", "0", "x"]),
            "--run-limit: invalid value '0', expected [hours:]minutes"
        );
        assert!(err(&["-J", "a[0]", "x"]).starts_with("--name: invalid job array 'a[0]'"));
        assert_eq!(
            err(&["-J", "a[1-2]", "-a", "1-2", "x"]),
            "--array and an array in --name (NAME[...]) are mutually exclusive"
        );
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
