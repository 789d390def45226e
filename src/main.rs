//! The `roster` binary: parse the command line and dispatch.

/// mimalloc allocates faster than the system allocator on the request path (measured in
/// docs/BENCHMARKS.md) and gives memory back when a thread retires, so argon2's 19 MiB working
/// buffers leave with their idle blocking thread instead of staying resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster::cli::run()
}
