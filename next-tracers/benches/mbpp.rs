//! Traces and renders every MBPP reference solution on its tests, so many jobs at a
//! time, and prints how many traced cleanly and the wall time.
//!
//! ```text
//! cargo bench -p next-tracers --bench mbpp
//! NEXT_BENCH_PYTHON=/path/to/python3.12 NEXT_BENCH_JOBS=2 NEXT_BENCH_MODE=cold \
//!     NEXT_BENCH_ENGINE=auto NEXT_DATA=/path/to/data cargo bench -p next-tracers --bench mbpp
//! ```
//!
//! `NEXT_BENCH_PYTHON` is the interpreter (default: 3.12 from pyenv, else `python3`),
//! `NEXT_BENCH_JOBS` the jobs at once (default 2), `NEXT_BENCH_MODE` the process
//! sandbox's mode (`warm`, its default, or `cold`), `NEXT_BENCH_ENGINE` the tracer's
//! engine (default `auto`), `NEXT_DATA` the directory holding `mbpp.jsonl` (or the
//! file), default `shared/data` beside the workspace.
//!
//! A task traced cleanly when every test's trace has the status `Passed` (the
//! reference solutions pass their tests) and was not marked incomplete; traces cut at
//! the event limit count as clean and are counted apart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mbpp.rs"]
#[allow(dead_code)] // the untraced helpers serve the tests
mod mbpp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::registry::{self, Context};
use next_core::render::TraceRenderer;
use next_core::trace::{TraceError, TraceStatus, Tracer};
use next_tracers::python::{Engine, PythonTracer, TracerOptions};
use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};
use tokio::task::JoinSet;

fn main() {
    let Some(tasks) = mbpp::tasks() else {
        eprintln!("{} is absent: set NEXT_DATA", mbpp::path().display());
        std::process::exit(2);
    };
    let python = std::env::var_os("NEXT_BENCH_PYTHON").map_or_else(default_python, PathBuf::from);
    let jobs: usize = env_or("NEXT_BENCH_JOBS", 2);
    let mode = match std::env::var("NEXT_BENCH_MODE").as_deref() {
        Ok("cold") => Mode::Cold,
        _ => Mode::Warm,
    };
    let engine = match std::env::var("NEXT_BENCH_ENGINE").as_deref() {
        Ok("settrace") => Engine::Settrace,
        Ok("monitoring") => Engine::Monitoring,
        _ => Engine::Auto,
    };
    let sandbox = ProcessSandbox::new(ProcessConfig {
        interpreter: Some(python.clone()),
        mode,
        ..ProcessConfig::default()
    })
    .unwrap_or_else(|err| panic!("no process sandbox: {err}"));
    let options = TracerOptions {
        engine,
        ..TracerOptions::default()
    };
    let tracer = Arc::new(PythonTracer::with_options(sandbox, options));
    let inline: Arc<dyn TraceRenderer> = Arc::from(
        registry::renderer("inline", &toml::Table::new(), &Context::new())
            .unwrap_or_else(|err| panic!("no inline renderer: {err}")),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.max(1))
        .enable_all()
        .build()
        .expect("a tokio runtime");

    // One task first, untimed: the interpreter reports the compiled harness, which
    // every later job reuses (as in a long run).
    if let Some(first) = tasks.first() {
        let _ = runtime.block_on(tracer.trace(&first.program, &first.tests));
    }

    let started = Instant::now();
    let results = runtime.block_on(async {
        let mut set = JoinSet::new();
        let mut results = Vec::new();
        for task in tasks.iter().cloned() {
            while set.len() >= jobs {
                if let Some(done) = set.join_next().await {
                    results.push(done.expect("a tracing task"));
                }
            }
            let tracer = Arc::clone(&tracer);
            let renderer = Arc::clone(&inline);
            set.spawn(async move {
                let began = Instant::now();
                let outcome = tracer
                    .trace(&task.program, &task.tests)
                    .await
                    .map(|traces| {
                        let text = renderer.render(&task.program, &task.tests, &traces);
                        let clean = traces
                            .iter()
                            .all(|t| t.status == TraceStatus::Passed && !t.incomplete);
                        let truncated = traces.iter().any(|t| t.truncated);
                        let events: usize = traces.iter().map(|t| t.events.len()).sum();
                        (clean, truncated, events, text.len())
                    });
                (task.id, outcome, began.elapsed())
            });
        }
        while let Some(done) = set.join_next().await {
            results.push(done.expect("a tracing task"));
        }
        results
    });
    let wall = started.elapsed();
    report(&results, wall, jobs, mode, &python, engine);
}

/// One task's result: its id, (clean, cut at the limit, events, characters rendered)
/// or the error, and how long it took.
type TaskResult = (
    u64,
    Result<(bool, bool, usize, usize), TraceError>,
    Duration,
);

fn report(
    results: &[TaskResult], wall: Duration, jobs: usize, mode: Mode, python: &Path, engine: Engine,
) {
    let mut clean = 0;
    let mut truncated = 0;
    let mut events = 0;
    let mut characters = 0;
    let mut failures = Vec::new();
    let mut slowest: Vec<(Duration, u64)> = Vec::new();
    for (id, outcome, took) in results {
        slowest.push((*took, *id));
        match outcome {
            Ok((is_clean, is_truncated, n, chars)) => {
                events += n;
                characters += chars;
                if *is_clean {
                    clean += 1;
                } else {
                    failures.push(format!("task {id}: not clean"));
                }
                if *is_truncated {
                    truncated += 1;
                }
            }
            Err(err) => failures.push(format!("task {id}: {}", next_core::error::chain(err))),
        }
    }
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "MBPP trace+render: {} tasks, {clean} traced cleanly ({truncated} cut at the event limit), \
         {events} events, {characters} characters rendered",
        results.len()
    );
    println!(
        "wall time {:.2} s with {jobs} jobs at once ({} sandbox, {}, engine {engine})",
        wall.as_secs_f64(),
        if mode == Mode::Warm { "warm" } else { "cold" },
        python.display()
    );
    let slow: Vec<String> = slowest
        .iter()
        .take(5)
        .map(|(took, id)| format!("{id} ({:.2} s)", took.as_secs_f64()))
        .collect();
    println!("slowest tasks: {}", slow.join(", "));
    for failure in failures.iter().take(20) {
        println!("  {failure}");
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn default_python() -> PathBuf {
    let pyenv = PathBuf::from("/root/.pyenv/versions/3.12.1/bin/python3.12");
    if pyenv.is_file() {
        pyenv
    } else {
        PathBuf::from("python3")
    }
}
