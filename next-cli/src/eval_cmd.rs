//! `next eval --tasks T.jsonl --model CONFIG.toml [-n 10] [-k 1,5,10]
//! [--renderer inline,none] [--shots 3] [--proxy CONFIG.toml] [--out RESULTS.json] [--json]`: a
//! model's fix rate on repair tasks, with and without traces in the prompt.
//!
//! Each task is walked as the loop walks it (`next_core::repair`): traced, rendered by
//! each renderer asked for (`none` shows the program alone), sampled `n` times and each
//! fix judged. The scores are the unbiased pass@k for each k, over all tasks and per bug
//! type (a task's `bug_type` metadata), each with a 95% bootstrap interval over the
//! tasks (`next_core::eval`). Prompts are led by `--shots` exemplars (3 by default, as
//! the paper evaluates base models; give 0 for a tuned model), rendered like the tasks. With `--proxy`, the rationales of the first renderer are
//! scored by a second model that must repair the program from each rationale alone.
//!
//! A progress bar runs on stderr. The results are printed as a table, or as one JSON
//! object with `--json`, and written to `--out` as JSON:
//! `{"tasks": path, "n", "ks", "shots", "conditions": [{"renderer", "report", "proxy"}]}`, with
//! `report` an `EvalReport` (per-task counts included) and `proxy` null or a
//! `ProxyScore`; its HTML report (`next report`) goes beside it, `RESULTS.html`.
//!
//! Exit status: 0 when the evaluation ran, 2 when it could not (a missing file, a role
//! that cannot be built, a setting out of range).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use next_core::checkpoint::Checkpoint;
use next_core::eval::{self, EvalConfig, EvalReport, ProxyScore, Scores};
use next_core::repair::Repairer;
use tokio::runtime::Runtime;

use crate::config::RunConfig;
use crate::error::CliError;
use crate::walk_args::{self, Roles, WalkArgs};

/// The arguments of `next eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The repair tasks, JSON Lines.
    #[arg(long)]
    tasks: PathBuf,
    /// The TOML file whose `[sampler]` table names the model.
    #[arg(long)]
    model: PathBuf,
    /// Samples per task.
    #[arg(short, long, default_value_t = 10)]
    n: usize,
    /// Evaluate a checkpoint of this run directory (`--iteration`) instead of the base
    /// model; `--model` must name the run's sampler.
    #[arg(long)]
    run: Option<PathBuf>,
    /// With `--run`: which iteration's checkpoint (`best`: the one the run chose).
    #[arg(long, default_value = "best", requires = "run")]
    iteration: String,
    /// The k of each pass@k, comma-separated.
    #[arg(short, long, value_delimiter = ',', default_value = "1,5,10")]
    k: Vec<usize>,
    /// The renderers to evaluate with, comma-separated (`none`: no trace in the prompt).
    #[arg(long, value_delimiter = ',', default_value = "inline,none")]
    renderer: Vec<String>,
    /// A second model's TOML file: score the rationales by how often it repairs the
    /// program from one alone.
    #[arg(long)]
    proxy: Option<PathBuf>,
    /// Evaluate only the first this many tasks.
    #[arg(long)]
    limit: Option<usize>,
    /// Tasks walked at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Write the results as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the results as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// The roles, shots and sampling of the walk.
    #[command(flatten)]
    walk: WalkArgs,
}

/// One renderer's results.
struct Condition {
    renderer: String,
    report: EvalReport,
    proxy: Option<ProxyScore>,
}

/// Runs `next eval`.
///
/// # Errors
/// [`CliError`] when a file cannot be read or written, a role cannot be built, or a
/// setting is out of range.
pub fn run(args: &EvalArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let mut tasks = crate::tasks_file::read_tasks(&args.tasks)?;
    tasks.truncate(args.limit.unwrap_or(usize::MAX));
    let config = EvalConfig {
        n: args.n,
        ks: args.k.clone(),
        params: args.walk.sampling.params()?,
        concurrency: args.concurrency,
        ..EvalConfig::default()
    };
    config.validate().map_err(CliError::Input)?;
    let _context = runtime.enter();
    let Roles { tracer, verifier } = args.walk.roles.build()?;
    let sampler = RunConfig::read(&args.model)?.build_sampler()?;
    let proxy_sampler = match &args.proxy {
        Some(path) => Some(RunConfig::read(path)?.build_sampler()?),
        None => None,
    };
    let base = match &args.run {
        Some(dir) => run_checkpoint(dir, &args.iteration)?,
        None => Checkpoint::base(),
    };
    let mut conditions = Vec::new();
    for (i, name) in args.renderer.iter().enumerate() {
        let renderer = walk_args::renderer(name)?;
        let repairer = Repairer::new(&*tracer, &*renderer, &*sampler, &*verifier);
        let shots = runtime.block_on(args.walk.shots.render(&repairer, &base))?;
        let repairer = repairer.with_shots(&shots).shots_for_tuned(true);
        let tasks_bar = bar(tasks.len(), &format!("eval {name}"));
        let report = runtime
            .block_on(eval::evaluate(repairer, &tasks, &base, &config, &|done| {
                tasks_bar.set_position(done as u64);
            }))
            .map_err(CliError::Input)?;
        tasks_bar.finish_and_clear();
        let proxy = match (&proxy_sampler, i) {
            (Some(proxy_sampler), 0) => {
                let none = walk_args::renderer("none")?;
                let proxy = Repairer::new(&*tracer, &*none, &**proxy_sampler, &*verifier);
                let rationales = report
                    .tasks
                    .iter()
                    .flat_map(|t| t.rationales.iter().flatten())
                    .filter(|r| !r.trim().is_empty())
                    .count();
                let bar = bar(rationales, "proxy");
                let score = runtime
                    .block_on(eval::proxy(
                        proxy,
                        &tasks,
                        &report,
                        &base,
                        &config,
                        &|done| {
                            bar.set_position(done as u64);
                        },
                    ))
                    .map_err(CliError::Input)?;
                bar.finish_and_clear();
                Some(score)
            }
            _ => None,
        };
        conditions.push(Condition {
            renderer: name.clone(),
            report,
            proxy,
        });
    }
    let json = results_json(args, &base, &conditions);
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        std::fs::write(out, text + "\n").map_err(|source| CliError::Io {
            action: "writing the results to",
            path: out.clone(),
            source,
        })?;
        crate::report_cmd::after_eval(out);
    }
    if args.json {
        crate::outln!("{json}");
    } else {
        crate::out!("{}", table(&conditions));
    }
    Ok(ExitCode::SUCCESS)
}

/// The checkpoint of iteration `which` (a number, or `best`) of the run in `dir`.
fn run_checkpoint(dir: &std::path::Path, which: &str) -> Result<Checkpoint, CliError> {
    let input = |message: String| CliError::Input(next_core::error::InvalidInput::new(message));
    let view = next_core::run::RunView::open(dir).map_err(CliError::Run)?;
    let summary = view
        .summary()
        .map_err(CliError::Run)?
        .ok_or_else(|| input(format!("{} holds no finished run", dir.display())))?;
    if which == "best" {
        return Ok(summary.best.checkpoint);
    }
    let iteration: u32 = which.parse().map_err(|_| {
        input(format!(
            "--iteration {which:?} is neither a number nor best"
        ))
    })?;
    if iteration == 0 {
        return Ok(Checkpoint::base());
    }
    summary
        .iterations
        .into_iter()
        .find(|i| i.iteration == iteration)
        .map(|i| i.checkpoint)
        .ok_or_else(|| input(format!("{} has no iteration {iteration}", dir.display())))
}

/// A progress bar of `len` steps on stderr (hidden when stderr is not a terminal).
fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

fn results_json(
    args: &EvalArgs, checkpoint: &Checkpoint, conditions: &[Condition],
) -> serde_json::Value {
    serde_json::json!({
        "tasks": args.tasks,
        "n": args.n,
        "ks": args.k,
        "shots": args.walk.shots.count(checkpoint),
        "checkpoint": checkpoint,
        "conditions": conditions
            .iter()
            .map(|c| serde_json::json!({
                "renderer": c.renderer,
                "report": c.report,
                "proxy": c.proxy,
            }))
            .collect::<Vec<_>>(),
    })
}

/// The results as a table: one row per renderer (and per bug type under it).
fn table(conditions: &[Condition]) -> String {
    let mut out = String::new();
    let row = |out: &mut String, label: &str, scores: &Scores| {
        let _ = write!(out, "{label:<28} {:>5}", scores.tasks);
        for score in &scores.pass_at {
            let p = score.pass;
            let _ = write!(
                out,
                "  pass@{:<2} {:5.1}% [{:5.1}, {:5.1}]",
                score.k,
                100.0 * p.estimate,
                100.0 * p.low,
                100.0 * p.high
            );
        }
        out.push('\n');
    };
    let _ = writeln!(
        out,
        "{:<28} {:>5}  (95% bootstrap intervals)",
        "renderer", "tasks"
    );
    for c in conditions {
        row(&mut out, &c.renderer, &c.report.all);
        for (kind, scores) in &c.report.by_bug_type {
            row(&mut out, &format!("  {kind}"), scores);
        }
        let _ = writeln!(out, "  answers with a fix: {:.1}%", 100.0 * c.report.parsed);
        let failed: Vec<&str> = c
            .report
            .tasks
            .iter()
            .filter(|t| t.failure.is_some())
            .map(|t| t.task.as_str())
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(out, "  tasks whose walk failed: {}", failed.join(", "));
        }
        if let Some(proxy) = &c.proxy {
            let _ = writeln!(
                out,
                "  proxy fix rate of its rationales: {:.1}% [{:.1}, {:.1}] ({} of {})",
                100.0 * proxy.fix_rate.estimate,
                100.0 * proxy.fix_rate.low,
                100.0 * proxy.fix_rate.high,
                proxy.passed,
                proxy.rationales
            );
        }
    }
    out
}
