//! Channel ids and the table that hands them out.

use std::fmt;

/// Names one channel in a [`crate::Channels`] table.
///
/// An id is a slot index plus the slot's generation at the time the channel
/// was opened. Closing a channel bumps the generation, so an old id (or a
/// kernel event that still carries it) never reaches the channel that reuses
/// the slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChanId {
    index: u32,
    generation: u32,
}

impl ChanId {
    /// The slot index: what the legacy C API called the channel id, and
    /// what [`crate::ChanSet`] bits are indexed by.
    pub fn index(self) -> usize {
        self.index as usize
    }

    pub fn generation(self) -> u32 {
        self.generation
    }

    /// The epoll event data: `(generation << 32) | index`.
    pub(crate) fn token(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    pub(crate) fn from_token(token: u64) -> ChanId {
        ChanId {
            index: token as u32,
            generation: (token >> 32) as u32,
        }
    }
}

impl fmt::Debug for ChanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ch{}.{}", self.index, self.generation)
    }
}

impl fmt::Display for ChanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Slots with generations and a free list; grows up to a fixed capacity.
pub(crate) struct Table<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    capacity: usize,
    live: usize,
}

impl<T> Table<T> {
    pub(crate) fn new(capacity: usize) -> Table<T> {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            capacity: capacity.min(u32::MAX as usize),
            live: 0,
        }
    }

    /// Stores `value`, or hands it back when the table is full. The most
    /// recently freed slot is reused first.
    pub(crate) fn insert(&mut self, value: T) -> Result<ChanId, T> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < self.capacity => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
            None => return Err(value),
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        self.live += 1;
        Ok(ChanId {
            index,
            generation: slot.generation,
        })
    }

    pub(crate) fn get(&self, id: ChanId) -> Option<&T> {
        let slot = self.slots.get(id.index())?;
        (slot.generation == id.generation).then_some(slot.value.as_ref()?)
    }

    pub(crate) fn get_mut(&mut self, id: ChanId) -> Option<&mut T> {
        let slot = self.slots.get_mut(id.index())?;
        if slot.generation != id.generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// Takes the value out and retires the id.
    pub(crate) fn remove(&mut self, id: ChanId) -> Option<T> {
        let slot = self.slots.get_mut(id.index())?;
        if slot.generation != id.generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        self.live -= 1;
        Some(value)
    }

    /// The id currently living at `index`, if any.
    pub(crate) fn id_at(&self, index: usize) -> Option<ChanId> {
        let slot = self.slots.get(index)?;
        slot.value.as_ref()?;
        Some(ChanId {
            index: index as u32,
            generation: slot.generation,
        })
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = ChanId> + '_ {
        (0..self.slots.len()).filter_map(|i| self.id_at(i))
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Slots ever used: the bound on indices, which sizes `ChanSet`s.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips() {
        let id = ChanId {
            index: 7,
            generation: 0xdead_beef,
        };
        assert_eq!(ChanId::from_token(id.token()), id);
        assert_eq!(id.token(), 0xdead_beef_0000_0007);
    }

    #[test]
    fn reuse_bumps_generation_and_old_id_is_dead() {
        let mut t = Table::new(4);
        let a = t.insert('a').unwrap();
        assert_eq!(t.remove(a), Some('a'));
        let b = t.insert('b').unwrap();
        assert_eq!(a.index(), b.index());
        assert_ne!(a.generation(), b.generation());
        assert!(t.get(a).is_none());
        assert!(t.remove(a).is_none());
        assert_eq!(t.get(b), Some(&'b'));
    }

    #[test]
    fn full_table_hands_the_value_back() {
        let mut t = Table::new(2);
        t.insert(1).unwrap();
        t.insert(2).unwrap();
        assert_eq!(t.insert(3), Err(3));
        assert_eq!(t.len(), 2);
    }
}
