//! `next data mutate TASKS.jsonl -o OUT.jsonl [--per-operator 2]
//! [--splits train,validation] [--sandbox process]`: the offline Mbpp-R builder.
//!
//! Bug operators (off-by-one, wrong comparison or arithmetic operator, swapped
//! arguments, wrong variable, dropped statement, wrong constant, wrong return) are
//! applied by `mutate.py`, a trusted script run as a sandbox job that parses the
//! reference programs with Python's `ast` and never runs them, at up to
//! `--per-operator` sites each. Each mutant is then judged by the test verifier in the
//! sandbox, and kept when it loads, runs and fails at least one test without a timeout:
//! a bug a trace can show. Mutants are distinct per task (after `ast.unparse`) and
//! differ from the reference. Each kept task records its source task and operator
//! (`source_task`, `operator`, and `bug_type` = the operator) with the source's split.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::sandbox::{Job, Limits, Sandbox};
use next_core::task::{Program, RepairTask, TaskId};
use next_core::verify::{TestOutcome, Verifier as _};
use next_verifiers::verify::{TestVerifier, TestVerifierConfig};
use tokio::runtime::Runtime;

use crate::error::CliError;

/// How a model's program is recorded in place of a bug operator.
pub(crate) const MODEL: &str = "model";

/// The mutation script.
const MUTATE: &str = include_str!("mutate.py");

/// The arguments of `next data mutate`.
#[derive(clap::Args, Debug)]
pub struct MutateArgs {
    /// Repair tasks whose programs are reference solutions (`next data import mbpp`).
    file: PathBuf,
    /// Where to write the failing mutants, one repair task a line.
    #[arg(short, long)]
    out: PathBuf,
    /// Most sites mutated per operator and program.
    #[arg(long, default_value_t = 2)]
    per_operator: usize,
    /// Only tasks whose `split` metadata is one of these (comma-separated; empty: all).
    #[arg(long, value_delimiter = ',', default_value = "train,validation")]
    splits: Vec<String>,
    /// The sandbox that parses and judges.
    #[arg(long, default_value = "process")]
    sandbox: String,
    /// The Python interpreter of the process sandbox (default: `python3` on PATH).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Programs judged at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
}

/// A mutant as the script gives it, or a model's program (`next data mbpp-r`): how its
/// bug was made, and its source.
#[derive(serde::Deserialize)]
pub(crate) struct Mutant {
    /// The bug operator, or `model` for a model's program.
    pub op: String,
    /// The program.
    pub src: String,
}

/// Runs `next data mutate`.
///
/// # Errors
/// [`CliError`] when a file cannot be read or written, or the sandbox fails.
pub fn run(args: &MutateArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let start = Instant::now();
    let tasks = of_splits(crate::tasks_file::read_tasks(&args.file)?, &args.splits);
    let _context = runtime.enter();
    let sandbox = crate::input::sandbox(&args.sandbox, args.python.as_deref())?;
    let (kept, proposed) =
        failing_mutants(&sandbox, &tasks, args.per_operator, args.jobs, runtime)?;
    write_kept(
        &args.out,
        &kept,
        tasks.len(),
        start,
        "mutants",
        "programs",
        &format!("{proposed} proposed"),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the kept tasks to `out` and says how many, of how many of the `total` source
/// tasks, in how long: `wrote K failing {what} of S of T {sources} to OUT ({detail}) in N s`.
///
/// # Errors
/// [`CliError::Io`] when the file cannot be written.
pub(crate) fn write_kept(
    out: &Path, kept: &[RepairTask], total: usize, start: Instant, what: &str, sources: &str,
    detail: &str,
) -> Result<(), CliError> {
    crate::tasks_file::write_tasks(out, kept)?;
    let distinct: std::collections::BTreeSet<&str> = kept
        .iter()
        .filter_map(|t| {
            t.metadata
                .get("source_task")
                .and_then(serde_json::Value::as_str)
        })
        .collect();
    crate::outln!(
        "wrote {} failing {what} of {} of {total} {sources} to {} ({detail}) in {:.0} s",
        kept.len(),
        distinct.len(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The failing mutants of `tasks`' programs (see the module documentation), and how
/// many mutants were proposed.
///
/// # Errors
/// [`CliError`] when the sandbox or the mutation script fails.
pub(crate) fn failing_mutants(
    sandbox: &Arc<dyn Sandbox>, tasks: &[RepairTask], per_operator: usize, jobs: usize,
    runtime: &Runtime,
) -> Result<(Vec<RepairTask>, usize), CliError> {
    let mutants = runtime.block_on(mutate(sandbox, tasks, per_operator))?;
    let proposed: usize = mutants.iter().map(Vec::len).sum();
    let kept = runtime.block_on(judge(&judge_verifier(sandbox), tasks, mutants, jobs.max(1)))?;
    Ok((kept, proposed))
}

/// The tasks whose `split` metadata is one of `splits` (all of them for none).
pub(crate) fn of_splits(tasks: Vec<RepairTask>, splits: &[String]) -> Vec<RepairTask> {
    let splits: Vec<&String> = splits.iter().filter(|s| !s.is_empty()).collect();
    tasks
        .into_iter()
        .filter(|t| {
            splits.is_empty()
                || t.metadata
                    .get("split")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|s| splits.iter().any(|want| *want == s))
        })
        .collect()
}

/// The verifier that judges mutants: short per-test limits, since a reference solution
/// runs its tests in well under a second.
pub(crate) fn judge_verifier(sandbox: &Arc<dyn Sandbox>) -> Arc<TestVerifier<Arc<dyn Sandbox>>> {
    Arc::new(TestVerifier::with_config(
        Arc::clone(sandbox),
        TestVerifierConfig {
            test_timeout_ms: 2_000,
            max_program_ms: 10_000,
            ..TestVerifierConfig::default()
        },
    ))
}

/// The mutants of every task's program, from the script in one sandbox job.
async fn mutate(
    sandbox: &Arc<dyn Sandbox>, tasks: &[RepairTask], per_operator: usize,
) -> Result<Vec<Vec<Mutant>>, CliError> {
    let request = serde_json::json!({
        "sources": tasks.iter().map(|t| t.program.source()).collect::<Vec<_>>(),
        "per_operator": per_operator,
    });
    let stdin = request.to_string().into_bytes();
    let limits = Limits::new(Duration::from_secs(600), 2 << 30, 512 << 20, 4)
        .map_err(|e| CliError::Input(next_core::error::InvalidInput::new(e.to_string())))?;
    let job = Job::new(MUTATE).with_stdin(stdin).with_limits(limits);
    let execution = sandbox.run(job).await.map_err(CliError::Mutating)?;
    let answer: Vec<Vec<Mutant>> = serde_json::from_slice(&execution.stdout).map_err(|e| {
        CliError::MutationScript(format!(
            "{e} ({:?}; stderr: {})",
            execution.termination,
            String::from_utf8_lossy(&execution.stderr)
                .chars()
                .take(500)
                .collect::<String>()
        ))
    })?;
    if answer.len() != tasks.len() {
        return Err(CliError::MutationScript(format!(
            "{} answers for {} programs",
            answer.len(),
            tasks.len()
        )));
    }
    Ok(answer)
}

/// The mutants that load, run and fail a test without timing out, as repair tasks.
pub(crate) async fn judge(
    verifier: &Arc<TestVerifier<Arc<dyn Sandbox>>>, tasks: &[RepairTask],
    mutants: Vec<Vec<Mutant>>, jobs: usize,
) -> Result<Vec<RepairTask>, CliError> {
    let gate = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut set = tokio::task::JoinSet::new();
    for (i, (task, list)) in tasks.iter().zip(mutants).enumerate() {
        for (k, mutant) in list.into_iter().enumerate() {
            let (verifier, gate, task) = (Arc::clone(verifier), Arc::clone(&gate), task.clone());
            set.spawn(async move {
                let _permit = gate.acquire_owned().await.ok()?;
                let program = Program::new(mutant.src);
                let verdict = verifier
                    .verify(&task.with_setup(&program), &task.tests)
                    .await
                    .ok()?;
                buggy(&verdict.outcomes).then_some((i, k, mutant.op, program))
            });
        }
    }
    let mut found = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(Some(found_one)) = done {
            found.push(found_one);
        }
    }
    found.sort_by_key(|(i, k, _, _)| (*i, *k));
    found
        .into_iter()
        .map(|(i, k, op, program)| mutant_task(&tasks[i], k, &op, program))
        .collect()
}

/// Whether a mutant's outcomes show a bug that runs: a test fails or raises, none
/// times out or meets a limit, and the program loaded.
fn buggy(outcomes: &[TestOutcome]) -> bool {
    let ran = |o: &TestOutcome| match o {
        TestOutcome::Error { message } => !message.starts_with("the program failed to load"),
        TestOutcome::Timeout | TestOutcome::ResourceLimit { .. } => false,
        _ => true,
    };
    outcomes.iter().all(ran) && outcomes.iter().any(|o| !o.is_pass())
}

fn mutant_task(
    source: &RepairTask, k: usize, op: &str, program: Program,
) -> Result<RepairTask, CliError> {
    // A model's program is a sample (`s`), a mutant of the reference an `m`.
    let tag = if op == MODEL { 's' } else { 'm' };
    let id = TaskId::new(format!("{}/{tag}{k}", source.id.as_str()))
        .map_err(|e| CliError::MutationScript(e.to_string()))?;
    let mut task = source.clone();
    task.id = id;
    task.program = program;
    task.metadata
        .insert("source_task".into(), source.id.as_str().into());
    task.metadata.insert("operator".into(), op.into());
    task.metadata.insert("bug_type".into(), op.into());
    Ok(task)
}
