//! `next repair --task TASK.json --model CONFIG.toml [-n 4] [--renderer inline]
//! [--shots 3] [--tracer python] [--verifier tests] [--sandbox process] [--json]`: one repair task
//! end to end, by the same walk the loop runs for each task (`next_core::repair`):
//! trace the buggy program on its tests in the sandbox, render the traces, build the
//! prompt (led by `--shots` exemplars, 3 by default, as the paper prompts a base
//! model), sample `n` rationales and fixes from the configured sampler, and judge each
//! fix with the verifier.
//!
//! The task file holds one repair task as JSON (the form of the task JSON Lines files);
//! a JSON Lines file with several tasks needs `--id`. The model file is a TOML file with
//! a `[sampler]` table, as in a run configuration (other sections are ignored but
//! checked). Sampling parameters default to the loop's (temperature 0.8, top-p 0.95)
//! with 512 tokens.
//!
//! Exit status: 0 when a fix passed every test, 1 when none did, 2 when the command
//! could not run (a missing file, a sampler that cannot be built, a sandbox failure).
//! With `--json` one object is printed:
//! `{"task", "prompt": [{"role", "content"}], "samples": [{"raw", "rationale", "fix",
//! "verdict": {"passed", "tests"}}]}` (`rationale`, `fix` and `verdict` are null for an
//! answer without a fix).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use next_core::checkpoint::Checkpoint;
use next_core::repair::{Attempt, Repair, Repairer};
use next_core::task::{Program, RepairTask};
use next_core::verify::Verdict;

use tokio::runtime::Runtime;

use crate::config::RunConfig;
use crate::error::CliError;
use crate::walk_args::{self, Roles, WalkArgs};

/// The arguments of `next repair`.
#[derive(clap::Args, Debug)]
pub struct RepairArgs {
    /// The repair task: one JSON object (or a JSON Lines file of tasks, with `--id`).
    #[arg(long)]
    task: PathBuf,
    /// Which task of a JSON Lines file.
    #[arg(long)]
    id: Option<String>,
    /// The TOML file whose `[sampler]` table names the model (`kind = "candle"`,
    /// `"openai"`, ...).
    #[arg(long)]
    model: PathBuf,
    /// How many samples to draw.
    #[arg(short, long, default_value_t = 4)]
    n: usize,
    /// The trace renderer (inline, scratchpad, blocks, or none for the program alone).
    #[arg(long, default_value = "inline")]
    renderer: String,
    /// The roles, shots and sampling of the walk.
    #[command(flatten)]
    walk: WalkArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `next repair`; the exit status says a fix passed (0) or none did (1); an error
/// is the could-not-run status (2) `main` gives it.
///
/// # Errors
/// [`CliError`] when a file cannot be read, a role cannot be built, or a step of the
/// repair fails.
pub fn run(args: &RepairArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let passed = repair(args, runtime)?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The task of the task file (see the module documentation).
fn read_task(path: &Path, id: Option<&str>) -> Result<RepairTask, CliError> {
    let text = crate::input::read(path, "task file")?;
    if id.is_none() {
        if let Ok(task) = serde_json::from_str::<RepairTask>(&text) {
            return Ok(task);
        }
    }
    let tasks = crate::tasks_file::read_tasks(path)?;
    match id {
        Some(id) => tasks
            .into_iter()
            .find(|t| t.id.as_str() == id)
            .ok_or_else(|| CliError::NoSuchTask {
                path: path.to_owned(),
                id: id.to_owned(),
            }),
        None => match <[RepairTask; 1]>::try_from(tasks) {
            Ok([task]) => Ok(task),
            Err(tasks) => Err(CliError::WhichTask {
                path: path.to_owned(),
                count: tasks.len(),
            }),
        },
    }
}

/// Walks the task through the roles and prints the repair; whether a fix passed.
fn repair(args: &RepairArgs, runtime: &Runtime) -> Result<bool, CliError> {
    let task = read_task(&args.task, args.id.as_deref())?;
    let params = args.walk.sampling.params()?;
    let _context = runtime.enter();
    let renderer = walk_args::renderer(&args.renderer)?;
    let Roles { tracer, verifier } = args.walk.roles.build()?;
    let sampler = RunConfig::read(&args.model)?.build_sampler()?;
    let repairer = Repairer::new(&*tracer, &*renderer, &*sampler, &*verifier);
    let base = Checkpoint::base();
    let shots = runtime.block_on(args.walk.shots.render(&repairer, &base))?;
    let repairer = repairer.with_shots(&shots).shots_for_tuned(true);
    let repair = runtime.block_on(repairer.repair(&task, &base, args.n, &params))?;
    if args.json {
        crate::outln!("{}", json(&task, &repair)?);
    } else {
        crate::out!("{}", text(&task, &repair)?);
    }
    Ok(repair.attempts.iter().any(Attempt::passed))
}

/// The verdict of an attempt whose fix was judged; a fix the verifier could not judge
/// makes the command fail, as it did before the walk was shared.
fn verdict(attempt: &Attempt) -> Result<Option<&Verdict>, CliError> {
    match &attempt.verdict {
        None => Ok(None),
        Some(Ok(verdict)) => Ok(Some(verdict)),
        Some(Err(failure)) => Err(CliError::Step(failure.clone())),
    }
}

/// The repair as `--json` prints it.
fn json(task: &RepairTask, repair: &Repair) -> Result<serde_json::Value, CliError> {
    let mut samples = Vec::with_capacity(repair.attempts.len());
    for attempt in &repair.attempts {
        samples.push(serde_json::json!({
            "raw": attempt.sample.raw,
            "rationale": attempt.sample.rationale(),
            "fix": attempt.sample.fix().map(Program::source),
            "verdict": verdict(attempt)?.map(|v| crate::verify_cmd::verdict_json(&task.tests, v)),
        }));
    }
    Ok(serde_json::json!({
        "task": task.id.as_str(),
        "prompt": repair.prompt.messages,
        "samples": samples,
    }))
}

/// The repair as text: the prompt, then each sample with its verdict.
fn text(task: &RepairTask, repair: &Repair) -> Result<String, CliError> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "=== prompt for {}\n{}",
        task.id.as_str(),
        repair.prompt.to_plain_text().trim_end()
    );
    for (k, attempt) in repair.attempts.iter().enumerate() {
        let _ = writeln!(out, "\n=== sample {k}");
        let sample = &attempt.sample;
        match (sample.rationale(), sample.fix(), verdict(attempt)?) {
            (Some(rationale), Some(fix), Some(verdict)) => {
                let _ = writeln!(out, "--- rationale\n{}", rationale.trim_end());
                let _ = writeln!(out, "--- fix\n{}", fix.source().trim_end());
                let _ = writeln!(
                    out,
                    "--- verdict: {} ({} of {} tests passed)",
                    if verdict.passed() { "passed" } else { "failed" },
                    verdict.passes(),
                    verdict.outcomes.len()
                );
                for (test, outcome) in task.tests.iter().zip(&verdict.outcomes) {
                    let _ = writeln!(out, "{:<10} {}", outcome.name().to_uppercase(), test.code());
                }
            }
            _ => {
                let _ = writeln!(
                    out,
                    "--- no fix in the answer\n{}\n--- verdict: failed (no fix)",
                    sample.raw.trim_end()
                );
            }
        }
    }
    let passed = repair.attempts.iter().filter(|a| a.passed()).count();
    let _ = writeln!(out, "\n{passed} of {} fixes passed", repair.attempts.len());
    Ok(out)
}
