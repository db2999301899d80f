//! `bstop`: see [`mbd::cmd::bstop`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bstop::stop()
}
