//! `bsub`: see [`mbd::cmd::bsub`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bsub::main()
}
