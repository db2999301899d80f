//! The batch commands' surface without a cluster: help, version, usage
//! errors, LavaLite's validation messages, and one-line errors when the
//! configuration or mbd is missing.
//!
//! (Having integration tests also makes `cargo test` build this package's
//! binaries, which the cluster tests in `tests/` run.)

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

const BSUB: &str = env!("CARGO_BIN_EXE_bsub");
const BJOBS: &str = env!("CARGO_BIN_EXE_bjobs");
const BKILL: &str = env!("CARGO_BIN_EXE_bkill");
const BHIST: &str = env!("CARGO_BIN_EXE_bhist");
const BQUEUES: &str = env!("CARGO_BIN_EXE_bqueues");
const BHOSTS: &str = env!("CARGO_BIN_EXE_bhosts");
const MBD: &str = env!("CARGO_BIN_EXE_mbd");

fn run(bin: &str, args: &[&str], conf_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_remove("LL_CONF_DIR");
    if let Some(dir) = conf_dir {
        cmd.env("LL_CONF_DIR", dir);
    }
    cmd.output().expect("run the command")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_and_version_go_to_stdout_and_exit_0() {
    for bin in [BSUB, BJOBS, BKILL, BQUEUES, BHOSTS, BHIST] {
        let help = run(bin, &["--help"], None);
        assert_eq!(help.status.code(), Some(0), "{bin}");
        assert!(text(&help.stdout).contains("Usage:"), "{bin}");
        let flag = if bin == BHIST { "-V" } else { "-v" };
        let version = run(bin, &[flag], None);
        assert_eq!(
            (version.status.code(), text(&version.stdout).trim()),
            (Some(0), "LavaLite 1.1.0"),
            "{bin}"
        );
    }
}

#[test]
fn usage_and_validation_errors_exit_1_with_lavalites_messages() {
    let cases: [(&str, &[&str], &str); 8] = [
        (BSUB, &[], "bsub: no command specified\n"),
        (
            BSUB,
            &["--array", "0-2", "true"],
            "bsub: --array: invalid spec '0-2'\n",
        ),
        (
            BSUB,
            &["-M", "5K", "true"],
            "bsub: --mem: invalid value '5K'\n",
        ),
        (
            BJOBS,
            &["-p", "12"],
            "bjobs: job_id is mutually exclusive with filter options\n",
        ),
        (BJOBS, &["1[x]"], "bjobs: invalid job reference '1[x]'\n"),
        (
            BKILL,
            &["-s", "bogus", "1"],
            "bkill: invalid signal 'bogus'\n",
        ),
        (BKILL, &["1", "x"], "bkill: invalid jobid 'x'\n"),
        (
            BHIST,
            &["-r", "-p"],
            "bhist: -r and -p are mutually exclusive\n",
        ),
    ];
    for (bin, args, stderr) in cases {
        let out = run(bin, args, None);
        assert_eq!(out.status.code(), Some(1), "{bin} {args:?}");
        assert_eq!(text(&out.stderr), stderr, "{bin} {args:?}");
    }
    let unknown = run(BQUEUES, &["--bogus"], None);
    assert_eq!(unknown.status.code(), Some(1), "unknown options are errors");
    // Not a job running `--qeue`: nothing reaches mbd (none is configured).
    // (`--queu` is `--queue`: long options may be abbreviated.)
    let typo = run(BSUB, &["--qeue", "short", "myjob"], None);
    assert_eq!(typo.status.code(), Some(1), "a mistyped option is an error");
    assert!(text(&typo.stderr).contains("unexpected argument '--qeue'"));
}

#[test]
fn a_missing_config_or_mbd_is_one_line() {
    let unset = run(BJOBS, &[], None);
    assert_eq!(unset.status.code(), Some(1));
    assert_eq!(text(&unset.stderr), "bjobs: LL_CONF_DIR is not set\n");

    let dir = std::env::temp_dir().join(format!("mbd-commands-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("ll.conf"),
        format!("LL_MBD_HOST = localhost\nLL_MBD_PORT = {port}\n"),
    )
    .unwrap();
    let no_key = run(BQUEUES, &[], Some(&dir));
    assert_eq!(no_key.status.code(), Some(1));
    assert!(
        text(&no_key.stderr).contains("ll.auth.key: missing"),
        "{}",
        text(&no_key.stderr)
    );

    std::fs::write(dir.join("ll.auth.key"), "0123456789abcdef0123456789abcdef").unwrap();
    let down = run(BSUB, &["true"], Some(&dir));
    assert_eq!(down.status.code(), Some(1));
    let err = text(&down.stderr);
    assert!(
        err.starts_with("Job not submitted: cannot reach mbd") && err.lines().count() == 1,
        "{err}"
    );

    let mbd = run(MBD, &["-c", dir.to_str().unwrap()], None);
    assert_eq!(mbd.status.code(), Some(1), "mbd with no llb.hosts exits");
    assert!(
        text(&mbd.stderr).contains("llb.hosts"),
        "{}",
        text(&mbd.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
