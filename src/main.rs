//! The `roster` binary: parse the command line and dispatch.

/// mimalloc returns freed memory to the system promptly (argon2's 19 MiB buffers would
/// otherwise stay resident) and is faster than the system allocator on the request path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster::cli::run()
}
