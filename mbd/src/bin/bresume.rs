//! `bresume`: see [`mbd::cmd::bstop`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bstop::resume()
}
