//! `next repair --task TASK.json --model CONFIG.toml [-n 4] [--renderer inline]
//! [--tracer python] [--verifier tests] [--sandbox process] [--json]`: one repair task
//! end to end, by the same walk the loop runs for each task (`next_core::repair`):
//! trace the buggy program on its tests in the sandbox, render the traces, build the
//! prompt, sample `n` rationales and fixes from the configured sampler, and judge each
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
use next_core::registry::{self, Context};
use next_core::repair::{Attempt, Repair, Repairer};
use next_core::sample::SamplingParams;
use next_core::task::{Program, RepairTask};
use next_core::verify::Verdict;

use crate::config::RunConfig;

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
    /// The tracer (a registered tracer's name).
    #[arg(long, default_value = "python")]
    tracer: String,
    /// The verifier (a registered verifier's name).
    #[arg(long, default_value = "tests")]
    verifier: String,
    /// The sandbox that traces and verifies (process, or wasm and docker where compiled
    /// in).
    #[arg(long, default_value = "process")]
    sandbox: String,
    /// The Python interpreter of the process sandbox (default: `python3` on PATH).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Most tokens per sample.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 0.95)]
    top_p: f64,
    /// Seed of the first sample (sample k uses seed + k).
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `next repair`; the exit status says a fix passed (0), none did (1), or the
/// command could not run (2).
pub fn main(args: &RepairArgs) -> ExitCode {
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The task of the task file (see the module documentation).
fn read_task(path: &Path, id: Option<&str>) -> Result<RepairTask, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading the task file {}: {e}", path.display()))?;
    if id.is_none() {
        if let Ok(task) = serde_json::from_str::<RepairTask>(&text) {
            return Ok(task);
        }
    }
    let tasks = crate::config::read_tasks(path).map_err(|e| next_core::error::chain(&e))?;
    match id {
        Some(id) => tasks
            .into_iter()
            .find(|t| t.id.as_str() == id)
            .ok_or_else(|| format!("{} holds no task `{id}`", path.display())),
        None if tasks.len() == 1 => Ok(tasks.into_iter().next().ok_or("no task")?),
        None => Err(format!(
            "{} holds {} tasks; choose one with --id",
            path.display(),
            tasks.len()
        )),
    }
}

fn run(args: &RepairArgs) -> Result<bool, String> {
    let task = read_task(&args.task, args.id.as_deref())?;
    let params = SamplingParams {
        temperature: args.temperature,
        top_p: args.top_p,
        max_tokens: args.max_tokens,
        seed: args.seed,
        stop: Vec::new(),
    };
    params.validate().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    let _context = runtime.enter();
    let no_options = toml::Table::new();
    let renderer = registry::renderer(&args.renderer, &no_options, &Context::new())
        .map_err(|e| role_error("renderer", &args.renderer, &e))?;
    let sandbox = crate::trace_cmd::sandbox(&args.sandbox, args.python.as_deref())?;
    let cx = Context::new().with_sandbox(sandbox);
    let tracer = registry::tracer(&args.tracer, &no_options, &cx)
        .map_err(|e| role_error("tracer", &args.tracer, &e))?;
    let verifier = registry::verifier(&args.verifier, &no_options, &cx)
        .map_err(|e| role_error("verifier", &args.verifier, &e))?;
    let sampler = RunConfig::read(&args.model)
        .and_then(|config| config.build_sampler())
        .map_err(|e| next_core::error::chain(&e))?;
    let repairer = Repairer::new(&*tracer, &*renderer, &*sampler, &*verifier);
    let repair = runtime
        .block_on(repairer.repair(&task, &Checkpoint::base(), args.n, &params))
        .map_err(|failure| failure.to_string())?;
    if args.json {
        crate::outln!("{}", json(&task, &repair)?);
    } else {
        crate::out!("{}", text(&task, &repair)?);
    }
    Ok(repair.attempts.iter().any(Attempt::passed))
}

/// A role that could not be built, for people.
fn role_error(role: &str, name: &str, error: &next_core::registry::RegistryError) -> String {
    format!("{role} `{name}`: {}", next_core::error::chain(error))
}

/// The verdict of an attempt whose fix was judged; a fix the verifier could not judge
/// makes the command fail, as it did before the walk was shared.
fn verdict(attempt: &Attempt) -> Result<Option<&Verdict>, String> {
    match &attempt.verdict {
        None => Ok(None),
        Some(Ok(verdict)) => Ok(Some(verdict)),
        Some(Err(failure)) => Err(failure.to_string()),
    }
}

fn json(task: &RepairTask, repair: &Repair) -> Result<serde_json::Value, String> {
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

fn text(task: &RepairTask, repair: &Repair) -> Result<String, String> {
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
