//! A damaged event log stops mbd instead of losing acknowledged jobs, and
//! no job id is ever handed out twice, whatever is cut from the log.

use cluster_tests::TestCluster;
use std::path::PathBuf;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);

fn events(cluster: &TestCluster) -> PathBuf {
    cluster.dir.join("state/mbd/events")
}

/// `lavalite up` (mbd was stopped): whether it started, and what it said.
fn start(cluster: &TestCluster) -> (bool, String) {
    let args = ["up", "--dir", &cluster.dir.display().to_string()].map(String::from);
    let out = cluster.run("lavalite", &args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Byte offsets where the log's batches start.
fn batch_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        starts.push(at);
        let len = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        at += 12 + len as usize;
    }
    starts
}

#[test]
fn damage_stops_mbd_and_job_ids_are_never_handed_out_twice() {
    let cluster = TestCluster::up(1, TICK, None);
    let ids: Vec<u32> = (0..3)
        .map(|_| cluster.submit(&["--hold", "true"]))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    let good = std::fs::read(events(&cluster)).expect("read the log");

    // One flipped bit in the first batch's length: every job is
    // acknowledged, so mbd refuses to start rather than cut the log.
    let mut flipped = good.clone();
    flipped[1] ^= 0x01;
    std::fs::write(events(&cluster), &flipped).expect("damage the log");
    let (started, said) = start(&cluster);
    assert!(!started, "mbd started on a damaged log: {said}");
    let log = cluster.mbd_log();
    assert!(log.contains("damaged batch at byte 0"), "{said}\n{log}");
    assert_eq!(
        std::fs::read(events(&cluster)).unwrap(),
        flipped,
        "the log was not cut"
    );

    // A torn last write (job 3's batch, never synced in this story) is cut
    // at start, but job 3's id is not handed out again.
    let last = *batch_starts(&good).last().expect("batches");
    let mut torn = good.clone();
    let len = u32::from_be_bytes([torn[last], torn[last + 1], torn[last + 2], torn[last + 3]]);
    torn[last..last + 4].copy_from_slice(&(len + 64).to_be_bytes());
    torn.extend_from_slice(&[0x55; 20]);
    std::fs::write(events(&cluster), &torn).expect("tear the log");
    let (started, said) = start(&cluster);
    assert!(started, "{said}");
    assert_eq!(cluster.stat(3), None, "the torn job is gone");
    assert_eq!(cluster.stat(2).as_deref(), Some("HELD"));
    assert_eq!(cluster.submit(&["--hold", "true"]), 4, "id 3 is not reused");

    // The log moved away: ids go on from where they were.
    assert!(cluster.down().status.success());
    std::fs::rename(events(&cluster), cluster.dir.join("events.moved")).expect("move");
    let (started, said) = start(&cluster);
    assert!(started, "{said}");
    assert_eq!(cluster.submit(&["--hold", "true"]), 5);
}
