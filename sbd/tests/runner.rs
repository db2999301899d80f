//! The job runner (`sbd --run-job DIR`) starts the job only on sbd's go,
//! one byte on its stdin that sbd writes once the runner's pid is in the
//! spool: a runner whose sbd died before that reads EOF and never runs
//! the job, which is why a new sbd may leave such a run to mbd to send
//! again without it running twice. The job inherits no descriptor but its
//! three streams, whatever the runner inherited.

use proto::sbd::{JobKey, JobStart};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SBD: &str = env!("CARGO_BIN_EXE_sbd");

/// A spool holding job `id`, whose command lists its shell's open
/// descriptors into `marker`.
fn spooled(root: &Path, id: u32, marker: &Path) -> PathBuf {
    let spool = sbd::spool::Spool::open(root).expect("spool");
    let start = JobStart {
        job: JobKey { id, attempt: 1 },
        uid: os::users::effective_uid(),
        // Its shell's own descriptors (`; true`: ls is forked, not
        // exec'd in its place; output through the job's stdout, since a
        // shell redirection would add the shell's saved copy).
        command: "ls /proc/$$/fd; true".into(),
        stdout: marker.display().to_string(),
        cwd: root.display().to_string(),
        ..JobStart::default()
    };
    spool.create(&start).expect("spool the job")
}

/// Runs the runner on `dir` with an inherited descriptor 7 (not
/// close-on-exec: the shell opens it), writing `go` to its stdin.
fn runner(dir: &Path, go: Option<&[u8]>) -> Output {
    let dir = dir.display().to_string();
    let mut child = Command::new("/bin/sh")
        .args(["-c", "exec 7</dev/null; exec \"$0\" \"$@\""])
        .args([SBD, "--run-job", &dir, "-c", "/nonexistent", "--host", "h1"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runner");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(bytes) = go {
        stdin.write_all(bytes).expect("go");
    }
    drop(stdin);
    child.wait_with_output().expect("runner output")
}

#[test]
fn the_runner_starts_the_job_only_on_sbds_go_and_passes_it_no_stray_descriptor() {
    let root = std::env::temp_dir().join(format!("sbd-runner-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);

    let marker = root.join("no-go.out");
    let dir = spooled(&root.join("spool"), 1, &marker);
    // sbd wrote the pid, then died before the go.
    sbd::spool::write_pid(&dir, 4242).expect("pid");
    let out = runner(&dir, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("not started"), "{err}");
    assert!(!marker.exists(), "the job ran without the go");
    assert!(
        sbd::spool::read_result(&dir).is_none(),
        "nothing recorded for a run that never was (its result's room is reserved, empty)"
    );
    assert_eq!(
        sbd::spool::read_pid(&dir),
        None,
        "the pid is gone: the next sbd sees a run that never started"
    );

    let marker = root.join("go.out");
    let dir = spooled(&root.join("spool"), 2, &marker);
    let out = runner(&dir, Some(sbd::launch::GO));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&marker).ok().as_deref(),
        Some("0\n1\n2\n"),
        "the job ran, with its three streams only"
    );
    let result = sbd::spool::read_result(&dir).expect("a result");
    assert_eq!((result.job.id, result.exit_code), (2, 0));
    let _ = std::fs::remove_dir_all(&root);
}
