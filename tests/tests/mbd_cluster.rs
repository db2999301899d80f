//! mbd in a running local cluster: submissions and their states, bkill of
//! pending and released jobs, the listings, and no acknowledged job lost
//! or run twice across kill -9 of mbd and sbds during concurrent
//! submissions (the chaos harness), an event log that cannot
//! grow (a full disk): changes refused, mbd up, nothing lost; commands
//! piped into head; bsub that gets no reply.

use cluster_tests::{chaos, job_id, set_soft_limit, wait_for, TestCluster};
use std::sync::Arc;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);

#[test]
fn held_and_pending_jobs_bkill_bhist_and_the_listings() {
    let cluster = TestCluster::up(2, TICK, None);
    let out = cluster
        .stdout("bsub", &["--hold", "sleep", "60"])
        .expect("bsub --hold");
    assert_eq!(out, "Job <1> is submitted to queue <normal>.\n");
    assert_eq!(cluster.stat(1).as_deref(), Some("HELD"));
    let out = cluster
        .stdout(
            "bsub",
            &[
                "-q",
                "short",
                "-J",
                "second",
                "--dependency",
                "done(1)",
                "true",
            ],
        )
        .expect("bsub");
    assert_eq!(out, "Job <2> is submitted to queue <short>.\n");
    assert_eq!(cluster.stat(2).as_deref(), Some("PEND"));

    let pend = cluster.stdout("bjobs", &["--pend"]).expect("bjobs --pend");
    assert!(
        pend.contains("\n  PEND: waiting for job dependency"),
        "{pend}"
    );
    let all = cluster.stdout("bjobs", &["-a"]).expect("bjobs -a");
    assert!(!all.contains("PEND: "), "-a lists no reasons: {all}");
    let json = cluster.stdout("bjobs", &["--json"]).expect("bjobs --json");
    let rows: serde_json::Value = serde_json::from_str(&json).expect("bjobs JSON");
    let stats: Vec<&str> = (rows.as_array().expect("a list").iter())
        .map(|r| r["stat"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(stats, ["PEND", "HELD"], "short (priority 40) lists first");

    let queues = cluster.stdout("bqueues", &[]).expect("bqueues");
    let names: Vec<&str> = queues
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["normal", "short"]);
    // Hosts follow lim: each is ok once lim has its first report.
    let states = || -> Option<Vec<(String, String)>> {
        let out = cluster.stdout("bhosts", &[])?;
        let rows = out
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>());
        rows.map(|r| Some((r.first()?.to_string(), r.get(1)?.to_string())))
            .collect()
    };
    let want = vec![
        ("host1".to_string(), "ok".to_string()),
        ("host2".into(), "ok".into()),
    ];
    let mut seen = None;
    wait_for(Duration::from_secs(10), || {
        seen = states();
        (seen.as_ref() == Some(&want)).then_some(())
    })
    .unwrap_or_else(|| panic!("bhosts shows {seen:?}"));

    // Kill the pending job 2: EXIT without ever running.
    assert_eq!(
        cluster.stdout("bkill", &["2"]).as_deref(),
        Some("Job <2> is being signaled\n")
    );
    let hist = cluster.stdout("bhist", &["2"]).expect("bhist 2");
    assert!(hist.starts_with("Job <2>  User <"), "{hist}");
    assert!(
        hist.contains("Status <EXIT>") && hist.contains("Signal  signal: 15"),
        "{hist}"
    );
    assert!(hist.contains("Never dispatched."), "{hist}");
    // Release the held job: it runs; then kill it.
    let cont = cluster
        .stdout("bkill", &["-s", "CONT", "1"])
        .expect("bkill -s CONT");
    assert_eq!(cont, "Job <1> is being signaled\n");
    cluster.wait_stat(1, "RUN", Duration::from_secs(20));
    cluster.stdout("bkill", &["1"]).expect("bkill 1");
    cluster.wait_stat(1, "EXIT", Duration::from_secs(20));
    let hist = cluster.stdout("bhist", &["1"]).expect("bhist 1");
    assert!(
        hist.contains("Resumed (pend)") && hist.contains("Signal  signal: 15"),
        "{hist}"
    );
    let again = cluster.run("bkill", &["1".into()]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "bkill: failed to signal job <1>: Job has already finished\n"
    );
    let gone = cluster.run("bjobs", &["99".into()]);
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        "bjobs: Job <99> is not found\n"
    );
    let gone = cluster.run("bhist", &["99".into()]);
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        "bhist: Job <99> is not found\n"
    );

    // A listing longer than one frame (1,000 rows) arrives whole, in order.
    let array = cluster.submit(&["--hold", "--array", "1-2500", "true"]);
    let all = cluster.stdout("bjobs", &["-a"]).expect("bjobs -a");
    let elements: Vec<&str> = (all.lines())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with(&format!("{array}[")))
        .collect();
    let expected: Vec<String> = (1..=2500).map(|i| format!("{array}[{i}]")).collect();
    assert_eq!(elements, expected);
}

/// A short run of the chaos harness (`cargo run -p cluster-tests --bin
/// chaos` runs it at length): two of each fault (mbd, an sbd, both) during
/// a submission storm; every acknowledged job present, none ran twice.
#[test]
fn no_acknowledged_job_is_lost_or_run_twice_across_kill_9_of_mbd_and_sbds() {
    let cluster = Arc::new(TestCluster::up(2, TICK, None));
    let plan = chaos::Plan {
        clients: 4,
        cycles: 6,
        acks_per_cycle: 10,
        faults: "mbd,sbd,mbd+sbd".parse().expect("faults"),
        seed: 1,
        settle: Duration::from_secs(90),
        job_secs: 0.0,
        suspender: false,
        masters: 0,
    };
    let outcome = chaos::run(&cluster, 2, &plan);
    assert!(
        outcome.violations.is_empty(),
        "{outcome}: {:?}",
        outcome.violations
    );
    assert_eq!((outcome.mbd_kills, outcome.sbd_kills), (4, 4), "{outcome}");
    assert!(outcome.acked >= 60, "{outcome}");
    assert_eq!(
        cluster.mbd_log().matches("replayed").count(),
        5,
        "each mbd start replayed the log"
    );
}

#[test]
fn without_lim_mbd_takes_configured_hosts_as_up_and_says_so() {
    let cluster = TestCluster::up(2, TICK, None);
    // mbd may start before lim has a master; wait until it uses lim.
    wait_for(Duration::from_secs(10), || {
        cluster.mbd_log().contains("lim answers").then_some(())
    })
    .expect("mbd hears from lim");
    let complaints = cluster.mbd_log().matches("lim not answering").count();
    for host in ["host1", "host2"] {
        let pid = cluster.lim_pid(host);
        os::process::signal(pid, libc::SIGKILL).expect("kill lim");
    }
    wait_for(Duration::from_secs(10), || {
        (cluster.mbd_log().matches("lim not answering").count() > complaints).then_some(())
    })
    .unwrap_or_else(|| panic!("no log line about lim:\n{}", cluster.mbd_log()));
    let hosts = cluster.stdout("bhosts", &[]).expect("bhosts without lim");
    let states: Vec<&str> = hosts
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(states, ["ok", "ok"]);
    let out = cluster.stdout("bsub", &["true"]).expect("bsub without lim");
    assert_eq!(job_id(&out), Some(1));
}

#[test]
fn bhist_reads_the_archived_logs_and_works_with_mbd_down() {
    let cluster = TestCluster::up(1, TICK, None);
    // Compact after 3 finished jobs (keeping 1), so most history is archived.
    cluster.add_to_ll_conf("LL_MBD_JOB_FINISH_THRESHOLD=3");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();

    let ids: Vec<u32> = (0..8)
        .map(|_| cluster.submit(&["--hold", "-J", "old", "true"]))
        .collect();
    // Killing 4 passes the threshold (one archive), 3 more pass it again.
    for id in &ids[..7] {
        cluster.stdout("bkill", &[&id.to_string()]).expect("bkill");
    }
    let archived = |n: u32| cluster.dir.join("state/mbd").join(format!("events.{n}"));
    wait_for(Duration::from_secs(10), || {
        archived(2).exists().then_some(())
    })
    .expect("two compactions archived the log");
    let index = std::fs::read_to_string(cluster.dir.join("state/mbd/events.1.jobs"));
    let index = index.expect("each archive has an index of the jobs that ended in it");
    assert!(
        index
            .lines()
            .any(|l| l.starts_with(&format!("{} ", ids[0]))),
        "{index}"
    );
    let gone = cluster.run("bjobs", &[ids[0].to_string()]);
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        format!("bjobs: Job <{}> is not found\n", ids[0]),
        "mbd no longer holds the first job"
    );

    let first = cluster.stdout("bhist", &[&ids[0].to_string()]);
    let first = first.expect("bhist of a compacted job");
    assert!(
        first.starts_with(&format!("Job <{}>", ids[0])) && first.contains("Status <EXIT>"),
        "{first}"
    );
    let listed = |out: &str| -> Vec<(u32, String)> {
        (out.lines().skip(1))
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.parse().ok()?, f.nth(1)?.to_string()))
            })
            .collect()
    };
    let mut want: Vec<(u32, String)> = ids.iter().map(|id| (*id, "EXIT".into())).collect();
    want[7].1 = "HELD".into();
    let all = cluster.stdout("bhist", &[]).expect("bhist");
    assert_eq!(listed(&all), want, "{all}");

    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    let down = cluster.run("bhist", &[]);
    assert!(down.status.success(), "{down:?}");
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("reading its event log on disk"),
        "{down:?}"
    );
    assert_eq!(listed(&String::from_utf8_lossy(&down.stdout)), want);
}

#[test]
fn a_log_that_cannot_grow_refuses_changes_keeps_mbd_up_and_loses_nothing() {
    let cluster = TestCluster::up(1, TICK, None);
    let kept = cluster.submit(&["--hold", "true"]);
    let log = cluster.dir.join("state").join("mbd").join("events");
    let size = std::fs::metadata(&log).expect("event log").len();
    let mbd = cluster.mbd_pid();
    // A full disk, as mbd sees it: writes past the limit fail.
    set_soft_limit(mbd, "RLIMIT_FSIZE", Some(size));

    let refused = cluster.run("bsub", &["--hold".into(), "true".into()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "a change that is not on disk is refused"
    );
    assert!(stderr.contains("cannot write its event log"), "{stderr}");
    assert!(lavalite::is_alive(mbd, "mbd"), "mbd stays up");
    let audit = cluster.mbd_log();
    let undone = format!("job {} submitted", kept + 1);
    assert!(
        !audit.contains(&undone),
        "an undone submission is audited: {audit}"
    );
    let listed = cluster
        .stdout("bjobs", &["-a"])
        .expect("queries are answered");
    assert_eq!(
        listed.lines().count(),
        2,
        "only the acknowledged job: {listed}"
    );
    assert_eq!(std::fs::metadata(&log).expect("log").len(), size);

    // Room again: once the refusal window is over, changes go through.
    set_soft_limit(mbd, "RLIMIT_FSIZE", None);
    let next = wait_for(Duration::from_secs(20), || {
        cluster
            .stdout("bsub", &["--hold", "true"])
            .as_deref()
            .and_then(job_id)
    })
    .expect("submissions work again");
    cluster.kill_daemon(mbd, "mbd");
    cluster.up_again();
    assert_eq!(cluster.stat(kept).as_deref(), Some("HELD"));
    assert_eq!(cluster.stat(next).as_deref(), Some("HELD"));
    assert_eq!(
        cluster.stat(next + 1),
        None,
        "nothing unacknowledged appeared"
    );
}

#[test]
fn a_listing_cut_short_by_its_reader_ends_quietly() {
    let cluster = TestCluster::up(1, TICK, None);
    cluster.submit(&["--hold", "--array", "1-3000", "true"]);
    for command in ["bjobs -a", "bhist -l"] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{}/{command} | head -1",
                cluster_tests::bin_dir().display()
            ))
            .env(conf::CONF_DIR_ENV, &cluster.dir)
            .output()
            .expect("run sh");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{command} | head: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    }
}

#[test]
fn bsub_to_a_stopped_mbd_says_nothing_was_submitted_and_nothing_was() {
    let cluster = TestCluster::up(1, TICK, None);
    cluster.add_to_ll_conf("LL_API_RECVTIMEOUT = 1");
    let mbd = cluster.mbd_pid();
    os::process::signal(mbd, libc::SIGSTOP).expect("stop mbd");
    let out = cluster.run("bsub", &["--hold".into(), "true".into()]);
    os::process::signal(mbd, libc::SIGCONT).expect("continue mbd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // mbd never greeted the connection, so the request was never sent.
    assert!(
        stderr.starts_with("Job not submitted: cannot reach mbd")
            && stderr.contains("timed out after 1s (LL_API_RECVTIMEOUT)"),
        "{stderr}"
    );
    // mbd runs again and serves; the command that gave up left no job.
    let listed = wait_for(Duration::from_secs(20), || cluster.stdout("bjobs", &["-a"]));
    assert_eq!(listed.as_deref().map(str::trim), Some("No jobs found."));
}

#[test]
fn a_failed_up_stops_the_daemons_it_started_and_names_the_cause() {
    let cluster = TestCluster::up(1, TICK, None);
    assert_eq!(cluster.processes().len(), 3, "lim, mbd and sbd run");
    let down = cluster.down();
    assert!(down.status.success());
    // mbd refuses this queue file at start; lim and sbd start fine.
    let queues = cluster.dir.join("llb.queues");
    let text = std::fs::read_to_string(&queues).expect("read llb.queues");
    std::fs::write(
        &queues,
        text.replace("PRIORITY    = 30", "PRIORITY    = high"),
    )
    .expect("write llb.queues");
    let up = cluster.run(
        "lavalite",
        &[
            "up".into(),
            "--dir".into(),
            cluster.dir.display().to_string(),
        ],
    );
    let err = String::from_utf8_lossy(&up.stderr);
    assert!(
        !up.status.success(),
        "up succeeded with a broken llb.queues: {err}"
    );
    assert!(err.contains("PRIORITY"), "the cause is not named: {err}");
    assert!(
        err.contains("stopped the 2 daemons it had started"),
        "{err}\nLIM:\n{}\nSBD:\n{}",
        cluster.log("lim", "host1"),
        cluster.log("sbd", "host1")
    );
    assert_eq!(cluster.processes(), vec![], "daemons left running");
}
