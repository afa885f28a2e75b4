//! `sim-bench`: parses the command line and runs the subcommand.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = sim_bench::cli::Cli::parse();
    match sim_bench::commands::run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sim-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
