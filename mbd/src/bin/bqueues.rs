//! `bqueues`: see [`mbd::cmd::bqueues`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bqueues::main()
}
