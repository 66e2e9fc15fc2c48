//! [`MockVerifier`]: judges a program by its verdict marker instead of running it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::verdict::VerdictPattern;
use crate::task::{Program, TestCase};
use crate::verify::{TestOutcome, Verdict, Verifier, VerifyError};

/// A [`Verifier`] that reads the program's `# mock-verdict:` marker (see
/// [`VerdictPattern`]) and never executes anything.
///
/// The verdict always has exactly one outcome per test:
/// - a marker gives test `i` the pattern's entry `i % len`;
/// - no marker gives every test [`TestOutcome::Fail`], with a message saying so;
/// - a malformed marker gives every test [`TestOutcome::Error`], with the parse error.
///
/// It never returns an error; wrap it in [`FailOn`](super::FailOn) to inject failures.
/// Clones share the call counter.
#[derive(Debug, Clone, Default)]
pub struct MockVerifier {
    calls: Arc<AtomicUsize>,
}

impl MockVerifier {
    /// Makes a verifier.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times [`Verifier::verify`] was called, on this verifier or a clone.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The verdict on `program` for `tests`, without counting a call.
    pub fn judge(program: &Program, tests: &[TestCase]) -> Verdict {
        match VerdictPattern::from_source(program.source()) {
            Ok(Some(pattern)) => pattern.verdict(tests.len()),
            Ok(None) => Verdict::new(
                (0..tests.len())
                    .map(|test| TestOutcome::Fail {
                        message: format!(
                            "mock test {test}: the program has no `# mock-verdict:` marker"
                        ),
                    })
                    .collect(),
            ),
            Err(error) => Verdict::new(
                (0..tests.len())
                    .map(|_| TestOutcome::Error {
                        message: error.to_string(),
                    })
                    .collect(),
            ),
        }
    }
}

#[async_trait]
impl Verifier for MockVerifier {
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Self::judge(program, tests))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    fn tests(n: usize) -> Vec<TestCase> {
        super::super::identity_tests("f", n)
    }

    #[test]
    fn markers_decide_each_test() {
        let verifier = MockVerifier::new();
        let program = Program::new("def f(x):\n    return x\n# mock-verdict: pass,timeout,error\n");
        let verdict = block_on(verifier.verify(&program, &tests(4))).unwrap();
        let names: Vec<&str> = verdict.outcomes.iter().map(TestOutcome::name).collect();
        assert_eq!(names, ["pass", "timeout", "error", "pass"]);
        let single = Program::new("    # mock-verdict: resource\n");
        let verdict = block_on(verifier.verify(&single, &tests(2))).unwrap();
        assert!(verdict
            .outcomes
            .iter()
            .all(|o| o.name() == "resource_limit"));
        assert_eq!(verifier.clone().calls(), 2);
    }

    #[test]
    fn missing_and_malformed_markers_fail_every_test() {
        let verdict = MockVerifier::judge(&Program::new("x = 1\n"), &tests(3));
        assert_eq!(verdict.outcomes.len(), 3);
        assert!(verdict
            .outcomes
            .iter()
            .all(|o| o.name() == "fail" && o.message().contains("no `# mock-verdict:`")));
        let verdict = MockVerifier::judge(&Program::new("# mock-verdict: maybe\n"), &tests(2));
        assert!(verdict
            .outcomes
            .iter()
            .all(|o| o.name() == "error" && o.message().contains("maybe")));
        assert!(
            MockVerifier::judge(&Program::new("# mock-verdict: pass\n"), &[])
                .outcomes
                .is_empty()
        );
    }
}
