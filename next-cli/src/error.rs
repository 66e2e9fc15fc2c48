//! The command's errors.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has a wrong setting.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A role could not be built from its table.
    #[error("building the roles")]
    Registry(#[from] next_core::registry::RegistryError),
    /// A task file could not be read.
    #[error("reading tasks")]
    Tasks(#[from] next_core::jsonl::JsonlError),
    /// The loop rejected its configuration.
    #[error("invalid loop configuration")]
    Invalid(#[from] next_core::error::InvalidInput),
    /// The run failed.
    #[error("the run failed")]
    Run(#[from] next_core::run::RunError),
}
