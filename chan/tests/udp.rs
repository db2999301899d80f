//! UDP channels (scenario 9).

mod common;

use chan::Event;
use common::*;
use std::net::UdpSocket;

#[test]
fn zero_byte_datagram_is_data_not_eof() {
    let mut chans = chans();
    let u = chans.udp_bind(loopback()).unwrap();
    let addr = chans.local_addr(u).unwrap();
    let peer = UdpSocket::bind(loopback()).unwrap();
    peer.send_to(&[], addr).unwrap();
    peer.send_to(b"after", addr).unwrap();
    let mut got = Vec::new();
    wait_for(&mut chans, "two datagrams", |_, e| match e {
        Event::Datagram { id, from, data } if id == u => {
            assert_eq!(from, peer.local_addr().unwrap());
            got.push(data);
            (got.len() == 2).then_some(())
        }
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(got, vec![&b""[..], &b"after"[..]]);
    // The channel is still open and working after the empty datagram.
    chans
        .send_to(u, b"reply", peer.local_addr().unwrap())
        .unwrap();
    let mut buf = [0u8; 16];
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"reply"[..], addr));
}

#[test]
fn datagram_burst_is_drained_within_budget_and_nothing_lost() {
    let mut chans = chans();
    let u = chans.udp_bind(loopback()).unwrap();
    let addr = chans.local_addr(u).unwrap();
    let peer = UdpSocket::bind(loopback()).unwrap();
    for i in 0..200u32 {
        peer.send_to(&i.to_be_bytes(), addr).unwrap();
    }
    let mut seen = Vec::new();
    wait_for(&mut chans, "200 datagrams", |_, e| match e {
        Event::Datagram { data, .. } => {
            seen.push(u32::from_be_bytes(data[..].try_into().unwrap()));
            (seen.len() == 200).then_some(())
        }
        _ => None,
    });
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
    assert!(
        chans.counters().budget_exhausted > 0,
        "a 200-datagram burst should exceed the budget of 64"
    );
}
