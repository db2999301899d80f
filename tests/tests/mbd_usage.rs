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
    if os::users::effective_uid() != 0 {
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

/// `btokens`' row for `pool`: total and used.
fn pool_use(cluster: &TestCluster, pool: &str) -> (u32, u32) {
    let out = cluster.stdout("btokens", &[]).expect("btokens");
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(pool))
        .unwrap_or_else(|| panic!("no {pool} in {out}"));
    let cells: Vec<u32> = row
        .split_whitespace()
        .skip(1)
        .filter_map(|c| c.parse().ok())
        .collect();
    (cells[0], cells[1])
}

#[test]
fn a_token_pool_asked_for_twice_is_summed_and_never_overcommitted() {
    // The default config's pool `license` holds 4.
    let cluster = TestCluster::up(1, TICK, None);
    // 3 + 3 of a pool of 4: asked for as 6, it waits (and holds none).
    let twice = cluster.submit(&["-T", "license=3", "-T", "license=3", "sleep", "30"]);
    let waits = cluster_tests::wait_for(Duration::from_secs(20), || {
        let pending = cluster.stdout("bjobs", &["-p"])?;
        pending.contains("token pool exhausted").then_some(())
    });
    assert!(waits.is_some(), "job {twice} is not waiting for tokens");
    assert_eq!(pool_use(&cluster, "license"), (4, 0));
    cluster
        .stdout("bkill", &[&twice.to_string()])
        .expect("bkill");
    let three = [
        "-T",
        "license=1",
        "-T",
        "license=1",
        "-T",
        "license=1",
        "sleep",
        "30",
    ];
    let first = cluster.submit(&three);
    let second = cluster.submit(&three);
    cluster.wait_stat(first, "RUN", Duration::from_secs(20));
    // The second needs 3 of the 1 left: it waits, and says why.
    let waits = cluster_tests::wait_for(Duration::from_secs(20), || {
        let pending = cluster.stdout("bjobs", &["-p"])?;
        pending.contains("token pool exhausted").then_some(())
    });
    assert!(waits.is_some(), "job {second} is not waiting for tokens");
    assert_eq!(cluster.stat(second).as_deref(), Some("PEND"));
    assert_eq!(pool_use(&cluster, "license"), (4, 3));
}

/// `bhosts`' status of `host`.
fn bhost(cluster: &TestCluster, host: &str) -> Option<String> {
    let out = cluster.stdout("bhosts", &[])?;
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
}

#[test]
fn while_lim_cannot_be_asked_mbd_keeps_its_last_view_of_the_hosts() {
    let cluster = TestCluster::up(2, TICK, None);
    let limit = Duration::from_secs(20);
    // host2's lim stops; its sbd stays connected: lim reports it down.
    cluster.kill_daemon(cluster.lim_pid("host2"), "lim");
    cluster_tests::wait_for(limit, || {
        (bhost(&cluster, "host2")? == "unavail").then_some(())
    })
    .expect("host2 shows unavail");
    // Then no lim answers mbd at all.
    let silent = || cluster.mbd_log().matches("lim not answering").count();
    let before = silent();
    cluster.kill_daemon(cluster.lim_pid("host1"), "lim");
    cluster_tests::wait_for(limit, || (silent() > before).then_some(()))
        .expect("mbd notices lim is gone");
    let pinned = cluster.submit(&["-m", "host2", "true"]);
    let elsewhere = cluster.submit(&["-m", "host1", "true"]);
    cluster.wait_stat(elsewhere, "DONE", limit);
    assert_eq!(
        cluster.stat(pinned).as_deref(),
        Some("PEND"),
        "dispatched to a down host"
    );
    assert_eq!(bhost(&cluster, "host2").as_deref(), Some("unavail"));
}

#[test]
fn commands_whose_reader_is_gone_end_quietly() {
    let cluster = TestCluster::up(1, TICK, None);
    let dir = cluster.dir.display().to_string();
    let bins = cluster_tests::bin_dir();
    let commands: [(&str, Vec<&str>); 4] = [
        ("lavalite", vec!["status", "--dir", &dir]),
        ("bjobs", vec!["-a"]),
        ("bqueues", vec![]),
        ("lsload", vec![]),
    ];
    for (bin, args) in commands {
        // Standard output is a pipe whose reader has already gone (as
        // after `| grep -q`), so the first write fails with EPIPE.
        let script = "import os, subprocess, sys\n\
             r, w = os.pipe(); os.close(r)\n\
             p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)\n\
             sys.stdout.write(p.stderr.decode())";
        let program = bins.join(bin).display().to_string();
        let out = std::process::Command::new("python3")
            .args(["-c", script, &program])
            .args(&args)
            .env(conf::CONF_DIR_ENV, &cluster.dir)
            .output()
            .expect("run python3");
        let stderr = String::from_utf8_lossy(&out.stdout);
        assert!(!stderr.contains("panicked"), "{bin}: {stderr}");
    }
}

#[test]
fn bkill_of_a_job_whose_host_is_gone_says_so() {
    let cluster = TestCluster::up(1, TICK, None);
    let job = cluster.submit(&["sleep", "60"]);
    cluster.wait_stat(job, "RUN", Duration::from_secs(20));
    cluster.kill_daemon(cluster.sbd_pid("host1"), "sbd");
    cluster.wait_stat(job, "UNKNOWN", Duration::from_secs(20));
    let out = cluster.run("bkill", &[job.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "bkill: failed to signal job <{job}>: its execution host's sbd is not connected; try again once it registers\n"
        )
    );
}
