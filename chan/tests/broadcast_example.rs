//! The broadcast example (chan/examples/broadcast.rs): lines reach every
//! other client, and a client that stops reading is dropped once its
//! queue passes the bound while the others receive everything.

mod common;

use common::{Example, PATIENCE};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn client(example: &Example) -> TcpStream {
    let s = TcpStream::connect(example.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    l
}

#[test]
fn lines_reach_the_others_and_a_slow_reader_is_dropped_alone() {
    let example = Example::start("broadcast", &["127.0.0.1:0", "65536"]);
    let mut b = BufReader::new(client(&example));
    let mut c = client(&example);
    // c's line reaching b proves both were accepted.
    c.write_all(b"c is here\n").unwrap();
    assert_eq!(line(&mut b), "c is here\n");
    let mut slow = client(&example);
    slow.write_all(b"slow is here\n").unwrap();
    assert_eq!(line(&mut b), "slow is here\n");
    let mut a = client(&example);
    a.write_all(b"hello\n").unwrap();
    assert_eq!(line(&mut b), "hello\n");

    // 32 MiB from a; b reads it all while `slow` reads nothing.
    let chunk: Vec<u8> = [vec![b'x'; 1023], vec![b'\n']].concat();
    let total = 32 * 1024;
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = String::new();
        while got < total {
            buf.clear();
            assert!(
                b.read_line(&mut buf).unwrap() > 0,
                "b was cut off after {got} lines"
            );
            if buf.len() == 1024 {
                got += 1;
            }
        }
        got
    });
    for _ in 0..total {
        a.write_all(&chunk).unwrap();
    }
    assert_eq!(reader.join().unwrap(), total, "b got every line");
    // The slow reader was dropped: what it can still read ends.
    let mut rest = Vec::new();
    match slow.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("slow is still connected: {e}"),
    }
    assert!(rest.len() < total * 1024, "slow got everything");
}
