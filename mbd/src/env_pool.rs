//! Job environments, kept once: consecutive submissions from one shell
//! carry nearly the same tens of variables, which would otherwise be most
//! of a pending job's memory (about 3 KB for a 1.5 KB environment as
//! separate strings). Each distinct variable is held once, and so is each
//! distinct run of variables ("chunk") and each distinct list of chunks:
//! jobs from one shell share one list, and jobs whose environments differ
//! in a variable or two (`I=$i bsub ...` in a loop) share all chunks but
//! the one holding the difference.
//!
//! Chunks end after a variable whose hash says so, not at fixed
//! positions, so a variable added or removed changes one chunk, not every
//! chunk after it.

use proto::{Decode, DecodeError};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A run of `NAME=value` entries, shared.
pub type Chunk = Arc<[Arc<str>]>;

/// A job's environment: its chunks in order, shared.
pub type Env = Arc<[Chunk]>;

/// One variable in this many ends a chunk (on average)...
const CHUNK_END_ONE_IN: u64 = 8;
/// ...and no chunk is longer than this.
const MAX_CHUNK: usize = 64;

#[derive(Debug, Default)]
pub struct EnvPool {
    vars: HashSet<Arc<str>>,
    chunks: HashSet<Chunk>,
    lists: HashSet<Env>,
    /// The list returned last: the next submission's is usually the same.
    last: Option<Env>,
    /// The last list interned from its encoding, with that encoding.
    last_encoded: Option<(Vec<u8>, Env)>,
}

impl EnvPool {
    /// The shared copy of `env`.
    pub fn intern(&mut self, env: &[String]) -> Env {
        if let Some(last) = &self.last {
            if same_vars(last, env) {
                return Arc::clone(last);
            }
        }
        let shared = self.intern_list(env);
        self.last = Some(Arc::clone(&shared));
        shared
    }

    /// The shared copy of the environment encoded as `encoded` (as
    /// `Vec<String>` encodes it): when it is the same bytes as the last
    /// one, without decoding it (a replay of one shell's submissions).
    pub fn intern_encoded(&mut self, encoded: &[u8]) -> Result<Env, DecodeError> {
        if let Some((bytes, env)) = &self.last_encoded {
            if bytes.as_slice() == encoded {
                return Ok(Arc::clone(env));
            }
        }
        let shared = self.intern(&Vec::<String>::from_body(encoded)?);
        self.last_encoded = Some((encoded.to_vec(), Arc::clone(&shared)));
        Ok(shared)
    }

    fn intern_list(&mut self, env: &[String]) -> Env {
        let mut list: Vec<Chunk> = Vec::new();
        let mut run: Vec<Arc<str>> = Vec::new();
        for var in env {
            run.push(self.var(var));
            if run.len() >= MAX_CHUNK || ends_chunk(var) {
                list.push(self.chunk(std::mem::take(&mut run)));
            }
        }
        if !run.is_empty() {
            list.push(self.chunk(run));
        }
        intern(&mut self.lists, list)
    }

    fn chunk(&mut self, run: Vec<Arc<str>>) -> Chunk {
        intern(&mut self.chunks, run)
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
        self.last_encoded = None;
        // Outermost first: lists hold chunks, chunks hold variables.
        self.lists.retain(|l| Arc::strong_count(l) > 1);
        self.chunks.retain(|c| Arc::strong_count(c) > 1);
        self.vars.retain(|v| Arc::strong_count(v) > 1);
    }

    /// Distinct variables, chunks and lists held.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize, usize) {
        (self.vars.len(), self.chunks.len(), self.lists.len())
    }
}

/// The shared copy of `items` in `set`, added if new.
fn intern<T: Eq + std::hash::Hash>(set: &mut HashSet<Arc<[T]>>, items: Vec<T>) -> Arc<[T]> {
    if let Some(found) = set.get(items.as_slice()) {
        return Arc::clone(found);
    }
    let shared: Arc<[T]> = items.into();
    set.insert(Arc::clone(&shared));
    shared
}

/// Whether a chunk ends after `var`. Decided by the variable alone, so the
/// same variables cut the same chunks in every environment they are in.
fn ends_chunk(var: &str) -> bool {
    // DefaultHasher::new() has fixed keys: the same cut in every run.
    let mut h = DefaultHasher::new();
    var.hash(&mut h);
    h.finish() % CHUNK_END_ONE_IN == 0
}

fn vars(env: &Env) -> impl Iterator<Item = &Arc<str>> {
    env.iter().flat_map(|chunk| chunk.iter())
}

fn same_vars(env: &Env, strings: &[String]) -> bool {
    let len: usize = env.iter().map(|chunk| chunk.len()).sum();
    len == strings.len() && vars(env).zip(strings).all(|(a, b)| **a == **b)
}

/// `env` as the owned strings the wire and the log carry.
pub fn to_strings(env: &Env) -> Vec<String> {
    vars(env).map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[&str]) -> Vec<String> {
        vars.iter().map(|v| v.to_string()).collect()
    }

    /// A shell-like environment of `n` variables.
    fn shell(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("VAR{i}=value number {i}")).collect()
    }

    fn encoded(vars: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        proto::Encode::encode(vars, &mut out);
        out
    }

    #[test]
    fn an_encoded_environment_is_the_one_its_strings_are() {
        let mut pool = EnvPool::default();
        let a = pool.intern_encoded(&encoded(&shell(40))).unwrap();
        let again = pool.intern_encoded(&encoded(&shell(40))).unwrap();
        assert!(Arc::ptr_eq(&a, &again), "the same bytes, the same list");
        let other = pool.intern_encoded(&encoded(&shell(41))).unwrap();
        assert_eq!(to_strings(&other), shell(41), "different bytes decoded");
        let decoded = pool.intern(&shell(40));
        assert!(Arc::ptr_eq(&a, &decoded), "one pool whichever way in");
        let mut bad = encoded(&env(&["OK=1"]));
        bad[8] = 0xff;
        assert!(pool.intern_encoded(&bad).is_err(), "not UTF-8");
    }

    #[test]
    fn equal_environments_share_one_list() {
        let mut pool = EnvPool::default();
        let a = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/a"]));
        let b = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/a"]));
        assert!(Arc::ptr_eq(&a, &b), "same list, one copy");
        let c = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/b"]));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(pool.counts().0, 4, "HOME and PATH held once");
        assert_eq!(
            to_strings(&c),
            env(&["HOME=/home/ann", "PATH=/bin", "PWD=/b"])
        );
        // Not only the last one is found again.
        let a_again = pool.intern(&env(&["HOME=/home/ann", "PATH=/bin", "PWD=/a"]));
        assert!(Arc::ptr_eq(&a, &a_again));
    }

    #[test]
    fn environments_differing_in_one_variable_share_all_chunks_but_one() {
        let mut pool = EnvPool::default();
        let base = shell(40);
        let first = pool.intern(&base);
        assert!(first.len() > 2, "40 variables make several chunks");
        for (i, change) in ["changed", "inserted", "removed"].into_iter().enumerate() {
            let mut other = base.clone();
            match change {
                // A new value that cuts where the old one did (a value
                // that cuts elsewhere changes two chunks, still not all).
                "changed" => {
                    other[17] = (0..)
                        .map(|n| format!("VAR17=another value {n}"))
                        .find(|v| ends_chunk(v) == ends_chunk(&base[17]))
                        .unwrap_or_default();
                }
                "inserted" => other.insert(0, "I=7".into()),
                _ => drop(other.remove(30)),
            }
            let second = pool.intern(&other);
            assert_eq!(to_strings(&second), other, "{change}");
            let new_chunks = (second.iter())
                .filter(|c| !first.iter().any(|f| Arc::ptr_eq(f, c)))
                .count();
            assert_eq!(
                new_chunks, 1,
                "{change}: only the chunk with the difference is new"
            );
            assert_eq!(pool.counts().2, i + 2);
        }
    }

    #[test]
    fn a_long_run_without_a_cut_is_split_at_the_maximum() {
        let mut pool = EnvPool::default();
        let no_cut: Vec<String> = (0..)
            .map(|i| format!("N{i}=x"))
            .filter(|v| !ends_chunk(v))
            .take(MAX_CHUNK * 2 + 1)
            .collect();
        let env = pool.intern(&no_cut);
        let lens: Vec<usize> = env.iter().map(|c| c.len()).collect();
        assert_eq!(lens, [MAX_CHUNK, MAX_CHUNK, 1]);
        assert_eq!(to_strings(&env), no_cut);
    }

    #[test]
    fn an_empty_environment_is_an_empty_list() {
        let mut pool = EnvPool::default();
        let empty = pool.intern(&[]);
        assert!(empty.is_empty());
        assert!(to_strings(&empty).is_empty());
    }

    #[test]
    fn a_sweep_forgets_only_what_no_job_holds() {
        let mut pool = EnvPool::default();
        let kept = pool.intern(&env(&["A=1", "B=2"]));
        let (vars, chunks, lists) = pool.counts();
        drop(pool.intern(&env(&["C=3"])));
        pool.sweep();
        assert_eq!(
            pool.counts(),
            (vars, chunks, lists),
            "C=3 and its chunk and list are gone"
        );
        let again = pool.intern(&env(&["A=1", "B=2"]));
        assert!(Arc::ptr_eq(&kept, &again));
    }
}
