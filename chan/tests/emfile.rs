//! Out of file descriptors: shed load, pause, recover — never spin
//! (scenario 10). Alone in its binary: it lowers the process's fd limit.

mod common;

use chan::{sys, Config, Event};
use common::*;
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[test]
fn emfile_sheds_connections_pauses_without_spinning_and_recovers() {
    let mut chans = chans_with(Config {
        emfile_pause: Duration::from_millis(50),
        ..Config::default()
    });
    let l = chans.tcp_listen(loopback()).unwrap();
    let addr = chans.local_addr(l).unwrap();
    let mut victims: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let (_, hard) = sys::nofile_limit().unwrap();
    // The limit caps fd numbers; fill every free number below it.
    sys::set_nofile_limit(open_fds() + 8).unwrap();
    let mut filler = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        filler.push(f);
    }

    let waits_before = chans.counters().syscalls.epoll_wait;
    let during = events_during(&mut chans, Duration::from_millis(300));
    let waits = chans.counters().syscalls.epoll_wait - waits_before;
    sys::set_nofile_limit(hard).unwrap();
    drop(filler);

    assert!(
        during.iter().all(|e| !matches!(e, Event::Accepted { .. })),
        "{during:?}"
    );
    let c = *chans.counters();
    assert!(c.emfile_pauses >= 1, "{c:?}");
    assert!(c.shed_connections >= 5, "{c:?}");
    // 300 ms at a 50 ms pause is about 6 pauses; a spin would be thousands.
    assert!(waits < 40, "{waits} wakeups in 300 ms: the loop spun");
    for v in &mut victims {
        v.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0u8; 1];
        assert!(
            matches!(v.read(&mut buf), Ok(0) | Err(_)),
            "shed peer not closed"
        );
    }

    // With fds back, the listener resumes by itself.
    let _fresh = TcpStream::connect(addr).unwrap();
    wait_for(&mut chans, "accept after recovery", |_, e| {
        matches!(e, Event::Accepted { .. }).then_some(())
    });
}
