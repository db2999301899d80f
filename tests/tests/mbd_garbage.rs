//! Garbage, truncated, oversized, negative-length and unsigned frames at
//! mbd's port: each such peer is answered or dropped with a logged reason,
//! and a client connected all along is still served. A client that does
//! not read its listing delays no one. A request refused for want of
//! permission is logged and leaves the client connected. Out of file
//! descriptors, mbd sheds new connections, keeps serving the ones it has,
//! and recovers.

use cluster_tests::{mbd_connect, set_soft_limit, wait_for, TestCluster};
use proto::auth::{encode_signed, verify_reply, AuthKey, Credentials, ReplyKey};
use proto::mbd::{op, status, Control, JobsChunk, JobsRequest, QueueRow};
use proto::{Decode, Encode, Header};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A request for the connection mbd greeted with `challenge`.
fn signed(op: u32, key: &AuthKey, nonce: u64, challenge: u64) -> Vec<u8> {
    signed_at(op, key, nonce, os::host::unix_now(), challenge)
}

fn signed_at(op: u32, key: &AuthKey, nonce: u64, timestamp: u64, challenge: u64) -> Vec<u8> {
    signed_request(op, &[], key, nonce, timestamp, challenge)
}

/// A request from uid 4242, `tester`, who is no admin.
fn signed_request(
    op: u32,
    body: &[u8],
    key: &AuthKey,
    nonce: u64,
    timestamp: u64,
    challenge: u64,
) -> Vec<u8> {
    let creds = Credentials {
        uid: 4242,
        gid: 4242,
        user: "tester".into(),
        timestamp,
        nonce,
        challenge,
    };
    let mut out = bytes::BytesMut::new();
    encode_signed(Header::request(9, op, 0), &creds, body, key, &mut out);
    out.to_vec()
}

/// Sends what `bytes` makes of the connection's challenge (then, if
/// `half_close`, EOF) and reads until mbd closes. Returns the status of the
/// reply frame mbd sent first, if any.
fn send_and_expect_close(
    cluster: &TestCluster,
    bytes: impl FnOnce(u64) -> Vec<u8>,
    half_close: bool,
) -> Option<u32> {
    let (mut s, challenge) = mbd_connect(cluster.mbd_addr());
    s.write_all(&bytes(challenge)).expect("send");
    if half_close {
        s.shutdown(Shutdown::Write).unwrap();
    }
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("mbd neither answered nor closed: {e}"),
    }
    Header::parse(&got).ok().map(|h| h.status)
}

/// Sends `request` on `s` and reads its reply frame number `index`,
/// checked as a command checks it.
fn exchange(s: &mut TcpStream, key: &AuthKey, request: &[u8]) -> (Header, Vec<u8>) {
    s.write_all(request).expect("send a request");
    reply_frame(s, key, request, 0)
}

fn reply_frame(s: &mut TcpStream, key: &AuthKey, request: &[u8], index: u32) -> (Header, Vec<u8>) {
    let (header, rest) = chan::blocking::read_frame(s, 8 << 20).expect("a reply");
    let reply_key = ReplyKey::of_request(key, request);
    let body = verify_reply(&header, &rest, &reply_key, index).expect("a reply from mbd");
    (header, body.to_vec())
}

/// `bqueues`'s request on an open connection; the rows mbd replies.
fn request_queues(s: &mut (TcpStream, u64), key: &AuthKey, nonce: u64) -> Vec<QueueRow> {
    let (header, body) = exchange(&mut s.0, key, &signed(op::QUEUES, key, nonce, s.1));
    assert_eq!(header.status, status::OK);
    Vec::<QueueRow>::from_body(&body).expect("queue rows")
}

#[test]
fn bad_frames_drop_that_peer_and_others_are_still_served() {
    let cluster = TestCluster::up(1, Duration::from_millis(400), None);
    let key = cluster.key();
    // Connected before the garbage, used after it.
    let mut patient = mbd_connect(cluster.mbd_addr());

    let mut random = [0u8; 100];
    random
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i as u8).wrapping_mul(37) ^ 0x5a);
    // Its "length" is far over the limit: dropped at the header.
    assert_eq!(
        send_and_expect_close(&cluster, |_| random.to_vec(), false),
        None
    );
    let mut other_version = Header::request(1, op::QUEUES, 0);
    other_version.version = 0x0003_0000;
    let reply = send_and_expect_close(&cluster, |_| other_version.to_bytes().to_vec(), false);
    assert_eq!(
        reply,
        Some(status::BAD_REQUEST),
        "another version gets an answer, then a close"
    );

    let mut huge = Header::request(1, op::JOBS, 0);
    huge.length = 1 << 30;
    assert_eq!(
        send_and_expect_close(&cluster, |_| huge.to_bytes().to_vec(), false),
        None
    );
    huge.length = u32::MAX;
    assert_eq!(
        send_and_expect_close(&cluster, |_| huge.to_bytes().to_vec(), false),
        None
    );

    let mut truncated = Header::request(1, op::JOBS, 0);
    truncated.length = 100;
    let mut bytes = truncated.to_bytes().to_vec();
    bytes.extend_from_slice(&[0; 10]);
    assert_eq!(send_and_expect_close(&cluster, |_| bytes, true), None);

    let unsigned = proto::frame_bytes(Header::request(1, op::QUEUES, 0), &[]);
    assert_eq!(
        send_and_expect_close(&cluster, |_| unsigned, false),
        Some(status::AUTH)
    );
    let stranger = AuthKey::new(b"not the cluster key".to_vec());
    assert_eq!(
        send_and_expect_close(&cluster, |c| signed(op::QUEUES, &stranger, 1, c), false),
        Some(status::AUTH)
    );
    let mut good = Vec::new();
    let sent = send_and_expect_close(
        &cluster,
        |c| {
            good = signed(op::QUEUES, &key, 2, c);
            good.clone()
        },
        true,
    );
    assert_eq!(
        sent,
        Some(status::OK),
        "answered, though the client shut its side after the request"
    );
    assert_eq!(
        send_and_expect_close(&cluster, |_| good, false),
        Some(status::AUTH),
        "a frame signed for another connection is refused"
    );

    let queues = request_queues(&mut patient, &key, 3);
    assert_eq!(queues.len(), 2);
    assert!(
        cluster.stdout("bjobs", &[]).is_some(),
        "commands still work"
    );

    // Well-formed but not permitted: refused, logged, still connected.
    let mut close = bytes::BytesMut::new();
    Control {
        name: "normal".into(),
        open: false,
    }
    .encode(&mut close);
    let now = os::host::unix_now();
    let request = signed_request(op::QUEUE_CONTROL, &close, &key, 4, now, patient.1);
    let (header, _) = exchange(&mut patient.0, &key, &request);
    assert_eq!(header.status, status::EPERM);
    let queues = request_queues(&mut patient, &key, 5);
    assert!(queues.iter().all(|q| q.open), "{queues:?}");

    let log = cluster.mbd_log();
    assert!(
        log.contains("refused open or close a queue by tester"),
        "{log}"
    );
    assert!(log.contains("refused request from"), "{log}");
    assert!(log.contains("dropping client"), "{log}");
}

#[test]
fn the_clock_skew_mbd_accepts_is_ll_auth_max_age() {
    let cluster = TestCluster::up(1, Duration::from_millis(400), None);
    let key = cluster.key();
    // Signed by a host whose clock is two minutes behind.
    let behind = |nonce, challenge| {
        signed_at(
            op::QUEUES,
            &key,
            nonce,
            os::host::unix_now() - 120,
            challenge,
        )
    };
    assert_eq!(
        send_and_expect_close(&cluster, |c| behind(1, c), false),
        Some(status::AUTH),
        "over LavaLite's default of 60 s"
    );
    assert!(cluster.mbd_log().contains("more than 60s from now"));

    cluster.add_to_ll_conf("LL_AUTH_MAX_AGE = 300");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();
    let reply = send_and_expect_close(&cluster, |c| behind(2, c), true);
    assert_eq!(reply, Some(status::OK), "within the configured 300 s");
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn out_of_file_descriptors_mbd_sheds_new_connections_serves_the_rest_and_recovers() {
    let cluster = TestCluster::up(1, Duration::from_millis(400), None);
    let key = cluster.key();
    let pid = cluster.mbd_pid();
    let mut patient = mbd_connect(cluster.mbd_addr());
    set_soft_limit(pid, "RLIMIT_NOFILE", Some(open_files(pid) as u64 + 3));
    // Idle connections take the last descriptors; the kernel queues the
    // rest for mbd to accept.
    let hogs: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(cluster.mbd_addr()).expect("connect"))
        .collect();
    wait_for(Duration::from_secs(10), || {
        cluster
            .mbd_log()
            .contains("out of file descriptors")
            .then_some(())
    })
    .expect("mbd notices it is out of descriptors");
    let refused = cluster.run("bqueues", &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a new client is shed: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("out of file descriptors: see mbd's log"),
        "{err}"
    );

    let request = signed(op::QUEUES, &key, 1, patient.1);
    let (header, _) = exchange(&mut patient.0, &key, &request);
    assert_eq!(header.status, status::OK, "connections it has are served");

    drop(hogs);
    wait_for(Duration::from_secs(10), || cluster.stdout("bqueues", &[]))
        .expect("new clients are served again once descriptors are free");
    assert!(!os::process::process_exited(pid), "the same mbd throughout");
    set_soft_limit(pid, "RLIMIT_NOFILE", None);
}

#[test]
fn a_client_that_does_not_read_its_listing_delays_no_one() {
    let cluster = TestCluster::up(1, Duration::from_millis(400), None);
    let key = cluster.key();
    cluster.submit(&["--hold", "--array", "1-100000", "true"]);
    let all = JobsRequest {
        pend: true,
        run: true,
        done: true,
        ..JobsRequest::default()
    };
    let mut body = Vec::new();
    all.encode(&mut body);
    let (mut slow, challenge) = mbd_connect(cluster.mbd_addr());
    let creds = Credentials {
        uid: 0,
        gid: 0,
        user: "root".into(),
        timestamp: os::host::unix_now(),
        nonce: 1,
        challenge,
    };
    let mut request = bytes::BytesMut::new();
    encode_signed(
        Header::request(7, op::JOBS, 0),
        &creds,
        &body,
        &key,
        &mut request,
    );
    slow.write_all(&request).expect("send");
    // 6 MB, more than the socket buffers hold: the rest waits in mbd.
    for _ in 0..3 {
        let out = cluster.stdout("bjobs", &["1[99999]"]).expect("bjobs");
        assert!(out.contains("1[99999]") && out.contains("HELD"), "{out}");
        assert!(cluster.stdout("bqueues", &[]).is_some());
    }
    let mut rows = 0;
    for index in 0.. {
        let (header, body) = reply_frame(&mut slow, &key, &request, index);
        assert_eq!(header.status, status::OK);
        let chunk = JobsChunk::from_body(&body).expect("a chunk");
        rows += chunk.jobs.len();
        if !chunk.more {
            break;
        }
    }
    assert_eq!(
        rows, 100_000,
        "the slow reader still gets the whole listing"
    );
}

/// The headers of the frames in `bytes` after mbd's greeting, as far as
/// they are whole.
fn frames_in(mut bytes: &[u8]) -> Vec<Header> {
    let mut found = Vec::new();
    while let Ok(header) = Header::parse(bytes) {
        if bytes.len() < header.frame_len() {
            break;
        }
        if header.operation != op::HELLO {
            found.push(header);
        }
        bytes = &bytes[header.frame_len()..];
    }
    found
}

fn mbd_log_bytes(cluster: &TestCluster) -> u64 {
    let name = conf::logging::log_file_name("mbd", "host1");
    std::fs::metadata(cluster.dir.join("log").join(name)).map_or(0, |m| m.len())
}

#[test]
fn a_flood_of_refused_peers_costs_mbd_a_few_log_lines_and_one_reply_each() {
    let cluster = TestCluster::up(1, Duration::from_millis(400), None);
    let key = cluster.key();
    let before = mbd_log_bytes(&cluster);

    // Connect, claim a 4 GiB frame, close: for 10 s, as fast as it goes.
    let mut huge = Header::request(1, op::JOBS, 0);
    huge.length = u32::MAX;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut connections = 0u32;
    while std::time::Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(cluster.mbd_addr()) {
            let _ = s.write_all(&huge.to_bytes());
            connections += 1;
        }
    }

    // 100 KB of frames signed with another key, in one write: one reply.
    let stranger = AuthKey::new(b"not the cluster key".to_vec());
    let mut pipelined = Vec::new();
    let mut nonce = 100;
    while pipelined.len() < 100_000 {
        pipelined.extend_from_slice(&signed(op::QUEUES, &stranger, nonce, 0));
        nonce += 1;
    }
    let mut s = TcpStream::connect(cluster.mbd_addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(&pipelined);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let replies = frames_in(&got);
    assert!(
        replies.len() <= 1,
        "{} replies to one refused peer",
        replies.len()
    );

    // A refused frame, then an oversized header in the same write: the
    // refusal is still answered, and nothing else is said about it.
    let mut both = signed(op::QUEUES, &stranger, 1, 0);
    both.extend_from_slice(&huge.to_bytes());
    let mut s = TcpStream::connect(cluster.mbd_addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&both).expect("send");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let statuses: Vec<u32> = frames_in(&got).iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        [status::AUTH],
        "the refusal before the bad header"
    );

    // Served through it all; the log grew by a few lines, not a line each.
    let queues = request_queues(&mut mbd_connect(cluster.mbd_addr()), &key, 7);
    assert_eq!(queues.len(), 2);
    let grown = mbd_log_bytes(&cluster) - before;
    let log = cluster.mbd_log();
    eprintln!("{connections} refused connections in 10 s added {grown} bytes to mbd's log");
    assert!(
        grown < 100_000,
        "{connections} refused connections added {grown} bytes to mbd's log"
    );
    assert!(!log.contains("is not open"), "{log}");
    assert!(log.contains("so far"), "repeats are counted: {log}");
}
