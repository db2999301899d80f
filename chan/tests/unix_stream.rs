//! Unix-domain streams: a listener on a path, frames both ways, and the
//! peer's credentials as the kernel saw them.

mod common;

use chan::Event;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

fn socket_path(test: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("chan-unix-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    (dir, path)
}

fn accept(chans: &mut chan::Channels, listener: chan::ChanId) -> chan::ChanId {
    wait_for(chans, "accept", |_, e| match e {
        Event::Accepted { listener: l, id } if l == listener => Some(id),
        _ => None,
    })
}

#[test]
fn a_unix_connection_carries_frames_and_names_its_peer() {
    let (dir, path) = socket_path("peer");
    let mut chans = chans();
    let listener = chans.unix_listen(&path).unwrap();
    let mut client = UnixStream::connect(&path).unwrap();
    let server = accept(&mut chans, listener);

    let cred = chans.peer_cred(server).unwrap();
    let (uid, gid) = os::users::ids();
    assert_eq!(
        (cred.pid, cred.uid, cred.gid),
        (std::process::id(), uid, gid)
    );

    client.write_all(&frame(7, b"over a path")).unwrap();
    let got = next_frame(&mut chans, server);
    assert_eq!(got.as_bytes(), &frame(7, b"over a path")[..]);
    chans.send(server, &frame(8, b"back")).unwrap();
    let mut reply = vec![0; frame(8, b"back").len()];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, frame(8, b"back"));

    // A second listener on a path in use is refused, not silently shared.
    assert!(chans.unix_listen(&path).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_listeners_frame_limit_is_its_connections_limit() {
    let (dir, path) = socket_path("limit");
    let mut chans = chans();
    let listener = chans.unix_listen(&path).unwrap();
    chans.set_max_frame_body(listener, 16).unwrap();
    let mut client = UnixStream::connect(&path).unwrap();
    let server = accept(&mut chans, listener);
    client.write_all(&frame(1, &[7; 16])).unwrap();
    assert_eq!(next_frame(&mut chans, server).as_bytes().len(), 20 + 16);
    client.write_all(&frame(2, &[7; 17])).unwrap();
    wait_for(&mut chans, "frame error", |_, e| match e {
        Event::Error {
            id,
            error: chan::ChanError::Frame(_),
        } if id == server => Some(()),
        Event::Frame { .. } => panic!("a 17-byte body passed a 16-byte limit"),
        _ => None,
    });
    let _ = std::fs::remove_dir_all(&dir);
}
