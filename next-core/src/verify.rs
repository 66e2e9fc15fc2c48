//! The `Verifier` role: a program judged by its tests.
//!
//! A [`Verdict`] holds one [`TestOutcome`] per test, in the order of the tests. A fix is
//! accepted only when every outcome is a pass ([`Verdict::passed`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::BoxError;
use crate::sandbox::SandboxError;
use crate::task::{Program, TestCase};

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TestOutcome {
    /// The test ran and held.
    Pass,
    /// The test ran and its assertion failed.
    Fail {
        /// The failure message (the assertion, expected and actual values where known).
        message: String,
    },
    /// The program or the test raised an error other than a failed assertion.
    Error {
        /// The error, `TypeName: message`.
        message: String,
    },
    /// The test did not finish within its time.
    Timeout,
    /// The program exceeded a memory, process or output limit.
    ResourceLimit {
        /// Which limit.
        message: String,
    },
}

impl TestOutcome {
    /// Whether this is a pass.
    pub fn is_pass(&self) -> bool {
        matches!(self, TestOutcome::Pass)
    }

    /// The outcome's name as used in JSON output: `pass`, `fail`, `error`, `timeout`,
    /// `resource_limit`.
    pub fn name(&self) -> &'static str {
        match self {
            TestOutcome::Pass => "pass",
            TestOutcome::Fail { .. } => "fail",
            TestOutcome::Error { .. } => "error",
            TestOutcome::Timeout => "timeout",
            TestOutcome::ResourceLimit { .. } => "resource_limit",
        }
    }

    /// The message, empty for a pass or a timeout.
    pub fn message(&self) -> &str {
        match self {
            TestOutcome::Pass | TestOutcome::Timeout => "",
            TestOutcome::Fail { message }
            | TestOutcome::Error { message }
            | TestOutcome::ResourceLimit { message } => message,
        }
    }
}

/// The judgement of one program on its tests: one outcome per test, in test order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The outcomes, one per test.
    pub outcomes: Vec<TestOutcome>,
}

impl Verdict {
    /// Makes a verdict.
    pub fn new(outcomes: Vec<TestOutcome>) -> Self {
        Self { outcomes }
    }

    /// Whether the program passed: there is at least one outcome and all are passes.
    pub fn passed(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(TestOutcome::is_pass)
    }

    /// How many tests passed.
    pub fn passes(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_pass()).count()
    }
}

/// Why a verifier gave no verdict. A bad program is not an error: it gets a verdict.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The sandbox could not run the program.
    #[error("the sandbox failed")]
    Sandbox(#[from] SandboxError),
    /// The verification harness's output could not be understood.
    #[error("malformed harness output: {0}")]
    Protocol(String),
    /// Any other failure.
    #[error("verifier failed")]
    Backend(#[source] BoxError),
}

/// Runs a program against its tests and judges each.
#[async_trait]
pub trait Verifier: Send + Sync {
    /// Judges `program` on `tests`: the verdict has exactly one outcome per test.
    ///
    /// # Errors
    /// [`VerifyError`] when the program could not be judged at all.
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError>;
}

crate::forward::forward_role! {
    Verifier {
        async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_needs_every_test_and_at_least_one() {
        assert!(!Verdict::new(vec![]).passed());
        assert!(Verdict::new(vec![TestOutcome::Pass, TestOutcome::Pass]).passed());
        let mixed = Verdict::new(vec![TestOutcome::Pass, TestOutcome::Timeout]);
        assert!(!mixed.passed());
        assert_eq!(mixed.passes(), 1);
    }

    #[test]
    fn outcome_json_names_match_name() {
        for outcome in [
            TestOutcome::Pass,
            TestOutcome::Fail {
                message: "x".into(),
            },
            TestOutcome::Error {
                message: "y".into(),
            },
            TestOutcome::Timeout,
            TestOutcome::ResourceLimit {
                message: "memory".into(),
            },
        ] {
            let json = serde_json::to_value(&outcome).unwrap();
            assert_eq!(json["outcome"], outcome.name());
        }
    }
}
