//! The cost of the plugin boundary: calls per second of a no-op role through a plugin
//! against the same role compiled in.
//!
//! ```text
//! cargo bench -p next-tests --bench plugin_boundary
//! ```
//!
//! It builds and loads `next-test-plugins` (its `noop` renderer and verifier) and calls
//! each role for `NEXT_BENCH_SECONDS` (default 1) per case: the renderer synchronously,
//! the verifier from a multi-threaded tokio runtime, one call at a time, as the loop's
//! verification does per sample. A call through the plugin encodes its request as JSON,
//! crosses the C ABI, decodes it, runs the role (the verifier on the plugin's own
//! runtime, from a thread of the host's blocking pool), and back. Each case has a small
//! input (a five-line program, 3 tests) and a large one (a 200-line program, 20 tests,
//! 20 traces of 50 events) for the renderer, whose traces are what a plugin renderer is
//! sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/plugins/build.rs"]
#[allow(dead_code)]
mod build;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use next_core::plugin;
use next_core::registry::{self, Context};
use next_core::render::TraceRenderer;
use next_core::task::{Program, TestCase};
use next_core::trace::{Binding, Event, EventKind, Location, Trace, TraceStatus};
use next_core::verify::{TestOutcome, Verdict, Verifier, VerifyError};

/// The no-op renderer of `next-test-plugins`, compiled in.
struct NoopRenderer;

impl TraceRenderer for NoopRenderer {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn render(&self, program: &Program, _tests: &[TestCase], _traces: &[Trace]) -> String {
        program.source().to_owned()
    }
}

/// The no-op verifier of `next-test-plugins`, compiled in.
struct NoopVerifier;

#[async_trait]
impl Verifier for NoopVerifier {
    async fn verify(&self, _program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        Ok(Verdict::new(vec![TestOutcome::Pass; tests.len()]))
    }
}

/// A program of `lines` lines, `tests` tests, and `traces` traces of `events` events.
fn input(
    lines: usize, tests: usize, traces: usize, events: usize,
) -> (Program, Vec<TestCase>, Vec<Trace>) {
    let source = (0..lines).fold(String::new(), |mut source, i| {
        let _ = writeln!(source, "x{i} = {i} + 1");
        source
    });
    let tests = (0..tests)
        .map(|i| TestCase::new(format!("assert f({i}) == {i}")).unwrap())
        .collect();
    let traces = (0..traces)
        .map(|test| Trace {
            test,
            status: TraceStatus::Failed,
            events: (0..events)
                .map(|i| Event {
                    frame: 1,
                    location: Location::Program(u32::try_from(i % lines.max(1) + 1).unwrap()),
                    kind: EventKind::Line {
                        changes: vec![Binding::new(format!("x{i}"), format!("{i}"))],
                    },
                })
                .collect(),
            truncated: false,
            incomplete: false,
            stdout: String::new(),
            stderr: String::new(),
        })
        .collect();
    (Program::new(source), tests, traces)
}

/// Calls `f` for the bench's time; calls per second.
fn rate(mut f: impl FnMut()) -> f64 {
    let seconds: f64 = std::env::var("NEXT_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    for _ in 0..100 {
        f();
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut calls = 0_u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        calls += 100;
    }
    #[allow(clippy::cast_precision_loss)]
    let calls = calls as f64;
    calls / start.elapsed().as_secs_f64()
}

fn report(case: &str, compiled: f64, plugin: f64) {
    println!(
        "{case:<34} {compiled:>12.0} {plugin:>12.0} {:>9.1}x {:>9.2}",
        compiled / plugin,
        1e6 / plugin - 1e6 / compiled
    );
}

fn main() {
    plugin::load(build::library("next_test_plugins")).unwrap();
    let cx = Context::new();
    let renderer = registry::renderer("noop", &toml::Table::new(), &cx).unwrap();
    let verifier = registry::verifier("noop", &toml::Table::new(), &cx).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    println!(
        "{:<34} {:>12} {:>12} {:>10} {:>9}",
        "case (calls/s)", "compiled in", "plugin", "slowdown", "+us/call"
    );
    for (label, (program, tests, traces)) in [
        ("render, small", input(5, 3, 0, 0)),
        ("render, large (20 traces x 50)", input(200, 20, 20, 50)),
    ] {
        let compiled = rate(|| {
            std::hint::black_box(NoopRenderer.render(&program, &tests, &traces));
        });
        let through = rate(|| {
            std::hint::black_box(renderer.render(&program, &tests, &traces));
        });
        report(label, compiled, through);
    }
    for (label, (program, tests, _)) in [
        ("verify (async), small", input(5, 3, 0, 0)),
        ("verify (async), 20 tests", input(200, 20, 0, 0)),
    ] {
        let compiled = rate(|| {
            runtime.block_on(async {
                std::hint::black_box(NoopVerifier.verify(&program, &tests).await.unwrap());
            });
        });
        let through = rate(|| {
            runtime.block_on(async {
                std::hint::black_box(verifier.verify(&program, &tests).await.unwrap());
            });
        });
        report(label, compiled, through);
    }
}
