use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    env_logger::init();
    layerwise::cli::run(layerwise::cli::Cli::parse())
}
