//! Changing jobs after submission and the pool and group listings, in a
//! running local cluster: bmove and bpriority (and their history, across
//! a kill -9 of mbd), btokens while a job holds tokens, bgroups.

use cluster_tests::TestCluster;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);

/// Fields 4 and 5 of `bjobs ID`'s row: QUEUE and PRI.
fn queue_and_priority(cluster: &TestCluster, id: u32) -> Option<(String, String)> {
    let out = cluster.stdout("bjobs", &[&id.to_string()])?;
    let mut fields = out.lines().nth(1)?.split_whitespace().skip(3);
    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
}

/// A command's exit code and stderr.
fn failure(cluster: &TestCluster, bin: &str, args: &[&str]) -> (Option<i32>, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = cluster.run(bin, &args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bmove_and_bpriority_change_waiting_jobs_for_good() {
    let cluster = TestCluster::up(1, TICK, None);
    let id = cluster.submit(&["--hold", "sleep", "60"]);
    let text = id.to_string();
    assert_eq!(
        queue_and_priority(&cluster, id),
        Some(("normal".into(), "30".into()))
    );
    assert_eq!(
        cluster.stdout("bmove", &["--to", "short", &text]),
        Some(format!("Job <{id}> moved to queue <short>.\n"))
    );
    assert_eq!(
        cluster.stdout("bpriority", &["-p", "10", &text]),
        Some(format!("Job <{id}> priority set to 10.\n"))
    );
    assert_eq!(
        queue_and_priority(&cluster, id),
        Some(("short".into(), "10".into()))
    );
    let held_in = |queue: &str| -> Option<String> {
        let out = cluster.stdout("bqueues", &[])?;
        let row = out.lines().find(|l| l.starts_with(queue))?;
        Some(row.split_whitespace().nth(6)?.to_owned())
    };
    assert_eq!(held_in("short").as_deref(), Some("1"), "bqueues HELD");
    assert_eq!(held_in("normal").as_deref(), Some("0"));

    let unknown = failure(&cluster, "bmove", &["--to", "nope", &text]);
    assert_eq!(unknown.0, Some(1));
    assert!(
        unknown.1.starts_with(&format!(
            "bmove: job <{id}> move failed: Queue <nope> does not exist"
        )),
        "{}",
        unknown.1
    );
    assert_eq!(
        failure(&cluster, "bmove", &[&text]),
        (Some(1), "bmove: --to queue is required\n".into())
    );
    assert_eq!(
        failure(&cluster, "bpriority", &["-p", "-1", &text]),
        (Some(1), "bpriority: invalid priority '-1'\n".into())
    );
    assert_eq!(
        failure(&cluster, "bpriority", &["-p", "5", "x1"]),
        (Some(1), "bpriority: invalid job_id 'x1'\n".into())
    );

    // Both changes are in the event log: a restarted mbd has them.
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();
    assert_eq!(
        queue_and_priority(&cluster, id),
        Some(("short".into(), "10".into()))
    );
    let hist = cluster.stdout("bhist", &[&text]).expect("bhist");
    assert!(hist.contains("Queue <short>"), "{hist}");
    assert!(hist.contains("Moved queue  normal -> short"), "{hist}");
    assert!(hist.contains("Priority  30 -> 10"), "{hist}");

    // Released, it runs; a running job no longer moves.
    cluster
        .stdout("bkill", &["-s", "CONT", &text])
        .expect("bkill -s CONT");
    cluster.wait_stat(id, "RUN", Duration::from_secs(20));
    let running = failure(&cluster, "bmove", &["--to", "normal", &text]);
    assert!(
        running
            .1
            .starts_with(&format!("bmove: job <{id}> move failed: Job {id} is RUN")),
        "{}",
        running.1
    );
    cluster.stdout("bkill", &[&text]).expect("bkill");
}

#[test]
fn btokens_shows_what_a_running_job_holds_and_bgroups_the_groups() {
    let cluster = TestCluster::up(1, TICK, None);
    let pools = |cluster: &TestCluster| cluster.stdout("btokens", &[]);
    assert_eq!(
        pools(&cluster).as_deref(),
        Some("POOL_NAME  TOTAL  USED  FREE\nlicense        4     0     4\n")
    );
    let id = cluster.submit(&["--tokens", "license=3", "sleep", "60"]);
    cluster.wait_stat(id, "RUN", Duration::from_secs(20));
    assert_eq!(
        pools(&cluster).as_deref(),
        Some("POOL_NAME  TOTAL  USED  FREE\nlicense        4     3     1\n")
    );
    let json = cluster
        .stdout("btokens", &["--json"])
        .expect("btokens --json");
    let rows: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(rows[0]["pool_name"], "license");
    assert_eq!(rows[0]["free"], 1);
    cluster.stdout("bkill", &[&id.to_string()]).expect("bkill");
    cluster.wait_stat(id, "EXIT", Duration::from_secs(20));
    assert_eq!(
        pools(&cluster).as_deref(),
        Some("POOL_NAME  TOTAL  USED  FREE\nlicense        4     0     4\n"),
        "given back"
    );

    assert_eq!(
        cluster.stdout("bgroups", &[]).as_deref(),
        Some("GROUP_NAME  GROUP_MEMBER\n----------  ------------\nall         host1\n")
    );
    let json = cluster
        .stdout("bgroups", &["--json"])
        .expect("bgroups --json");
    let rows: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(rows[0]["members"], serde_json::json!(["host1"]));
}
