//! The Masks shim answers what chanSelect_ answered, checked against
//! poll(2) on the very same sockets (scenario 18).

mod common;

use chan::{sys, ChanId, Masks, Select};
use common::*;
use std::io::Write;
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// What poll(2) says about one fd right now.
fn poll_now(fd: i32) -> i16 {
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP,
        revents: 0,
    }];
    sys::poll(&mut p, 0).unwrap();
    p[0].revents
}

struct Case {
    id: ChanId,
    /// Whether the bytes sent so far hold a whole frame.
    whole_frame: bool,
}

/// The legacy meaning, computed from poll: readable with a whole frame
/// (or any readiness for non-stream channels) -> rmask; peer shut down and
/// no whole frame pending -> emask; POLLOUT -> wmask.
fn oracle(revents: i16, case: &Case, stream: bool) -> (bool, bool, bool) {
    let readable = revents & libc::POLLIN != 0;
    let shut = revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0;
    let r = readable && (!stream || case.whole_frame);
    let e = stream && shut && !case.whole_frame;
    let w = revents & libc::POLLOUT != 0;
    (r, w, e)
}

#[test]
fn masks_match_a_poll_oracle_on_the_same_sockets() {
    let mut chans = chans();
    let l = chans.tcp_listen(loopback()).unwrap();
    let (mut c_whole, whole) = connect_another(&mut chans, l);
    let (mut c_half, half) = connect_another(&mut chans, l);
    let (_c_idle, idle) = connect_another(&mut chans, l);
    let (c_shut, shut) = connect_another(&mut chans, l);
    let (mut c_frame_shut, frame_shut) = connect_another(&mut chans, l);
    let udp = chans.udp_bind(loopback()).unwrap();
    let timer = chans
        .timer(Duration::from_millis(1), Duration::ZERO)
        .unwrap();
    let _pending = TcpStream::connect(chans.local_addr(l).unwrap()).unwrap();

    c_whole.write_all(&frame(1, b"whole")).unwrap();
    c_half.write_all(&frame(2, b"half")[..22]).unwrap();
    c_shut.shutdown(Shutdown::Write).unwrap();
    c_frame_shut.write_all(&frame(3, b"then eof")).unwrap();
    c_frame_shut.shutdown(Shutdown::Write).unwrap();
    UdpSocket::bind(loopback())
        .unwrap()
        .send_to(b"dgram", chans.local_addr(udp).unwrap())
        .unwrap();

    let streams = [
        Case {
            id: whole,
            whole_frame: true,
        },
        Case {
            id: half,
            whole_frame: false,
        },
        Case {
            id: idle,
            whole_frame: false,
        },
        Case {
            id: shut,
            whole_frame: false,
        },
        Case {
            id: frame_shut,
            whole_frame: true,
        },
    ];
    let others = [
        Case {
            id: l,
            whole_frame: false,
        },
        Case {
            id: udp,
            whole_frame: false,
        },
        Case {
            id: timer,
            whole_frame: false,
        },
    ];

    // Wait until the kernel has everything in place (poll is the oracle).
    let deadline = Instant::now() + PATIENCE;
    while others
        .iter()
        .chain(&streams[..2])
        .any(|c| poll_now(chans.raw_fd(c.id).unwrap()) & libc::POLLIN == 0)
        || poll_now(chans.raw_fd(shut).unwrap()) & libc::POLLRDHUP == 0
    {
        assert!(Instant::now() < deadline, "kernel state never settled");
        std::thread::sleep(Duration::from_millis(1));
    }
    let expected: Vec<(ChanId, (bool, bool, bool))> = streams
        .iter()
        .map(|c| (c.id, oracle(poll_now(chans.raw_fd(c.id).unwrap()), c, true)))
        .chain(others.iter().map(|c| {
            (
                c.id,
                oracle(poll_now(chans.raw_fd(c.id).unwrap()), c, false),
            )
        }))
        .collect();

    let mut watch = Masks::default();
    for (id, _) in &expected {
        watch.rmask.set(*id);
    }
    for c in &streams {
        watch.wmask.set(c.id);
    }
    let mut ready = Masks::default();
    let mut select = Select::new();
    let n = select
        .chan_select(&mut chans, &watch, &mut ready, Some(PATIENCE))
        .unwrap();
    for (id, (r, w, e)) in &expected {
        let want_w = *w && watch.wmask.is_set(*id);
        assert_eq!(
            (
                ready.rmask.is_set(*id),
                ready.wmask.is_set(*id),
                ready.emask.is_set(*id)
            ),
            (*r, want_w, *e),
            "masks for {id} disagree with poll"
        );
    }
    assert_eq!(
        n,
        ready.rmask.count() + ready.wmask.count() + ready.emask.count()
    );

    // Legacy follow-up calls: dequeue, accept, datagram, then the EOF
    // that was held back behind the frame shows in emask.
    assert_eq!(select.dequeue(whole).unwrap().body(), b"whole");
    assert!(select.dequeue(half).is_none());
    assert!(select.accept(l).is_some());
    assert_eq!(&select.recv_from(udp).unwrap().1[..], b"dgram");
    assert!(matches!(
        select.take_event(timer),
        Some(chan::Event::Timer { .. })
    ));
    assert_eq!(select.dequeue(frame_shut).unwrap().body(), b"then eof");
    select
        .chan_select(&mut chans, &watch, &mut ready, Some(Duration::ZERO))
        .unwrap();
    assert!(ready.emask.is_set(frame_shut) && !ready.rmask.is_set(frame_shut));
    assert!(!ready.rmask.is_set(whole) && !ready.emask.is_set(whole));
}
