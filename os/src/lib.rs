//! The operating system as lavalite-rs's daemons and commands use it,
//! beyond channels: what `chan::sys` must not own (it keeps epoll,
//! sockets, timerfd, signalfd and eventfd). Users, processes, file-system
//! room and locks, the host's name, clock and local time, randomness, and
//! the commands' standard output. Each part is a safe wrapper over a kept
//! crate (`nix`, `jiff`, `getrandom`); this crate has no `unsafe`, opens
//! no socket and knows no daemon.

pub mod fs;
pub mod host;
pub mod process;
pub mod random;
pub mod stdout;
pub mod time;
pub mod users;
