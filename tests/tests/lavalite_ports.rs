//! `lavalite up` in a fresh directory takes the default ports, or the
//! first free ones above them when another cluster holds them, and says
//! so: two clusters start side by side with no port flags.

use std::path::{Path, PathBuf};
use std::process::Output;

/// Clusters started here, stopped and removed on drop.
struct Started(Vec<PathBuf>);

impl Drop for Started {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = lavalite::down(dir, std::time::Duration::from_secs(5));
            lavalite::kill_jobs(dir);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn lavalite(args: &[&str], dir: &Path) -> Output {
    std::process::Command::new(cluster_tests::bin_dir().join("lavalite"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("run lavalite")
}

fn lim_port(dir: &Path) -> u16 {
    let ll = conf::ConfDir::new(dir).ll_conf().expect("ll.conf");
    ll.port("LL_LIM_PORT", 0).expect("LL_LIM_PORT")
}

#[test]
fn two_clusters_in_fresh_directories_start_side_by_side_with_no_port_flags() {
    let base = std::env::temp_dir().join(format!("lavalite-ports-{}", std::process::id()));
    let dirs = [base.join("a"), base.join("b")];
    let _stop = Started(dirs.to_vec());
    let mut ports = Vec::new();
    for dir in &dirs {
        let out = lavalite(&["up", "--hosts", "1", "--tick", "0.4"], dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        ports.push((lim_port(dir), stderr.into_owned()));
    }
    let (first, second) = (&ports[0], &ports[1]);
    assert!(
        first.0 < 32768 && second.0 < 32768,
        "below the ephemeral range"
    );
    assert!(second.0 >= first.0 + 3, "{ports:?}");
    assert!(
        second
            .1
            .contains(&format!("ports {}-{} are in use", first.0, first.0 + 2)),
        "{}",
        second.1
    );
    for dir in &dirs {
        let out = std::process::Command::new(cluster_tests::bin_dir().join("bqueues"))
            .env(conf::CONF_DIR_ENV, dir)
            .output()
            .expect("bqueues");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_daemon_whose_port_is_taken_names_the_process_that_holds_it() {
    let cluster = cluster_tests::TestCluster::up(1, std::time::Duration::from_millis(400), None);
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    let squatter = cluster_tests::wait_for(std::time::Duration::from_secs(10), || {
        std::net::TcpListener::bind(cluster.mbd_addr()).ok()
    })
    .expect("take mbd's port");
    let args = ["up", "--dir", &cluster.dir.display().to_string()].map(String::from);
    let out = cluster.run("lavalite", &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let held = format!("held by pid {}", std::process::id());
    assert!(stderr.contains(&held), "{stderr}");
    drop(squatter);
}
