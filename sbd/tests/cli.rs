//! sbd's command line without a cluster: help, version, and one clear
//! error line (no panic) for a missing or wrong configuration.
//!
//! (Having integration tests also makes `cargo test` build the sbd binary,
//! which the cluster tests in `tests/` run.)

use std::process::{Command, Output};

const SBD: &str = env!("CARGO_BIN_EXE_sbd");

fn sbd(args: &[&str]) -> Output {
    Command::new(SBD)
        .args(args)
        .env_remove("LL_CONF_DIR")
        .output()
        .expect("run sbd")
}

#[test]
fn help_and_version() {
    let help = sbd(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage:") && text.contains("--host"), "{text}");
    assert!(!text.contains("run-job"), "the runner mode is internal");
    let version = sbd(&["--version"]);
    assert!(String::from_utf8_lossy(&version.stdout).contains("LavaLite"));
}

#[test]
fn a_bad_configuration_is_one_error_line_and_a_failure() {
    let dir = std::env::temp_dir().join(format!("sbd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("ll.conf"),
        "LL_MBD_HOST=nowhere\nLL_STATE_DIR=/tmp\nLL_DEFAULT_QUEUE=normal\n",
    )
    .expect("ll.conf");
    let dir_arg = dir.display().to_string();
    for args in [vec![], vec!["-c", dir_arg.as_str(), "--host", "h1"]] {
        let out = sbd(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("ERROR") && !err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
