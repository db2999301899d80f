//! mbd's metrics endpoint (`LL_MBD_METRICS_PORT`): Prometheus text over
//! HTTP that changes as jobs are submitted; a bad request is refused and
//! the batch service goes on. Checked by `promtool check metrics` too
//! when Prometheus's tool is installed.

use cluster_tests::TestCluster;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(300);

/// One request on a fresh connection; the whole answer.
fn ask(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the answer");
    out
}

fn scrape(addr: SocketAddr) -> String {
    let answer = ask(addr, b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

/// `promtool check metrics` accepts `text`, when Prometheus's tool is
/// installed (Debian's prometheus package).
fn promtool_accepts(dir: &std::path::Path, text: &str) {
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let stdin = std::fs::File::open(&file).unwrap();
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(stdin)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("promtool not installed: the format was checked line by line only"),
    }
}

fn value(text: &str, sample: &str) -> u64 {
    (text.lines())
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {sample} in:\n{text}"))
}

#[test]
fn metrics_count_jobs_as_they_are_submitted() {
    let cluster = TestCluster::up(1, TICK, None);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cluster.add_to_ll_conf(&format!("LL_MBD_METRICS_PORT = {port}"));
    let restarted = cluster
        .stdout("badmin", &["mbdrestart"])
        .unwrap_or_default();
    assert!(restarted.contains("restart done"), "{restarted}");
    let addr = SocketAddr::new(cluster.mbd_addr().ip(), port);

    let before = scrape(addr);
    for line in before.lines() {
        let ok = line.starts_with("# TYPE ")
            || line.starts_with("# HELP ")
            || line
                .rsplit_once(' ')
                .is_some_and(|(name, v)| !name.is_empty() && v.parse::<f64>().is_ok());
        assert!(ok, "not an exposition line: {line:?}");
    }
    let held = r#"lavalite_mbd_jobs{queue="normal",state="held"}"#;
    let (held_before, submitted_before) = (
        value(&before, held),
        value(&before, "lavalite_mbd_jobs_submitted_total"),
    );
    cluster.submit(&["-H", "true"]);
    cluster.submit(&["-H", "-J", "arr[1-3]", "true"]);
    let after = scrape(addr);
    assert_eq!(value(&after, held), held_before + 4, "{after}");
    assert_eq!(
        value(&after, "lavalite_mbd_jobs_submitted_total"),
        submitted_before + 4
    );
    assert!(value(&after, "lavalite_mbd_commit_seconds_count") > 0);

    let refused = ask(addr, b"\x16\x03\x01 nonsense\r\n\r\n");
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let other = ask(addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    assert!(cluster.stdout("bqueues", &[]).is_some(), "mbd serves on");

    promtool_accepts(&cluster.dir, &after);
}

#[test]
fn lims_master_reports_every_host_and_its_load() {
    let cluster = TestCluster::up(2, TICK, None);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cluster.add_to_ll_conf(&format!("LL_LIM_METRICS_PORT = {port}"));
    for host in ["host1", "host2"] {
        cluster.kill_daemon(cluster.lim_pid(host), "lim");
    }
    cluster.up_again();
    let master = cluster_tests::wait_for(Duration::from_secs(20), || {
        let m = cluster.master()?;
        let i: usize = m.strip_prefix("host")?.parse().ok()?;
        let text = scrape(SocketAddr::new(cluster.lim_addr(i).ip(), port));
        text.contains(r#"lavalite_lim_hosts{status="ok"} 2"#)
            .then_some(text)
    })
    .expect("the master's metrics list both hosts up");
    assert!(
        master.lines().any(|l| l == "lavalite_lim_is_master 1"),
        "{master}"
    );
    assert!(
        master.contains(r#"lavalite_lim_load{host="host2",index="r1m"}"#),
        "{master}"
    );
}
