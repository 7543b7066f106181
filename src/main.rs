//! The `leadgate` binary: parse the command line, set up logging, run.

use clap::Parser;

/// jemalloc instead of the system allocator: parsing mail and building rows allocate many small, short-lived
/// objects on several threads, where glibc's malloc spent a fifth of a collector run's CPU.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadgate::telemetry::init();
    let cli = leadgate::cli::Cli::parse();
    match leadgate::cli::run(cli).await {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("leadgate: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
