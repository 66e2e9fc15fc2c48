//! `next repair --task TASK.json --model CONFIG.toml [-n 4] [--renderer inline]
//! [--sandbox process] [--json]`: one repair task end to end, as the loop does it for
//! each task: trace the buggy program on its tests (the `python` tracer in the sandbox),
//! render the traces, build the prompt (`next_core::prompt`), sample `n` rationales and
//! fixes from the configured sampler, and judge each fix with the test verifier.
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

use next_core::prompt::{self, Prompt, Shown};
use next_core::registry::{self, Context};
use next_core::sample::{Sample, SamplingParams};
use next_core::task::{Program, RepairTask};
use next_core::train::Checkpoint;
use next_verifiers::verify::{Report, TestVerifier};

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

/// One sample and the verdict on its fix.
struct Judged {
    sample: Sample,
    report: Option<Report>,
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
    let renderer = registry::renderer(&args.renderer, &toml::Table::new(), &Context::new())
        .map_err(|e| {
            format!(
                "renderer `{}`: {}",
                args.renderer,
                next_core::error::chain(&e)
            )
        })?;
    let sandbox = crate::trace_cmd::sandbox(&args.sandbox, args.python.as_deref())?;
    let sampler = RunConfig::read(&args.model)
        .and_then(|config| config.build_sampler())
        .map_err(|e| next_core::error::chain(&e))?;

    let prompt = if renderer.shows_execution() {
        let cx = Context::new().with_sandbox(sandbox.clone());
        let recorder = registry::tracer("python", &toml::Table::new(), &cx)
            .map_err(|e| format!("tracer: {}", next_core::error::chain(&e)))?;
        let program = task.with_setup(&task.program);
        let traces = runtime
            .block_on(recorder.trace(&program, &task.tests))
            .map_err(|e| format!("tracing: {}", next_core::error::chain(&e)))?;
        let trace_text = renderer.render(&program, &task.tests, &traces);
        let shown = Shown {
            text: &trace_text,
            legend: renderer.legend(),
        };
        prompt::repair(&task, Some(shown), &[])
    } else {
        prompt::repair(&task, None, &[])
    };

    let drawn = runtime
        .block_on(sampler.sample(&Checkpoint::base(), &prompt, args.n, &params))
        .map_err(|e| format!("sampling: {}", next_core::error::chain(&e)))?;
    let verifier = TestVerifier::new(sandbox);
    let mut judged = Vec::with_capacity(drawn.len());
    for sample in drawn {
        let report = match sample.fix() {
            Some(fix) => Some(
                runtime
                    .block_on(verifier.verify_report(&task.with_setup(fix), &task.tests))
                    .map_err(|e| format!("verifying: {}", next_core::error::chain(&e)))?,
            ),
            None => None,
        };
        judged.push(Judged { sample, report });
    }
    let any_passed = judged
        .iter()
        .any(|j| j.report.as_ref().is_some_and(|r| r.verdict.passed()));
    if args.json {
        crate::outln!("{}", json(&task, &prompt, &judged));
    } else {
        crate::out!("{}", text(&task, &prompt, &judged));
    }
    Ok(any_passed)
}

fn json(task: &RepairTask, prompt: &Prompt, judged: &[Judged]) -> serde_json::Value {
    serde_json::json!({
        "task": task.id.as_str(),
        "prompt": prompt.messages,
        "samples": judged.iter().map(|j| serde_json::json!({
            "raw": j.sample.raw,
            "rationale": j.sample.rationale(),
            "fix": j.sample.fix().map(Program::source),
            "verdict": j.report.as_ref().map(|r| crate::verify_cmd::json(&task.tests, r)),
        })).collect::<Vec<_>>(),
    })
}

fn text(task: &RepairTask, prompt: &Prompt, judged: &[Judged]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "=== prompt for {}\n{}",
        task.id.as_str(),
        prompt.to_plain_text().trim_end()
    );
    for (k, j) in judged.iter().enumerate() {
        let _ = writeln!(out, "\n=== sample {k}");
        match (j.sample.rationale(), j.sample.fix(), &j.report) {
            (Some(rationale), Some(fix), Some(report)) => {
                let verdict = &report.verdict;
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
                    j.sample.raw.trim_end()
                );
            }
        }
    }
    let passed = judged
        .iter()
        .filter(|j| j.report.as_ref().is_some_and(|r| r.verdict.passed()))
        .count();
    let _ = writeln!(out, "\n{passed} of {} fixes passed", judged.len());
    out
}
