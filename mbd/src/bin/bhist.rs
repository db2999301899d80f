//! `bhist`: see [`mbd::cmd::bhist`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bhist::main()
}
