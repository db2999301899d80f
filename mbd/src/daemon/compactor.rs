//! Compaction off the event loop. The loop forgets old finished jobs and
//! freezes the state (the jobs are shared, not copied: tens of
//! milliseconds at a million); a thread encodes and writes the snapshot
//! beside the live log (seconds at a million) while the loop goes on
//! logging; when the thread is done, the loop puts the snapshot in the
//! log's place with what was logged meanwhile copied after it
//! ([`EventLog::adopt`]).

use crate::event_log::{EventLog, LogError, Mark};
use crate::state::Frozen;
use chan::{ChanId, Channels, Waker};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::Instant;

/// A snapshot being written.
struct Writing {
    /// Where the live log ended when the state was frozen.
    at: Mark,
    started: Instant,
    done: Receiver<Result<EventLog, LogError>>,
}

pub(super) struct Compactor {
    /// The waker the thread rings when its snapshot is written.
    pub(super) wake_id: ChanId,
    waker: Waker,
    writing: Option<Writing>,
}

/// Wakes the loop when dropped.
struct Ring(Waker);

impl Drop for Ring {
    fn drop(&mut self) {
        let _ = self.0.wake();
    }
}

/// A snapshot written, to adopt.
pub(super) struct Written {
    pub(super) fresh: EventLog,
    pub(super) at: Mark,
    pub(super) started: Instant,
}

impl Compactor {
    pub(super) fn new(chans: &mut Channels) -> Result<Compactor, chan::ChanError> {
        let (wake_id, waker) = chans.waker()?;
        Ok(Compactor {
            wake_id,
            waker,
            writing: None,
        })
    }

    pub(super) fn busy(&self) -> bool {
        self.writing.is_some()
    }

    /// Starts writing `frozen` beside the log at `log_path`, which ended
    /// at `at` when it was frozen; an error if no thread could be started
    /// (the caller compacts on its own then).
    pub(super) fn start(
        &mut self,
        log_path: PathBuf,
        frozen: Frozen,
        at: Mark,
    ) -> std::io::Result<()> {
        let (tx, done) = mpsc::channel();
        // Rung however the thread ends (a panic too): the loop then finds
        // the answer, or that none will come.
        let ring = Ring(self.waker.clone());
        thread::Builder::new()
            .name("compactor".into())
            .spawn(move || {
                let _ring = ring;
                let records = frozen.snapshot().map(|c| (c.kind(), c.payload()));
                // The loop may be gone (mbd stopping): nobody to tell.
                let _ = tx.send(EventLog::write_snapshot(&log_path, records));
            })?;
        self.writing = Some(Writing {
            at,
            started: Instant::now(),
            done,
        });
        Ok(())
    }

    /// The snapshot, once written (or why it could not be).
    pub(super) fn finished(&mut self) -> Option<Result<Written, LogError>> {
        let writing = self.writing.as_ref()?;
        let result = match writing.done.try_recv() {
            Err(TryRecvError::Empty) => return None,
            Ok(result) => result,
            Err(TryRecvError::Disconnected) => Err(LogError::Io {
                path: PathBuf::from("(compaction thread)"),
                source: std::io::Error::other("the compaction thread ended without an answer"),
            }),
        };
        let writing = self.writing.take()?;
        Some(result.map(|fresh| Written {
            fresh,
            at: writing.at,
            started: writing.started,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests::sample;
    use crate::state::tests::{ann, request};
    use crate::state::State;
    use chan::Config;
    use std::time::Duration;

    /// Submits one job, logging its change as the daemon does.
    fn submit_logged(state: &mut State, log: &mut EventLog, command: &str) {
        let change = state.submit(&ann(), request(command), 100).unwrap();
        log.append(change.kind(), &change.payload()).unwrap();
        state.apply(&change);
    }

    #[test]
    fn what_is_logged_while_the_snapshot_is_written_is_kept() {
        let dir = std::env::temp_dir().join(format!("mbd-compactor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events");
        let (mut log, _) = EventLog::open(&path).unwrap();
        let mut state = State::new(sample());
        for n in 0..3 {
            submit_logged(&mut state, &mut log, &format!("before {n}"));
        }
        let mut chans = Channels::new(Config::default()).unwrap();
        let mut compactor = Compactor::new(&mut chans).unwrap();
        let at = log.mark().unwrap();
        let started = compactor.start(path.clone(), state.frozen(), at);
        assert!(started.is_ok(), "the thread starts");
        assert!(compactor.busy());
        // The loop goes on meanwhile: these are after the snapshot.
        for n in 0..2 {
            submit_logged(&mut state, &mut log, &format!("during {n}"));
        }
        log.commit().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let written = loop {
            if let Some(done) = compactor.finished() {
                break done.unwrap();
            }
            assert!(Instant::now() < deadline, "the snapshot is never written");
            chans.chan_epoll(Some(Duration::from_millis(20))).unwrap();
            while chans.next_event().is_some() {}
        };
        assert!(!compactor.busy());
        log.adopt(written.fresh, written.at).unwrap();
        drop(log);
        let (_, replay) = EventLog::open(&path).unwrap();
        let replayed = State::replay(sample(), &replay.records).unwrap();
        let commands = |s: &State| -> Vec<String> {
            s.jobs().map(|j| j.spec.request.command.clone()).collect()
        };
        assert_eq!(commands(&replayed), commands(&state));
        assert_eq!(commands(&state).len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
