use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    env_logger::init();
    let cli = layerwise::cli::Cli::parse();
    match layerwise::cli::run(cli) {
        Some(code) => code,
        None => {
            // The app arrives in a later change; until then, say what there is.
            let _ = layerwise::cli::Cli::command().print_help();
            ExitCode::SUCCESS
        }
    }
}
