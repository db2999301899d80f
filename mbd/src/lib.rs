//! `mbd` is LavaLite's master batch daemon: it owns the jobs — their
//! durable record, their states, where they run — and answers the batch
//! commands.
//!
//! Work in progress (issue #5): so far the [`event_log`], the append-only
//! file every state change goes to before it is acknowledged.

pub mod event_log;
