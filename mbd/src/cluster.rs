//! The batch configuration as the job model uses it: hosts by position,
//! queues with their host lists expanded and their user lists resolved.

use conf::{BatchHost, BatchHosts, HostGroup, Queue, TokenPool};

/// A queue with names resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueConf {
    pub name: String,
    pub priority: i32,
    /// Positions in [`Cluster::hosts`], groups expanded, in config order.
    pub hosts: Vec<usize>,
    /// `HOSTS` as written, for display.
    pub hosts_text: Vec<String>,
    /// Users allowed (Unix groups expanded to their members); `None` = all.
    pub users: Option<Vec<String>>,
    /// `USERS` as written, for display.
    pub users_text: Vec<String>,
    pub description: String,
}

/// Hosts, token pools, host groups and queues.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub hosts: Vec<BatchHost>,
    pub pools: Vec<TokenPool>,
    pub groups: Vec<HostGroup>,
    pub queues: Vec<QueueConf>,
    /// `LL_DEFAULT_QUEUE`.
    pub default_queue: String,
}

impl Cluster {
    /// Resolves `queues` against `hosts`. `group_members` looks up a Unix
    /// group (so `USERS = hpcusers` admits its members); a name that is no
    /// group is taken as a user name.
    pub fn new(
        batch: BatchHosts,
        queues: Vec<Queue>,
        default_queue: &str,
        group_members: impl Fn(&str) -> Option<Vec<String>>,
    ) -> Result<Cluster, String> {
        let mut cluster = Cluster {
            hosts: batch.hosts,
            pools: batch.token_pools,
            groups: batch.groups,
            queues: Vec::new(),
            default_queue: default_queue.to_owned(),
        };
        for q in queues {
            let hosts = cluster
                .expand_hosts(&q.hosts)
                .map_err(|name| format!("queue {}: unknown host or group {name}", q.name))?;
            let users = q.users.as_ref().map(|names| {
                names
                    .iter()
                    .flat_map(|n| group_members(n).unwrap_or_else(|| vec![n.clone()]))
                    .collect()
            });
            cluster.queues.push(QueueConf {
                name: q.name,
                priority: q.priority,
                hosts,
                hosts_text: q.hosts,
                users,
                users_text: q.users.unwrap_or_default(),
                description: q.description,
            });
        }
        if cluster.queue(default_queue).is_none() {
            return Err(format!(
                "LL_DEFAULT_QUEUE {default_queue} is not a queue in llb.queues"
            ));
        }
        Ok(cluster)
    }

    /// Host positions for host and group names, without repeats, in the
    /// order named; `Err(name)` for the first unknown name (at replay: a
    /// host or group removed since the job was submitted).
    pub fn expand_hosts(&self, names: &[String]) -> Result<Vec<usize>, String> {
        let mut out = Vec::new();
        for name in names {
            let positions = self.expand_name(name).ok_or_else(|| name.clone())?;
            for at in positions {
                if !out.contains(&at) {
                    out.push(at);
                }
            }
        }
        Ok(out)
    }

    /// A host's position, or a group's members'; `None` if either is unknown.
    fn expand_name(&self, name: &str) -> Option<Vec<usize>> {
        match self.groups.iter().find(|g| g.name == name) {
            Some(group) => group.members.iter().map(|m| self.host(m)).collect(),
            None => self.host(name).map(|at| vec![at]),
        }
    }

    pub fn host(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    pub fn queue(&self, name: &str) -> Option<usize> {
        self.queues.iter().position(|q| q.name == name)
    }

    pub fn pool(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two CPU hosts in group `cpus`, a GPU host, a token pool, and queues
    /// `normal` (priority 30, everyone) and `short` (40, ann and group
    /// `team` = bob).
    pub fn sample() -> Cluster {
        let batch = BatchHosts::parse(
            "Begin Host\nHOST_NAME CPU MEM STORAGE GPU_MODEL GPU_IDS\n\
             cpu01 4 8G 100G - -\ncpu02 4 8G 100G - -\ngpu01 8 16G 1T A100 0-1\nEnd Host\n\
             Begin TokenPool\nPOOL_NAME AVAILABLE\nansys 2\nEnd TokenPool\n\
             Begin HostGroup\nGROUP_NAME GROUP_MEMBER\ncpus (cpu01 cpu02)\nEnd HostGroup\n",
        )
        .unwrap();
        let queues = conf::parse_queues(
            "Begin Queue\nQUEUE_NAME = normal\nPRIORITY = 30\nHOSTS = cpus gpu01\nEnd Queue\n\
             Begin Queue\nQUEUE_NAME = short\nPRIORITY = 40\nHOSTS = cpu01\nUSERS = ann team\nEnd Queue\n",
        )
        .unwrap();
        let groups = |name: &str| (name == "team").then(|| vec!["bob".to_owned()]);
        Cluster::new(batch, queues, "normal", groups).unwrap()
    }

    /// `sample` after gpu01 was taken out of llb.hosts.
    pub fn sample_without_gpu01() -> Cluster {
        let batch = BatchHosts::parse(
            "Begin Host\nHOST_NAME CPU MEM STORAGE GPU_MODEL GPU_IDS\n\
             cpu01 4 8G 100G - -\ncpu02 4 8G 100G - -\nEnd Host\n",
        )
        .unwrap();
        let queues = conf::parse_queues(
            "Begin Queue\nQUEUE_NAME = normal\nPRIORITY = 30\nHOSTS = cpu01 cpu02\nEnd Queue\n",
        )
        .unwrap();
        Cluster::new(batch, queues, "normal", |_| None).unwrap()
    }

    #[test]
    fn groups_expand_for_hosts_and_users() {
        let c = sample();
        assert_eq!(c.queues[0].hosts, [0, 1, 2]);
        assert_eq!(
            c.queues[1].users.as_deref(),
            Some(&["ann".to_owned(), "bob".to_owned()][..])
        );
        assert_eq!(c.queues[0].users, None);
        assert_eq!(
            c.expand_hosts(&["gpu01".into(), "cpus".into(), "cpu01".into()]),
            Ok(vec![2, 0, 1])
        );
        assert_eq!(c.expand_hosts(&["nope".into()]), Err("nope".into()));
        let repeated = ["cpu01".into(), "cpus".into(), "cpu01".into()];
        assert_eq!(c.expand_hosts(&repeated), Ok(vec![0, 1]));
    }
}
