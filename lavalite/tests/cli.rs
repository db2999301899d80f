//! The launcher's errors when there is nothing to run.
//!
//! (Having integration tests also makes `cargo test` build the `lavalite`
//! binary, which the cluster tests in `tests/` run.)

use std::process::Command;

const LAVALITE: &str = env!("CARGO_BIN_EXE_lavalite");

fn lavalite(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(LAVALITE)
        .args(args)
        .output()
        .expect("run lavalite");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_options_and_empty_directories_fail_with_a_reason() {
    let dir = std::env::temp_dir().join(format!("lavalite-cli-{}", std::process::id()));
    let dir_arg = dir.to_str().unwrap();
    let (code, err) = lavalite(&["up", "--dir", dir_arg, "--hosts", "0"]);
    assert_eq!(
        (code, err.as_str()),
        (Some(1), "lavalite: --hosts must be at least 1\n")
    );
    assert!(!dir.exists(), "nothing written for a rejected config");

    let (code, err) = lavalite(&["status", "--dir", dir_arg]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("lavalite: cannot read ") && err.contains("ll.conf"),
        "{err}"
    );

    let (code, err) = lavalite(&["down", "--dir", dir_arg]);
    assert_eq!(
        (code, err.as_str()),
        (
            Some(0),
            "stopped 0 daemons (0 needed SIGKILL) and 0 running jobs\n"
        )
    );
}
