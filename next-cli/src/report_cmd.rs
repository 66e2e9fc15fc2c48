//! `next report PATH [-o FILE]`: the self-contained HTML report (`next_core::html`) of a
//! run directory (`PATH/report.html` by default) or of the results file of
//! `next eval --out` (`RESULTS.html` beside it by default). Prints the report's path.
//!
//! `next run` and `next resume` write their run's report when the run finishes, and
//! `next eval --out RESULTS.json` writes `RESULTS.html`; those say where on stderr, as
//! their stdout is their result. A report that cannot be written there is a warning, not
//! the command's failure: the run or the evaluation stands.
//!
//! Exit status: 0 when the report was written, 1 when it could not be.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use next_core::html::{self, HtmlError};

use crate::error::CliError;

/// The arguments of `next report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A run directory, or the JSON results file of `next eval --out`.
    path: PathBuf,
    /// Where to write the report (default: `DIR/report.html`, or the results file with
    /// the extension `.html`).
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// Runs `next report`.
///
/// # Errors
/// [`CliError::Report`] when the run or the results cannot be read, or the report
/// cannot be written.
pub fn run(args: &ReportArgs) -> Result<ExitCode, CliError> {
    let written = write(&args.path, args.out.as_deref())?;
    crate::outln!("{}", written.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes the report of `path`: a run directory's, or an evaluation's results'.
fn write(path: &Path, out: Option<&Path>) -> Result<PathBuf, CliError> {
    let written = if path.is_dir() {
        html::write_run_report(path, out)
    } else {
        html::write_eval_report(path, out)
    };
    written.map_err(|source| CliError::Report {
        path: path.to_owned(),
        source,
    })
}

/// The end of a finished `next run` or `next resume`: writes the run's report, saying
/// where (or why not) on stderr.
pub(crate) fn after_run(dir: &Path) {
    announce(html::write_run_report(dir, None), dir);
}

/// The end of `next eval --out RESULTS`: writes the results' report beside them, saying
/// where (or why not) on stderr.
pub(crate) fn after_eval(results: &Path) {
    announce(html::write_eval_report(results, None), results);
}

fn announce(written: Result<PathBuf, HtmlError>, from: &Path) {
    match written {
        Ok(path) => eprintln!("report: {}", path.display()),
        Err(error) => eprintln!(
            "warning: no report of {}: {}",
            from.display(),
            next_core::error::chain(&error)
        ),
    }
}
