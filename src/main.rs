//! The `roster` binary: parse the command line and dispatch.

fn main() -> std::process::ExitCode {
    roster::cli::run()
}
