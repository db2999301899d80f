//! `bmove`: see [`mbd::cmd::bmove`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bmove::main()
}
