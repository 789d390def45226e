//! The `roster` binary: parse the command line and dispatch.

/// mimalloc allocates faster than the system allocator on the request path (measured in
/// docs/BENCHMARKS.md). Built without its transparent-huge-page advice (`no_thp`): with it, each
/// touched 4 KiB of a fresh arena made a 2 MiB page resident (53 MB once ready, 32 MB without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster::cli::run()
}
