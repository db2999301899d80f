//! `bmod`: see [`mbd::cmd::bmod`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bmod::main()
}
