//! The jobs held, each behind an `Arc`: a compaction's snapshot copies
//! this map (a pointer per job), not the jobs, and writes it off the
//! event loop; a job that changes meanwhile is copied then
//! (`Arc::make_mut`), so the snapshot keeps the job as it was.

use crate::job::Job;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Jobs(BTreeMap<u32, Arc<Job>>);

impl Jobs {
    pub fn get(&self, id: &u32) -> Option<&Job> {
        self.0.get(id).map(|j| &**j)
    }

    /// Job `id` to change: its own copy if a snapshot still shares it.
    pub fn get_mut(&mut self, id: &u32) -> Option<&mut Job> {
        self.0.get_mut(id).map(Arc::make_mut)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Job> {
        self.0.values().map(|j| &**j)
    }

    /// The jobs from id `first` on, by id.
    pub fn starting_at(&self, first: u32) -> impl Iterator<Item = &Job> {
        self.0.range(first..).map(|(_, j)| &**j)
    }

    #[cfg(test)]
    pub fn keys(&self) -> impl Iterator<Item = &u32> {
        self.0.keys()
    }

    pub fn contains_key(&self, id: &u32) -> bool {
        self.0.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn insert(&mut self, id: u32, job: Job) -> Option<Arc<Job>> {
        self.0.insert(id, Arc::new(job))
    }

    pub fn remove(&mut self, id: &u32) -> Option<Arc<Job>> {
        self.0.remove(id)
    }
}
