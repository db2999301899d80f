//! The commands' surface without a cluster: options, exit codes, and the
//! one-line errors for a missing or unreachable configuration.
//!
//! (Having integration tests also makes `cargo test` build this package's
//! binaries, which the cluster tests in `tests/` run.)

use std::net::TcpListener;
use std::process::{Command, Output};

fn run(bin: &str, args: &[&str], conf_dir: Option<&std::path::Path>) -> Output {
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

const LSID: &str = env!("CARGO_BIN_EXE_lsid");
const LSLOAD: &str = env!("CARGO_BIN_EXE_lsload");
const LSHOSTS: &str = env!("CARGO_BIN_EXE_lshosts");
const LIM: &str = env!("CARGO_BIN_EXE_lim");

#[test]
fn help_version_and_bad_options_follow_lavalite() {
    let help = run(LSLOAD, &["-h"], None);
    assert!(help.status.success());
    assert!(
        text(&help.stdout).contains("Usage: lsload [OPTIONS] [HOST]..."),
        "help goes to standard output: {}",
        text(&help.stdout)
    );
    let version = run(LSID, &["-V"], None);
    assert_eq!(
        (version.status.code(), text(&version.stdout)),
        (Some(0), "LavaLite 1.1.0\n".into())
    );
    let bad = run(LSHOSTS, &["-l"], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("unexpected argument '-l'"),
        "{}",
        text(&bad.stderr)
    );
    let abbreviated = run(LSID, &["--vers"], None);
    assert_eq!(
        text(&abbreviated.stdout),
        "LavaLite 1.1.0\n",
        "--vers is --version"
    );
}

#[test]
fn missing_config_and_no_lim_are_one_line_errors() {
    let unset = run(LSID, &[], None);
    assert_eq!(unset.status.code(), Some(1));
    assert_eq!(text(&unset.stderr), "lsid: LL_CONF_DIR is not set\n");

    // A cluster whose two hosts run no lim: both are tried and named.
    let dir = std::env::temp_dir().join(format!("lim-commands-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("ll.conf"),
        format!("LL_CLUSTER_NAME=t\nLL_LIM_PORT={port}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("ll.cluster.t"),
        "Begin Cluster\nClusterName\nt\nEnd Cluster\nBegin Host\nHostname Resources Master\n\
         a () Y 127.0.0.1\nb () Y 127.0.0.1\nEnd Host\n",
    )
    .unwrap();
    let down = run(LSLOAD, &[], Some(&dir));
    let err = text(&down.stderr);
    assert_eq!(down.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("lsload: ll_loadinfo failed: no lim answered: a: ")
            && err.contains("; b: "),
        "{err}"
    );

    // The daemon names the file and line of a broken cluster file.
    std::fs::write(
        dir.join("ll.cluster.t"),
        "Begin Cluster\nClusterName\nt\nEnd Cluster\nnonsense\n",
    )
    .unwrap();
    let lim = run(LIM, &["-c", dir.to_str().unwrap(), "--host", "a"], None);
    assert_eq!(lim.status.code(), Some(1));
    assert!(
        text(&lim.stderr).contains("ll.cluster.t:5: expected `Begin <section>`"),
        "{}",
        text(&lim.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
