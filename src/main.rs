//! The `leadgate` binary: parse the command line, set up logging, run.

use clap::Parser;

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
