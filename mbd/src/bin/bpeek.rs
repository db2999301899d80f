//! `bpeek`: see [`mbd::cmd::bpeek`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bpeek::main()
}
