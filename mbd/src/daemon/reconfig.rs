//! `badmin reconfig`: llb.hosts, llb.queues and llb.users read again and
//! put in force without a restart, connections kept. The new files are
//! checked first (a mistake is refused with its file and line; the
//! running configuration stays). At the end of the pass the jobs are
//! rebuilt under the new configuration from a snapshot, as a restart's
//! replay would rebuild them (`State::reconfigured`); runs on a host
//! taken out end lost, as at a start, and the sbd of such a host is let
//! go.

use super::{Bad, DaemonError, Mbd, Request};
use crate::settings::load_jobs_place;
use crate::state::{Caller, Refusal};
use crate::Cluster;
use chan::ChanId;
use proto::mbd::status;

/// A checked configuration waiting for the end of the pass, and the
/// request to answer once it is in force.
pub(super) struct Pending {
    cluster: Cluster,
    id: ChanId,
    request: Request,
}

impl Mbd {
    /// The RECONFIG request: the files checked now, put in force once the
    /// pass is committed.
    pub(super) fn reconfig(&mut self, id: ChanId, h: &Request, who: &Caller) -> Result<(), Bad> {
        if !who.admin {
            return Err(Bad::Refused(Refusal {
                status: status::EPERM,
                message: "only the batch admins may reconfigure".into(),
            }));
        }
        let dir = self.settings.conf_dir.clone();
        let cluster = (dir.ll_conf().map_err(|e| e.to_string()))
            .and_then(|ll| load_jobs_place(&dir, &ll).map_err(|e| e.to_string()));
        let cluster = cluster.map_err(|e| {
            Bad::Refused(Refusal {
                status: status::EINVAL,
                message: format!("{e}; the running configuration stays"),
            })
        })?;
        (self.audit).push(format!("reconfiguration asked by {}", who.user));
        self.reconfig = Some(Pending {
            cluster: cluster.0,
            id,
            request: h.clone(),
        });
        Ok(())
    }

    /// Puts a pending configuration in force (between passes).
    pub(super) fn reconfigure(&mut self) -> Result<(), DaemonError> {
        let Some(Pending {
            cluster,
            id,
            request,
        }) = self.reconfig.take()
        else {
            return Ok(());
        };
        let old: Vec<String> = self.host_names();
        let place = |name: &str| cluster.hosts.iter().position(|h| h.name == name);
        let moved: Vec<Option<usize>> = old.iter().map(|n| place(n)).collect();
        let n = cluster.hosts.len();
        let (mut links, mut hosts, mut pauses) =
            (vec![None; n], vec![Default::default(); n], vec![None; n]);
        for (from, to) in moved.iter().enumerate() {
            match to {
                Some(to) => {
                    links[*to] = self.sbd_chan[from];
                    hosts[*to] = self.hosts[from];
                    pauses[*to] = self.paused_hosts[from];
                }
                None => {
                    if let Some(link) = self.sbd_chan[from] {
                        log::warn!("host {} left llb.hosts: closing its sbd's link", old[from]);
                        self.drop_client(link, None);
                    }
                }
            }
        }
        self.remap_sbds(|host| moved.get(host).copied().flatten());
        let mut state = self.state.reconfigured(cluster.clone());
        for (host, link) in links.iter().enumerate() {
            state.set_sbd_up(host, link.is_some());
        }
        (self.state, self.sbd_chan, self.hosts, self.paused_hosts) = (state, links, hosts, pauses);
        let names_changed = old
            != cluster
                .hosts
                .iter()
                .map(|h| h.name.clone())
                .collect::<Vec<_>>();
        log::info!(
            "reconfigured: {} hosts, {} queues, {} jobs",
            cluster.hosts.len(),
            cluster.queues.len(),
            self.state.job_count()
        );
        self.settings.cluster = cluster;
        if names_changed {
            if let Err(e) = self.watch_lim() {
                log::warn!("lim's view of the new hosts is not followed: {e}");
            }
        }
        self.replan.all();
        self.hold(id, &request, status::OK, &());
        self.settle_removed_config()
    }

    fn host_names(&self) -> Vec<String> {
        (self.settings.cluster.hosts.iter())
            .map(|h| h.name.clone())
            .collect()
    }
}
