//! Throughput of the process sandbox and the test verifier against the classic
//! HumanEval harness.
//!
//! The same candidate programs (MBPP reference solutions and mutants of them, each with
//! its three asserts) are verified with the cold and the warm `ProcessSandbox` (a
//! program passes when it exits with 0: the asserts appended), with the `TestVerifier`
//! over the warm sandbox in each of its test isolations (a verdict per test, decided
//! outside the program's process), then by `classic_harness.py` (one
//! `multiprocessing.Process` per check, as the classic harness does), all with 2
//! workers, in one run. With the feature `docker`, the `DockerSandbox` then runs the
//! first `NEXT_BENCH_DOCKER` programs (default 100), and the warm sandbox and the
//! classic harness run that subset again, for ratios on the same programs.
//!
//! ```text
//! cargo bench -p next-verifiers --bench sandbox
//! cargo bench -p next-verifiers --features docker --bench sandbox
//! NEXT_DATA=/path/to/data NEXT_BENCH_TASKS=100 cargo bench -p next-verifiers --bench sandbox
//! ```
//!
//! `NEXT_DATA` is the data directory holding `mbpp.jsonl` (or the file itself); the
//! default is `shared/data` beside the workspace. `NEXT_BENCH_TASKS` is how many MBPP
//! tasks to take (default 500; each gives its reference and up to two mutants).
//!
//! The candidates are those that end within 1 s (as a warm sandbox finds in a first,
//! untimed pass) of the tasks whose reference passes within 1 s: a program that runs
//! for seconds, or hangs until the limit, would measure Python or the time limit rather
//! than the harness.
//!
//! With the feature `wasm` (`cargo bench -p next-verifiers --features wasm --bench
//! sandbox`), the WASM sandbox is measured too, on the first `NEXT_BENCH_WASM` candidates
//! (default 200), against the warm sandbox and the classic harness on the same subset
//! in the same run; its per-job costs (instantiating the module, a trivial job) are
//! printed first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::sandbox::{Job, Limits, Sandbox, Termination};
use next_core::task::{Program, TestCase};
use next_core::verify::Verifier;
use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};
use next_verifiers::verify::{TestIsolation, TestVerifier, TestVerifierConfig};
use serde::Deserialize;

const WORKERS: usize = 2;
/// The time limit of one check (the classic harness's default).
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Deserialize)]
struct Task {
    code: String,
    #[serde(default)]
    test_setup_code: String,
    test_list: Vec<String>,
}

fn data_file() -> PathBuf {
    let given = std::env::var_os("NEXT_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    if given.is_dir() {
        given.join("mbpp.jsonl")
    } else {
        given
    }
}

/// Up to two mutants of a solution, as a model's wrong fix might be: one comparison,
/// arithmetic or boolean operator swapped, on a `return`, `if` or `elif` line (never a
/// loop's condition, so that a mutant rarely hangs).
fn mutants(code: &str) -> Vec<String> {
    let swaps = [
        (" == ", " != "),
        (" != ", " == "),
        (" < ", " > "),
        (" > ", " < "),
        (" <= ", " > "),
        (" >= ", " < "),
        (" + ", " - "),
        (" - ", " + "),
        (" and ", " or "),
        (" or ", " and "),
    ];
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (from, to) in swaps {
        let target = lines.iter().position(|line| {
            let line = line.trim_start();
            (line.starts_with("return ") || line.starts_with("if ") || line.starts_with("elif "))
                && line.contains(from)
        });
        if let Some(i) = target {
            let mut mutant: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            mutant[i] = mutant[i].replacen(from, to, 1);
            found.push(mutant.join("\n"));
        }
        if found.len() == 2 {
            break;
        }
    }
    found
}

/// The tasks' reference solutions, each with its setup and asserts.
fn tasks(count: usize) -> Vec<Task> {
    let path = data_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (set NEXT_DATA)", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(count)
        .map(|line| {
            let mut task: Task = serde_json::from_str(line).expect("an MBPP task");
            task.code = task.code.replace("\r\n", "\n");
            task.test_setup_code = task.test_setup_code.replace("\r\n", "\n");
            task
        })
        .collect()
}

fn program(candidate: &str, task: &Task) -> String {
    format!(
        "{candidate}\n{}\n{}\n",
        task.test_setup_code,
        task.test_list.join("\n")
    )
}

/// Verifies every program with `WORKERS` jobs in flight; returns the wall time and the
/// verdicts.
fn verify(
    sandbox: impl Sandbox + 'static, programs: &[String], runtime: &tokio::runtime::Runtime,
) -> (Duration, Vec<bool>) {
    let (took, ends) = verify_within(sandbox, programs, runtime, TIMEOUT);
    let passed = ends
        .iter()
        .map(|end| *end == Termination::Exited { code: 0 })
        .collect();
    (took, passed)
}

/// [`verify`] with another time limit.
fn verify_within(
    sandbox: impl Sandbox + 'static, programs: &[String], runtime: &tokio::runtime::Runtime,
    timeout: Duration,
) -> (Duration, Vec<Termination>) {
    let sandbox = Arc::new(sandbox);
    let programs = Arc::new(programs.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let limits = Limits::new(timeout, 1 << 30, 1 << 20, 16).expect("limits");
    let start = Instant::now();
    let ends = runtime.block_on(async {
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (sandbox, programs, next) = (
                Arc::clone(&sandbox),
                Arc::clone(&programs),
                Arc::clone(&next),
            );
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(program) = programs.get(i) else {
                        break;
                    };
                    let done = sandbox
                        .run(Job::new(program.clone()).with_limits(limits))
                        .await
                        .expect("the sandbox runs the job");
                    mine.push((i, done.termination));
                }
                mine
            }));
        }
        let mut ends = vec![Termination::TimedOut; programs.len()];
        for worker in workers {
            for (i, end) in worker.await.expect("a worker") {
                ends[i] = end;
            }
        }
        ends
    });
    (start.elapsed(), ends)
}

/// One candidate for the test verifier: the program (setup code included) and its
/// asserts as tests.
struct Candidate {
    program: Program,
    tests: Vec<TestCase>,
}

fn candidate(code: &str, task: &Task) -> Candidate {
    Candidate {
        program: Program::new(format!("{code}\n{}\n", task.test_setup_code)),
        tests: task
            .test_list
            .iter()
            .map(|t| TestCase::new(t.clone()).expect("an MBPP test"))
            .collect(),
    }
}

/// Verifies every candidate with the test verifier over a warm sandbox, `WORKERS` at a
/// time, after a first untimed pass that plans every test list (a loop verifies many
/// samples of each task, so plans are cached once per task). Returns the wall time of
/// the timed pass and whether each candidate passed every test.
fn verify_with_tests(
    isolation: TestIsolation, candidates: &[Candidate], runtime: &tokio::runtime::Runtime,
) -> (Duration, Vec<bool>) {
    let sandbox = ProcessSandbox::new(ProcessConfig::default()).expect("a warm sandbox");
    let config = TestVerifierConfig {
        isolation,
        test_timeout_ms: u64::try_from(TIMEOUT.as_millis()).expect("a timeout"),
        ..TestVerifierConfig::default()
    };
    let verifier = Arc::new(TestVerifier::with_config(sandbox, config));
    let candidates: Arc<Vec<(Program, Vec<TestCase>)>> = Arc::new(
        candidates
            .iter()
            .map(|c| (c.program.clone(), c.tests.clone()))
            .collect(),
    );
    runtime.block_on(async {
        for (_, tests) in candidates.iter() {
            verifier.provenance(tests).await.expect("planned");
        }
    });
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let passed = runtime.block_on(async {
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (verifier, candidates, next) = (
                Arc::clone(&verifier),
                Arc::clone(&candidates),
                Arc::clone(&next),
            );
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((program, tests)) = candidates.get(i) else {
                        break;
                    };
                    let verdict = verifier.verify(program, tests).await.expect("a verdict");
                    mine.push((i, verdict.passed()));
                }
                mine
            }));
        }
        let mut passed = vec![false; candidates.len()];
        for worker in workers {
            for (i, ok) in worker.await.expect("a worker") {
                passed[i] = ok;
            }
        }
        passed
    });
    (start.elapsed(), passed)
}

fn classic(interpreter: &std::path::Path, programs: &[String]) -> (Duration, Vec<bool>) {
    #[derive(Deserialize)]
    struct Answer {
        seconds: f64,
        passed: Vec<bool>,
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let list = dir.path().join("programs.json");
    std::fs::write(&list, serde_json::to_vec(programs).expect("json")).expect("write programs");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/classic_harness.py");
    let output = Command::new(interpreter)
        .arg(&script)
        .arg(&list)
        .arg(WORKERS.to_string())
        .arg(TIMEOUT.as_secs_f64().to_string())
        .current_dir(dir.path())
        .output()
        .expect("run the classic harness");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Answer = serde_json::from_slice(&output.stdout).expect("the harness's answer");
    (Duration::from_secs_f64(answer.seconds), answer.passed)
}

fn rate(n: usize, took: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    n / took.as_secs_f64()
}

/// The candidates: the programs with their asserts appended (for the sandboxes and the
/// classic harness), the same split into program and tests (for the test verifier),
/// and how many tasks they come from.
fn select(tasks: usize, runtime: &tokio::runtime::Runtime) -> (Vec<String>, Vec<Candidate>, usize) {
    // Keep the candidates that end within 1 s, of the tasks whose reference passes
    // within 1 s (a program that runs for seconds, or hangs until the limit, measures
    // Python or the limit, not the harness), as a warm sandbox finds; that run also
    // warms the page cache for every harness alike.
    let all = self::tasks(tasks);
    let candidates: Vec<(usize, bool, String, String)> = all
        .iter()
        .enumerate()
        .flat_map(|(i, task)| {
            std::iter::once((i, true, task.code.clone()))
                .chain(mutants(&task.code).into_iter().map(move |m| (i, false, m)))
        })
        .map(|(i, reference, code)| {
            let text = program(&code, &all[i]);
            (i, reference, code, text)
        })
        .collect();
    let texts: Vec<String> = candidates.iter().map(|c| c.3.clone()).collect();
    let warm_up = ProcessSandbox::new(ProcessConfig {
        mode: Mode::Warm,
        ..ProcessConfig::default()
    })
    .expect("a warm sandbox");
    let (_, ends) = verify_within(warm_up, &texts, runtime, Duration::from_secs(1));
    let good_tasks: std::collections::BTreeSet<usize> = candidates
        .iter()
        .zip(&ends)
        .filter(|((_, reference, _, _), end)| {
            *reference && **end == Termination::Exited { code: 0 }
        })
        .map(|((task, _, _, _), _)| *task)
        .collect();
    let kept: Vec<(usize, String, String)> = candidates
        .into_iter()
        .zip(ends)
        .filter(|((task, _, _, _), end)| good_tasks.contains(task) && *end != Termination::TimedOut)
        .map(|((task, _, code, text), _)| (task, code, text))
        .collect();
    let programs: Vec<String> = kept.iter().map(|k| k.2.clone()).collect();
    let split: Vec<Candidate> = kept
        .iter()
        .map(|(task, code, _)| candidate(code, &all[*task]))
        .collect();
    (programs, split, good_tasks.len())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that
    // quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let tasks = std::env::var("NEXT_BENCH_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 5 } else { 500 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a runtime");
    let (programs, split, good_tasks) = select(tasks, &runtime);
    println!(
        "{} candidate programs (references and mutants ending within 1 s) of the {} of the first {tasks} MBPP tasks whose reference passes within 1 s; {WORKERS} workers, {} s limit",
        programs.len(),
        good_tasks,
        TIMEOUT.as_secs()
    );

    let cold = ProcessSandbox::new(ProcessConfig {
        mode: Mode::Cold,
        ..ProcessConfig::default()
    })
    .expect("a cold sandbox");
    println!("isolation:\n{}", cold.isolation());
    let interpreter = cold.interpreter().to_path_buf();
    let (cold_time, cold_verdicts) = verify(cold, &programs, &runtime);
    let warm = ProcessSandbox::new(ProcessConfig {
        mode: Mode::Warm,
        ..ProcessConfig::default()
    })
    .expect("a warm sandbox");
    assert_eq!(warm.isolation().mode, Mode::Warm, "{}", warm.isolation());
    let (warm_time, warm_verdicts) = verify(warm, &programs, &runtime);
    let tested: Vec<(TestIsolation, Duration, Vec<bool>)> = [
        TestIsolation::Test,
        TestIsolation::Program,
        TestIsolation::None,
    ]
    .into_iter()
    .map(|isolation| {
        let (took, passed) = verify_with_tests(isolation, &split, &runtime);
        (isolation, took, passed)
    })
    .collect();
    let (classic_time, classic_verdicts) = classic(&interpreter, &programs);

    let n = programs.len();
    let passed = |v: &[bool]| v.iter().filter(|p| **p).count();
    let (cold_rate, warm_rate, classic_rate) = (
        rate(n, cold_time),
        rate(n, warm_time),
        rate(n, classic_time),
    );
    println!(
        "cold sandbox:    {cold_rate:7.1} programs/s  ({} passed)",
        passed(&cold_verdicts)
    );
    println!(
        "warm sandbox:    {warm_rate:7.1} programs/s  ({} passed)",
        passed(&warm_verdicts)
    );
    println!(
        "classic harness: {classic_rate:7.1} programs/s  ({} passed)",
        passed(&classic_verdicts)
    );
    for (isolation, took, passed_tests) in &tested {
        let r = rate(n, *took);
        println!(
            "tests verifier, isolation {:<8} {r:7.1} programs/s  ({} passed)  {:.2}x classic",
            format!("{isolation:?}:"),
            passed(passed_tests),
            r / classic_rate
        );
    }
    println!("cold / classic:  {:.2}x", cold_rate / classic_rate);
    println!("warm / classic:  {:.2}x", warm_rate / classic_rate);
    let disagree = |a: &[bool], b: &[bool]| a.iter().zip(b).filter(|(x, y)| x != y).count();
    for (isolation, _, passed_tests) in &tested {
        println!(
            "verdicts that differ: tests verifier ({isolation:?}) vs classic {}",
            disagree(passed_tests, &classic_verdicts)
        );
    }
    println!(
        "verdicts that differ: cold vs warm {}, warm vs classic {}",
        disagree(&cold_verdicts, &warm_verdicts),
        disagree(&warm_verdicts, &classic_verdicts)
    );
    #[cfg(feature = "docker")]
    docker::compare(&programs, &interpreter, &runtime, quick);
    #[cfg(feature = "wasm")]
    wasm::bench(&programs, &runtime, &interpreter, quick);
}

/// The Docker sandbox on the first programs of the same set (a container per program
/// makes the whole set take minutes), with the classic harness and the warm process
/// sandbox on the same subset in the same run. `NEXT_BENCH_DOCKER` sets how many
/// (default 100; 0 skips it).
#[cfg(feature = "docker")]
mod docker {
    use std::sync::Arc;

    use super::{classic, rate, verify};
    use next_verifiers::docker::{DockerConfig, DockerSandbox};
    use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};

    pub fn compare(
        programs: &[String], interpreter: &std::path::Path, runtime: &tokio::runtime::Runtime,
        quick: bool,
    ) {
        let wanted = std::env::var("NEXT_BENCH_DOCKER")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(if quick { 4 } else { 100 });
        let subset = &programs[..wanted.min(programs.len())];
        if subset.is_empty() {
            return;
        }
        let sandbox = match runtime.block_on(DockerSandbox::connect(DockerConfig::default())) {
            Ok(sandbox) => Arc::new(sandbox),
            Err(e) => {
                println!(
                    "docker sandbox: not measured: {}",
                    next_core::error::chain(&e)
                );
                return;
            }
        };
        // One untimed job: the image's pages in the cache, as for the others.
        let _ = verify(Arc::clone(&sandbox), &subset[..1], runtime);
        let (docker_time, docker_verdicts) = verify(sandbox, subset, runtime);
        let warm = ProcessSandbox::new(ProcessConfig {
            mode: Mode::Warm,
            ..ProcessConfig::default()
        })
        .expect("a warm sandbox");
        let (warm_time, warm_verdicts) = verify(warm, subset, runtime);
        let (classic_time, classic_verdicts) = classic(interpreter, subset);
        let n = subset.len();
        let (docker_rate, warm_rate, classic_rate) = (
            rate(n, docker_time),
            rate(n, warm_time),
            rate(n, classic_time),
        );
        #[allow(clippy::cast_precision_loss)]
        let per_job = docker_time.as_secs_f64() * super::WORKERS as f64 / n as f64;
        let passed = |v: &[bool]| v.iter().filter(|p| **p).count();
        println!("on the first {n} programs:");
        println!(
            "docker sandbox:  {docker_rate:7.1} programs/s  ({} passed; {:.0} ms per job and worker)",
            passed(&docker_verdicts),
            per_job * 1000.0
        );
        println!(
            "warm sandbox:    {warm_rate:7.1} programs/s  ({} passed)",
            passed(&warm_verdicts)
        );
        println!(
            "classic harness: {classic_rate:7.1} programs/s  ({} passed)",
            passed(&classic_verdicts)
        );
        println!("docker / classic: {:.3}x", docker_rate / classic_rate);
        println!("docker / warm:    {:.3}x", docker_rate / warm_rate);
        let differ = docker_verdicts
            .iter()
            .zip(&classic_verdicts)
            .filter(|(a, b)| a != b)
            .count();
        println!("verdicts that differ: docker vs classic {differ}");
    }
}

/// The WASM sandbox's part of the benchmark.
#[cfg(feature = "wasm")]
mod wasm {
    use std::time::{Duration, Instant};

    use next_core::sandbox::{Job, Sandbox, Termination};
    use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};
    use next_verifiers::wasm::{WasmConfig, WasmSandbox};

    use super::{classic, rate, verify, WORKERS};

    /// Prints the per-job costs, then verifies a subset of `programs` with the WASM
    /// sandbox, the warm process sandbox and the classic harness.
    pub fn bench(
        programs: &[String], runtime: &tokio::runtime::Runtime, interpreter: &std::path::Path,
        quick: bool,
    ) {
        let started = Instant::now();
        let sandbox = match WasmSandbox::new(WasmConfig::default()) {
            Ok(sandbox) => sandbox,
            Err(err) => {
                println!("wasm sandbox: not measured: {err}");
                return;
            }
        };
        println!(
            "wasm sandbox: built in {:.2} s (module loaded in {:.2} s)",
            started.elapsed().as_secs_f64(),
            sandbox.load_time().as_secs_f64()
        );
        let rounds = if quick { 3 } else { 30 };
        let instantiate = median(
            (0..rounds)
                .map(|_| sandbox.time_instantiation().expect("an instance"))
                .collect(),
        );
        let trivial = median(
            (0..rounds)
                .map(|_| {
                    let done = runtime
                        .block_on(sandbox.run(Job::new("pass\n")))
                        .expect("a trivial job");
                    assert_eq!(done.termination, Termination::Exited { code: 0 });
                    done.wall_time
                })
                .collect(),
        );
        println!(
            "wasm per job (median of {rounds}): instantiate {:.2} ms, trivial job (`pass`, instantiation and interpreter start included) {:.1} ms",
            instantiate.as_secs_f64() * 1e3,
            trivial.as_secs_f64() * 1e3
        );
        let count = std::env::var("NEXT_BENCH_WASM")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(if quick { 10 } else { 200 })
            .min(programs.len());
        let subset = &programs[..count];
        let (wasm_time, wasm_verdicts) = verify(sandbox, subset, runtime);
        let process = ProcessSandbox::new(ProcessConfig {
            mode: Mode::Warm,
            ..ProcessConfig::default()
        })
        .expect("a warm sandbox");
        let (process_time, process_verdicts) = verify(process, subset, runtime);
        let (classic_time, classic_verdicts) = classic(interpreter, subset);
        let (wasm_rate, process_rate, classic_rate) = (
            rate(count, wasm_time),
            rate(count, process_time),
            rate(count, classic_time),
        );
        let count_true = |v: &[bool]| v.iter().filter(|p| **p).count();
        println!("the first {count} candidates, {WORKERS} workers:");
        println!(
            "wasm sandbox:    {wasm_rate:7.1} programs/s  ({} passed)",
            count_true(&wasm_verdicts)
        );
        println!(
            "warm sandbox:    {process_rate:7.1} programs/s  ({} passed)",
            count_true(&process_verdicts)
        );
        println!(
            "classic harness: {classic_rate:7.1} programs/s  ({} passed)",
            count_true(&classic_verdicts)
        );
        println!("wasm / classic:  {:.2}x", wasm_rate / classic_rate);
        println!("wasm / warm:     {:.2}x", wasm_rate / process_rate);
        let differ: Vec<usize> = (0..count)
            .filter(|i| wasm_verdicts[*i] != process_verdicts[*i])
            .collect();
        println!(
            "verdicts that differ, wasm vs warm: {} {differ:?}",
            differ.len()
        );
    }

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }
}
