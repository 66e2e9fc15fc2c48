//! The trusted judge job: checks the Rust judge does not model (a "py" check: a method
//! of a returned value, a standard-library call, an operator it lacks; or one that meets,
//! on the values returned, what it does not compute as CPython does: `'%s' % x`, a set's
//! order) are evaluated in CPython by the planner script in "judge" mode, a job that
//! never loads the program, over the plain values the candidate job returned. It runs
//! only for programs whose tests need it, once per program, within the program's time
//! budget: checks it cannot judge in time are undecided, which is an error, never a pass.

use std::time::{Duration, Instant};

use next_core::sandbox::{Execution, Sandbox};
use next_core::task::TestCase;
use next_core::verify::TestOutcome;

use super::judge::{self, HoleResult, Holes, PyAnswer};
use super::plan::{Provenance, TestPlan};
use super::protocol::{Records, TestRecord};
use super::value::py_literal;
use super::TestVerifier;

/// One candidate job's share of a program's tests: `start..end`, what it recorded and how
/// it ended.
pub(super) struct Run {
    pub start: usize,
    pub end: usize,
    pub records: Records,
    pub execution: Execution,
}

impl<S: Sandbox> TestVerifier<S> {
    /// The judge job's answers to the checks of every test that needs them (one per
    /// check; empty where a test needs none or its holes gave no values).
    pub(super) async fn judge_py(
        &self, tests: &[TestCase], imports: &[String], plans: &[TestPlan], runs: &[Run],
        deadline: Instant,
    ) -> Vec<Vec<PyAnswer>> {
        let mut values: Vec<Option<Vec<Option<String>>>> = vec![None; tests.len()];
        let mut wanted = 0_u64;
        for run in runs {
            for (i, record) in run.records.tests.iter().enumerate() {
                let t = run.start + i;
                if let (
                    Some(TestPlan::Judged {
                        checks, sources, ..
                    }),
                    TestRecord::Holes(results),
                ) = (plans.get(t), record)
                {
                    let holes = Holes {
                        sources,
                        results,
                        py: &[],
                    };
                    if judge::needs_py(checks, &holes) {
                        values[t] = Some(results.iter().map(literal).collect());
                        wanted += 1;
                    }
                }
            }
        }
        let mut answers = vec![Vec::new(); tests.len()];
        if wanted == 0 {
            return answers;
        }
        let size: usize = values
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .map(String::len)
            .sum::<usize>()
            + tests.iter().map(|t| t.code().len()).sum::<usize>();
        let request = serde_json::json!({
            "mode": "judge",
            "tests": tests.iter().map(TestCase::code).collect::<Vec<_>>(),
            "imports": imports,
            "values": values,
        });
        let c = &self.config;
        // Within the program's budget, which this job shares with its candidate jobs.
        let wall = Duration::from_millis(
            c.load_timeout_ms
                .saturating_add(wanted.saturating_mul(c.test_timeout_ms))
                .min(c.max_job_ms.max(1)),
        )
        .min(deadline.saturating_duration_since(Instant::now()));
        let undecided = |why: String, answers: &mut Vec<Vec<PyAnswer>>| {
            for (t, v) in values.iter().enumerate() {
                if v.is_some() {
                    answers[t] = vec![PyAnswer::Undecided(why.clone()); check_count(&plans[t])];
                }
            }
        };
        if wall < Duration::from_millis(1) {
            undecided(
                "the program's time budget is spent".to_owned(),
                &mut answers,
            );
            return answers;
        }
        let answer = match self.run_planner(&request, size, wall).await {
            Ok(answer) => answer,
            Err(err) => {
                undecided(format!("the judge job failed: {err}"), &mut answers);
                return answers;
            }
        };
        let Some(per_test) = answer.get("answers").and_then(serde_json::Value::as_array) else {
            undecided("the judge job gave no answers".to_owned(), &mut answers);
            return answers;
        };
        for (t, list) in per_test.iter().enumerate().take(tests.len()) {
            if values[t].is_none() {
                continue;
            }
            answers[t] = match list.as_array() {
                Some(items) => items.iter().map(read_answer).collect(),
                None => vec![
                    PyAnswer::Undecided("the judge could not walk the test".to_owned());
                    check_count(&plans[t])
                ],
            };
        }
        answers
    }
}

fn check_count(plan: &TestPlan) -> usize {
    match plan {
        TestPlan::Judged { checks, .. } => checks.len(),
        _ => 0,
    }
}

/// A hole's value as a Python literal for the judge, or none when it has no value.
fn literal(result: &HoleResult) -> Option<String> {
    match result {
        HoleResult::Value(v) => Some(py_literal(v)),
        _ => None,
    }
}

fn read_answer(json: &serde_json::Value) -> PyAnswer {
    let text = |name: &str| json.get(name).and_then(serde_json::Value::as_str);
    if let Some(held) = json.get("ok").and_then(serde_json::Value::as_bool) {
        return PyAnswer::Held(held);
    }
    if let Some(message) = text("err") {
        return PyAnswer::Raised {
            message: message.to_owned(),
            kind: text("type").unwrap_or("Exception").to_owned(),
        };
    }
    PyAnswer::Undecided("a hole of the check has no value".to_owned())
}

/// Turns the pass of every delegated test into an error: its outcome is the program's
/// own word (see [`Provenance::Delegated`]).
pub(super) fn refuse_delegated(outcomes: &mut [TestOutcome], provenance: &[Provenance]) {
    for (outcome, p) in outcomes.iter_mut().zip(provenance) {
        if *p == Provenance::Delegated && matches!(outcome, TestOutcome::Pass) {
            *outcome = TestOutcome::Error {
                message: "the test could not be judged outside the program's process \
                          (delegated), and delegated passes are not accepted \
                          (allow_delegated = true accepts them)"
                    .to_owned(),
            };
        }
    }
}
