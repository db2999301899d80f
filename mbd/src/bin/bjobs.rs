//! `bjobs`: see [`mbd::cmd::bjobs`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bjobs::main()
}
