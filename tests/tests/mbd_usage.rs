//! What a new user runs into: queues that name users and groups, token
//! pools asked for twice, long names, commands in a pipe that closes, and
//! the words errors are reported in.

use cluster_tests::TestCluster;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);

/// A command of the workspace run as `uid`:`gid` against `cluster`.
fn run_as(cluster: &TestCluster, uid: u32, gid: u32, bin: &str, args: &[&str]) -> Output {
    Command::new(cluster_tests::bin_dir().join(bin))
        .args(args)
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .current_dir("/")
        .uid(uid)
        .gid(gid)
        .output()
        .expect("run a command")
}

fn add_queue(cluster: &TestCluster, name: &str, users: &str) {
    let path = cluster.dir.join("llb.queues");
    let mut text = std::fs::read_to_string(&path).expect("read llb.queues");
    text.push_str(&format!(
        "Begin Queue\nQUEUE_NAME = {name}\nPRIORITY = 20\nHOSTS = all\nUSERS = {users}\nEnd Queue\n"
    ));
    std::fs::write(&path, text).expect("write llb.queues");
}

#[test]
fn queue_users_admit_a_named_user_and_a_groups_primary_members() {
    if chan::sys::effective_uid() != 0 {
        eprintln!("skipped: needs root to submit as other users");
        return;
    }
    // Debian's `daemon` (uid 1) has a group of the same name listing no
    // members, as most distributions make one per user; `nobody`'s primary
    // group is `nogroup`, which lists no members either.
    let (daemon, nobody) = (1, 65534);
    let cluster = TestCluster::up(1, TICK, None);
    add_queue(&cluster, "named", "daemon");
    add_queue(&cluster, "primary", "nogroup");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();

    let submit =
        |uid, queue: &str| run_as(&cluster, uid, uid, "bsub", &["-q", queue, "--hold", "true"]);
    let ok = |out: &Output| {
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("Job <")
    };
    let by_name = submit(daemon, "named");
    assert!(
        ok(&by_name),
        "USERS = daemon refused user daemon: {by_name:?}"
    );
    let by_group = submit(nobody, "primary");
    assert!(
        ok(&by_group),
        "USERS = nogroup refused nobody, whose group it is: {by_group:?}"
    );
    let outsider = submit(nobody, "named");
    assert!(!ok(&outsider), "nobody is not daemon: {outsider:?}");
}
