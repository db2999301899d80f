//! The batch commands' side: one signed request per connection, blocking,
//! with LavaLite's connect and reply timeouts.

use crate::settings::{Endpoint, SettingsError, Signing};
use bytes::BytesMut;
use conf::ConfDir;
use proto::auth::{encode_signed, Credentials};
use proto::lim::SignRequest;
use proto::mbd::{status, MAX_REQUEST_BODY};
use proto::{Decode, Encode, Header};
use std::fmt;
use std::io::Write;
use std::net::TcpStream;

/// Replies bigger than this are refused.
const MAX_REPLY_BODY: u32 = 64 << 20;

#[derive(Debug)]
pub enum ClientError {
    Settings(SettingsError),
    /// mbd could not be reached (nothing was sent).
    Unreachable(String),
    /// The request could not be signed (nothing was sent).
    NotSigned(String),
    /// The request was sent but no whole reply came back (reply timeout,
    /// or the connection broke): mbd may still have carried it out.
    NoReply(String),
    /// mbd turned the request down.
    Refused {
        status: u32,
        message: String,
    },
    /// mbd's reply made no sense.
    Protocol(String),
    /// The signed request would be this many bytes, more than mbd reads
    /// (nothing was sent).
    TooLarge(usize),
}

impl ClientError {
    /// Whether mbd may have carried the request out although the caller
    /// got no answer.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ClientError::NoReply(_))
    }

    /// LavaLite's `<err>` text: the errno string for refusals.
    pub fn errno_text(&self) -> String {
        match self {
            ClientError::Refused { status, .. } => status::text(*status).to_owned(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Settings(e) => e.fmt(f),
            ClientError::Unreachable(why) => write!(f, "cannot reach mbd: {why}"),
            ClientError::NotSigned(why) => write!(f, "cannot sign the request: {why}"),
            ClientError::NoReply(why) => write!(f, "no reply from mbd: {why}"),
            ClientError::Refused { status, message } => {
                write!(f, "{} ({message})", status::text(*status))
            }
            ClientError::Protocol(why) => write!(f, "bad reply from mbd: {why}"),
            ClientError::TooLarge(size) => write!(
                f,
                "request too large: {size} bytes, mbd reads at most {MAX_REQUEST_BODY}"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Talks to the cluster's mbd as the calling user.
#[derive(Debug)]
pub struct BatchClient {
    pub endpoint: Endpoint,
    pub signing: Signing,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
}

impl BatchClient {
    /// The cluster of `$LL_CONF_DIR`, as the process's user.
    pub fn from_env() -> Result<BatchClient, ClientError> {
        let dir = ConfDir::from_env().map_err(|e| ClientError::Settings(e.into()))?;
        BatchClient::for_dir(&dir)
    }

    /// The cluster configured in `dir`, as the process's user.
    pub fn for_dir(dir: &ConfDir) -> Result<BatchClient, ClientError> {
        let ll = dir.ll_conf().map_err(|e| ClientError::Settings(e.into()))?;
        let endpoint = Endpoint::new(dir, &ll).map_err(ClientError::Settings)?;
        let signing = Signing::load(dir, &ll).map_err(ClientError::Settings)?;
        let (uid, gid) = chan::sys::user_ids();
        let user = chan::sys::user_name(uid);
        Ok(BatchClient {
            endpoint,
            signing,
            uid,
            gid,
            user,
        })
    }

    /// Whether this user is a batch admin (root or `LL_MBD_USER`).
    pub fn is_admin(&self) -> bool {
        self.uid == 0 || self.user == self.endpoint.admin_user
    }

    /// One request, one reply.
    pub fn call<Q: Encode + ?Sized, R: Decode>(
        &self,
        op: u32,
        request: &Q,
    ) -> Result<R, ClientError> {
        let mut stream = self.send(op, request)?;
        self.receive(&mut stream)
    }

    /// One request, a streamed reply: chunks until `more` says none follows.
    pub fn stream<Q: Encode + ?Sized, C: Decode>(
        &self,
        op: u32,
        request: &Q,
        more: impl Fn(&C) -> bool,
    ) -> Result<Vec<C>, ClientError> {
        let mut stream = self.send(op, request)?;
        let mut chunks = Vec::new();
        loop {
            let chunk: C = self.receive(&mut stream)?;
            let again = more(&chunk);
            chunks.push(chunk);
            if !again {
                return Ok(chunks);
            }
        }
    }

    fn send<Q: Encode + ?Sized>(&self, op: u32, request: &Q) -> Result<TcpStream, ClientError> {
        let e = &self.endpoint;
        let unreachable = |err: std::io::Error| {
            ClientError::Unreachable(format!("{} ({}): {err}", e.host, e.addr))
        };
        let frame = self.signed(op, request)?;
        let mut stream = chan::blocking::connect(e.addr, e.connect_timeout, e.reply_timeout)
            .map_err(unreachable)?;
        stream.write_all(&frame).map_err(|err| match err.kind() {
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                ClientError::Unreachable(closed_by(&e.host))
            }
            _ => unreachable(err),
        })?;
        Ok(stream)
    }

    /// The request's frame, signed as this user.
    fn signed<Q: Encode + ?Sized>(&self, op: u32, request: &Q) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        request.encode(&mut body);
        let creds = Credentials {
            uid: self.uid,
            gid: self.gid,
            user: self.user.clone(),
            timestamp: chan::sys::unix_now(),
            nonce: chan::sys::random_u64(),
        };
        // mbd would drop the connection on reading the header: say why here.
        let size = creds.block_len() + body.len();
        if size > MAX_REQUEST_BODY as usize {
            return Err(ClientError::TooLarge(size));
        }
        match &self.signing {
            Signing::Key(key) => {
                let mut frame = BytesMut::new();
                encode_signed(Header::request(1, op, 0), &creds, &body, key, &mut frame);
                Ok(frame.into())
            }
            Signing::LocalLim { state_dir, host } => {
                let request = SignRequest {
                    sequence: 1,
                    operation: op,
                    body,
                };
                let timeout = self.endpoint.reply_timeout;
                lim::sign::sign_locally(state_dir, host, &request, timeout)
                    .map_err(|e| ClientError::NotSigned(e.to_string()))
            }
        }
    }

    fn receive<R: Decode>(&self, stream: &mut TcpStream) -> Result<R, ClientError> {
        let (header, body) =
            chan::blocking::read_reply(stream, MAX_REPLY_BODY).map_err(|e| self.no_reply(e))?;
        if header.status != status::OK {
            return Err(ClientError::Refused {
                status: header.status,
                message: String::from_body(&body).unwrap_or_default(),
            });
        }
        R::from_body(&body).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// What a failed read of the reply means for the caller.
    fn no_reply(&self, e: std::io::Error) -> ClientError {
        let host = &self.endpoint.host;
        match e.kind() {
            std::io::ErrorKind::InvalidData => ClientError::Protocol(e.to_string()),
            std::io::ErrorKind::TimedOut => {
                ClientError::NoReply(format!("{host}: {e} (LL_API_RECVTIMEOUT)"))
            }
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                ClientError::NoReply(closed_by(host))
            }
            _ => ClientError::NoReply(format!("{host}: {e}")),
        }
    }
}

/// An mbd that closes a connection unasked has stopped, or is out of file
/// descriptors and sheds new clients (a reset, often before the request
/// was even read).
fn closed_by(host: &str) -> String {
    format!("{host} closed the connection (stopped, or out of file descriptors: see mbd's log)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Endpoint;
    use proto::auth::AuthKey;
    use std::time::Duration;

    fn client() -> BatchClient {
        BatchClient {
            endpoint: Endpoint {
                host: "nowhere".into(),
                // Nothing listens on port 1 of loopback.
                addr: "127.0.0.1:1".parse().unwrap(),
                connect_timeout: Duration::from_secs(1),
                reply_timeout: Duration::from_secs(1),
                admin_user: "root".into(),
            },
            signing: Signing::Key(AuthKey::new(vec![7; 32])),
            uid: 1000,
            gid: 1000,
            user: "ann".into(),
        }
    }

    #[test]
    fn a_request_mbd_would_not_read_is_refused_before_sending() {
        let big = "x".repeat(MAX_REQUEST_BODY as usize);
        match client().call::<_, ()>(1, &big) {
            Err(ClientError::TooLarge(size)) => assert!(size > MAX_REQUEST_BODY as usize),
            other => panic!("{other:?}"),
        }
        let fits = "x".repeat(MAX_REQUEST_BODY as usize - 200);
        assert!(matches!(
            client().call::<_, ()>(1, &fits),
            Err(ClientError::Unreachable(_))
        ));
    }
}
