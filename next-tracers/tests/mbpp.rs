//! The tracer does not change results: for every MBPP reference solution, each test
//! passes traced exactly when it passes untraced.
//!
//! Data: `NEXT_DATA` (the directory holding `mbpp.jsonl`, or the file), default
//! `shared/data` beside the workspace; the test is skipped, saying so, when it is
//! absent (and fails when `CI` is set). `NEXT_MBPP_TASKS=N` checks only the first N tasks. Interpreter: 3.12 from
//! `NEXT_TEST_PYTHONS` or pyenv (else the newest found), in the warm process sandbox.
//! With the feature `wasm`, also the WASI CPython in the WASM sandbox, on the first
//! `NEXT_MBPP_WASM_TASKS` tasks (default 60: its jobs cost some 0.2 s each).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::mbpp::{self, Task};
use next_core::sandbox::{Job, Limits, Sandbox};
use next_core::trace::{TraceStatus, Tracer};
use next_tracers::python::{PythonTracer, TracerOptions};
use next_verifiers::process::Mode;
use tokio::task::JoinSet;

/// How one task went: per test, (untraced pass, traced status).
type Compared = (u64, Result<Vec<(bool, TraceStatus)>, String>);

async fn compare(tr: Arc<PythonTracer<Arc<dyn Sandbox>>>, task: Task) -> Compared {
    let limits = Limits::new(Duration::from_secs(30), 1 << 30, 1 << 20, 16).expect("limits");
    let untraced = match tr
        .sandbox()
        .run(Job::new(mbpp::untraced_script(&task)).with_limits(limits))
        .await
    {
        Ok(done) => mbpp::untraced_results(&done.stdout, task.tests.len()),
        Err(err) => return (task.id, Err(format!("untraced run failed: {err}"))),
    };
    match tr.trace(&task.program, &task.tests).await {
        Ok(traces) => (
            task.id,
            Ok(untraced
                .into_iter()
                .zip(traces.iter().map(|t| t.status))
                .collect()),
        ),
        Err(err) => (task.id, Err(next_core::error::chain(&err))),
    }
}

/// The MBPP tasks, or `None` (skipped) when the data is absent outside CI.
fn mbpp_tasks() -> Option<Vec<Task>> {
    let Some(tasks) = mbpp::tasks() else {
        // CI has the data beside the checkout: missing there is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is absent under CI (set NEXT_DATA)",
            mbpp::path().display()
        );
        eprintln!(
            "skipped: {} is absent (set NEXT_DATA)",
            mbpp::path().display()
        );
        return None;
    };
    Some(tasks)
}

/// The first `variable` tasks (all when unset), or the first `default`.
fn first(mut tasks: Vec<Task>, variable: &str, default: Option<usize>) -> Vec<Task> {
    let n = std::env::var(variable)
        .ok()
        .and_then(|n| n.parse().ok())
        .or(default);
    if let Some(n) = n {
        tasks.truncate(n);
    }
    tasks
}

#[test]
fn traced_results_equal_untraced_results_on_mbpp() {
    let Some(tasks) = mbpp_tasks() else {
        return;
    };
    let tasks = first(tasks, "NEXT_MBPP_TASKS", None);
    let python = common::one_python();
    let sandbox: Arc<dyn Sandbox> = common::sandbox_in(&python, Mode::Warm);
    check(
        &tasks,
        sandbox,
        &format!("Python {}.{}", python.version.0, python.version.1),
    );
}

/// The same on the WASI CPython, in the WASM sandbox.
#[cfg(feature = "wasm")]
#[test]
fn traced_results_equal_untraced_results_on_mbpp_in_wasm() {
    let Some(wasi) = common::pythons().into_iter().find(|p| p.wasi) else {
        return;
    };
    let Some(tasks) = mbpp_tasks() else {
        return;
    };
    let tasks = first(tasks, "NEXT_MBPP_WASM_TASKS", Some(60));
    check(&tasks, common::sandbox(&wasi), "the WASI CPython 3.12");
}

/// Traces every task in `sandbox` and runs it untraced there, two at a time; panics
/// listing the tests whose results differ.
fn check(tasks: &[Task], sandbox: Arc<dyn Sandbox>, interpreter: &str) {
    let options = TracerOptions {
        time_limit: Duration::from_secs(20),
        ..TracerOptions::default()
    };
    let tracer = Arc::new(PythonTracer::with_options(sandbox, options));
    let jobs = std::thread::available_parallelism().map_or(2, usize::from);
    let started = Instant::now();
    let results: Vec<Compared> = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let mut set = JoinSet::new();
            let mut results = Vec::new();
            for task in tasks.iter().cloned() {
                while set.len() >= jobs {
                    if let Some(done) = set.join_next().await {
                        results.push(done.expect("a comparison task"));
                    }
                }
                set.spawn(compare(Arc::clone(&tracer), task));
            }
            while let Some(done) = set.join_next().await {
                results.push(done.expect("a comparison task"));
            }
            results
        });
    let mut differ = Vec::new();
    let mut tests = 0;
    for (id, result) in &results {
        match result {
            Ok(pairs) => {
                for (index, (untraced, traced)) in pairs.iter().enumerate() {
                    tests += 1;
                    if *untraced != (*traced == TraceStatus::Passed) {
                        differ.push(format!(
                            "task {id} test {index}: untraced {untraced}, traced {traced:?}"
                        ));
                    }
                }
            }
            Err(err) => differ.push(format!("task {id}: {err}")),
        }
    }
    eprintln!(
        "MBPP: {} tasks, {tests} tests compared in {:.1} s with {interpreter}",
        results.len(),
        started.elapsed().as_secs_f64(),
    );
    assert!(
        differ.is_empty(),
        "traced and untraced results differ:\n{}",
        differ.join("\n")
    );
}
