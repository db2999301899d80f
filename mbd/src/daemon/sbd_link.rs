//! mbd's side of the execution daemons' connections: registration,
//! dispatch, signals and finish reports. The rules are in
//! `state::execution`; this only moves messages.

use super::{decode, Bad, Mbd};
use crate::change::Change;
use crate::state::Reconciled;
use bytes::BytesMut;
use chan::ChanId;
use os::host::unix_now;
use proto::mbd::status;
use proto::sbd::{
    op, silence_limit, Finished, JobKey, JobSignal, Register, Rejected, RunUsage, Started,
};
use proto::Encode;
use std::time::{Duration, Instant};

/// How long a host that could not set up a job gets no new ones.
pub(super) const REJECT_PAUSE: Duration = Duration::from_secs(10);

/// A registered execution daemon's connection.
#[derive(Debug)]
pub(super) struct SbdPeer {
    host: usize,
    /// The challenge sbd registered with: every frame mbd sends it carries it.
    challenge: u64,
    /// When it last sent a frame that verified.
    heard: Instant,
}

impl Mbd {
    /// Gives each registered sbd its host's new position (`badmin
    /// reconfig`); one whose host is gone is forgotten.
    pub(super) fn remap_sbds(&mut self, to: impl Fn(usize) -> Option<usize>) {
        self.sbds.retain(|_, peer| match to(peer.host) {
            Some(host) => {
                peer.host = host;
                true
            }
            None => false,
        });
    }

    /// The host `id` is the registered sbd of, if it is one.
    pub(super) fn sbd_host(&self, id: ChanId) -> Option<usize> {
        self.sbds.get(&id).map(|peer| peer.host)
    }

    /// Closes the links of sbds silent past the heartbeat limit: a host
    /// that died without closing its connection shows `unavail`, and its
    /// jobs UNKNOWN, instead of `ok` forever.
    pub(super) fn close_silent_sbds(&mut self) {
        let limit = silence_limit(self.settings.sbd_heartbeat);
        let now = Instant::now();
        let since_tick = now.saturating_duration_since(std::mem::replace(&mut self.last_tick, now));
        let paused = since_tick.saturating_sub(self.settings.sched_interval);
        if paused > limit {
            // Stopped or suspended ourselves: that is not the sbds' silence.
            log::info!("mbd did not run for {paused:?}; giving every sbd a fresh {limit:?}");
            self.sbds.values_mut().for_each(|peer| peer.heard = now);
        }
        let silent: Vec<(ChanId, usize)> = (self.sbds.iter())
            .filter(|(_, peer)| now.saturating_duration_since(peer.heard) > limit)
            .map(|(id, peer)| (*id, peer.host))
            .collect();
        for (id, host) in silent {
            log::warn!(
                "sbd for {} silent for over {limit:?}: closing its connection",
                self.settings.cluster.hosts[host].name
            );
            self.sbd_gone(id);
            let _ = self.chans.close(id);
        }
    }

    pub(super) fn on_sbd_message(
        &mut self,
        id: ChanId,
        operation: u32,
        admin: bool,
        body: &[u8],
    ) -> Result<(), Bad> {
        if !admin {
            return Err(Bad::Request(
                "execution daemon messages need the admin's credentials".into(),
            ));
        }
        if operation == op::REGISTER {
            return self.on_register(id, decode(body)?);
        }
        let Some(peer) = self.sbds.get_mut(&id) else {
            return Err(Bad::Request(format!("{operation:#x} before registering")));
        };
        peer.heard = Instant::now();
        let host = peer.host;
        match operation {
            op::HEARTBEAT => {
                self.send_signed(id, op::HEARTBEAT_ACK, status::OK, &());
                Ok(())
            }
            op::STARTED => {
                let started: Started = decode(body)?;
                let change = self.state.started(host, &started, unix_now());
                self.change(change.as_slice())
            }
            op::FINISHED => self.on_finished(id, host, decode(body)?),
            op::USAGE => {
                let usage: Vec<RunUsage> = decode(body)?;
                self.state.note_usage(host, &usage);
                Ok(())
            }
            op::REJECTED => self.on_rejected(host, decode(body)?),
            other => Err(Bad::Request(format!("unknown operation {other:#x}"))),
        }
    }

    fn on_register(&mut self, id: ChanId, reg: Register) -> Result<(), Bad> {
        let Some(host) = self.settings.cluster.host(&reg.host) else {
            if self.unknown_sbds.insert(reg.host.clone()) {
                log::warn!(
                    "refused sbd registration for {}: not in llb.hosts (its retries are not logged)",
                    reg.host
                );
            }
            self.send_signed_for(
                id,
                reg.challenge,
                op::REGISTERED,
                status::EINVAL,
                &format!("host {} is not in llb.hosts", reg.host),
            );
            self.closing.insert(id);
            return Ok(());
        };
        if let Some(old) = self.sbd_chan[host].replace(id) {
            if old != id {
                log::warn!(
                    "sbd for {} registered again: dropping its old connection",
                    reg.host
                );
                self.sbds.remove(&old);
                let _ = self.chans.close(old);
            }
        }
        let heard = Instant::now();
        let challenge = reg.challenge;
        self.sbds.insert(
            id,
            SbdPeer {
                host,
                challenge,
                heard,
            },
        );
        self.clients.remove(&id);
        self.state.set_sbd_up(host, true);
        self.replan.all();
        log::info!(
            "sbd for {} registered: {} running, {} finish reports",
            reg.host,
            reg.running.len(),
            reg.finished.len()
        );
        self.send_signed(id, op::REGISTERED, status::OK, &());
        let r: Reconciled = self.state.reconcile(host, &reg, unix_now());
        self.change(&r.changes)?;
        for job in r.resend {
            log::info!(
                "job {job}: dispatch never acknowledged by {}; sending it again",
                reg.host
            );
            self.send_start(job);
        }
        for job in r.kill {
            log::warn!(
                "sbd on {} runs job {} attempt {} that mbd does not: killing it",
                reg.host,
                job.id,
                job.attempt
            );
            let signal = JobSignal {
                job,
                signal: libc::SIGKILL as u32,
            };
            self.send_signed(id, op::SIGNAL, status::OK, &signal);
        }
        for (job, signal) in r.signal {
            log::info!(
                "job {}: not as bkill left it on {}; sending signal {signal} again",
                job.id,
                reg.host
            );
            self.send_signed(id, op::SIGNAL, status::OK, &JobSignal { job, signal });
        }
        for job in r.ack {
            self.send_signed(id, op::FINISH_ACK, status::OK, &job);
        }
        Ok(())
    }

    fn on_finished(&mut self, id: ChanId, host: usize, f: Finished) -> Result<(), Bad> {
        if let Some(change) = self.state.ended(host, &f) {
            log::info!(
                "job {} finished on {}: exit code {}{}",
                f.job.id,
                self.settings.cluster.hosts[host].name,
                f.exit_code,
                if f.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.note)
                }
            );
            self.change(&[change])?;
        }
        self.send_signed(id, op::FINISH_ACK, status::OK, &f.job);
        Ok(())
    }

    /// sbd could not set a job up: it is pending again, and nothing more
    /// goes to that host for [`REJECT_PAUSE`] (its disk may be full), so a
    /// pass does not hand it straight back.
    fn on_rejected(&mut self, host: usize, r: Rejected) -> Result<(), Bad> {
        let Some(change) = self.state.rejected(host, &r, unix_now()) else {
            return Ok(());
        };
        let name = &self.settings.cluster.hosts[host].name;
        match &change {
            Change::Requeued(_) => log::warn!(
                "{name} could not start job {} ({}): pending again; nothing is dispatched to {name} for {REJECT_PAUSE:?}",
                r.job.id,
                r.reason
            ),
            _ => log::info!("{name} could not start job {}, which was bkilled meanwhile", r.job.id),
        }
        self.paused_hosts[host] = Some(Instant::now() + REJECT_PAUSE);
        self.change(&[change])
    }

    /// A registered sbd went away: its jobs show UNKNOWN until it is back.
    pub(super) fn sbd_gone(&mut self, id: ChanId) {
        let Some(SbdPeer { host, .. }) = self.sbds.remove(&id) else {
            return;
        };
        if self.sbd_chan[host] == Some(id) {
            self.sbd_chan[host] = None;
            self.state.set_sbd_up(host, false);
            self.replan.all();
            log::warn!(
                "sbd for {} disconnected: its jobs show UNKNOWN until it registers again",
                self.settings.cluster.hosts[host].name
            );
        }
    }

    /// Dispatches what the scheduler planned: logged now, sent to each
    /// job's first host after the pass's commit.
    pub(super) fn dispatch(&mut self, starts: &[(u32, Vec<crate::job::Alloc>)]) {
        let changes = self.state.dispatch(starts, unix_now());
        if self.change(&changes).is_err() {
            return log::error!(
                "cannot log {} dispatches; the jobs stay pending",
                changes.len()
            );
        }
        for change in &changes {
            if let Change::Dispatched(d) = change {
                (self.audit).push(format!("job {} dispatched to {}", d.id, hosts_text(d)));
                self.send_start(d.id);
            }
        }
    }

    fn send_start(&mut self, job: u32) {
        let Some((host, start)) = self.state.job_start(job) else {
            return;
        };
        if let Some(id) = self.sbd_chan[host] {
            self.send_signed(id, op::START, status::OK, &start);
        }
    }

    /// Forwards the signals a bkill logged for running jobs.
    pub(super) fn forward_signals(&mut self, changes: &[Change]) {
        for change in changes {
            let Change::StateChanged(c) = change else {
                continue;
            };
            let Some(job) = self
                .state
                .job(c.id)
                .filter(|j| c.signal != 0 && j.is_running())
            else {
                continue;
            };
            let key = JobKey {
                id: job.id,
                attempt: job.attempt,
            };
            if let Some(id) = job.first_host().and_then(|h| self.sbd_chan[h]) {
                let signal = JobSignal {
                    job: key,
                    signal: c.signal,
                };
                self.send_signed(id, op::SIGNAL, status::OK, &signal);
            }
        }
    }

    /// Holds a signed message for registered sbd `id` until the pass's
    /// commit.
    fn send_signed<T: Encode + ?Sized>(&mut self, id: ChanId, op: u32, status: u32, body: &T) {
        let challenge = self.sbds.get(&id).map_or(0, |peer| peer.challenge);
        self.send_signed_for(id, challenge, op, status, body);
    }

    /// [`Mbd::send_signed`] on a connection whose sbd sent `challenge`.
    fn send_signed_for<T: Encode + ?Sized>(
        &mut self,
        id: ChanId,
        challenge: u64,
        op: u32,
        status: u32,
        body: &T,
    ) {
        let mut out = BytesMut::new();
        (self.signer).frame(op, status, body, unix_now(), challenge, &mut out);
        self.held_bytes(id, out);
    }
}

fn hosts_text(d: &crate::change::Dispatched) -> String {
    let hosts: Vec<String> = (d.allocs.iter())
        .map(|a| format!("{}@{}", a.cpus, a.host))
        .collect();
    hosts.join(" ")
}
