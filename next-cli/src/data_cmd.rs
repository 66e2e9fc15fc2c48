//! `next data ...`: the paper's benchmarks as repair tasks (`next_core::data`).
//!
//! ```text
//! next data import mbpp [FILE] -o OUT.jsonl              full MBPP (default: the shipped data/mbpp.jsonl)
//! next data import mbpp-sanitized [FILE] -o OUT.jsonl    sanitized MBPP (.json or .jsonl)
//! next data import humanevalfix [FILE] -o OUT.jsonl      HumanEvalPack Python
//! next data import humanevalfix-plus [FILE] --plus HumanEvalPlus-v0.1.10.jsonl -o OUT.jsonl
//! next data stats OUT.jsonl [--json]                     tasks, tests per task, bug types, splits
//! ```
//!
//! Every record an import could not use is printed on stderr with its line and the
//! reason (and counted in the summary); none is dropped silently.
//!
//! HumanEvalFix-Plus needs the expected outputs of the HumanEval+ inputs, which the
//! EvalPlus file does not store: the import runs EvalPlus's reference solution on every
//! input in the sandbox (`--sandbox`, the process sandbox by default), as EvalPlus does,
//! and writes one judging test per input that has an output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::data::{self, evalplus, humanevalfix, mbpp, Loaded, Skipped};
use next_core::sandbox::{Job, Limits, Sandbox};
use next_core::task::RepairTask;
use tokio::runtime::Runtime;

use crate::error::CliError;

/// The arguments of `next data`.
#[derive(clap::Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DataCommand {
    /// Read a benchmark file into repair tasks, one JSON task a line.
    Import(ImportArgs),
    /// Build repair tasks from reference solutions by bug operators, keeping the
    /// mutants that run and fail a test (the offline Mbpp-R).
    Mutate(crate::mutate_cmd::MutateArgs),
    /// Build Mbpp-R as the paper did: sample a model on MBPP problems and keep its
    /// distinct programs that fail a test, with their source task
    MbppR(crate::mbpp_r_cmd::MbppRArgs),
    /// Count a task file's tasks, tests per task, bug types and splits.
    Stats {
        /// The task file (JSON Lines of repair tasks).
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The benchmarks `next data import` reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Dataset {
    /// MBPP, `mbpp.jsonl`.
    Mbpp,
    /// Sanitized MBPP, `sanitized-mbpp.json` or `.jsonl`.
    MbppSanitized,
    /// HumanEvalFix, `humanevalpack-python.jsonl`.
    Humanevalfix,
    /// HumanEvalFix-Plus: HumanEvalFix judged by HumanEval+ (`--plus`).
    HumanevalfixPlus,
}

#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// Which benchmark.
    dataset: Dataset,
    /// The benchmark file; by default the copy shipped under `data/` (or `NEXT_DATA`).
    file: Option<PathBuf>,
    /// HumanEvalFix-Plus: the EvalPlus inputs file (`HumanEvalPlus-v0.1.10.jsonl`).
    #[arg(long)]
    plus: Option<PathBuf>,
    /// The task file to write.
    #[arg(short, long)]
    out: PathBuf,
    /// HumanEvalFix-Plus: the sandbox that runs the reference solutions.
    #[arg(long, default_value = "process")]
    sandbox: String,
    /// HumanEvalFix-Plus: reference jobs run at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// HumanEvalFix-Plus: seconds the reference may take on one input.
    #[arg(long, default_value_t = 5.0)]
    per_input_s: f64,
}

/// Runs `next data`.
///
/// # Errors
/// [`CliError`] when a file cannot be read or written, or the sandbox cannot run.
pub fn run(args: &DataArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    match &args.command {
        DataCommand::Import(import) => self::import(import, runtime),
        DataCommand::Stats { file, json } => stats(file, *json),
        DataCommand::Mutate(mutate) => crate::mutate_cmd::run(mutate, runtime),
        DataCommand::MbppR(args) => crate::mbpp_r_cmd::run(args, runtime),
    }
}

fn import(args: &ImportArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let default = match args.dataset {
        Dataset::Mbpp => mbpp::MBPP_FILE,
        Dataset::MbppSanitized => mbpp::SANITIZED_FILE,
        Dataset::Humanevalfix | Dataset::HumanevalfixPlus => humanevalfix::HUMANEVALFIX_FILE,
    };
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| data::default_file(default));
    let loaded = match args.dataset {
        Dataset::Mbpp => mbpp::load_mbpp(&file)?,
        Dataset::MbppSanitized => mbpp::load_sanitized(&file)?,
        Dataset::Humanevalfix => humanevalfix::load(&file)?,
        Dataset::HumanevalfixPlus => {
            let plus = args.plus.as_deref().ok_or(CliError::PlusFileMissing)?;
            let fix = humanevalfix::load(&file)?;
            report_skipped(&file, &fix.skipped);
            plus_tasks(args, &fix.tasks, plus, runtime)?
        }
    };
    if args.dataset != Dataset::HumanevalfixPlus {
        report_skipped(&file, &loaded.skipped);
    }
    crate::tasks_file::write_tasks(&args.out, &loaded.tasks)?;
    crate::outln!(
        "wrote {} tasks to {}; {} records skipped",
        loaded.tasks.len(),
        args.out.display(),
        loaded.skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn report_skipped(file: &Path, skipped: &[Skipped]) {
    for s in skipped {
        let id =
            s.id.as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
        eprintln!("skipped {}:{}{id}: {}", file.display(), s.line, s.reason);
    }
}

/// The HumanEvalFix-Plus tasks: each HumanEvalFix task judged by the HumanEval+ cases,
/// their expected outputs computed by running the EvalPlus reference in the sandbox.
fn plus_tasks(
    args: &ImportArgs, fix: &[RepairTask], plus: &Path, runtime: &Runtime,
) -> Result<Loaded, CliError> {
    let problems = evalplus::load_problems(plus)?;
    report_skipped(plus, &problems.skipped);
    let mut loaded = Loaded {
        tasks: Vec::new(),
        skipped: problems.skipped,
    };
    let by_number: BTreeMap<u64, (usize, &evalplus::EvalPlusProblem)> = problems
        .problems
        .iter()
        .enumerate()
        .map(|(i, p)| (p.number, (i, p)))
        .collect();
    let _context = runtime.enter();
    let sandbox = crate::input::sandbox(&args.sandbox, None)?;
    let per_input = args.per_input_s.max(0.1);
    let start = Instant::now();
    let jobs: Vec<_> = fix
        .iter()
        .filter_map(|task| {
            let number = task.metadata.get("humaneval_id")?.as_u64()?;
            let (_, problem) = by_number.get(&number)?;
            Some((task.clone(), (*problem).clone()))
        })
        .collect();
    for task in fix {
        let found = task
            .metadata
            .get("humaneval_id")
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|n| by_number.contains_key(&n));
        if !found {
            loaded.skipped.push(Skipped {
                line: 0,
                id: Some(task.id.to_string()),
                reason: format!("no problem of this number in {}", plus.display()),
            });
            eprintln!(
                "skipped {}: no HumanEval+ problem in {}",
                task.id,
                plus.display()
            );
        }
    }
    let answers = runtime.block_on(oracles(&sandbox, &jobs, per_input, args.jobs.max(1)))?;
    let mut dropped_inputs = 0usize;
    for ((task, problem), expected) in jobs.iter().zip(answers) {
        match evalplus::plus_task(task, problem, &expected) {
            Ok((plus_task, dropped)) => {
                for why in &dropped {
                    eprintln!("skipped {} {why}", problem.task_id);
                }
                dropped_inputs += dropped.len();
                loaded
                    .skipped
                    .extend(dropped.into_iter().map(|reason| Skipped {
                        line: by_number.get(&problem.number).map_or(0, |(i, _)| i + 1),
                        id: Some(problem.task_id.clone()),
                        reason,
                    }));
                loaded.tasks.push(plus_task);
            }
            Err(reason) => {
                eprintln!("skipped {}: {reason}", task.id);
                loaded.skipped.push(Skipped {
                    line: 0,
                    id: Some(task.id.to_string()),
                    reason,
                });
            }
        }
    }
    eprintln!(
        "computed the HumanEval+ expected outputs of {} problems in {:.1} s ({dropped_inputs} inputs without one)",
        jobs.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(loaded)
}

/// Runs each problem's oracle job, `parallel` at once; the answers in job order.
async fn oracles(
    sandbox: &Arc<dyn Sandbox>, jobs: &[(RepairTask, evalplus::EvalPlusProblem)], per_input_s: f64,
    parallel: usize,
) -> Result<Vec<Vec<Result<String, String>>>, CliError> {
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut set = tokio::task::JoinSet::new();
    for (index, (_, problem)) in jobs.iter().enumerate() {
        let sandbox = Arc::clone(sandbox);
        let gate = Arc::clone(&gate);
        let problem = problem.clone();
        set.spawn(async move {
            let _permit = gate.acquire().await;
            #[allow(clippy::cast_precision_loss)]
            let wall = Duration::from_secs_f64(
                (per_input_s * problem.inputs.len() as f64).clamp(30.0, 1_800.0),
            );
            let limits = Limits::new(wall, 4 << 30, 256 << 20, 16).map_err(CliError::Input)?;
            let job = Job::new(problem.oracle_source(per_input_s))
                .with_stdin(problem.oracle_stdin())
                .with_limits(limits);
            let execution = sandbox.run(job).await.map_err(|source| CliError::Oracle {
                task: problem.task_id.clone(),
                source,
            })?;
            let stdout = String::from_utf8_lossy(&execution.stdout);
            Ok::<_, CliError>((index, evalplus::read_oracle(&stdout, problem.inputs.len())))
        });
    }
    let mut answers = vec![Vec::new(); jobs.len()];
    while let Some(done) = set.join_next().await {
        let (index, answer) = done.map_err(|e| CliError::Join(e.to_string()))??;
        answers[index] = answer;
    }
    Ok(answers)
}

/// What `next data stats` counts.
#[derive(Debug, Default, serde::Serialize)]
struct Stats {
    tasks: usize,
    tests: usize,
    tests_min: usize,
    tests_max: usize,
    shown_tests: usize,
    with_setup: usize,
    datasets: BTreeMap<String, usize>,
    bug_types: BTreeMap<String, usize>,
    splits: BTreeMap<String, usize>,
}

fn count(tasks: &[RepairTask]) -> Stats {
    let mut stats = Stats {
        tasks: tasks.len(),
        tests_min: usize::MAX,
        ..Stats::default()
    };
    for task in tasks {
        stats.tests += task.tests.len();
        stats.tests_min = stats.tests_min.min(task.tests.len());
        stats.tests_max = stats.tests_max.max(task.tests.len());
        stats.shown_tests += task.shown_tests.len();
        stats.with_setup += usize::from(task.setup.is_some());
        for (key, map) in [
            ("dataset", &mut stats.datasets),
            ("bug_type", &mut stats.bug_types),
            ("split", &mut stats.splits),
        ] {
            if let Some(value) = task.metadata.get(key).and_then(serde_json::Value::as_str) {
                *map.entry(value.to_owned()).or_default() += 1;
            }
        }
    }
    if tasks.is_empty() {
        stats.tests_min = 0;
    }
    stats
}

fn stats(file: &Path, json: bool) -> Result<ExitCode, CliError> {
    let tasks = next_core::task::read_tasks(file)?;
    let stats = count(&tasks);
    if json {
        crate::outln!("{}", serde_json::to_string(&stats).map_err(CliError::Json)?);
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!("{}", render(&stats));
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::cast_precision_loss)]
fn render(stats: &Stats) -> String {
    let mut text = format!("tasks: {}\n", stats.tasks);
    let mean = if stats.tasks == 0 {
        0.0
    } else {
        stats.tests as f64 / stats.tasks as f64
    };
    let _ = writeln!(
        text,
        "tests: {} ({mean:.1} per task, {} to {})",
        stats.tests, stats.tests_min, stats.tests_max
    );
    if stats.shown_tests > 0 {
        let _ = writeln!(text, "tests shown in prompts: {}", stats.shown_tests);
    }
    let _ = writeln!(text, "tasks with setup code: {}", stats.with_setup);
    for (title, map) in [
        ("datasets", &stats.datasets),
        ("splits", &stats.splits),
        ("bug types", &stats.bug_types),
    ] {
        if map.is_empty() {
            continue;
        }
        let _ = writeln!(text, "{title}:");
        for (name, n) in map {
            let _ = writeln!(text, "  {name:<20} {n}");
        }
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_tests_bug_types_and_splits() {
        let line = |id: &str, tests: &str, meta: &str| {
            format!(
                r#"{{"id":"{id}","spec":"s","program":"x","tests":{tests},"entry_point":"f","metadata":{meta}}}"#
            )
        };
        let text = [
            line(
                "a",
                r#"["assert f(1)","assert f(2)"]"#,
                r#"{"bug_type":"value misuse","split":"train"}"#,
            ),
            line("b", r#"["assert f(3)"]"#, r#"{"bug_type":"value misuse"}"#),
            line(
                "c",
                r#"["assert f(4)","assert f(5)","assert f(6)"]"#,
                r#"{"split":"test"}"#,
            ),
        ]
        .join("\n");
        let tasks: Vec<RepairTask> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let stats = count(&tasks);
        assert_eq!(
            (stats.tasks, stats.tests, stats.tests_min, stats.tests_max),
            (3, 6, 1, 3)
        );
        assert_eq!(stats.bug_types["value misuse"], 2);
        assert_eq!(stats.splits["train"], 1);
        let text = render(&stats);
        assert!(text.contains("tests: 6 (2.0 per task, 1 to 3)"), "{text}");
        assert!(text.contains("value misuse"), "{text}");
    }
}
