//! Signing batch requests for local users who cannot read the cluster key.
//!
//! Whoever can read `ll.auth.key` can sign a request as any uid, root
//! included, so on a real cluster the key is readable by root (and the
//! daemons' account) only. A user's command then hands its request to the
//! lim of its own machine over a Unix socket; lim takes the caller's uid
//! and gid from the kernel (`SO_PEERCRED`), never from the request, signs
//! the frame as that user and hands it back with the key mbd's replies to
//! it will be tagged with (`proto::auth::ReplyKey`), and the command sends
//! it to mbd as before and checks the reply. mbd cannot tell the
//! difference and needs none: the identity in a frame signed this way is
//! the kernel's.
//!
//! Only the batch commands' requests are signed for users: sbd's messages
//! and lim's own datagrams need a daemon's identity.

use bytes::BytesMut;
use proto::auth::{encode_signed, AuthKey, Credentials, ReplyKey};
use proto::lim::{op, status, SignRequest, SignedRequest};
use proto::mbd::MAX_REQUEST_BODY;
use proto::{Decode, Header};
use std::fmt;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest signing request lim reads: an mbd request's body, its auth
/// block and the wrapping.
pub const MAX_SIGN_BODY: u32 = MAX_REQUEST_BODY + 1024;

/// Whether `operation` is one lim signs for users: one of the batch
/// commands' requests (`proto::mbd::op::USER_REQUESTS`), compared whole.
pub fn signable(operation: u32) -> bool {
    proto::mbd::op::USER_REQUESTS.contains(&operation)
}

/// The frame `req` describes, signed as `who` for the connection whose
/// challenge `req` carries, with its reply key; or why not.
pub fn sign(req: &SignRequest, who: &Credentials, key: &AuthKey) -> Result<SignedRequest, String> {
    if !signable(req.operation) {
        return Err(format!(
            "operation {:#06x} is not a batch command's: not signed",
            req.operation
        ));
    }
    let who = Credentials {
        challenge: req.challenge,
        ..who.clone()
    };
    let mut frame = BytesMut::new();
    let header = Header::request(req.sequence, req.operation, 0);
    encode_signed(header, &who, &req.body, key, &mut frame);
    Ok(SignedRequest {
        reply_key: ReplyKey::of_request(key, &frame),
        frame: frame.to_vec(),
    })
}

/// Where host `host`'s lim takes signing requests.
pub fn socket_path(state_dir: &Path, host: &str) -> PathBuf {
    state_dir.join(format!("lim.{host}.sock"))
}

/// The signing sockets of this machine's lims: this host's first, then
/// any other in `state_dir` (simulated hosts all run on one machine).
pub fn local_sockets(state_dir: &Path, this_host: &str) -> Vec<PathBuf> {
    let own = socket_path(state_dir, this_host);
    let mut others: Vec<PathBuf> = std::fs::read_dir(state_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p != &own && is_sign_socket(p))
        .collect();
    others.sort();
    std::iter::once(own).chain(others).collect()
}

fn is_sign_socket(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("lim.") && name.ends_with(".sock")
}

/// Why no local lim signed a request.
#[derive(Debug)]
pub enum SignError {
    /// No lim answered; each socket tried with why.
    NoSigner(Vec<(PathBuf, String)>),
    /// A lim answered and refused.
    Refused(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::NoSigner(tried) => {
                f.write_str("no local lim signs requests")?;
                for (i, (path, why)) in tried.iter().enumerate() {
                    let sep = if i == 0 { ":" } else { ";" };
                    write!(f, "{sep} {}: {why}", path.display())?;
                }
                Ok(())
            }
            SignError::Refused(why) => write!(f, "the local lim refused to sign: {why}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Has a local lim sign `req` as the calling user; the signed frame and
/// its reply key.
pub fn sign_locally(
    state_dir: &Path,
    this_host: &str,
    req: &SignRequest,
    timeout: Duration,
) -> Result<SignedRequest, SignError> {
    let mut tried = Vec::new();
    for path in local_sockets(state_dir, this_host) {
        match ask(&path, req, timeout) {
            Ok(Ok(frame)) => return Ok(frame),
            Ok(Err(refusal)) => return Err(SignError::Refused(refusal)),
            Err(e) => tried.push((path, e.to_string())),
        }
    }
    Err(SignError::NoSigner(tried))
}

/// One exchange: `Err` if this lim could not be asked, `Ok(Err)` if it
/// refused.
fn ask(
    path: &Path,
    req: &SignRequest,
    timeout: Duration,
) -> std::io::Result<Result<SignedRequest, String>> {
    exchange(path, op::SIGN, req, timeout)
}

/// One request on a local lim's socket and its answer: `Err` if it could
/// not be asked, `Ok(Err)` with its message if it refused.
fn exchange<R: Decode>(
    path: &Path,
    operation: u32,
    req: &(impl proto::Encode + ?Sized),
    timeout: Duration,
) -> std::io::Result<Result<R, String>> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut frame = BytesMut::new();
    proto::encode_frame(Header::request(1, operation, 0), req, &mut frame);
    stream.write_all(&frame)?;
    let (header, body) = chan::blocking::read_frame(&mut stream, MAX_SIGN_BODY)?;
    let bad = |e: proto::xdr::DecodeError| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    if header.status != status::OK {
        return Ok(Err(String::from_body(&body).map_err(bad)?));
    }
    Ok(Ok(R::from_body(&body).map_err(bad)?))
}

/// `lsadmin reconfig`: has a lim of this machine read the cluster file
/// again (it then tells every other lim to). What it says changed, or why
/// it changed nothing (`Ok(Err)`); `Err`: no local lim answered, each
/// socket tried with why.
#[allow(clippy::type_complexity)]
pub fn reconfig_locally(
    state_dir: &Path,
    this_host: &str,
    timeout: Duration,
) -> Result<Result<String, String>, Vec<(PathBuf, String)>> {
    let mut tried = Vec::new();
    for path in local_sockets(state_dir, this_host) {
        match exchange(&path, op::RECONFIG, &(), timeout) {
            Ok(answer) => return Ok(answer),
            Err(e) => tried.push((path, e.to_string())),
        }
    }
    Err(tried)
}

/// The reply to a signing request: the signed frame, or why not.
pub fn reply(request: &Header, signed: Result<SignedRequest, String>, out: &mut BytesMut) {
    match signed {
        Ok(signed) => proto::encode_frame(request.reply(status::OK, 0), &signed, out),
        Err(why) => proto::encode_frame(request.reply(status::BAD_REQUEST, 0), &why, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::auth::{verify, ReplayGuard};

    fn ann() -> Credentials {
        Credentials {
            uid: 1000,
            gid: 100,
            user: "ann".into(),
            timestamp: 5_000,
            nonce: 9,
            challenge: 0,
        }
    }

    #[test]
    fn a_batch_request_is_signed_as_the_given_user_and_verifies() {
        let key = AuthKey::new(vec![3; 32]);
        let req = SignRequest {
            sequence: 4,
            operation: proto::mbd::op::SUBMIT,
            challenge: 0x5eed,
            body: b"the request".to_vec(),
        };
        let signed = sign(&req, &ann(), &key).unwrap();
        let frame = &signed.frame[..];
        let ok = verify(frame, &key, 5_001, &mut ReplayGuard::default(), 0x5eed).unwrap();
        assert_eq!(
            (ok.creds.uid, ok.creds.gid, ok.creds.user.as_str()),
            (1000, 100, "ann")
        );
        assert_eq!(ok.body, b"the request");
        assert_eq!(signed.reply_key, ReplyKey::of_request(&key, frame));
        let header = Header::parse(frame).unwrap();
        assert_eq!(
            (header.sequence, header.operation),
            (4, proto::mbd::op::SUBMIT)
        );
    }

    #[test]
    fn daemon_messages_are_never_signed_for_users() {
        let key = AuthKey::new(vec![3; 32]);
        for operation in [
            proto::sbd::op::REGISTER,
            proto::sbd::op::FINISHED,
            op::BEACON,
            op::LOAD_REPORT,
            0,
            // Batch-looking bits in a wider word, and the next free opcode.
            0xFFFF_0200,
            0x0001_0200,
            proto::mbd::op::MBD_RESTART + 1,
        ] {
            let req = SignRequest {
                sequence: 1,
                operation,
                ..SignRequest::default()
            };
            assert!(
                sign(&req, &ann(), &key).is_err(),
                "{operation:#x} was signed"
            );
        }
    }

    #[test]
    fn this_hosts_socket_comes_first_then_the_others_found() {
        let dir = std::env::temp_dir().join(format!("lim-sign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["lim.b.sock", "lim.a.sock", "sbd.a", "lim.me.sock", "mbd"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let found = local_sockets(&dir, "me");
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["lim.me.sock", "lim.a.sock", "lim.b.sock"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
