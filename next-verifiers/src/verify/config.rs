//! The settings of a [`TestVerifier`](super::TestVerifier): [`TestVerifierConfig`] and
//! how tests are kept apart in a job ([`TestIsolation`]).

use serde::{Deserialize, Serialize};

/// Settings of a [`TestVerifier`](super::TestVerifier); also the options of the `tests` verifier factory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestVerifierConfig {
    /// Time each test may take, in milliseconds.
    pub test_timeout_ms: u64,
    /// Time the program's module level may take, in milliseconds (part of the job's
    /// wall-time limit).
    pub load_timeout_ms: u64,
    /// The most wall time one candidate job may take, in milliseconds, whatever the
    /// number of tests; tests not reached by then time out.
    pub max_job_ms: u64,
    /// The most wall time all the candidate jobs of one program may take together (its
    /// first job, and each job that runs the later tests after a test ended the
    /// process), in milliseconds; the tests not run by then time out without running.
    /// `0`, the default, is twice the wall-time limit of the program's first job (the
    /// load time plus each test's time, at most `max_job_ms`): whatever the program
    /// does, judging it costs at most that much.
    pub max_program_ms: u64,
    /// Memory of the candidate job, in MiB.
    pub memory_mb: u64,
    /// Processes the candidate job may hold at once.
    pub processes: u32,
    /// How the tests of one program are kept apart inside its job.
    pub isolation: TestIsolation,
    /// The most bytes of one test's values.
    pub value_bytes: u64,
    /// The most bytes of all results of one job.
    pub result_bytes: u64,
    /// How many test lists' plans are kept.
    pub plan_cache: usize,
    /// Whether a delegated test (one the planner could not split, so that its outcome is
    /// the program's own word; see [`Provenance::Delegated`](super::Provenance::Delegated)) may count as passed. When
    /// false, the default, a delegated test that passed is reported as an error saying
    /// so, and the program does not pass.
    pub allow_delegated: bool,
}

impl Default for TestVerifierConfig {
    fn default() -> Self {
        Self {
            test_timeout_ms: 5_000,
            load_timeout_ms: 10_000,
            max_job_ms: 60_000,
            max_program_ms: 0,
            memory_mb: 1024,
            processes: 16,
            isolation: TestIsolation::None,
            value_bytes: 1 << 20,
            result_bytes: 16 << 20,
            plan_cache: 4096,
            allow_delegated: false,
        }
    }
}

/// How the tests of one program are kept apart inside its candidate job. Whatever the
/// choice, the verdict is decided outside the job; this is about what one test can do
/// to the next, and what it costs (a `fork` and the copying it causes cost a few
/// milliseconds, more than a job's own work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestIsolation {
    /// Each test runs in a process of its own, forked from the loaded program: a test's
    /// state, crash, exit or timeout cannot reach the next. One fork per test.
    Test,
    /// The tests run one after the other in one forked process, as the classic harness
    /// runs them (a test sees what earlier tests left in the program's state); after a
    /// crash, an exit or a timeout, the next test starts in a fresh fork. One fork per
    /// program.
    Program,
    /// The tests run in the job's own process, one after the other, with a timer for
    /// each test's deadline, as the classic harness and EvalPlus run them (a test sees
    /// what earlier tests left in the program's state). A test that ends the process
    /// (an exit, a crash, a hang in C code that the job's time limit stops) gets its
    /// outcome from how the job ended, and the tests after it run in a new job, so each
    /// still gets its own outcome. No fork at all: the default, and what Python without
    /// `fork` (WASI) gets anyway.
    #[default]
    None,
}

impl TestIsolation {
    /// Its name in the candidate harness's request.
    pub(super) fn name(self) -> &'static str {
        match self {
            TestIsolation::Test => "test",
            TestIsolation::Program => "program",
            TestIsolation::None => "none",
        }
    }
}
