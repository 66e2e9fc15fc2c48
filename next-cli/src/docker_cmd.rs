//! `next docker image [--python PATH] [--tag TAG] [--socket PATH]`: builds the Docker
//! sandbox's image from this host's Python (`next_verifiers::docker::build_image`), with
//! no registry, and checks it with one job. Built with next-cli's feature `docker`.
//!
//! Exit status: 0 when the image was built and checked, 2 otherwise (no engine, no
//! interpreter, a failed import or check), with the reason on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use next_verifiers::docker::{build_image, ImageOptions, DEFAULT_IMAGE, DEFAULT_SOCKET};
use tokio::runtime::Runtime;

use crate::error::CliError;

/// The arguments of `next docker`.
#[derive(clap::Args, Debug)]
pub struct DockerArgs {
    #[command(subcommand)]
    command: DockerCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DockerCommand {
    /// Build the sandbox image from this host's CPython (binary, standard library,
    /// the shared libraries it loads) and check it with one job.
    Image {
        /// The interpreter to copy (default: `python3` on PATH, resolved).
        #[arg(long)]
        python: Option<PathBuf>,
        /// The image's tag (the sandbox's `image` option).
        #[arg(long, default_value = DEFAULT_IMAGE)]
        tag: String,
        /// The engine's Unix socket.
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
    },
}

/// Runs `next docker`: exit 0 when the image was built and checked.
///
/// # Errors
/// [`CliError::Image`] when it was not; `main` exits with 2.
pub fn run(args: &DockerArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let DockerCommand::Image {
        python,
        tag,
        socket,
    } = &args.command;
    let options = ImageOptions {
        interpreter: python.clone(),
        tag: tag.clone(),
        socket: socket.clone(),
    };
    let report = runtime.block_on(build_image(&options))?;
    #[allow(clippy::cast_precision_loss)]
    let megabytes = report.bytes as f64 / 1e6;
    crate::outln!(
        "built {} ({}): Python {} at {}, {} files, {megabytes:.1} MB, in {:.1} s",
        report.tag,
        report.id,
        report.version,
        report.python.display(),
        report.files,
        report.took.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
