//! Raw channels (`Channels::set_raw`): bytes that are not LavaLite frames
//! (HTTP, a proxied stream) are handed out as they arrive, in order and
//! whole, on connections a raw listener accepts; a framed listener on the
//! same table still cuts frames.

mod common;

use chan::Event;
use common::*;
use std::io::{Read, Write};

#[test]
fn a_raw_listeners_connections_hand_out_any_bytes_in_order() {
    let mut chans = chans();
    let listener = chans.tcp_listen(loopback()).unwrap();
    chans.set_raw(listener).unwrap();
    let (mut client, server) = connect_another(&mut chans, listener);
    // Bytes a frame header would reject (a length of 0x20544547...).
    let sent: Vec<u8> = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        .iter()
        .copied()
        .cycle()
        .take(100_000)
        .collect();
    for piece in sent.chunks(7_777) {
        client.write_all(piece).unwrap();
    }
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    wait_for(&mut chans, "every byte, then EOF", |chans, e| match e {
        Event::Data { id, data } if id == server => {
            assert!(!data.is_empty());
            got.extend_from_slice(&data);
            chans.send(server, &data).unwrap();
            None
        }
        Event::Eof { id } if id == server => Some(()),
        Event::Frame { .. } | Event::Error { .. } => panic!("{e:?}"),
        _ => None,
    });
    assert_eq!(got, sent);
    chans.close_when_flushed(server).unwrap();
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).unwrap();
    assert_eq!(echoed, sent, "sent back as given");
}

#[test]
fn framed_and_raw_listeners_share_a_table() {
    let mut chans = chans();
    let framed = chans.tcp_listen(loopback()).unwrap();
    let raw = chans.tcp_listen(loopback()).unwrap();
    chans.set_raw(raw).unwrap();
    let (mut f_client, f_server) = connect_another(&mut chans, framed);
    let (mut r_client, r_server) = connect_another(&mut chans, raw);
    f_client.write_all(&frame(9, b"body")).unwrap();
    r_client.write_all(b"hello").unwrap();
    let frame = next_frame(&mut chans, f_server);
    assert_eq!((frame.header().sequence, frame.body()), (9, &b"body"[..]));
    let data = wait_for(&mut chans, "raw bytes", |_, e| match e {
        Event::Data { id, data } if id == r_server => Some(data),
        _ => None,
    });
    assert_eq!(&data[..], b"hello");
}
