//! The job runner (`sbd --run-job DIR`): one short-lived process per job
//! that sets the job up, starts it, waits for it and records how it ended.
//!
//! The runner leads the job's process group, so signals for the job reach
//! the runner too: it blocks the catchable ones and stays to collect the
//! status (a SIGKILL for the job kills it as well, and sbd reports that).

use crate::cgroup::JobCgroup;
use crate::clean_spawn::{self, Stdio};
use crate::mail;
use crate::spool;
use proto::sbd::{Finished, JobKey, JobStart, Usage};
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Exit code recorded when the job could not be started.
pub const CANNOT_START: i32 = 127;

/// Signals the runner ignores so it outlives the job it watches.
const RUNNER_BLOCKS: [i32; 10] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTERM,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGALRM,
];

/// Whether the runner sbd recorded as `pid` is alive (a reused pid does
/// not count). By its arguments: started through /proc/self/exe, a
/// runner's process name is `exe`. None while it is still in exec or
/// already in exit: alive, for the moment.
pub fn is_runner(pid: u32) -> bool {
    pid != 0
        && os::process::live_process_args(pid)
            .is_some_and(|args| args.is_empty() || args.iter().any(|a| a == "--run-job"))
}

/// Runs the job spooled in `dir` (in `cgroup`, when sbd made one);
/// returns the runner's exit code (0 once a result is written).
pub fn run_job(dir: &Path, cgroup: Option<&JobCgroup>, conf_dir: &Path, host: &str) -> i32 {
    // First, while still root: everything the job starts inherits it, and
    // the job's user cannot move out of it. The runner's own few hundred
    // KB and its CPU time are counted as the job's.
    if let Some(e) = cgroup.and_then(|cg| cg.enter().err()) {
        eprintln!("sbd job runner: job runs outside its cgroup: {e}");
    }
    let mut early = match EarlySignals::watch() {
        Ok(early) => Some(early),
        Err(e) => {
            eprintln!("sbd job runner: cannot block signals: {e}");
            None
        }
    };
    if !go_given() {
        // Gone, the pid no longer says a runner may have started the job:
        // a new sbd leaves the run to mbd to send again, not lost.
        let _ = std::fs::remove_file(dir.join("pid"));
        eprintln!(
            "sbd job runner: no go from sbd (it stopped, or could not record this runner): {} not started",
            dir.display()
        );
        return 1;
    }
    let Some(start) = spool::read_start(dir) else {
        eprintln!("sbd job runner: no readable job in {}", dir.display());
        return 1;
    };
    // Opened before giving up root: the spool is sbd's, not the user's.
    // sbd reads it only once it decodes whole, so no rename is needed.
    // Not truncated: sbd reserved its room on disk (`spool::create`), and
    // a truncation could give that back.
    let result_file = conf::state_dir::private_file()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("result"));
    let result_file = match result_file {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sbd job runner: {}: {e}", dir.display());
            return 1;
        }
    };
    let finished = match start_job(&start, dir, conf_dir, host, early.as_mut()) {
        Ok(Ran::Job(exit)) => finished(
            start.job,
            exit.code,
            exit.signal as u32,
            usage(&exit),
            String::new(),
        ),
        Ok(Ran::PreExecFailed(pre)) => pre_exec_failed(start.job, &pre),
        Err(why) => {
            eprintln!("sbd job runner: job {}: {why}", start.job.id);
            finished(start.job, CANNOT_START, 0, Usage::default(), why)
        }
    };
    let written = write_result(result_file, &finished);
    if start.options.notify_end {
        mail_about(&start, conf_dir, mail::report(&start, host, &finished));
    }
    written
}

/// Mails `message` about the job, if the site has a mailer.
fn mail_about(start: &JobStart, conf_dir: &Path, message: (String, String)) {
    let Some(mailer) = mail::mailer(conf_dir) else {
        return;
    };
    if let Err(e) = mail::send(&mailer, start, message) {
        eprintln!("sbd job runner: job {}: no mail: {e}", start.job.id);
    }
}

/// Waits for sbd's go: one byte on stdin, which sbd writes only once the
/// runner's pid is in the spool. If sbd dies first the pipe reads EOF
/// and the job is never started, so a run without a `pid` file is one
/// that never ran, and the next sbd can leave it to mbd to send again.
fn go_given() -> bool {
    use std::io::Read;
    let mut go = [0u8; 1];
    matches!(std::io::stdin().lock().read(&mut go), Ok(1))
}

/// The byte sbd writes to a runner's stdin to let it start the job.
pub const GO: &[u8] = b"g";

fn write_result(mut file: File, result: &Finished) -> i32 {
    use proto::Encode;
    use std::io::Write;
    let mut bytes = Vec::new();
    result.encode(&mut bytes);
    // Synced: the runner is its own process (no event loop waits on
    // it), and a job that ended just before its host crashed then keeps
    // its real outcome instead of "Lost".
    let written = file.write_all(&bytes);
    // Cut whatever an earlier run left past it (shrinking needs no room).
    let cut = written.and_then(|()| file.set_len(bytes.len() as u64));
    match cut.and_then(|()| file.sync_data()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "sbd job runner: cannot record job {}'s result: {e}",
                result.job.id
            );
            1
        }
    }
}

fn usage(exit: &os::process::ChildExit) -> Usage {
    Usage {
        user_ms: exit.user_ms,
        system_ms: exit.system_ms,
        max_rss_kb: exit.max_rss_kb,
    }
}

/// How run `job` ended, as of now.
pub fn finished(job: JobKey, exit_code: i32, signal: u32, usage: Usage, note: String) -> Finished {
    Finished {
        job,
        time: os::host::unix_now(),
        exit_code,
        signal,
        usage,
        note,
    }
}

/// How a run went.
enum Ran {
    /// The job ran and ended so.
    Job(os::process::ChildExit),
    /// Its pre-exec command (`bsub -E`) ended so, and the job did not run.
    PreExecFailed(os::process::ChildExit),
}

/// LSF's pre-exec status that means "do not run the job, do not retry".
const PRE_EXEC_ABORT: i32 = 99;

/// The result of a run whose pre-exec failed: EXIT for status 99 or a
/// signal, as in LSF; any other status asks mbd to run it again later.
fn pre_exec_failed(job: JobKey, pre: &os::process::ChildExit) -> Finished {
    if pre.signal != 0 || pre.code == PRE_EXEC_ABORT {
        let how = match pre.signal {
            0 => format!("exited {}", pre.code),
            signal => format!("was killed by signal {signal}"),
        };
        let note = format!("TERM_PRE_EXEC_FAIL: the pre-exec command {how}: the job did not run");
        return finished(job, pre.code, pre.signal as u32, usage(pre), note);
    }
    let note = format!(
        "the pre-exec command exited {}: the job did not run",
        pre.code
    );
    finished(job, proto::sbd::PRE_EXEC_RETRY, 0, usage(pre), note)
}

/// Becomes the user, opens the files, runs the pre-exec command, starts
/// the job, waits for it and runs the post-exec command.
fn start_job(
    start: &JobStart,
    dir: &Path,
    conf_dir: &Path,
    host: &str,
    early: Option<&mut EarlySignals>,
) -> Result<Ran, String> {
    become_job_user(start)?;
    os::process::set_umask(start.umask);
    let cwd = job_cwd(start);
    let stdin = open_input(&cwd, &start.stdin)?;
    let (stdout, stderr) = open_outputs(&cwd, start)?;
    let stdio = Stdio {
        stdin,
        stdout,
        stderr,
    };
    // Removed when the job has ended (this function returns).
    let script = ScriptFile::write(start)?;
    let script_argv = script.as_ref().map(ScriptFile::argv);
    // The job's shell learns its own pid (= LL_JOBPID) and then runs the
    // command as `/bin/sh -c` would, or the script.
    let mut argv = vec!["/bin/sh", "-c"];
    match &script_argv {
        Some(run) => {
            argv.extend(["LL_JOBPID=$$ exec \"$@\"", "sh"]);
            argv.extend(run.iter().map(String::as_str));
        }
        None => argv.extend(["LL_JOBPID=$$ exec /bin/sh -c \"$1\"", "sh", &start.command]),
    }
    let env = job_env(start, host, conf_dir, dir);
    make_room_for_exec(&argv, &env)?;
    // The job starts where the runner is (posix_spawn has no chdir).
    std::env::set_current_dir(&cwd).map_err(|e| format!("cannot enter {}: {e}", cwd.display()))?;
    let options = &start.options;
    if !options.pre_exec.is_empty() {
        let pre = run_exec(&options.pre_exec, &env, &stdio, "pre-exec")?;
        if pre.code != 0 || pre.signal != 0 {
            return Ok(Ran::PreExecFailed(pre));
        }
    }
    let child = clean_spawn::spawn(&argv, &env, &stdio)?;
    // Kept only for a post-exec command: the job holds its own copies.
    let stdio = (!options.post_exec.is_empty()).then_some(stdio);
    if let Some(early) = early {
        early.forward_to(child);
    }
    if options.notify_begin {
        let now = os::host::unix_now();
        mail_about(start, conf_dir, mail::started(start, host, now));
    }
    let exit =
        os::process::wait_child(child).map_err(|e| format!("cannot wait for the job: {e}"))?;
    if let Some(stdio) = &stdio {
        post_exec(&options.post_exec, &env, stdio);
    }
    Ok(Ran::Job(exit))
}

/// Runs `command` (`-E`, `-Ep`) as LSF does: `/bin/sh -c`, as the job's
/// user, in its directory, with its environment and files; waits for it.
fn run_exec(
    command: &str,
    env: &[(String, String)],
    stdio: &Stdio,
    what: &str,
) -> Result<os::process::ChildExit, String> {
    let child = clean_spawn::spawn(&["/bin/sh", "-c", command], env, stdio)?;
    os::process::wait_child(child).map_err(|e| format!("cannot wait for the {what} command: {e}"))
}

/// The post-exec command: its failure does not change how the job ended
/// (LSF marks it POST_ERR); it is said on the job's stderr.
fn post_exec(command: &str, env: &[(String, String)], stdio: &Stdio) {
    use std::io::Write;
    let said = match run_exec(command, env, stdio, "post-exec") {
        Ok(e) if e.code == 0 && e.signal == 0 => return,
        Ok(e) if e.signal != 0 => {
            format!("the post-exec command was killed by signal {}", e.signal)
        }
        Ok(e) => format!("the post-exec command exited {}", e.code),
        Err(why) => why,
    };
    if let Ok(fd) = stdio.stderr.try_clone() {
        let _ = writeln!(File::from(fd), "sbd: {said}");
    }
}

/// A submit environment of megabytes (mbd takes up to 4 MiB) does not
/// fit the room a default 8 MiB stack limit leaves exec (2 MiB): the job
/// would fail to start although bsub, run with a larger limit, took it.
/// The limit is raised for such a job (its processes inherit it).
fn make_room_for_exec(args: &[&str], env: &[(String, String)]) -> Result<(), String> {
    let bytes: usize = args.iter().map(|a| a.len() + 1).sum::<usize>()
        + env
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    let count = args.len() + env.len();
    match os::process::make_room_for_exec(bytes as u64, count as u64) {
        Ok(Some(limit)) => {
            eprintln!("sbd job runner: stack limit raised to {limit} bytes for a {bytes}-byte environment");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(format!(
            "cannot raise the stack limit for a {bytes}-byte environment: {e}"
        )),
    }
}

/// The signals the runner blocks, read through a signalfd (a channel of
/// its own). A signal sent to the job (its process group) after sbd
/// reported it started but before its shell existed reached only the
/// runner, which blocks it: it is handed on, or a bkill in that window is
/// lost. One arriving during the spawn itself may reach the shell twice;
/// for the signals involved (TERM, INT, HUP, TSTP, ...) that changes
/// nothing.
struct EarlySignals {
    chans: chan::Channels,
}

impl EarlySignals {
    /// Blocks [`RUNNER_BLOCKS`] (the job does not inherit that: it starts
    /// with a clean mask, `clean_spawn`).
    fn watch() -> Result<EarlySignals, chan::ChanError> {
        let mut chans = chan::Channels::new(chan::Config {
            capacity: 4,
            // The job inherits the runner's limits: leave them be.
            raise_nofile: false,
            ..chan::Config::default()
        })?;
        chans.signals(&RUNNER_BLOCKS)?;
        Ok(EarlySignals { chans })
    }

    /// Passes the signals pending now to `child`.
    fn forward_to(&mut self, child: u32) {
        if let Err(e) = self.chans.chan_epoll(Some(std::time::Duration::ZERO)) {
            return eprintln!("sbd job runner: cannot read pending signals: {e}");
        }
        while let Some(event) = self.chans.next_event() {
            if let chan::Event::Signal { info, .. } = event {
                if let Err(e) = os::process::signal(child, info.signo) {
                    eprintln!(
                        "sbd job runner: cannot pass signal {} to the job: {e}",
                        info.signo
                    );
                }
            }
        }
    }
}

fn become_job_user(start: &JobStart) -> Result<(), String> {
    if os::users::effective_uid() != 0 || start.uid == 0 {
        return Ok(());
    }
    let user = os::users::by_uid(start.uid)
        .ok_or_else(|| format!("no user with uid {} on this host", start.uid))?;
    os::process::become_user(&user.name, user.uid, user.gid)
        .map_err(|e| format!("cannot become {}: {e}", user.name))
}

/// The submit directory (or `-cwd`'s), or /tmp when it does not exist
/// here. A `-cwd` with `%J` or `%I` in it is made (as LSF does).
fn job_cwd(start: &JobStart) -> PathBuf {
    let expanded = proto::mbd::expand_job_pattern(&start.cwd, start.job.id, start.index);
    let path = Path::new(&expanded);
    if expanded != start.cwd && !path.exists() {
        if let Err(e) = std::fs::create_dir_all(path) {
            eprintln!(
                "sbd job runner: job {}: cannot make {expanded}: {e}",
                start.job.id
            );
        }
    }
    if !expanded.is_empty() && path.is_dir() {
        path.to_owned()
    } else {
        PathBuf::from("/tmp")
    }
}

/// A job script (`bsub < script`) written where the job's user can read
/// it, for as long as the job runs.
struct ScriptFile {
    path: PathBuf,
    /// `#!interpreter [argument]`, if its first line says.
    interpreter: Vec<String>,
}

impl ScriptFile {
    /// Writes `start`'s script, if it has one, as the job's user (whom
    /// the runner already is), private to them, in the temporary
    /// directory.
    fn write(start: &JobStart) -> Result<Option<ScriptFile>, String> {
        use std::io::Write;
        let text = &start.options.script;
        if text.is_empty() {
            return Ok(None);
        }
        let salt = os::random::u64().map_err(|e| format!("no randomness for a file name: {e}"))?;
        let path = std::env::temp_dir().join(format!(
            "ll-job-{}.{}-{salt:016x}",
            start.job.id, start.job.attempt
        ));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        let script = ScriptFile {
            interpreter: interpreter(text),
            path,
        };
        written
            .map_err(|e| format!("cannot write the job script {}: {e}", script.path.display()))?;
        Ok(Some(script))
    }

    /// How to run it: by its interpreter (not by exec, so a `noexec`
    /// temporary directory does not matter), else by /bin/sh.
    fn argv(&self) -> Vec<String> {
        let mut argv = if self.interpreter.is_empty() {
            vec!["/bin/sh".to_owned()]
        } else {
            self.interpreter.clone()
        };
        argv.push(self.path.display().to_string());
        argv
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `#!/path [argument]` of a script's first line, as the kernel reads it
/// (everything after the path is one argument).
fn interpreter(script: &str) -> Vec<String> {
    let Some(line) = script.lines().next().and_then(|l| l.strip_prefix("#!")) else {
        return Vec::new();
    };
    let line = line.trim();
    match line.split_once([' ', '\t']) {
        Some((path, arg)) => vec![path.to_owned(), arg.trim().to_owned()],
        None if line.is_empty() => Vec::new(),
        None => vec![line.to_owned()],
    }
}

fn open_input(cwd: &Path, path: &str) -> Result<OwnedFd, String> {
    let path = if path.is_empty() {
        PathBuf::from("/dev/null")
    } else {
        cwd.join(path)
    };
    File::open(&path)
        .map(OwnedFd::from)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// The job's stdout and stderr: `-o` / `-e`, else LavaLite's
/// `stdout.<id>` / `stderr.<id>` in the job's directory. One file named
/// by both is opened once and shared, so neither truncates or overwrites
/// what the other wrote.
fn open_outputs(cwd: &Path, start: &JobStart) -> Result<(OwnedFd, OwnedFd), String> {
    let stdout = cwd.join(output_path(&start.stdout, "stdout", start));
    let stderr = cwd.join(output_path(&start.stderr, "stderr", start));
    let out = open_output(&stdout)?;
    if stderr == stdout {
        let shared = out
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", stdout.display()))?;
        return Ok((out.into(), shared.into()));
    }
    Ok((out.into(), open_output(&stderr)?.into()))
}

fn open_output(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// `-o`/`-e` as given (expanded), or `<stream>.<job id>` when not given.
fn output_path(pattern: &str, stream: &str, start: &JobStart) -> String {
    proto::mbd::output_file(pattern, stream, start.job.id, start.index)
}

/// The submit environment plus the `LL_*` job variables.
pub fn job_env(start: &JobStart, host: &str, conf_dir: &Path, dir: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = (start.env.iter())
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| !k.starts_with("LL_") || *k == "LL_CONF_DIR")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let hosts: Vec<String> = (start.hosts.iter())
        .map(|h| format!("{}:{}", h.host, h.cpus))
        .collect();
    let first = start.hosts.first().map_or(host, |h| h.host.as_str());
    let mut set = |k: &str, v: String| {
        env.retain(|(name, _)| name != k);
        env.push((k.to_owned(), v));
    };
    set("LL_JOBID", start.job.id.to_string());
    set("LL_JOBNAME", start.name.clone());
    set("LL_QUEUE", start.queue.clone());
    set("LL_FIRST_HOST", first.to_owned());
    set("LL_HOSTS", hosts.join(","));
    set("LL_JOBDIR", dir.display().to_string());
    set("LL_CONF_DIR", conf_dir.display().to_string());
    // LSF's names too, for scripts written for LSF.
    set("LSB_JOBID", start.job.id.to_string());
    set("LSB_JOBNAME", start.name.clone());
    set("LSB_QUEUE", start.queue.clone());
    let per_slot =
        (start.hosts.iter()).flat_map(|h| std::iter::repeat_n(h.host.as_str(), h.cpus as usize));
    set("LSB_HOSTS", per_slot.collect::<Vec<_>>().join(" "));
    let per_host = (start.hosts.iter()).map(|h| format!("{} {}", h.host, h.cpus));
    set("LSB_MCPU_HOSTS", per_host.collect::<Vec<_>>().join(" "));
    if start.index > 0 {
        set("LL_JOBINDEX", start.index.to_string());
        set("LSB_JOBINDEX", start.index.to_string());
    }
    if !start.gpus.is_empty() {
        let ids: Vec<String> = start.gpus.iter().map(u32::to_string).collect();
        set("CUDA_VISIBLE_DEVICES", ids.join(","));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::mbd::HostSlot;
    use proto::sbd::JobKey;

    #[test]
    fn a_scripts_first_line_names_its_interpreter() {
        assert_eq!(interpreter("#!/bin/bash\necho"), ["/bin/bash"]);
        assert_eq!(
            interpreter("#! /usr/bin/env python3 -u\n"),
            ["/usr/bin/env", "python3 -u"]
        );
        assert!(interpreter("echo\n#!/bin/bash").is_empty());
        assert!(interpreter("#!\n").is_empty());
    }

    #[test]
    fn the_job_sees_its_submit_environment_and_the_ll_variables() {
        let start = JobStart {
            job: JobKey { id: 9, attempt: 1 },
            index: 2,
            name: "sim".into(),
            queue: "normal".into(),
            env: vec![
                "HOME=/home/ann".into(),
                "LL_JOBID=stale".into(),
                "odd".into(),
            ],
            hosts: vec![
                HostSlot {
                    host: "n1".into(),
                    cpus: 4,
                },
                HostSlot {
                    host: "n2".into(),
                    cpus: 2,
                },
            ],
            gpus: vec![0, 1],
            ..JobStart::default()
        };
        let env = job_env(&start, "n1", Path::new("/etc/ll"), Path::new("/spool/9.1"));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HOME"), Some("/home/ann"));
        assert_eq!(get("LL_JOBID"), Some("9"));
        assert_eq!(get("LL_HOSTS"), Some("n1:4,n2:2"));
        assert_eq!(get("LL_FIRST_HOST"), Some("n1"));
        assert_eq!(get("LL_JOBINDEX"), Some("2"));
        assert_eq!(get("LSB_JOBINDEX"), Some("2"));
        assert_eq!(get("LSB_HOSTS"), Some("n1 n1 n1 n1 n2 n2"));
        assert_eq!(get("LSB_MCPU_HOSTS"), Some("n1 4 n2 2"));
        assert_eq!(get("CUDA_VISIBLE_DEVICES"), Some("0,1"));
        assert_eq!(env.iter().filter(|(k, _)| k == "LL_JOBID").count(), 1);
    }
}
