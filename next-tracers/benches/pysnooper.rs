//! This tracer against PySnooper, whole process: the same loop-heavy and recursive
//! programs traced by each, in one run, through the same process sandbox and
//! interpreter; prints the time of each and the ratio.
//!
//! ```text
//! python3.12 -m venv /tmp/pysnooper-venv && /tmp/pysnooper-venv/bin/pip install pysnooper
//! NEXT_PYSNOOPER=/tmp/pysnooper-venv/lib/python3.12/site-packages \
//!     NEXT_BENCH_PYTHON=/path/to/python3.12 cargo bench -p next-tracers --bench pysnooper
//! ```
//!
//! `NEXT_PYSNOOPER` is the directory holding the `pysnooper` package (from the
//! Python Package Index, installed for the same interpreter); `NEXT_BENCH_PYTHON` the
//! interpreter (default: 3.12 from pyenv); `NEXT_BENCH_RUNS` the runs per program and
//! tracer (default 5; the median counts).
//!
//! Each measurement is one sandbox job from start to end: the interpreter's start, the
//! tracing, and the writing of the trace (this tracer: its event lines, read back and
//! turned into `Trace`s; PySnooper: its log, on stderr). PySnooper decorates every
//! function of the program (`@pysnooper.snoop()`), as this tracer traces every frame of
//! the program; its own limit on value lengths applies. This tracer runs with a
//! million-event limit, so that neither stops early.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use next_core::sandbox::{Job, Limits, Sandbox, Termination};
use next_core::task::{Program, TestCase};
use next_core::trace::{TraceStatus, Tracer};
use next_tracers::python::{PythonTracer, TracerOptions};
use next_verifiers::process::{ProcessConfig, ProcessSandbox};

const PROGRAMS: &[(&str, &str, &str)] = &[
    (
        "bubble sort (loops)",
        "def bubble(xs):
    xs = list(xs)
    n = len(xs)
    for i in range(n):
        for j in range(n - 1 - i):
            if xs[j] > xs[j + 1]:
                xs[j], xs[j + 1] = xs[j + 1], xs[j]
    return xs
",
        "assert bubble(list(range(40, 0, -1))) == list(range(1, 41))",
    ),
    (
        "prime count (loops)",
        "def count_primes(limit):
    count = 0
    for n in range(2, limit):
        is_prime = True
        d = 2
        while d * d <= n:
            if n % d == 0:
                is_prime = False
                break
            d += 1
        if is_prime:
            count += 1
    return count
",
        "assert count_primes(400) == 78",
    ),
    (
        "fibonacci (recursion)",
        "def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
",
        "assert fib(13) == 233",
    ),
    (
        "towers of hanoi (recursion)",
        "def hanoi(n, a, b, c, moves):
    if n == 0:
        return moves
    hanoi(n - 1, a, c, b, moves)
    moves.append((a, c))
    hanoi(n - 1, b, a, c, moves)
    return moves
",
        "assert len(hanoi(8, 'A', 'B', 'C', [])) == 255",
    ),
];

fn main() {
    let python = std::env::var_os("NEXT_BENCH_PYTHON").map_or_else(
        || PathBuf::from("/root/.pyenv/versions/3.12.1/bin/python3.12"),
        PathBuf::from,
    );
    let Some(site) = std::env::var_os("NEXT_PYSNOOPER").map(PathBuf::from) else {
        eprintln!(
            "set NEXT_PYSNOOPER to the site-packages directory holding pysnooper \
             (python -m venv DIR && DIR/bin/pip install pysnooper)"
        );
        std::process::exit(2);
    };
    let runs: usize = std::env::var("NEXT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let sandbox = ProcessSandbox::new(ProcessConfig {
        interpreter: Some(python.clone()),
        ..ProcessConfig::default()
    })
    .unwrap_or_else(|err| panic!("no process sandbox: {err}"));
    let tracer = PythonTracer::with_options(
        sandbox,
        TracerOptions {
            max_events: 1_000_000,
            max_trace_bytes: 256 << 20,
            time_limit: Duration::from_secs(60),
            ..TracerOptions::default()
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let limits = Limits::new(Duration::from_secs(120), 1 << 30, 256 << 20, 16).expect("limits");

    println!(
        "Python {}, {runs} runs each, median wall time of the whole job",
        python.display()
    );
    println!(
        "{:<30} {:>8} {:>12} {:>14} {:>7}",
        "program", "events", "this (ms)", "PySnooper (ms)", "ratio"
    );
    let mut ours_total = Duration::ZERO;
    let mut theirs_total = Duration::ZERO;
    let mut worst = f64::INFINITY;
    for (name, source, test) in PROGRAMS {
        let snooped = Job::new(pysnooper_source(&site, source, test)).with_limits(limits);
        let (events, ours, theirs) = measure(&runtime, &tracer, name, source, test, &snooped, runs);
        ours_total += ours;
        theirs_total += theirs;
        let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
        worst = worst.min(ratio);
        println!(
            "{name:<30} {events:>8} {:>12.1} {:>14.1} {ratio:>6.1}x",
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3
        );
    }
    println!(
        "all programs: this tracer {:.1} ms, PySnooper {:.1} ms: {:.1}x faster (lowest per program {worst:.1}x)",
        ours_total.as_secs_f64() * 1e3,
        theirs_total.as_secs_f64() * 1e3,
        theirs_total.as_secs_f64() / ours_total.as_secs_f64()
    );
}

/// Traces one program `runs` times with each tracer, after a warm-up run of each;
/// returns its event count and the median times (this tracer, PySnooper).
fn measure(
    runtime: &tokio::runtime::Runtime, tracer: &PythonTracer<ProcessSandbox>, name: &str,
    source: &str, test: &str, snooped: &Job, runs: usize,
) -> (usize, Duration, Duration) {
    let program = Program::new(source);
    let tests = [TestCase::new(test).expect("a test")];
    // Warm up both (and let the tracer learn its compiled harness).
    let warm = runtime
        .block_on(tracer.trace(&program, &tests))
        .expect("tracing");
    assert_eq!(
        warm[0].status,
        TraceStatus::Passed,
        "{name}: {:?}",
        warm[0].events.last()
    );
    let events = warm[0].events.len();
    let check = runtime
        .block_on(tracer.sandbox().run(snooped.clone()))
        .expect("PySnooper job");
    assert_eq!(
        check.termination,
        Termination::Exited { code: 0 },
        "{name} under PySnooper: {}",
        String::from_utf8_lossy(&check.stderr[check.stderr.len().saturating_sub(2000)..])
    );
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let run = runtime
            .block_on(tracer.trace(&program, &tests))
            .expect("tracing");
        ours.push(start.elapsed());
        assert_eq!(run[0].status, TraceStatus::Passed);
        let start = Instant::now();
        let done = runtime
            .block_on(tracer.sandbox().run(snooped.clone()))
            .expect("PySnooper job");
        theirs.push(start.elapsed());
        assert!(done.succeeded());
    }
    (events, median(ours), median(theirs))
}

/// The program with `@pysnooper.snoop()` on every top-level function, then the test.
fn pysnooper_source(site: &std::path::Path, source: &str, test: &str) -> String {
    let mut out = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport pysnooper\n\n",
        site.display().to_string()
    );
    for line in source.lines() {
        if line.starts_with("def ") {
            out.push_str("@pysnooper.snoop()\n");
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(test);
    out.push('\n');
    out
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
