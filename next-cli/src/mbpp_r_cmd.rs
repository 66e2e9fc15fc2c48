//! `next data mbpp-r MBPP.jsonl --model CONFIG.toml -o OUT.jsonl [-n 8]
//! [--splits train,validation] [--limit N]`: Mbpp-R as the paper made it.
//!
//! A model is asked to write the program of each MBPP problem from its description and
//! tests (`next_core::prompt::synthesis`; the reference solution is not shown), `n`
//! times. Its distinct programs (after trimming, other than the reference) that load,
//! run and fail at least one test without a timeout are kept as repair tasks, judged in
//! the sandbox by the same verifier as the mutation builder's (`next data mutate`).
//! Each records its source task (`source_task`) and how its bug was made (`operator`
//! and `bug_type` = `model`); ids are `SOURCE/sK`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use next_core::checkpoint::Checkpoint;
use next_core::prompt::{self, Answer};
use next_core::sample::SamplingParams;
use next_core::task::RepairTask;
use tokio::runtime::Runtime;

use crate::config::RunConfig;
use crate::error::CliError;
use crate::mutate_cmd::{self, Mutant, MODEL};
use crate::walk_args::SamplingArgs;

/// The arguments of `next data mbpp-r`.
#[derive(clap::Args, Debug)]
pub struct MbppRArgs {
    /// MBPP as repair tasks whose programs are the reference solutions (`next data
    /// import mbpp`).
    file: PathBuf,
    /// The TOML file whose `[sampler]` table names the model.
    #[arg(long)]
    model: PathBuf,
    /// Where to write the failing programs, one repair task a line.
    #[arg(short, long)]
    out: PathBuf,
    /// Programs sampled per problem.
    #[arg(short, long, default_value_t = 8)]
    n: usize,
    /// Only problems whose `split` metadata is one of these (comma-separated; empty:
    /// all).
    #[arg(long, value_delimiter = ',', default_value = "train,validation")]
    splits: Vec<String>,
    /// Only the first this many problems.
    #[arg(long)]
    limit: Option<usize>,
    /// The sandbox that judges.
    #[arg(long, default_value = "process")]
    sandbox: String,
    /// The Python interpreter of the process sandbox (default: `python3` on PATH).
    #[arg(long)]
    python: Option<PathBuf>,
    /// How samples are drawn.
    #[command(flatten)]
    sampling: SamplingArgs,
}

/// Runs `next data mbpp-r`.
///
/// # Errors
/// [`CliError`] when a file cannot be read or written, the model cannot be built or
/// fails, or the sandbox fails.
pub fn run(args: &MbppRArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let start = Instant::now();
    let mut tasks = mutate_cmd::of_splits(crate::tasks_file::read_tasks(&args.file)?, &args.splits);
    tasks.truncate(args.limit.unwrap_or(usize::MAX));
    let params = args.sampling.params()?;
    let _context = runtime.enter();
    let model = RunConfig::read(&args.model)?.build_sampler()?;
    let sandbox = crate::input::sandbox(&args.sandbox, args.python.as_deref())?;
    let bar = bar(tasks.len());
    let mut programs = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        let params = SamplingParams {
            seed: params.seed.map(|s| s.wrapping_add(1000 * i as u64)),
            ..params.clone()
        };
        let samples = runtime
            .block_on(model.sample(
                &Checkpoint::base(),
                &prompt::synthesis(task),
                args.n,
                &params,
            ))
            .map_err(|source| CliError::Sampling {
                task: task.id.as_str().to_owned(),
                source,
            })?;
        programs.push(distinct_programs(task, samples.iter().map(|s| &s.answer)));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let sampled: usize = programs.iter().map(Vec::len).sum();
    let verifier = mutate_cmd::judge_verifier(&sandbox);
    let kept = runtime.block_on(mutate_cmd::judge(&verifier, &tasks, programs, 4))?;
    mutate_cmd::write_kept(
        &args.out,
        &kept,
        tasks.len(),
        start,
        "programs",
        "problems",
        &format!("{sampled} distinct programs sampled"),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The distinct programs of `answers`, other than the task's own (the reference).
fn distinct_programs<'a>(
    task: &RepairTask, answers: impl Iterator<Item = &'a Answer>,
) -> Vec<Mutant> {
    let reference = task.program.source().trim();
    let mut seen = BTreeSet::new();
    answers
        .filter_map(|answer| match answer {
            Answer::Fix { program, .. } => Some(program.source().trim().to_owned()),
            Answer::Unparseable { .. } => None,
        })
        .filter(|src| !src.is_empty() && src != reference && seen.insert(src.clone()))
        .map(|src| Mutant {
            op: MODEL.to_owned(),
            src: format!("{src}\n"),
        })
        .collect()
}

/// A progress bar over the problems, on stderr.
fn bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("sampling [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
