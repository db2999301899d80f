//! With master candidates (`LL_MASTER_LIST`), mbd serves only while lim
//! says its host is the master and that master hears from most hosts.
//! Fencing, so that at most one mbd ever acknowledges: the event log's
//! exclusive lock (a second mbd cannot open the log while the first holds
//! it), and a lease: an mbd whose mastership lim has not confirmed for two
//! lim ticks, or that hears another host is master, stops serving (and so
//! lets go of the lock) before lim can have elected a successor, which
//! takes three ticks of silence. A master cut off from the others keeps
//! calling itself master, so a confirmation counts only when its lim
//! hears from more than half the hosts (clusters of three or more: with
//! two, either alone is half; docs/mbd.md, "Failover").

use lim::client::LimClient;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// What lim says of the master, or why it could not be asked.
pub type MasterView = Result<Standing, String>;

/// Who the master is and how many hosts it hears from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub master: String,
    /// Hosts lim's master reports available, itself included.
    pub up: usize,
    /// Hosts of the cluster file.
    pub hosts: usize,
}

impl Standing {
    /// Whether the master hears from more than half the hosts (always
    /// true below three hosts, where no side of a split can have more).
    pub fn quorate(&self) -> bool {
        self.hosts < 3 || self.up * 2 > self.hosts
    }

    /// Asks lim: the master, then the hosts as the master sees them.
    pub fn ask(lim: &LimClient) -> MasterView {
        let master = lim.master().map_err(|e| e.to_string())?;
        let hosts = lim.hosts().map_err(|e| e.to_string())?;
        Ok(Standing {
            master,
            up: hosts.iter().filter(|h| h.available).count(),
            hosts: hosts.len(),
        })
    }
}

/// Whether to keep serving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    /// Stop serving, for this reason.
    StepDown(String),
}

/// This host's lease on mastership.
#[derive(Clone, Debug)]
pub struct Lease {
    me: String,
    length: Duration,
    confirmed: Instant,
}

impl Lease {
    /// A lease for host `me`, confirmed `now` (lim has just named it),
    /// lasting `length` without a confirmation.
    pub fn new(me: &str, length: Duration, now: Instant) -> Lease {
        Lease {
            me: me.to_owned(),
            length,
            confirmed: now,
        }
    }

    /// Takes what lim said at `now`.
    pub fn observe(&mut self, view: &MasterView, now: Instant) -> Verdict {
        match view {
            Ok(s) if s.master != self.me => {
                Verdict::StepDown(format!("lim's master is now {}", s.master))
            }
            Ok(s) if s.quorate() => {
                self.confirmed = now;
                Verdict::Serve
            }
            // Cut off from most hosts, or lim not answering: the lease
            // runs out unless confirmed again.
            _ => self.check(now),
        }
    }

    /// Whether the lease still holds at `now`.
    pub fn check(&self, now: Instant) -> Verdict {
        let since = now.saturating_duration_since(self.confirmed);
        if since > self.length {
            Verdict::StepDown(format!(
                "lim has not confirmed this host as master for {since:?}"
            ))
        } else {
            Verdict::Serve
        }
    }
}

/// Asks lim who the master is every `interval`, from a thread of its own
/// (the lim client blocks); each answer is sent and `waker` woken. Stops
/// when the receiver is dropped.
pub fn watch(
    client: LimClient,
    interval: Duration,
    waker: chan::Waker,
) -> std::io::Result<Receiver<MasterView>> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("mastership".into())
        .spawn(move || loop {
            let view = Standing::ask(&client);
            if tx.send(view).is_err() || waker.wake().is_err() {
                return;
            }
            thread::sleep(interval);
        })?;
    Ok(rx)
}

/// How a standby's wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// lim names this host master: try to serve.
    Master,
    /// SIGTERM or SIGINT.
    Stopped,
}

/// An mbd on a master candidate that does not serve: it asks lim who the
/// master is every `interval`, and watches for SIGTERM meanwhile.
pub struct Standby {
    chans: chan::Channels,
    me: String,
    interval: Duration,
    /// What was last said, so a wait that goes on logs once.
    said: Option<String>,
}

impl Standby {
    pub fn new(me: &str, interval: Duration) -> Result<Standby, chan::ChanError> {
        let mut chans = chan::Channels::new(chan::Config {
            capacity: 4,
            ..chan::Config::default()
        })?;
        chans.signals(&[libc::SIGTERM, libc::SIGINT])?;
        Ok(Standby {
            chans,
            me: me.to_owned(),
            interval,
            said: None,
        })
    }

    /// Waits until lim names this host master, hearing from most hosts
    /// (or a signal stops mbd).
    pub fn until_master(&mut self, lim: &LimClient) -> Wait {
        loop {
            match Standing::ask(lim) {
                Ok(s) if s.master == self.me && s.quorate() => return Wait::Master,
                Ok(s) if s.master == self.me => self.say(format!(
                    "standing by: this host is lim's master but hears from {} of {} hosts",
                    s.up, s.hosts
                )),
                Ok(s) => self.say(format!("standing by: lim's master is {}", s.master)),
                Err(e) => self.say(format!("standing by: lim names no master ({e})")),
            }
            if self.pause() {
                return Wait::Stopped;
            }
        }
    }

    /// Logs `line` unless it is what was said last.
    pub fn say(&mut self, line: String) {
        if self.said.as_deref() != Some(line.as_str()) {
            log::info!("{line}");
            self.said = Some(line);
        }
    }

    /// Waits one interval; whether a stop signal came.
    pub fn pause(&mut self) -> bool {
        if self.chans.chan_epoll(Some(self.interval)).is_err() {
            std::thread::sleep(self.interval);
            return false;
        }
        let mut stop = false;
        while let Some(event) = self.chans.next_event() {
            stop |= matches!(event, chan::Event::Signal { .. });
        }
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(master: &str, up: usize, hosts: usize) -> MasterView {
        Ok(Standing {
            master: master.into(),
            up,
            hosts,
        })
    }

    #[test]
    fn the_lease_holds_while_lim_confirms_and_ends_otherwise() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut lease = Lease::new("host1", s(10), t0);
        let confirmed = lease.observe(&standing("host1", 3, 3), t0 + s(8));
        assert_eq!(confirmed, Verdict::Serve);
        // lim silent: the lease runs from the last confirmation.
        assert_eq!(
            lease.observe(&Err("down".into()), t0 + s(17)),
            Verdict::Serve
        );
        assert!(matches!(lease.check(t0 + s(19)), Verdict::StepDown(_)));
        // Another master: at once.
        let mut lease = Lease::new("host1", s(10), t0);
        assert_eq!(
            lease.observe(&standing("host2", 3, 3), t0 + s(1)),
            Verdict::StepDown("lim's master is now host2".into())
        );
    }

    #[test]
    fn a_master_cut_off_from_most_hosts_is_not_confirmed() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut lease = Lease::new("host1", s(10), t0);
        let alone = lease.observe(&standing("host1", 1, 3), t0 + s(5));
        assert_eq!(alone, Verdict::Serve, "until the lease runs out");
        let still = lease.observe(&standing("host1", 2, 5), t0 + s(11));
        assert!(matches!(still, Verdict::StepDown(_)));
        let quorate = |up, hosts| standing("a", up, hosts).unwrap().quorate();
        assert!(quorate(2, 3));
        assert!(quorate(1, 2), "two hosts: no side has more than half");
        assert!(!quorate(2, 4));
    }
}
