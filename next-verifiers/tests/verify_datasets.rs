//! The test verifier on the real datasets (`NEXT_DATA`, default `shared/data` beside the
//! workspace): every MBPP reference solution passes its tests, HumanEval's canonical
//! solutions pass their split `check`, and HumanEvalFix's buggy programs fail.
//! Skipped, with a note, where the data is absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    clippy::cast_precision_loss
)]

mod verify_support;

use std::sync::Arc;
use std::time::Instant;

use next_core::sandbox::Sandbox;
use next_core::task::{Program, TestCase};
use next_core::verify::TestOutcome;
use next_verifiers::verify::{Provenance, TestVerifier, TestVerifierConfig};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

type Shared = Arc<TestVerifier<Arc<dyn Sandbox>>>;

fn verifier() -> Shared {
    let (sandbox, _) = verify_support::sandbox();
    Arc::new(TestVerifier::with_config(
        sandbox,
        TestVerifierConfig {
            test_timeout_ms: 20_000,
            max_job_ms: 120_000,
            ..TestVerifierConfig::default()
        },
    ))
}

fn read_jsonl(name: &str) -> Option<Vec<serde_json::Value>> {
    let path = verify_support::data_dir().join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        // CI has the data beside the checkout: missing there is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is absent under CI (set NEXT_DATA)",
            path.display()
        );
        eprintln!("skipped: {} is absent (set NEXT_DATA)", path.display());
        return None;
    };
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

fn field<'a>(row: &'a serde_json::Value, name: &str) -> &'a str {
    row[name].as_str().unwrap_or("")
}

/// What one program's verification came to: its id, whether it passed, the first
/// outcome that was not a pass, and where its outcomes were decided.
type Finding = (String, bool, Option<TestOutcome>, Vec<Provenance>);

async fn verify_all(
    verifier: &Shared, jobs: Vec<(String, Program, Vec<TestCase>)>, parallel: usize,
) -> Vec<Finding> {
    let gate = Arc::new(Semaphore::new(parallel));
    let mut set = JoinSet::new();
    for (id, program, tests) in jobs {
        let verifier = Arc::clone(verifier);
        let gate = Arc::clone(&gate);
        set.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let report = verifier.verify_report(&program, &tests).await.unwrap();
            let first_bad = report
                .verdict
                .outcomes
                .iter()
                .find(|o| !o.is_pass())
                .cloned();
            (id, report.verdict.passed(), first_bad, report.provenance)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.unwrap());
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Each MBPP row as (id, reference solution followed by its setup code, its asserts).
fn mbpp_jobs(rows: &[serde_json::Value]) -> Vec<(String, Program, Vec<TestCase>)> {
    rows.iter()
        .map(|row| {
            let setup = field(row, "test_setup_code");
            let mut source = field(row, "code").replace("\r\n", "\n");
            if !setup.trim().is_empty() {
                source = format!("{}\n\n{}\n", source.trim_end(), setup.replace("\r\n", "\n"));
            }
            let tests = row["test_list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| TestCase::new(t.as_str().unwrap()).unwrap())
                .collect();
            (
                format!("mbpp/{:03}", row["task_id"]),
                Program::new(source),
                tests,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mbpp_reference_solution_passes_its_tests() {
    let Some(rows) = read_jsonl("mbpp.jsonl") else {
        return;
    };
    let jobs = mbpp_jobs(&rows);
    let count = jobs.len();
    let verifier = verifier();
    let start = Instant::now();
    let findings = verify_all(&verifier, jobs, 4).await;
    let elapsed = start.elapsed();
    let failed: Vec<_> = findings.iter().filter(|f| !f.1).collect();
    for (id, _, outcome, _) in &failed {
        eprintln!("{id}: {outcome:?}");
    }
    let stats = verifier.stats();
    eprintln!(
        "MBPP: {} of {count} reference solutions pass, in {:.1} s ({:.1} programs/s with \
         planning); {stats:?}",
        count - failed.len(),
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(count, 974);
    assert!(
        failed.is_empty(),
        "{} reference solutions failed",
        failed.len()
    );
    assert_eq!(stats.delegated, 0, "every MBPP test splits");
    assert_eq!(stats.candidate_jobs, 974, "one candidate job per program");
}

async fn humaneval(
    prompt_field: &str, body_field: &str, file: &str,
) -> Option<(Shared, Vec<Finding>)> {
    let rows = read_jsonl(file)?;
    let verifier = verifier();
    let mut jobs = Vec::new();
    for row in &rows {
        let entry = field(row, "entry_point");
        let tests = verifier
            .split_check(field(row, "test"), entry)
            .await
            .unwrap();
        let program = format!("{}{}", field(row, prompt_field), field(row, body_field));
        jobs.push((
            field(row, "task_id").to_owned(),
            Program::new(program),
            tests,
        ));
    }
    let findings = verify_all(&verifier, jobs, 4).await;
    Some((verifier, findings))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn humaneval_canonical_solutions_pass_their_split_checks() {
    let Some((verifier, findings)) =
        humaneval("prompt", "canonical_solution", "HumanEval.jsonl").await
    else {
        return;
    };
    let failed: Vec<_> = findings.iter().filter(|f| !f.1).collect();
    for (id, _, outcome, _) in &failed {
        eprintln!("{id}: {outcome:?}");
    }
    let delegated: Vec<_> = findings
        .iter()
        .filter(|f| f.3.contains(&Provenance::Delegated))
        .map(|f| f.0.as_str())
        .collect();
    eprintln!(
        "HumanEval: {} of {} canonical solutions pass; tests with a delegated outcome in {:?}; {:?}",
        findings.len() - failed.len(),
        findings.len(),
        delegated,
        verifier.stats()
    );
    assert_eq!(findings.len(), 164);
    assert!(failed.is_empty());
    let stats = verifier.stats();
    assert!(
        stats.delegated * 100 < stats.judged,
        "delegated tests must stay rare: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn humanevalfix_buggy_programs_fail() {
    let Some((_, findings)) =
        humaneval("prompt", "buggy_solution", "humanevalpack-python.jsonl").await
    else {
        return;
    };
    let passed: Vec<_> = findings
        .iter()
        .filter(|f| f.1)
        .map(|f| f.0.as_str())
        .collect();
    assert_eq!(findings.len(), 164);
    assert!(passed.is_empty(), "buggy programs that passed: {passed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evalplus_cases_pass_the_reference_and_fail_a_bug_without_data() {
    // HumanEval/2 (truncate_number, atol 1e-6): its base inputs, with expected outputs
    // worked out here rather than run, and a buggy variant.
    let verifier = verifier();
    let inputs: [f64; 5] = [3.5, 1.33, 123.456, 999.999_99, 0.333_333_3];
    let tests: Vec<TestCase> = inputs
        .iter()
        .map(|&x| {
            let expected = x - x.trunc();
            next_verifiers::verify::evalplus_test(
                "truncate_number",
                &[next_verifiers::verify::Value::Float(x)],
                &next_verifiers::verify::Value::Float(expected),
                0.0,
            )
            .unwrap()
        })
        .collect();
    let good =
        Program::new("def truncate_number(number: float) -> float:\n    return number % 1.0\n");
    let bad = Program::new(
        "def truncate_number(number: float) -> float:\n    return round(number % 1.0, 2)\n",
    );
    let report = verifier.verify_report(&good, &tests).await.unwrap();
    assert!(report.verdict.passed(), "{:?}", report.verdict);
    assert!(report.provenance.iter().all(|p| *p == Provenance::Judged));
    let verdict = verifier.verify_report(&bad, &tests).await.unwrap().verdict;
    assert!(!verdict.passed(), "{verdict:?}");
}
