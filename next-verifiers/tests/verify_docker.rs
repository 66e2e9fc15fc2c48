//! The test verifier over the Docker sandbox, against the real local engine: MBPP
//! reference solutions pass, a wrong program fails, and the programs that try to forge
//! a verdict (the same ones `verify.rs` runs in the process sandbox) all fail.
//! (`docker_support` says when these tests skip and when they fail for a missing
//! engine.)
#![cfg(feature = "docker")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;
mod docker_support;
mod verify_support;

use std::sync::Arc;
use std::time::Duration;

use next_core::sandbox::Sandbox;
use next_core::task::Program;
use next_core::verify::{TestOutcome, Verdict, Verifier};
use next_verifiers::docker::DockerSandbox;
use next_verifiers::verify::{TestVerifier, TestVerifierConfig};
use verify_support::forging::{self, CORRECT, TESTS};
use verify_support::{assert_failed, tests};

/// A verifier over `sandbox`, with the limits `verify.rs` uses.
fn verifier(sandbox: Arc<DockerSandbox>) -> TestVerifier<Arc<dyn Sandbox>> {
    let sandbox: Arc<dyn Sandbox> = sandbox;
    TestVerifier::with_config(
        sandbox,
        TestVerifierConfig {
            test_timeout_ms: 5_000,
            max_job_ms: 60_000,
            memory_mb: 512,
            ..TestVerifierConfig::default()
        },
    )
}

async fn verdict(verifier: &impl Verifier, program: &str, lines: &[&str]) -> Verdict {
    verifier
        .verify(&Program::new(program), &tests(lines))
        .await
        .unwrap()
}

/// The first `n` MBPP tasks: reference solution (with its setup code) and asserts.
fn mbpp(n: usize) -> Option<Vec<(String, Vec<String>)>> {
    let path = verify_support::data_dir().join("mbpp.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is absent under CI (set NEXT_DATA)",
            path.display()
        );
        eprintln!("skipped: {} is absent (set NEXT_DATA)", path.display());
        return None;
    };
    let rows = text.lines().filter(|l| !l.trim().is_empty()).take(n);
    Some(
        rows.map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = |name: &str| row[name].as_str().unwrap_or("").replace("\r\n", "\n");
            let code = format!("{}\n{}\n", text("code"), text("test_setup_code"));
            let asserts = row["test_list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect();
            (code, asserts)
        })
        .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbpp_references_pass_and_a_wrong_program_fails() {
    let Some(sandbox) = docker_support::sandbox().await else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    let verifier = verifier(Arc::clone(&sandbox));
    let Some(tasks) = mbpp(3) else {
        return;
    };
    for (code, asserts) in &tasks {
        let lines: Vec<&str> = asserts.iter().map(String::as_str).collect();
        let v = verdict(&verifier, code, &lines).await;
        assert!(v.passed(), "{code}\n{v:?}");
    }
    assert!(verdict(&verifier, CORRECT, TESTS).await.passed());
    let wrong = "def add(a, b):\n    return a - b\n\ndef half(x):\n    return x / 3\n";
    let v = verdict(&verifier, wrong, TESTS).await;
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got -1".into()
        }
    );
    assert!(!v.passed());
    docker_support::assert_nothing_left(&sandbox).await;
}

/// A program that loops in C code on every test costs at most its budget in Docker, and
/// leaves no container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_loops_in_c_costs_at_most_its_budget_in_docker() {
    let Some(sandbox) = docker_support::sandbox().await else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    let dynamic: Arc<dyn Sandbox> = Arc::clone(&sandbox) as Arc<dyn Sandbox>;
    let verifier = TestVerifier::with_config(
        dynamic,
        TestVerifierConfig {
            test_timeout_ms: 500,
            max_program_ms: 4_000,
            ..TestVerifierConfig::default()
        },
    );
    let (budget, slack) = (Duration::from_secs(4), Duration::from_secs(6));
    verify_support::attacks::check_budget(&verifier, budget, slack).await;
    docker_support::assert_nothing_left(&sandbox).await;
}

/// The program recurses exactly as deep in a verdict as in a plain job of the same
/// image (`python main.py`), and reads and sets its limit as there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_is_as_deep_as_in_a_plain_script_in_docker() {
    let Some(sandbox) = docker_support::sandbox().await else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    let plain = common::run(
        &*sandbox,
        &verify_support::recursion::script(),
        common::limits(60_000),
    )
    .await;
    assert_eq!(
        plain.termination,
        next_core::sandbox::Termination::Exited { code: 0 },
        "{}",
        common::stderr(&plain)
    );
    let checks = verify_support::recursion::checks(&String::from_utf8_lossy(&plain.stdout));
    let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
    let v = verdict(
        &verifier(Arc::clone(&sandbox)),
        verify_support::recursion::PROGRAM,
        &checks,
    )
    .await;
    assert!(v.passed(), "{v:?}");
    docker_support::assert_nothing_left(&sandbox).await;
}

/// Attacks on the judgement itself fail in Docker, and their honest programs pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_judgement_fail_in_docker() {
    let Some(sandbox) = docker_support::sandbox().await else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    verify_support::attacks::check_all(&verifier(Arc::clone(&sandbox))).await;
    docker_support::assert_nothing_left(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_verdicts_fail_in_docker() {
    let Some(sandbox) = docker_support::sandbox().await else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    let verifier = verifier(Arc::clone(&sandbox));
    let mut cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("printing", forging::PRINTS_PASS.to_owned(), TESTS.to_vec()),
        (
            "builtins",
            forging::PATCHES_BUILTINS.to_owned(),
            TESTS.to_vec(),
        ),
        (
            "rigged __eq__",
            forging::RIGGED_EQUALITY.to_owned(),
            forging::RIGGED_TESTS.to_vec(),
        ),
        (
            "stack walk",
            forging::STACK_WALK.to_owned(),
            vec!["assert add(1, 2) == 987654321"],
        ),
        (
            "rewritten harness",
            forging::HARNESS_REWRITE.to_owned(),
            TESTS.to_vec(),
        ),
        (
            "forged records",
            forging::forged_records(true),
            TESTS.to_vec(),
        ),
        (
            "serialisers",
            forging::JSON_PICKLE.to_owned(),
            TESTS.to_vec(),
        ),
    ];
    for program in forging::EXITS_EARLY {
        cases.push(("exiting early", (*program).to_owned(), TESTS.to_vec()));
    }
    for (what, program, lines) in &cases {
        assert_failed(&verdict(&verifier, program, lines).await, what);
    }
    docker_support::assert_nothing_left(&sandbox).await;
}
