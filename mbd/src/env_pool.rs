//! Job environments, kept once: consecutive submissions from one shell
//! carry nearly the same tens of variables, which would otherwise be most
//! of a pending job's memory (about 3 KB for a 1.5 KB environment as
//! separate strings). Each distinct variable and each distinct list is held
//! once and shared by every job that has it.

use std::collections::HashSet;
use std::sync::Arc;

/// A job's environment, `NAME=value` entries, shared.
pub type Env = Arc<[Arc<str>]>;

#[derive(Debug, Default)]
pub struct EnvPool {
    vars: HashSet<Arc<str>>,
    lists: HashSet<Env>,
    /// The list returned last: the next submission's is usually the same.
    last: Option<Env>,
}

impl EnvPool {
    /// The shared copy of `env`.
    pub fn intern(&mut self, env: &[String]) -> Env {
        if let Some(last) = &self.last {
            if last.len() == env.len() && last.iter().zip(env).all(|(a, b)| **a == **b) {
                return Arc::clone(last);
            }
        }
        let shared = self.intern_list(env);
        self.last = Some(Arc::clone(&shared));
        shared
    }

    fn intern_list(&mut self, env: &[String]) -> Env {
        let list: Vec<Arc<str>> = env.iter().map(|v| self.var(v)).collect();
        if let Some(found) = self.lists.get(list.as_slice()) {
            return Arc::clone(found);
        }
        let shared: Env = list.into();
        self.lists.insert(Arc::clone(&shared));
        shared
    }

    fn var(&mut self, var: &str) -> Arc<str> {
        if let Some(found) = self.vars.get(var) {
            return Arc::clone(found);
        }
        let shared: Arc<str> = var.into();
        self.vars.insert(Arc::clone(&shared));
        shared
    }

    /// Forgets what no job holds any more (after compaction dropped jobs).
    pub fn sweep(&mut self) {
        self.last = None;
        // Lists first: they hold references to the variables.
        self.lists.retain(|l| Arc::strong_count(l) > 1);
        self.vars.retain(|v| Arc::strong_count(v) > 1);
    }

    /// Distinct variables and lists held.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        (self.vars.len(), self.lists.len())
    }
}

/// `env` as the owned strings the wire and the log carry.
pub fn to_strings(env: &Env) -> Vec<String> {
    env.iter().map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[&str]) -> Vec<String> {
        vars.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn equal_environments_share_one_list_and_similar_ones_their_variables() {
        let mut pool = EnvPool::default();
        let a = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/a"]));
        let b = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/a"]));
        assert!(Arc::ptr_eq(&a, &b), "same list, one copy");
        let c = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/b"]));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&a[0], &c[0]) && Arc::ptr_eq(&a[1], &c[1]));
        assert_eq!(pool.counts(), (4, 2));
        assert_eq!(
            to_strings(&c),
            env(&["HOME=/home/ann", "PATH=/bin", "PWD=/b"])
        );
    }

    #[test]
    fn a_sweep_forgets_only_what_no_job_holds() {
        let mut pool = EnvPool::default();
        let kept = pool.intern(&env(&["A=1", "B=2"]));
        drop(pool.intern(&env(&["A=1", "C=3"])));
        pool.sweep();
        assert_eq!(pool.counts(), (2, 1), "C=3 and its list are gone");
        let again = pool.intern(&env(&["A=1", "B=2"]));
        assert!(Arc::ptr_eq(&kept, &again));
    }
}
