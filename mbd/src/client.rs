//! The batch commands' side: one signed request per connection, blocking,
//! with LavaLite's connect and reply timeouts.
//!
//! mbd greets each connection with a challenge; the request is signed for
//! it (so it is worth nothing on any other connection, to anyone who
//! captured it), and every reply frame must carry the tag of the
//! request's reply key (so an impostor on mbd's port cannot answer). See
//! docs/protocol.md.

use crate::settings::{Endpoint, SettingsError, Signing};
use bytes::BytesMut;
use conf::ConfDir;
use proto::auth::{encode_signed, verify_reply, Credentials, ReplyKey};
use proto::lim::{SignRequest, SignedRequest};
use proto::mbd::{op, status, Hello, MAX_REQUEST_BODY};
use proto::{Decode, Encode, Header};
use std::fmt;
use std::io::Write;
use std::net::TcpStream;

/// Replies bigger than this are refused.
const MAX_REPLY_BODY: u32 = 64 << 20;
/// mbd's greeting is a few bytes.
const MAX_HELLO_BODY: u32 = 64;

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
    /// What answered at mbd's address is not this cluster's mbd (or its
    /// key differs): the reply proves nothing, so it is not believed.
    Forged(String),
}

impl ClientError {
    /// Whether mbd may have carried the request out although the caller
    /// got no answer.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ClientError::NoReply(_) | ClientError::Forged(_))
    }

    /// What happened, in words: mbd's reason for a refusal (`Job <9> is
    /// not found`, `Job has already finished`; LavaLite printed only its
    /// errno's `strerror`, `No such process`), the error itself otherwise.
    pub fn reason(&self) -> String {
        match self {
            ClientError::Refused { message, .. } if !message.is_empty() => message.clone(),
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
            ClientError::Forged(addr) => write!(
                f,
                "the answer from {addr} is not from this cluster's mbd (its reply does not verify: an impostor on mbd's port, or a different ll.auth.key); not believed"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Talks to the cluster's mbd as the calling user.
#[derive(Clone, Debug)]
pub struct BatchClient {
    pub endpoint: Endpoint,
    pub signing: Signing,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
}

/// With master candidates (`LL_MASTER_LIST`), mbd runs on lim's master:
/// `endpoint` is pointed there. If no lim answers, the first candidate
/// is tried (a standby refuses at once, and the error says so).
fn follow_master(dir: &ConfDir, endpoint: &mut Endpoint) {
    if endpoint.candidates.is_empty() {
        return;
    }
    let master = (lim::client::LimClient::from_conf(dir).ok())
        .map(|lim| lim.local_first(&os::host::name()))
        .and_then(|lim| lim.master().ok());
    let found = master.and_then(|m| endpoint.candidates.iter().find(|(h, _)| *h == m).cloned());
    if let Some((host, addr)) = found {
        endpoint.host = host;
        endpoint.addr = addr;
    }
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
        let mut endpoint = Endpoint::new(dir, &ll).map_err(|e| ClientError::Settings(e.into()))?;
        follow_master(dir, &mut endpoint);
        let signing = Signing::load(dir, &ll).map_err(ClientError::Settings)?;
        let (uid, gid) = os::users::ids();
        let user = os::users::name_of(uid);
        Ok(BatchClient {
            endpoint,
            signing,
            uid,
            gid,
            user,
        })
    }

    /// Waits at least `wait` for replies: for a request mbd answers only
    /// once it has read its archives (a year of history, or an older
    /// mbd's archive to index, may take longer than `LL_API_RECVTIMEOUT`).
    pub fn patient(mut self, wait: std::time::Duration) -> BatchClient {
        self.endpoint.reply_timeout = self.endpoint.reply_timeout.max(wait);
        self
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
        let mut exchange = self.send(op, request)?;
        self.receive(&mut exchange)
    }

    /// One request, a streamed reply: chunks until `more` says none follows.
    pub fn stream<Q: Encode + ?Sized, C: Decode>(
        &self,
        op: u32,
        request: &Q,
        more: impl Fn(&C) -> bool,
    ) -> Result<Vec<C>, ClientError> {
        let mut chunks = Vec::new();
        self.stream_each(op, request, more, |c| chunks.push(c))?;
        Ok(chunks)
    }

    /// [`BatchClient::stream`], handing each chunk to `each` as it comes
    /// (a long listing is not held whole).
    pub fn stream_each<Q: Encode + ?Sized, C: Decode>(
        &self,
        op: u32,
        request: &Q,
        more: impl Fn(&C) -> bool,
        mut each: impl FnMut(C),
    ) -> Result<(), ClientError> {
        let mut exchange = self.send(op, request)?;
        loop {
            let chunk: C = self.receive(&mut exchange)?;
            let again = more(&chunk);
            each(chunk);
            if !again {
                return Ok(());
            }
        }
    }

    fn send<Q: Encode + ?Sized>(&self, op: u32, request: &Q) -> Result<Exchange, ClientError> {
        let e = &self.endpoint;
        let unreachable = |err: std::io::Error| {
            ClientError::Unreachable(format!("{} ({}): {err}", e.host, e.addr))
        };
        let creds = self.credentials()?;
        let mut body = Vec::new();
        request.encode(&mut body);
        // mbd would drop the connection on reading the header: say why here.
        let size = creds.block_len() + body.len();
        if size > MAX_REQUEST_BODY as usize {
            return Err(ClientError::TooLarge(size));
        }
        let mut stream = chan::blocking::connect(e.addr, e.connect_timeout, e.reply_timeout)
            .map_err(unreachable)?;
        let challenge = self.greeting(&mut stream)?;
        let signed = self.signed(op, &body, Credentials { challenge, ..creds })?;
        stream
            .write_all(&signed.frame)
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                    ClientError::Unreachable(closed_by(&e.host))
                }
                _ => unreachable(err),
            })?;
        Ok(Exchange {
            stream,
            reply_key: signed.reply_key,
            frames: 0,
        })
    }

    /// The challenge mbd greets a connection with. Nothing was sent yet, so
    /// any failure here leaves nothing done.
    fn greeting(&self, stream: &mut TcpStream) -> Result<u64, ClientError> {
        let (header, body) = chan::blocking::read_reply(stream, MAX_HELLO_BODY).map_err(|e| {
            match self.no_reply(e) {
                ClientError::NoReply(why) => ClientError::Unreachable(why),
                other => other,
            }
        })?;
        let hello = (header.operation == op::HELLO)
            .then(|| Hello::from_body(&body).ok())
            .flatten();
        hello.map(|h| h.challenge).ok_or_else(|| {
            ClientError::Protocol(format!(
                "{} did not greet this command as mbd does (an mbd of another version?)",
                self.endpoint.addr
            ))
        })
    }

    fn credentials(&self) -> Result<Credentials, ClientError> {
        let nonce = os::random::u64()
            .map_err(|e| ClientError::NotSigned(format!("no randomness for a nonce: {e}")))?;
        Ok(Credentials {
            uid: self.uid,
            gid: self.gid,
            user: self.user.clone(),
            timestamp: os::host::unix_now(),
            nonce,
            challenge: 0,
        })
    }

    /// The request's frame, signed as this user for the connection whose
    /// challenge `creds` carries, and the key mbd's reply must carry.
    fn signed(
        &self,
        op: u32,
        body: &[u8],
        creds: Credentials,
    ) -> Result<SignedRequest, ClientError> {
        match &self.signing {
            Signing::Key(key) => {
                let mut frame = BytesMut::new();
                encode_signed(Header::request(1, op, 0), &creds, body, key, &mut frame);
                Ok(SignedRequest {
                    reply_key: ReplyKey::of_request(key, &frame),
                    frame: frame.into(),
                })
            }
            Signing::LocalLim { state_dir, host } => {
                let request = SignRequest {
                    sequence: 1,
                    operation: op,
                    challenge: creds.challenge,
                    body: body.to_vec(),
                };
                let timeout = self.endpoint.reply_timeout;
                lim::sign::sign_locally(state_dir, host, &request, timeout)
                    .map_err(|e| ClientError::NotSigned(e.to_string()))
            }
        }
    }

    /// The next reply frame, believed only if it carries the request's tag.
    fn receive<R: Decode>(&self, exchange: &mut Exchange) -> Result<R, ClientError> {
        let (header, rest) = chan::blocking::read_reply(&mut exchange.stream, MAX_REPLY_BODY)
            .map_err(|e| self.no_reply(e))?;
        let body = verify_reply(&header, &rest, &exchange.reply_key, exchange.frames)
            .map_err(|_| ClientError::Forged(self.endpoint.addr.to_string()))?;
        exchange.frames += 1;
        if header.status != status::OK {
            return Err(ClientError::Refused {
                status: header.status,
                message: String::from_body(body).unwrap_or_default(),
            });
        }
        R::from_body(body).map_err(|e| ClientError::Protocol(e.to_string()))
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

/// A request sent, its replies being read.
struct Exchange {
    stream: TcpStream,
    reply_key: ReplyKey,
    /// Reply frames read so far (each frame's tag covers its number).
    frames: u32,
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
                candidates: Vec::new(),
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

    /// A server that greets one connection with `challenge`, reads the
    /// request, and answers with `answer` made from that request's bytes.
    fn server(answer: fn(&[u8]) -> Option<Vec<u8>>) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut hello = BytesMut::new();
            let greeting = Hello { challenge: 77 };
            proto::encode_frame(Header::request(0, op::HELLO, 0), &greeting, &mut hello);
            s.write_all(&hello).unwrap();
            let (header, body) = chan::blocking::read_frame(&mut s, 1 << 20).unwrap();
            let mut request = header.to_bytes().to_vec();
            request.extend_from_slice(&body);
            if let Some(reply) = answer(&request) {
                s.write_all(&reply).unwrap();
            }
            // Hold the connection until the client is done with it.
            let _ = std::io::Read::read(&mut s, &mut [0; 1]);
        });
        addr
    }

    fn client_of(addr: std::net::SocketAddr) -> BatchClient {
        let mut c = client();
        c.endpoint.addr = addr;
        c
    }

    fn key() -> AuthKey {
        AuthKey::new(vec![7; 32])
    }

    #[test]
    fn a_reply_tagged_for_the_request_is_believed() {
        let addr = server(|request| {
            let mut seen = proto::auth::ReplayGuard::default();
            let now = os::host::unix_now();
            let v = proto::auth::verify(request, &key(), now, &mut seen, 77).ok()?;
            let mut out = BytesMut::new();
            let reply_key = ReplyKey::of_request(&key(), request);
            proto::auth::encode_reply(v.header.reply(0, 0), &5u32, &reply_key, 0, &mut out);
            Some(out.to_vec())
        });
        assert_eq!(client_of(addr).call::<_, u32>(1, &()).unwrap(), 5);
    }

    #[test]
    fn an_untagged_reply_is_not_believed() {
        let addr = server(|request| {
            let header = Header::parse(request).ok()?;
            Some(proto::frame_bytes(header.reply(0, 0), &5u32.to_be_bytes()))
        });
        let err = client_of(addr).call::<_, u32>(1, &()).unwrap_err();
        assert!(
            matches!(err, ClientError::Forged(ref a) if *a == addr.to_string()),
            "{err}"
        );
        assert!(err.outcome_unknown());
    }

    #[test]
    fn greeted_then_silence_may_have_been_carried_out() {
        let mut c = client_of(server(|_| None));
        c.endpoint.reply_timeout = Duration::from_millis(200);
        let err = c.call::<_, u32>(1, &()).unwrap_err();
        assert!(matches!(err, ClientError::NoReply(_)), "{err}");
        assert!(err.outcome_unknown(), "the request was sent");
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
