//! The lim event loop: a thin shell that moves datagrams, queries, ticks
//! and signals between `chan` and the pure modules.

use crate::datagram::{Datagram, DatagramCodec, DropReason};
use crate::election::{Change, Election, ElectionConfig};
use crate::load_table::LoadTable;
use crate::port_holder;
use crate::probe::{HostProbe, ProbeError};
use crate::settings::{Settings, MISS_TICKS};
use crate::sign;
use bytes::BytesMut;
use chan::{ChanError, ChanId, Channels, Config, Event, Frame};
use os::host::unix_now;
use proto::auth::Credentials;
use proto::lim::{
    op, status, Beacon, ClusterInfo, LimStats, LoadReport, LoadVector, ReconfigNote, SignRequest,
    StaticInfo,
};
use proto::{Decode, Encode, Header};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Query frames are empty; anything bigger is not a lim client.
const MAX_QUERY_BODY: u32 = 4096;

/// A query connection is one request and one reply; one still open after
/// this many ticks (10 s at the default tick) is idle or stuck and is
/// closed, so idle clients cannot pile up and hold descriptors.
const QUERY_IDLE_TICKS: u32 = 2;

/// Why lim could not start or stopped serving.
#[derive(Debug)]
pub enum DaemonError {
    /// A socket, timer or the event loop failed; `what` says which.
    Chan {
        what: String,
        source: ChanError,
    },
    Probe(ProbeError),
    /// Another lim for this host is running: its signing socket answers.
    AlreadyRunning(PathBuf),
    /// The kernel gave no random bytes (for nonces).
    NoRandomness(std::io::Error),
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::Chan { what, source } => write!(f, "{what}: {source}"),
            DaemonError::Probe(e) => write!(f, "cannot read host information: {e}"),
            DaemonError::NoRandomness(e) => write!(f, "no randomness for nonces: {e}"),
            DaemonError::AlreadyRunning(path) => write!(
                f,
                "another lim for this host is running: {} answers",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DaemonError {}

fn chan_err(what: impl Into<String>) -> impl FnOnce(ChanError) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Chan { what, source }
}

/// A running lim.
pub struct Lim {
    chans: Channels,
    udp: ChanId,
    settings: Settings,
    election: Election,
    table: LoadTable,
    codec: DatagramCodec,
    probe: HostProbe,
    static_info: StaticInfo,
    load: Option<LoadVector>,
    stats: LimStats,
    /// Open query connections, oldest first, with when they were accepted.
    queries: VecDeque<(ChanId, Instant)>,
    /// The local signing socket: its listener and path.
    signer: Option<(ChanId, PathBuf)>,
    /// Open connections accepted on it.
    signing: HashSet<ChanId>,
    /// User names by uid (NSS lookups are not free; SIGHUP forgets them).
    user_names: HashMap<u32, String>,
    /// Signing requests refused so far (a local user cannot fill the log).
    sign_refusals: crate::log_file::Repeats,
    /// `LL_LIM_METRICS_PORT`'s listener, and its connections' unparsed
    /// bytes (closed as idle as queries are).
    metrics: Option<(ChanId, HashMap<ChanId, Vec<u8>>)>,
    /// Replies are encoded here; kept, so a 10,000-host answer does not
    /// grow a fresh buffer through every power of two each time.
    reply_buf: BytesMut,
}

impl Lim {
    /// Binds lim's UDP and TCP sockets and its timers.
    pub fn bind(settings: Settings) -> Result<Lim, DaemonError> {
        let mut chans = Channels::new(Config {
            max_frame_body: MAX_QUERY_BODY,
            ..Config::default()
        })
        .map_err(chan_err("cannot set up the channel table"))?;
        let bind = settings.bind;
        let udp = chans.udp_bind(bind).map_err(|e| {
            let held = port_holder::note(port_holder::Proto::Udp, bind, &e);
            chan_err(format!("cannot bind UDP {bind}{held}"))(e)
        })?;
        chans.tcp_listen(bind).map_err(|e| {
            let held = port_holder::note(port_holder::Proto::Tcp, bind, &e);
            chan_err(format!("cannot listen on TCP {bind}{held}"))(e)
        })?;
        chans
            .signals(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
            .map_err(chan_err("cannot watch signals"))?;
        chans
            .timer(first_tick(settings.tick, settings.me), settings.tick)
            .map_err(chan_err("cannot create the tick timer"))?;
        let election = Election::new(election_config(&settings), Instant::now());
        let table = LoadTable::new(&settings.cluster, settings.tick * MISS_TICKS);
        let (uid, gid) = os::users::ids();
        let who = Credentials {
            uid,
            gid,
            user: format!("lim@{}", settings.host_name(settings.me)),
            timestamp: 0,
            // Differs between runs, so a restarted lim does not reuse nonces
            // its peers still remember.
            nonce: os::random::u64().map_err(DaemonError::NoRandomness)?,
            challenge: 0,
        };
        let codec =
            DatagramCodec::new(settings.key.clone(), who).with_max_age(settings.auth_max_age);
        let static_info = HostProbe::static_info().map_err(DaemonError::Probe)?;
        let signer = listen_for_signing(&mut chans, &settings)?;
        let metrics = match settings.metrics {
            None => None,
            Some(addr) => {
                let listener = (chans.tcp_listen_raw(addr))
                    .map_err(chan_err(format!("cannot listen for metrics on {addr}")))?;
                log::info!("metrics on http://{addr}/metrics");
                Some((listener, HashMap::new()))
            }
        };
        Ok(Lim {
            chans,
            udp,
            settings,
            election,
            table,
            codec,
            probe: HostProbe::default(),
            static_info,
            load: None,
            stats: LimStats::default(),
            queries: VecDeque::new(),
            signer,
            signing: HashSet::new(),
            user_names: HashMap::new(),
            sign_refusals: Default::default(),
            metrics,
            reply_buf: BytesMut::new(),
        })
    }

    /// Serves until SIGTERM or SIGINT.
    pub fn run(mut self) -> Result<(), DaemonError> {
        log::info!(
            "lim for {} in cluster {} on {} (tick {:?}, {} hosts, auth {})",
            self.settings.host_name(self.settings.me),
            self.settings.cluster.name,
            self.settings.bind,
            self.settings.tick,
            self.settings.cluster.hosts.len(),
            if self.settings.key.is_some() {
                "on"
            } else {
                "off: no ll.auth.key"
            },
        );
        self.on_tick();
        loop {
            let timeout = self
                .election
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            self.chans
                .chan_epoll(timeout)
                .map_err(chan_err("event loop failed"))?;
            while let Some(event) = self.chans.next_event() {
                match event {
                    Event::Datagram { from, data, .. } => self.on_datagram(from, &data),
                    Event::Frame { id, frame } if self.signing.contains(&id) => {
                        self.on_sign(id, &frame)
                    }
                    Event::Frame { id, frame } => self.on_query(id, &frame),
                    Event::Timer { .. } => self.on_tick(),
                    Event::Eof { id } => self.close(id, None),
                    Event::Error { id, error } => self.close(id, Some(&error)),
                    Event::Signal { info, .. } if info.signo == libc::SIGHUP => {
                        self.user_names.clear();
                        crate::log_file::hangup("lim")
                    }
                    Event::Signal { info, .. } => {
                        log::info!("signal {} received: stopping; {:?}", info.signo, self.stats);
                        if let Some((_, path)) = &self.signer {
                            let _ = std::fs::remove_file(path);
                        }
                        return Ok(());
                    }
                    Event::Data { id, data } => self.on_scrape(id, &data),
                    Event::Accepted { listener, id } => {
                        if self.signer.as_ref().is_some_and(|(l, _)| *l == listener) {
                            self.signing.insert(id);
                        }
                        if let Some((_, conns)) =
                            (self.metrics.as_mut()).filter(|(l, _)| *l == listener)
                        {
                            conns.insert(id, Vec::new());
                        }
                        self.queries.push_back((id, Instant::now()))
                    }
                    Event::Connected { .. } => {}
                    Event::Writable { .. } | Event::Wake { .. } => {}
                }
            }
            if let Some(change) = self.election.poll(Instant::now()) {
                self.apply(change);
            }
        }
    }

    fn on_tick(&mut self) {
        self.close_idle_queries(Instant::now());
        match self.probe.load() {
            Ok(load) => self.load = Some(load),
            Err(e) => log::warn!("load sample failed: {e}"),
        }
        if self.election.is_master() {
            self.record_own_load();
            self.beacon_all();
        } else {
            self.report_to_master();
        }
    }

    fn close_idle_queries(&mut self, now: Instant) {
        while let Some(&(id, since)) = self.queries.front() {
            let limit = self.settings.tick * QUERY_IDLE_TICKS;
            if now.saturating_duration_since(since) < limit {
                break;
            }
            self.queries.pop_front();
            self.signing.remove(&id);
            // The id's generation makes this a no-op for a finished query
            // whose slot was reused.
            if self.chans.is_open(id) {
                log::info!("closing query connection {id}: open for over {limit:?}");
                let _ = self.chans.close(id);
            }
        }
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::BecameMaster { epoch } => {
                log::info!("this host is master now (epoch {epoch})");
                self.record_own_load();
                self.beacon_all();
            }
            Change::BeaconNow => self.beacon_all(),
            Change::Following { master } => {
                log::info!("following master {}", self.settings.host_name(master));
                self.report_to_master();
            }
            Change::MasterLost { was } => log::warn!(
                "master {} silent for {MISS_TICKS} ticks",
                self.settings.host_name(was)
            ),
        }
    }

    fn record_own_load(&mut self) {
        if let Some(load) = self.load {
            let me = self.settings.me;
            self.table
                .record(me, &self.static_info, load, Instant::now());
        }
    }

    fn beacon_all(&mut self) {
        let Some(claim) = self.election.master(Instant::now()) else {
            return;
        };
        let beacon = Datagram::Beacon(Beacon {
            master: self.settings.host_name(claim.master).to_owned(),
            epoch: claim.epoch,
        });
        let bytes = self.codec.encode(&beacon, unix_now());
        for position in 0..self.settings.addrs.len() {
            if position != self.settings.me {
                self.send_to(position, &bytes);
            }
        }
    }

    fn report_to_master(&mut self) {
        let (Some(claim), Some(load)) = (self.election.master(Instant::now()), self.load) else {
            return;
        };
        let report = Datagram::Report(LoadReport {
            host: self.settings.host_name(self.settings.me).to_owned(),
            static_info: self.static_info.clone(),
            load,
        });
        let bytes = self.codec.encode(&report, unix_now());
        self.send_to(claim.master, &bytes);
    }

    fn send_to(&mut self, position: usize, bytes: &BytesMut) {
        let to = self.settings.addrs[position];
        // A lost datagram is what UDP allows; the next tick sends again.
        if let Err(e) = self.chans.send_to(self.udp, bytes, to) {
            log::debug!(
                "send to {} ({to}) failed: {e}",
                self.settings.host_name(position)
            );
        }
    }

    fn on_datagram(&mut self, from: SocketAddr, data: &[u8]) {
        let message = match self.codec.decode(data, unix_now()) {
            Ok(message) => message,
            Err(reason) => return self.count_drop(from, &reason),
        };
        let now = Instant::now();
        let claimed = match &message {
            Datagram::Report(r) => &r.host,
            Datagram::Beacon(b) => &b.master,
            Datagram::Reconfig(n) => &n.host,
        };
        let Some(sender) = self.settings.sender(claimed, from) else {
            self.stats.dropped_foreign += 1;
            return log_drop(
                self.stats.dropped_foreign,
                from,
                &format!("not from cluster host {claimed:?}"),
            );
        };
        match message {
            Datagram::Report(r) if self.election.is_master() => {
                self.stats.reports_accepted += 1;
                self.table.record(sender, &r.static_info, r.load, now);
            }
            Datagram::Report(_) => log::debug!("report from {claimed} ignored: not master"),
            Datagram::Beacon(b) => {
                self.stats.beacons_accepted += 1;
                if let Some(change) = self.election.on_beacon(sender, b.epoch, now) {
                    self.apply(change);
                }
            }
            Datagram::Reconfig(n) => match self.reconfigure(now) {
                Ok(done) => log::info!("lim of {} asked: {done}", n.host),
                Err(why) => log::error!(
                    "lim of {} asked to read the cluster file again: {why}",
                    n.host
                ),
            },
        }
    }

    fn count_drop(&mut self, from: SocketAddr, reason: &DropReason) {
        let count = if reason.is_auth() {
            &mut self.stats.dropped_auth
        } else {
            &mut self.stats.dropped_malformed
        };
        *count += 1;
        log_drop(*count, from, &reason.to_string());
    }

    fn on_query(&mut self, id: ChanId, frame: &Frame) {
        let header = *frame.header();
        if let Err(e) = header.check_version() {
            self.reply(id, &header, status::BAD_REQUEST, &e.to_string());
            return self.close(id, None);
        }
        let now = Instant::now();
        match header.operation {
            op::CLUSTER_INFO => {
                let info = self.cluster_info(now);
                self.reply(id, &header, status::OK, &info)
            }
            op::HOSTS if self.election.is_master() => {
                // Encoded from the table as it stands, nothing copied.
                let records = self.table.records(now);
                self.reply_buf.clear();
                let reply = header.reply(status::OK, 0);
                proto::encode_frame(reply, records.as_slice(), &mut self.reply_buf);
                self.send_reply(id)
            }
            op::HOSTS => {
                let info = self.cluster_info(now);
                self.reply(id, &header, status::NOT_MASTER, &info)
            }
            op::STATS => {
                let stats = self.stats;
                self.reply(id, &header, status::OK, &stats)
            }
            other => {
                let message = format!("unknown operation {other:#x}");
                self.reply(id, &header, status::BAD_REQUEST, &message)
            }
        }
    }

    /// Bytes on a metrics connection: `GET /metrics` answered from what
    /// lim holds now.
    fn on_scrape(&mut self, id: ChanId, data: &[u8]) {
        let (election, table, stats) = (&self.election, &self.table, self.stats);
        let Some(buf) = (self.metrics.as_mut()).and_then(|(_, conns)| conns.get_mut(&id)) else {
            return;
        };
        buf.extend_from_slice(data);
        let mut out = Vec::new();
        let close = http1::serve(buf, &mut out, |r| match (r.method, r.path()) {
            ("GET" | "HEAD", "/metrics") => {
                // Read only when asked for: the master's table has every host.
                let now = Instant::now();
                let is_master = election.is_master();
                let snapshot = crate::metrics::Snapshot {
                    is_master,
                    epoch: election.master(now).map_or(0, |c| c.epoch),
                    stats,
                    hosts: if is_master {
                        table.records(now)
                    } else {
                        Vec::new()
                    },
                };
                let text = crate::metrics::render(&snapshot).into_bytes();
                http1::Response::new(200, "OK", http1::prometheus::CONTENT_TYPE, text)
            }
            _ => http1::Response::new(404, "Not Found", "text/plain", &b"GET /metrics only\n"[..]),
        });
        if self.chans.send(id, &out).is_err() || close {
            self.close(id, None);
        }
    }

    /// A local user's request for mbd, signed as whoever the kernel says
    /// is at the other end of the socket.
    fn on_sign(&mut self, id: ChanId, frame: &Frame) {
        let header = *frame.header();
        if header.operation == op::RECONFIG {
            return self.on_reconfig_request(id, &header);
        }
        let signed = self.sign_for_peer(id, &header, frame.body());
        if let Err(why) = &signed {
            if let Some(count) = self.sign_refusals.note("signing") {
                log::warn!(
                    "signing request on connection {id} refused: {why} ({count} refusals so far)"
                );
            }
        }
        self.reply_buf.clear();
        sign::reply(&header, signed, &mut self.reply_buf);
        self.send_reply(id);
    }

    fn sign_for_peer(
        &mut self,
        id: ChanId,
        header: &Header,
        body: &[u8],
    ) -> Result<proto::lim::SignedRequest, String> {
        header.check_version().map_err(|e| e.to_string())?;
        if header.operation != op::SIGN {
            return Err(format!("unknown operation {:#x}", header.operation));
        }
        let key = self.settings.key.as_ref().ok_or("this lim has no key")?;
        let request = SignRequest::from_body(body).map_err(|e| e.to_string())?;
        let peer = self.chans.peer_cred(id).map_err(|e| e.to_string())?;
        let user = (self.user_names.entry(peer.uid))
            .or_insert_with(|| os::users::name_of(peer.uid))
            .clone();
        log::debug!(
            "signing {:#06x} for {user} (uid {}, pid {})",
            request.operation,
            peer.uid,
            peer.pid
        );
        let who = Credentials {
            uid: peer.uid,
            gid: peer.gid,
            user,
            timestamp: unix_now(),
            nonce: os::random::u64().map_err(|e| format!("no randomness for a nonce: {e}"))?,
            challenge: request.challenge,
        };
        sign::sign(&request, &who, key)
    }

    /// `lsadmin reconfig` from a local admin: read the files again, then
    /// have every other lim do so.
    fn on_reconfig_request(&mut self, id: ChanId, header: &Header) {
        let asked = match self.chans.peer_cred(id) {
            Ok(peer) if peer.uid == 0 || peer.uid == os::users::ids().0 => {
                log::info!("lsadmin reconfig by uid {} (pid {})", peer.uid, peer.pid);
                self.reconfigure(Instant::now())
            }
            Ok(peer) => Err(format!(
                "uid {} may not reconfigure lim: root or lim's own user only",
                peer.uid
            )),
            Err(e) => Err(format!("cannot tell who asks: {e}")),
        };
        match asked {
            Ok(done) => {
                log::info!("{done}");
                let note = Datagram::Reconfig(ReconfigNote {
                    host: self.settings.host_name(self.settings.me).to_owned(),
                });
                let bytes = self.codec.encode(&note, unix_now());
                let others = self.settings.addrs.len().saturating_sub(1);
                let me = self.settings.me;
                for position in (0..self.settings.addrs.len()).filter(|&p| p != me) {
                    self.send_to(position, &bytes);
                }
                let plural = if others == 1 { "" } else { "s" };
                let told = format!("{done}; told {others} other lim{plural} to read it too");
                self.reply(id, header, status::OK, &told);
            }
            Err(why) => {
                log::warn!("lsadmin reconfig refused: {why}");
                self.reply(id, header, status::REFUSED, &why);
            }
        }
    }

    /// Reads the cluster file (and ll.conf) again and puts the host list
    /// in force: hosts added and removed, master candidates changed. What
    /// needs the sockets or timers made again (this host's address, the
    /// port, the tick) or the key is refused: restart lim for those.
    fn reconfigure(&mut self, now: Instant) -> Result<String, String> {
        let dir = (self.settings.conf_dir.clone())
            .ok_or("this lim was not started from a configuration directory")?;
        let me = self.settings.host_name(self.settings.me).to_owned();
        let new = Settings::load(&dir, &me)
            .map_err(|e| format!("{e}; the running configuration stays"))?;
        crate::reconfig::check(&self.settings, &new)?;
        let old = &self.settings;
        let position = |p: usize| new.cluster.position(old.host_name(p));
        self.election = self
            .election
            .reconfigured(election_config(&new), position, now);
        self.table = self.table.reconfigured(&new.cluster);
        let said = crate::reconfig::summary(old, &new);
        self.settings = new;
        Ok(said)
    }

    fn cluster_info(&self, now: Instant) -> ClusterInfo {
        let master = self.election.master(now);
        ClusterInfo {
            cluster: self.settings.cluster.name.clone(),
            master: master.map_or_else(String::new, |c| {
                self.settings.host_name(c.master).to_owned()
            }),
            master_addr: master
                .map_or_else(String::new, |c| self.settings.addrs[c.master].to_string()),
            epoch: master.map_or(0, |c| c.epoch),
            answered_by: self.settings.host_name(self.settings.me).to_owned(),
        }
    }

    fn reply<T: Encode + ?Sized>(&mut self, id: ChanId, request: &Header, status: u32, body: &T) {
        self.reply_buf.clear();
        proto::encode_frame(request.reply(status, 0), body, &mut self.reply_buf);
        self.send_reply(id)
    }

    fn send_reply(&mut self, id: ChanId) {
        if let Err(e) = self.chans.send(id, &self.reply_buf) {
            self.close(id, Some(&e));
        }
    }

    fn close(&mut self, id: ChanId, why: Option<&ChanError>) {
        self.signing.remove(&id);
        if let Some((_, conns)) = self.metrics.as_mut() {
            conns.remove(&id);
        }
        if let Some(why) = why {
            log::debug!("closing query connection {id}: {why}");
            let _ = self.chans.close(id);
        } else {
            // The peer finished: send what is queued, then close.
            let _ = self.chans.close_when_flushed(id);
        }
    }
}

/// The Unix socket on which local users' commands have their requests
/// signed (`LL_STATE_DIR/lim.<host>.sock`), when this lim has a key and a
/// state directory. A failure to open it is logged, not fatal: lim's load
/// service does not depend on it.
fn listen_for_signing(
    chans: &mut Channels,
    settings: &Settings,
) -> Result<Option<(ChanId, PathBuf)>, DaemonError> {
    let (Some(_), Some(dir)) = (&settings.key, &settings.state_dir) else {
        return Ok(None);
    };
    let path = sign::socket_path(dir, settings.host_name(settings.me));
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        return Err(DaemonError::AlreadyRunning(path));
    }
    match open_sign_socket(chans, dir, &path) {
        Ok(listener) => {
            log::info!("signing requests for local users on {}", path.display());
            Ok(Some((listener, path)))
        }
        Err(e) => {
            log::error!(
                "cannot open the signing socket {}: {e}; users who cannot read ll.auth.key cannot use the batch commands on this host",
                path.display()
            );
            Ok(None)
        }
    }
}

fn open_sign_socket(chans: &mut Channels, dir: &Path, path: &Path) -> Result<ChanId, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    // Left by a lim that did not stop cleanly (nothing answered above).
    match std::fs::remove_file(path) {
        Ok(()) => log::info!("removed the stale socket {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    let listener = chans.unix_listen(path).map_err(|e| e.to_string())?;
    chans
        .set_max_frame_body(listener, sign::MAX_SIGN_BODY)
        .map_err(|e| e.to_string())?;
    // Every local user may connect; who they are comes from the kernel.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| e.to_string())?;
    Ok(listener)
}

fn election_config(settings: &Settings) -> ElectionConfig {
    ElectionConfig {
        me: settings.me,
        candidates: (settings.cluster.hosts.iter().enumerate())
            .filter(|(_, h)| h.candidate)
            .map(|(i, _)| i)
            .collect(),
        tick: settings.tick,
        miss_ticks: MISS_TICKS,
    }
}

/// Logs drops at 1, 2, 4, 8, ... so a flood cannot fill the log.
fn log_drop(count: u64, from: SocketAddr, reason: &str) {
    if count.is_power_of_two() {
        log::warn!("dropped datagram from {from}: {reason} ({count} such drops so far)");
    }
}

/// Spreads hosts' ticks over the interval (golden-ratio steps), so reports
/// reach the master as a stream rather than a burst.
fn first_tick(tick: Duration, position: usize) -> Duration {
    let phase = ((position as f64 + 1.0) * 0.618_033_988_75).fract();
    tick.mul_f64(phase).max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ticks_are_spread_over_the_interval() {
        let tick = Duration::from_secs(5);
        let mut phases: Vec<_> = (0..10).map(|p| first_tick(tick, p)).collect();
        assert!(phases.iter().all(|d| *d > Duration::ZERO && *d < tick));
        phases.sort();
        let widest_gap = phases.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(widest_gap < tick / 4, "{phases:?}");
    }
}
