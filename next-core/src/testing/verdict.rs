//! Verdict markers: how a mock program says which tests it passes.
//!
//! A program carries a line `# mock-verdict: PATTERN`, where `PATTERN` is one
//! [`MockOutcome`] name (`pass`, `fail`, `error`, `timeout`, `resource`) that applies to
//! every test, or a comma-separated list with one entry per test, such as
//! `pass,fail,timeout`. A list shorter or longer than the tests is cycled: test `i` gets
//! entry `i % len`. The marker is a Python comment, so the program still runs under a
//! real sandbox, and it survives in [`Program::source`] (only [`Program::normalized`]
//! drops comments). When a program holds several marker lines, the last one wins, so
//! [`mark`] can re-mark a program by appending.
//!
//! [`MockVerifier`](super::MockVerifier) and [`MockTracer`](super::MockTracer) read the
//! marker; [`MockSampler`](super::MockSampler) writes it into every fix it samples.

use std::fmt;
use std::str::FromStr;

use crate::error::InvalidInput;
use crate::task::Program;
use crate::verify::{TestOutcome, Verdict};

/// The text that starts a marker line (after optional indentation).
pub const VERDICT_MARKER: &str = "# mock-verdict:";

/// What a mock program does on one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MockOutcome {
    /// The test holds: [`TestOutcome::Pass`].
    Pass,
    /// The assertion fails: [`TestOutcome::Fail`].
    Fail,
    /// The program raises: [`TestOutcome::Error`].
    Error,
    /// The test runs out of time: [`TestOutcome::Timeout`].
    Timeout,
    /// The program exceeds its memory limit: [`TestOutcome::ResourceLimit`].
    Resource,
}

impl MockOutcome {
    /// Every outcome, passing first.
    pub const ALL: [MockOutcome; 5] = [
        MockOutcome::Pass,
        MockOutcome::Fail,
        MockOutcome::Error,
        MockOutcome::Timeout,
        MockOutcome::Resource,
    ];

    /// The outcomes that are not a pass.
    pub const FAILURES: [MockOutcome; 4] = [
        MockOutcome::Fail,
        MockOutcome::Error,
        MockOutcome::Timeout,
        MockOutcome::Resource,
    ];

    /// The name used in markers: `pass`, `fail`, `error`, `timeout`, `resource`.
    pub fn name(self) -> &'static str {
        match self {
            MockOutcome::Pass => "pass",
            MockOutcome::Fail => "fail",
            MockOutcome::Error => "error",
            MockOutcome::Timeout => "timeout",
            MockOutcome::Resource => "resource",
        }
    }

    /// Whether this is a pass.
    pub fn is_pass(self) -> bool {
        self == MockOutcome::Pass
    }

    /// The [`TestOutcome`] a verifier reports for test number `test` (0-based; it goes
    /// into the messages).
    pub fn to_test_outcome(self, test: usize) -> TestOutcome {
        match self {
            MockOutcome::Pass => TestOutcome::Pass,
            MockOutcome::Fail => TestOutcome::Fail {
                message: format!("AssertionError: mock test {test} fails"),
            },
            MockOutcome::Error => TestOutcome::Error {
                message: format!("MockError: mock test {test} raises"),
            },
            MockOutcome::Timeout => TestOutcome::Timeout,
            MockOutcome::Resource => TestOutcome::ResourceLimit {
                message: "memory".to_owned(),
            },
        }
    }
}

impl fmt::Display for MockOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MockOutcome {
    type Err = InvalidInput;

    /// Reads a name, ignoring ASCII case and surrounding whitespace; `resource_limit` is
    /// accepted for `resource`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "pass" => Ok(MockOutcome::Pass),
            "fail" => Ok(MockOutcome::Fail),
            "error" => Ok(MockOutcome::Error),
            "timeout" => Ok(MockOutcome::Timeout),
            "resource" | "resource_limit" => Ok(MockOutcome::Resource),
            other => Err(InvalidInput::new(format!(
                "unknown mock outcome {other:?} (expected pass, fail, error, timeout or resource)"
            ))),
        }
    }
}

/// The outcomes a mock program has on its tests, cycled over the tests.
///
/// Invariant: at least one entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerdictPattern(Vec<MockOutcome>);

impl VerdictPattern {
    /// Makes a pattern from its entries.
    ///
    /// # Errors
    /// [`InvalidInput`] when `outcomes` is empty.
    pub fn new(outcomes: Vec<MockOutcome>) -> Result<Self, InvalidInput> {
        if outcomes.is_empty() {
            return Err(InvalidInput::new(
                "a verdict pattern needs at least one entry",
            ));
        }
        Ok(Self(outcomes))
    }

    /// The pattern that gives every test `outcome`.
    pub fn all(outcome: MockOutcome) -> Self {
        Self(vec![outcome])
    }

    /// Every test passes.
    pub fn pass() -> Self {
        Self::all(MockOutcome::Pass)
    }

    /// Every test fails its assertion.
    pub fn fail() -> Self {
        Self::all(MockOutcome::Fail)
    }

    /// The entries, as written.
    pub fn outcomes(&self) -> &[MockOutcome] {
        &self.0
    }

    /// The outcome of test number `test`: entry `test % len`.
    pub fn outcome_for(&self, test: usize) -> MockOutcome {
        self.0[test % self.0.len()]
    }

    /// The verdict on `num_tests` tests: exactly one outcome per test.
    pub fn verdict(&self, num_tests: usize) -> Verdict {
        Verdict::new(
            (0..num_tests)
                .map(|test| self.outcome_for(test).to_test_outcome(test))
                .collect(),
        )
    }

    /// Whether a program with this pattern passes all of `num_tests` tests (false for 0
    /// tests, like [`Verdict::passed`]).
    pub fn passes(&self, num_tests: usize) -> bool {
        num_tests > 0 && (0..num_tests).all(|test| self.outcome_for(test).is_pass())
    }

    /// The marker line, without a line break: `# mock-verdict: pass,fail`.
    pub fn marker(&self) -> String {
        format!("{VERDICT_MARKER} {self}")
    }

    /// Reads the pattern of a program's source: `Ok(None)` when no line starts with
    /// [`VERDICT_MARKER`]; the last marker line otherwise.
    ///
    /// # Errors
    /// [`InvalidInput`] when the last marker line is malformed (no entries, or an
    /// unknown name).
    pub fn from_source(source: &str) -> Result<Option<Self>, InvalidInput> {
        let Some(list) = source
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix(VERDICT_MARKER))
            .next_back()
        else {
            return Ok(None);
        };
        list.parse().map(Some)
    }
}

impl fmt::Display for VerdictPattern {
    /// The entries joined by commas: `pass,fail,timeout`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, outcome) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(outcome.name())?;
        }
        Ok(())
    }
}

impl FromStr for VerdictPattern {
    type Err = InvalidInput;

    /// Reads a comma-separated list of [`MockOutcome`] names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Err(InvalidInput::new("an empty mock-verdict marker"));
        }
        let outcomes = text
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<MockOutcome>, _>>()?;
        Self::new(outcomes)
    }
}

/// Returns `program` with `pattern`'s marker line appended (after one line break), so
/// that the marker decides the program's mock verdict even if it already had one.
pub fn mark(program: &Program, pattern: &VerdictPattern) -> Program {
    let source = program.source();
    let mut text = String::with_capacity(source.len() + 32);
    text.push_str(source);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&pattern.marker());
    text.push('\n');
    Program::new(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patterns_round_trip_through_markers() {
        let pattern: VerdictPattern = "pass, FAIL ,timeout,resource_limit".parse().unwrap();
        assert_eq!(pattern.to_string(), "pass,fail,timeout,resource");
        let program = mark(&Program::new("def f():\n    return 1"), &pattern);
        assert!(program
            .source()
            .ends_with("return 1\n# mock-verdict: pass,fail,timeout,resource\n"));
        assert_eq!(
            VerdictPattern::from_source(program.source()).unwrap(),
            Some(pattern)
        );
    }

    #[test]
    fn last_marker_wins_and_bad_markers_are_errors() {
        let first = mark(&Program::new("x = 1\n"), &VerdictPattern::fail());
        let both = mark(&first, &VerdictPattern::pass());
        assert_eq!(
            VerdictPattern::from_source(both.source()).unwrap(),
            Some(VerdictPattern::pass())
        );
        assert_eq!(
            VerdictPattern::from_source("x = 1\n# other\n").unwrap(),
            None
        );
        assert!(VerdictPattern::from_source("# mock-verdict:\n").is_err());
        assert!(VerdictPattern::from_source("# mock-verdict: pass,maybe\n").is_err());
        assert!(VerdictPattern::new(vec![]).is_err());
    }

    #[test]
    fn verdicts_cycle_the_pattern() {
        let pattern: VerdictPattern = "pass,fail".parse().unwrap();
        let verdict = pattern.verdict(5);
        let names: Vec<&str> = verdict.outcomes.iter().map(TestOutcome::name).collect();
        assert_eq!(names, ["pass", "fail", "pass", "fail", "pass"]);
        assert!(!pattern.passes(5));
        assert!(pattern.passes(1));
        assert!(!VerdictPattern::pass().passes(0));
        assert!(VerdictPattern::pass().verdict(3).passed());
    }
}
