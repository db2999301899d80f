//! Garbage on lim's UDP port: dropped, counted by reason, and lim keeps
//! serving (the cluster here signs its datagrams with a key).

use cluster_tests::{wait_for, TestCluster};
use conf::ConfDir;
use lim::datagram::{Datagram, DatagramCodec};
use lim::LimClient;
use proto::auth::{AuthKey, Credentials};
use proto::lim::{Beacon, LimStats, LoadReport, LoadVector, StaticInfo};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);
const SLACK: Duration = Duration::from_secs(2);
const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

fn codec(key: Option<&[u8]>, nonce: u64) -> DatagramCodec {
    let who = Credentials {
        uid: 0,
        gid: 0,
        user: "intruder".into(),
        timestamp: 0,
        nonce,
        challenge: 0,
    };
    DatagramCodec::new(key.map(|k| AuthKey::new(k.to_vec())), who)
}

fn beacon(master: &str, epoch: u64) -> Datagram {
    Datagram::Beacon(Beacon {
        master: master.into(),
        epoch,
    })
}

#[test]
fn garbage_datagrams_are_dropped_and_counted_while_lim_keeps_answering() {
    let c = TestCluster::up(3, TICK, Some(KEY));
    let all_ok = [("host1", "ok"), ("host2", "ok"), ("host3", "ok")];
    c.wait_statuses(&all_ok, TICK * 3 + SLACK).unwrap();
    let master = c.lim_addr(1);
    let client = LimClient::from_conf(&ConfDir::new(&c.dir)).unwrap();
    let before = client.stats(master).unwrap();

    // From an address of this subnet that is no cluster host.
    let intruder = UdpSocket::bind(SocketAddr::new(c.lim_addr(200).ip(), 0)).unwrap();
    let send = |bytes: &[u8]| {
        intruder.send_to(bytes, master).unwrap();
    };
    // Malformed: random bytes, a truncated header, a length that lies,
    // a frame claiming a body beyond any datagram.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20 {
        let junk: Vec<u8> = (0..(seed % 300) as usize)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        send(&junk);
    }
    let good = codec(Some(KEY), 1).encode(&beacon("host2", 99), os::host::unix_now());
    send(&good[..10]);
    send(&good[..good.len() - 3]);
    let mut huge = good.to_vec();
    huge[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    send(&huge);
    // Bad auth: unsigned, wrong key, too old.
    send(&codec(None, 2).encode(&beacon("host2", 99), os::host::unix_now()));
    send(&codec(Some(&[7; 32]), 3).encode(&beacon("host2", 99), os::host::unix_now()));
    send(&codec(Some(KEY), 4).encode(&beacon("host2", 99), os::host::unix_now() - 3600));
    // Correctly signed but foreign: a host name not in the cluster, and a
    // cluster host's name from the wrong address (a takeover attempt).
    let report = Datagram::Report(LoadReport {
        host: "stranger".into(),
        static_info: StaticInfo::default(),
        load: LoadVector::default(),
    });
    send(&codec(Some(KEY), 5).encode(&report, os::host::unix_now()));
    send(&codec(Some(KEY), 6).encode(&beacon("host2", 99), os::host::unix_now()));

    let wanted = |s: &LimStats| {
        s.dropped_malformed - before.dropped_malformed >= 23
            && s.dropped_auth - before.dropped_auth >= 3
            && s.dropped_foreign - before.dropped_foreign >= 2
    };
    let mut last = None;
    let counted = wait_for(SLACK, || {
        last = client.stats(master).ok();
        last.filter(wanted)
    });
    assert!(counted.is_some(), "before {before:?}, now {last:?}");
    // Random bytes could by chance look like a frame, never like a signed
    // one: nothing the intruder sent was accepted.
    let after = counted.unwrap();
    assert_eq!(
        after.dropped_foreign - before.dropped_foreign,
        2,
        "{after:?}"
    );
    assert_eq!(
        c.master().as_deref(),
        Some("host1"),
        "a forged beacon moved the master"
    );
    c.wait_statuses(&all_ok, TICK * 2 + SLACK).unwrap();
    let accepted = wait_for(SLACK, || {
        client
            .stats(master)
            .ok()
            .filter(|s| s.reports_accepted > after.reports_accepted)
    });
    assert!(
        accepted.is_some(),
        "the master stopped accepting real reports"
    );
}

#[test]
fn idle_query_connections_are_closed_and_others_still_served() {
    use std::io::Read;
    let c = TestCluster::up(1, TICK, None);
    let mut idle = std::net::TcpStream::connect(c.lim_addr(1)).unwrap();
    idle.set_read_timeout(Some(TICK * 3 + SLACK)).unwrap();
    assert_eq!(
        c.master().as_deref(),
        Some("host1"),
        "served while a client idles"
    );
    let mut buf = [0u8; 1];
    // Closed within two ticks, checked on the next tick: EOF, not a timeout.
    assert_eq!(idle.read(&mut buf).unwrap(), 0);
}
