//! Job mail (`bsub -B`, `--notify-end`, `-u`): the runner hands a
//! message to the site's mailer, `LSB_MAILPROG` in ll.conf (LSF's key; a
//! sendmail-compatible program: the recipient as its argument, the
//! message with its headers on stdin). Without one no mail is sent (bsub
//! says so). Best effort: a mailer that fails or hangs is given up on,
//! and the job's outcome never waits for it long.

use proto::sbd::{Finished, JobStart};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for the mailer to take a message.
const MAILER_PATIENCE: Duration = Duration::from_secs(20);

/// The mailer ll.conf in `conf_dir` names, if any.
pub fn mailer(conf_dir: &Path) -> Option<PathBuf> {
    let conf = conf::ConfDir::new(conf_dir).ll_conf().ok()?;
    conf.mailer().map(PathBuf::from)
}

/// Where the job's mail goes: `-u`, else its user.
fn recipient(start: &JobStart) -> &str {
    match start.options.mail_user.as_str() {
        "" => &start.user,
        to => to,
    }
}

/// The subject and body of the mail sent when the job starts on `host`.
pub fn started(start: &JobStart, host: &str, now: u64) -> (String, String) {
    let subject = format!("Job {}: <{}> started", start.job.id, job_name(start));
    let body = format!(
        "Job <{}> ({}) was started on host <{host}> at Unix time {now},\nin queue <{}>, as user <{}>.\n",
        start.job.id,
        job_name(start),
        start.queue,
        start.user
    );
    (subject, body)
}

/// The job report mailed when the job ends.
pub fn report(start: &JobStart, host: &str, f: &Finished) -> (String, String) {
    let how = match (f.exit_code, f.signal) {
        (0, 0) if f.note.is_empty() => "Done".to_owned(),
        (_, 0) => format!("Exited with exit code {}", f.exit_code),
        (_, signal) => format!("Exited by signal {signal}"),
    };
    let subject = format!("Job {}: <{}> {how}", start.job.id, job_name(start));
    let mut body = format!(
        "Job <{}> ({}) ran on host <{host}> in queue <{}> as user <{}>.\n\
         It ended at Unix time {}: {how}.\n",
        start.job.id,
        job_name(start),
        start.queue,
        start.user,
        f.time
    );
    if !f.note.is_empty() {
        body.push_str(&format!("{}\n", f.note));
    }
    body.push_str(&format!(
        "\nResource usage: CPU time {:.2} s, max memory {} MB.\n\nThe command was:\n{}\n",
        (f.usage.user_ms + f.usage.system_ms) as f64 / 1000.0,
        f.usage.max_rss_kb.div_ceil(1024),
        start.command
    ));
    (subject, body)
}

fn job_name(start: &JobStart) -> &str {
    if start.name.is_empty() {
        &start.command
    } else {
        &start.name
    }
}

/// Hands one message to `mailer`; what went wrong, if anything.
pub fn send(
    mailer: &Path,
    start: &JobStart,
    (subject, body): (String, String),
) -> Result<(), String> {
    let to = recipient(start);
    let mut child = Command::new(mailer)
        .arg(to)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run the mailer {}: {e}", mailer.display()))?;
    let message = format!("To: {to}\nSubject: {subject}\n\n{body}");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(message.as_bytes())
            .map_err(|e| format!("cannot hand the mail to {}: {e}", mailer.display()))?;
    }
    let deadline = Instant::now() + MAILER_PATIENCE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!("the mailer {} failed: {status}", mailer.display()))
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the mailer {} took over {MAILER_PATIENCE:?}: given up",
                    mailer.display()
                ));
            }
            Err(e) => return Err(format!("cannot wait for the mailer: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::sbd::{JobKey, Usage};

    #[test]
    fn the_report_says_how_the_job_ended() {
        let start = JobStart {
            job: JobKey { id: 7, attempt: 1 },
            user: "ann".into(),
            queue: "normal".into(),
            command: "sleep 1".into(),
            ..JobStart::default()
        };
        let f = Finished {
            job: start.job,
            time: 99,
            exit_code: 140,
            signal: 12,
            usage: Usage::default(),
            note: "TERM_RUNLIMIT: job killed after reaching its run time limit".into(),
        };
        let (subject, body) = report(&start, "n1", &f);
        assert_eq!(subject, "Job 7: <sleep 1> Exited by signal 12");
        assert!(
            body.contains("TERM_RUNLIMIT") && body.contains("host <n1>"),
            "{body}"
        );
        assert_eq!(recipient(&start), "ann");
        let (subject, _) = started(&start, "n1", 5);
        assert_eq!(subject, "Job 7: <sleep 1> started");
    }
}
