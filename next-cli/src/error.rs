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
    /// `next run` was pointed at a directory that already holds a run.
    #[error(
        "{dir} already holds a run; continue it with `next resume {dir} --config {config}`, \
         or choose another --out directory"
    )]
    AlreadyExists {
        /// The run directory.
        dir: PathBuf,
        /// The configuration file given.
        config: PathBuf,
    },
    /// `next resume` was given a configuration whose `[loop]` differs from the run's.
    #[error(
        "configuration mismatch: the [loop] settings of {config} differ from those the run \
         in {dir} was started with ({differences}); resume with the run's settings \
         (they are in {dir}/config.json)"
    )]
    ConfigMismatch {
        /// The run directory.
        dir: PathBuf,
        /// The configuration file given.
        config: PathBuf,
        /// The settings that differ, one phrase each, or where to look.
        differences: String,
    },
    /// The run failed.
    #[error("the run failed")]
    Run(#[from] next_core::run::RunError),
}
