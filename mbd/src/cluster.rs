//! The batch configuration as the job model uses it: hosts by position,
//! queues with their host lists expanded and their user lists resolved.

use crate::accounts::Account;
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
    /// Who may use the queue (`USERS`); `None` = everyone.
    pub users: Option<QueueUsers>,
    /// `USERS` as written, for display.
    pub users_text: Vec<String>,
    pub description: String,
    /// `RUNLIMIT`.
    pub run_limit: Option<conf::RunLimit>,
    /// Job slot limits (`QJOB_LIMIT`, ...).
    pub limits: conf::QueueLimits,
    /// `FAIRSHARE`'s USER_SHARES (empty: first come, first served).
    pub fairshare: Vec<(String, u32)>,
    /// `PREEMPTION = PREEMPTIVE[...]`: positions of the queues whose
    /// running jobs this queue's may suspend.
    pub preempts: Vec<usize>,
}

/// A queue's `USERS`, resolved: a name that is a user admits that user;
/// a name that is a Unix group admits the members it lists and everyone
/// whose primary group it is (most systems give each user a group of
/// their own name that lists nobody, so a name can be both).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueUsers {
    pub names: Vec<String>,
    pub gids: Vec<u32>,
}

impl QueueUsers {
    /// Resolves the names in `USERS` with `lookup`. A name that is neither
    /// a user nor a group here is kept as a user name (a user another
    /// host knows).
    pub fn resolve(written: &[String], lookup: impl Fn(&str) -> Account) -> QueueUsers {
        let mut users = QueueUsers::default();
        for name in written {
            let account = lookup(name);
            if account.is_user || account.group.is_none() {
                users.names.push(name.clone());
            }
            if let Some((gid, members)) = account.group {
                users.names.extend(members);
                users.gids.push(gid);
            }
        }
        users
    }

    /// Whether `user`, whose primary group is `gid` (when known), may use
    /// the queue.
    pub fn admit(&self, user: &str, gid: Option<u32>) -> bool {
        self.names.iter().any(|n| n == user) || gid.is_some_and(|g| self.gids.contains(&g))
    }
}

/// What lim says about a host (or what mbd assumes without lim).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostStatus {
    pub up: bool,
    /// r1m divided by the host's CPUs.
    pub load: f64,
}

impl Default for HostStatus {
    fn default() -> Self {
        HostStatus {
            up: true,
            load: 0.0,
        }
    }
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
    /// llb.users: user groups and their slot limits.
    pub users: conf::UserLimits,
    /// Fair share's factors (ll.conf, LSF's lsb.params names).
    pub fairshare: crate::fairshare::Factors,
}

impl Cluster {
    /// Resolves `queues` against `hosts`, and their `USERS` with `lookup`
    /// ([`crate::accounts::account`] on a real host; see [`QueueUsers`]).
    pub fn new(
        batch: BatchHosts,
        queues: Vec<Queue>,
        default_queue: &str,
        lookup: impl Fn(&str) -> Account,
    ) -> Result<Cluster, String> {
        let mut cluster = Cluster {
            hosts: batch.hosts,
            pools: batch.token_pools,
            groups: batch.groups,
            queues: Vec::new(),
            default_queue: default_queue.to_owned(),
            users: conf::UserLimits::default(),
            fairshare: crate::fairshare::Factors::default(),
        };
        let queue_preempts: Vec<Option<Vec<String>>> =
            queues.iter().map(|q| q.preempts.clone()).collect();
        for q in queues {
            let hosts = cluster
                .expand_hosts(&q.hosts)
                .map_err(|name| format!("queue {}: unknown host or group {name}", q.name))?;
            let users = (q.users.as_ref()).map(|names| QueueUsers::resolve(names, &lookup));
            cluster.queues.push(QueueConf {
                name: q.name,
                priority: q.priority,
                hosts,
                hosts_text: q.hosts,
                users,
                users_text: q.users.unwrap_or_default(),
                description: q.description,
                run_limit: q.run_limit,
                limits: q.limits,
                fairshare: q.fairshare,
                preempts: Vec::new(),
            });
        }
        cluster.resolve_preemption(&queue_preempts)?;
        if cluster.queue(default_queue).is_none() {
            return Err(format!(
                "LL_DEFAULT_QUEUE {default_queue} is not a queue in llb.queues"
            ));
        }
        Ok(cluster)
    }

    /// Each queue's `PREEMPTIVE[...]` as queue positions: the queues it
    /// names, or (bare) every queue of lower PRIORITY.
    fn resolve_preemption(&mut self, written: &[Option<Vec<String>>]) -> Result<(), String> {
        for (q, names) in written.iter().enumerate() {
            let Some(names) = names else { continue };
            let priority = self.queues[q].priority;
            let preempts: Vec<usize> = if names.is_empty() {
                (self.queues.iter().enumerate())
                    .filter(|(_, other)| other.priority < priority)
                    .map(|(i, _)| i)
                    .collect()
            } else {
                (names.iter())
                    .map(|n| {
                        self.queue(n).ok_or_else(|| {
                            format!(
                                "queue {}: PREEMPTIVE names {n}, which is not a queue",
                                self.queues[q].name
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            self.queues[q].preempts = preempts.into_iter().filter(|&p| p != q).collect();
        }
        Ok(())
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
        let groups = |name: &str| Account {
            is_user: name != "team",
            group: (name == "team").then(|| (500, vec!["bob".to_owned()])),
        };
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
        Cluster::new(batch, queues, "normal", |_| Account::default()).unwrap()
    }

    #[test]
    fn a_name_admits_the_user_of_that_name_and_a_groups_primary_members() {
        // As most systems set users up: `ann` has a group `ann` listing no
        // one; `staff` (gid 50) lists bob and is carl's primary group.
        let lookup = |name: &str| match name {
            "ann" => Account {
                is_user: true,
                group: Some((1000, vec![])),
            },
            "staff" => Account {
                is_user: false,
                group: Some((50, vec!["bob".into()])),
            },
            _ => Account::default(),
        };
        let written = ["ann".to_owned(), "staff".into(), "remote".into()];
        let users = QueueUsers::resolve(&written, lookup);
        assert!(users.admit("ann", Some(1000)) && users.admit("ann", None));
        assert!(users.admit("bob", Some(100)), "a listed member");
        assert!(
            users.admit("carl", Some(50)),
            "staff is carl's primary group"
        );
        assert!(users.admit("remote", None), "a user only other hosts know");
        assert!(!users.admit("dave", Some(100)) && !users.admit("dave", None));
        // ann's own group admits whoever has it as primary group too.
        assert!(users.admit("eve", Some(1000)));
    }

    #[test]
    fn groups_expand_for_hosts_and_users() {
        let c = sample();
        assert_eq!(c.queues[0].hosts, [0, 1, 2]);
        let short = c.queues[1].users.as_ref().expect("USERS");
        assert_eq!(
            (&short.names[..], &short.gids[..]),
            (&["ann".to_owned(), "bob".to_owned()][..], &[500][..])
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
