//! Self-contained HTML reports of a loop run and of an evaluation.
//!
//! A report is one HTML file with nothing to fetch: the style is inline, the plots are
//! SVG written here, and there is no script at all (the page's content security policy
//! forbids scripts, so even model output that slipped through escaping could not run).
//! It shows:
//!
//! - for a run ([`run_report`], read through [`RunView`] while the run may still be
//!   going): the fix rate on the development tasks per iteration with bootstrap
//!   intervals, pass@k curves, the fix rate per bug type (tasks with a `bug_type`
//!   metadata), the hard-task filter, the training examples kept per iteration, and a
//!   browsable sample of tasks with the trace their prompt shows, each sample's
//!   rationale, fix and verdict;
//! - for an evaluation ([`eval_report`], the `--out` file of `next eval` as
//!   [`EvalResults`]): each renderer's pass@k with its interval, pass@k curves, the
//!   scores per bug type, the proxy score, and each task's counts.
//!
//! Every figure on a page carries its name and exact value,
//! `<span data-metric="eval-1.pass@1" data-value="0.4375">43.8%</span>`, so that a test
//! can compare the page with the JSON it was made from. Names: `eval-N.pass@k` (and
//! `.low`, `.high`), `eval-N.bug.TYPE.pass@k`, `filter.hard_tasks`, `iter-N.train_examples`,
//! `best.value` for runs; `RENDERER.pass@k`, `RENDERER.bug.TYPE.pass@k`,
//! `RENDERER.parsed`, `RENDERER.proxy.fix_rate` for evaluations.
//!
//! Every piece of task text, program text and model output is escaped ([`escape`]).
//!
//! ```
//! use next_core::html::escape;
//! assert_eq!(escape("</script>"), "&lt;/script&gt;");
//! ```

mod browse;
mod eval;
mod page;
mod plot;
mod run;

use std::path::{Path, PathBuf};

pub use eval::{EvalCondition, EvalResults};
pub use page::escape;

use crate::error::InvalidInput;
use crate::jsonl::{self, JsonlError};
use crate::run::{RunError, RunView};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// The run directory could not be read.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The report could not be written.
    #[error(transparent)]
    Write(#[from] JsonlError),
    /// An evaluation's results could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An evaluation's results are not the JSON `next eval` writes.
    #[error("{path} is not the results of `next eval --out`")]
    Results {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A recorded count is inconsistent (more passing samples than drawn).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
}

/// The report of the run in `dir`, as HTML.
///
/// # Errors
/// [`HtmlError::Run`] when `dir` holds no run or its records cannot be read.
pub fn run_report(dir: &Path) -> Result<String, HtmlError> {
    run::page(&RunView::open(dir)?)
}

/// The report of an evaluation, as HTML; `tasks` are its tasks where known (their
/// programs are shown), else empty.
pub fn eval_report(results: &EvalResults, tasks: &[crate::task::RepairTask]) -> String {
    eval::page(results, tasks)
}

/// Writes the report of the run in `dir` to `out` (default: [`RunView::report_path`],
/// `DIR/report.html`), atomically, and returns where.
///
/// # Errors
/// As [`run_report`], and I/O errors writing.
pub fn write_run_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf, HtmlError> {
    let view = RunView::open(dir)?;
    let html = run::page(&view)?;
    let out = out.map_or_else(|| view.report_path(), Path::to_owned);
    jsonl::write_atomic(&out, html.as_bytes())?;
    Ok(out)
}

/// Where the report of the evaluation results `results` goes by default: beside it,
/// its extension replaced by `.html` (`results.json` gives `results.html`;
/// `results.html` gives `results.report.html`).
pub fn eval_report_path(results: &Path) -> PathBuf {
    if results.extension().is_some_and(|e| e == "html") {
        results.with_extension("report.html")
    } else {
        results.with_extension("html")
    }
}

/// Writes the report of the evaluation results in the file `results` (what `next eval
/// --out` writes) to `out` (default: [`eval_report_path`]), atomically, and returns
/// where. The task file the results name is read, if it can be, to show the programs.
///
/// # Errors
/// [`HtmlError::Read`] and [`HtmlError::Results`] for a results file that cannot be
/// read or is not `next eval`'s; I/O errors writing.
pub fn write_eval_report(results: &Path, out: Option<&Path>) -> Result<PathBuf, HtmlError> {
    let bytes = std::fs::read(results).map_err(|source| HtmlError::Read {
        path: results.to_owned(),
        source,
    })?;
    let parsed: EvalResults =
        serde_json::from_slice(&bytes).map_err(|source| HtmlError::Results {
            path: results.to_owned(),
            source,
        })?;
    // A task file that moved since is no error: the page says the programs are missing.
    let tasks = crate::task::read_tasks(&parsed.tasks).unwrap_or_default();
    let out = out.map_or_else(|| eval_report_path(results), Path::to_owned);
    jsonl::write_atomic(&out, eval_report(&parsed, &tasks).as_bytes())?;
    Ok(out)
}

#[cfg(test)]
mod tests;
