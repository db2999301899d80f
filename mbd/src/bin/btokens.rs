//! `btokens`: see [`mbd::cmd::btokens`].

fn main() -> std::process::ExitCode {
    mbd::cmd::btokens::main()
}
