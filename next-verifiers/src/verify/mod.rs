//! [`TestVerifier`]: judges a program by its tests, through any [`Sandbox`], with a
//! verdict the program under test cannot forge.
//!
//! Tests are Python statements ([`TestCase`]): MBPP `assert` lines, the asserts of a
//! HumanEval `check(candidate)` ([`TestVerifier::split_check`] splits one, binding
//! `candidate` to the entry point), and EvalPlus cases, input list plus expected output
//! plus tolerance, written as statements by [`evalplus_test`]. The verifier returns one
//! [`TestOutcome`](next_core::verify::TestOutcome) per test: pass, fail
//! (`expected 8, got 7`), error (`TypeError: ...`, `crashed: ... signal 11 (SIGSEGV)`),
//! timeout, or resource limit.
//!
//! # How the verdict is guaranteed
//!
//! The self-training loop keeps the fixes that pass, so a program that can make a
//! failing test look passed poisons the training data. The classic harness (run the
//! program and its asserts in one interpreter, call it passed if the interpreter exits
//! 0 or prints "passed") can be fooled in many ways from inside: exit 0 before the
//! tests, print what a pass looks like, replace `AssertionError` or a builtin such as
//! `abs`, walk the stack to the harness and set its result, or return an object whose
//! `__eq__` is always true. This verifier is built so that none of them can work:
//! **the verdict is decided outside the process that ran the candidate, from plain data,
//! and the expected values never enter that process.**
//!
//! 1. **Split.** A trusted planner (`harness/planner.py`, run as its own sandbox job that
//!    never loads the program) parses each test with Python's `ast`. A name in a test is
//!    the program's only when neither the test, the builtins nor the standard library
//!    gives it: the entry point, `candidate`, a helper the program defines. Builtins
//!    are never the program's, whatever it defines (the one exception: tests that name
//!    nothing else of the program and all call one builtin, as MBPP 126's `sum`, whose
//!    entry point that builtin is); nor are standard-library names, modules and those
//!    the program imports from them (`Counter` after `from collections import Counter`:
//!    the program's import lines, found by their text, even after a `;`, are parsed by
//!    the planner, never run). A *hole* is a call into the program (`f(x)`,
//!    `Solution().solve(x)`), cut before a subscript or a method of a plain value
//!    (`f(x).startswith('ab')` sends `f(x)`), and is all that is sent to the candidate
//!    job, as source text with its arguments. The tests are trusted (they come from the
//!    dataset, not from the model), and nothing they compare with is in a hole.
//!    Everything else is evaluated by the planner: expected values, tolerances, inputs
//!    built by test code (`list(range(...))`, a seeded `random`), even loops over such
//!    values, which are unrolled into one check per iteration. What is left is the
//!    *judgement* over the holes. `assert abs(candidate(1.33) - 0.33) < 1e-6` sends
//!    `candidate(1.33)` and keeps `abs(_ - 0.33) < 1e-6`. Plans depend only on the tests
//!    and the program's import lines that bear on them, and are cached, so the planner
//!    runs about once per task.
//! 2. **Evaluate.** The candidate job (`harness/candidate.py` in the program's process)
//!    runs the program's module level once, then each test's holes, one test after
//!    another with a deadline each; a test that ends the process has the later tests
//!    run in a new job (see [`TestIsolation`] for forking a process per test or per
//!    program instead). The program's code runs as deep in its recursion limit as in a
//!    plain script, and reads and sets that limit as there, though the harness's frames
//!    are below it ([`HARNESS_RECURSION`], shared with the tracer, so that a trace and
//!    a verdict see the same recursion). It answers each hole with
//!    its value as **plain data** only: `None`, `bool`, `int`, `float`, `complex`, `str`,
//!    `bytes` and lists, tuples, dicts, sets and frozensets of them (the standard
//!    library's `Counter`, `OrderedDict` and `defaultdict` count as the dicts they
//!    compare equal to), checked by exact type
//!    (`type(x) is int`, never `isinstance`), with size and depth caps. Anything else
//!    (a class with a rigged `__eq__`, a subclass of `int` or `str`) is reported by type
//!    name only and judged an error: "returned a non-data value of type X".
//! 3. **Judge.** This crate reads the values (they cannot carry code) and evaluates the
//!    judgement with exactly CPython's semantics, in one of two places, neither of which
//!    ever loads the program. Comparisons, `and`/`or`/`not`, arithmetic, subscripts and
//!    the common builtins (`abs`, `len`, `set`, `sorted`, `min`, `math.isclose`,
//!    EvalPlus's tolerance, ...) are evaluated in Rust (`verify/judge/`), held equal to
//!    CPython by a property test over generated values and judgements. Whatever else a
//!    test does with the program's values (a method of a returned string, a
//!    standard-library call such as `re.fullmatch(p, f(x))`, an operator such as `^`),
//!    and whatever the Rust judge meets that it does not compute as CPython does
//!    (printf-style `%`, a complex power, a set's iteration order, a sum of floats), is
//!    evaluated by the **trusted judge job**: the planner script again, in a job of its
//!    own, walking the same tests with the holes' values in place (`judging.rs`). It
//!    runs only for programs whose tests need it, within the program's time budget. A
//!    pass is only ever decided by one of the two.
//!
//! Why each attack fails:
//! - *Printing a pass*, or anything else: the program's stdout is redirected to stderr;
//!   results travel on a private channel (the job's original stdout, kept by the harness
//!   before the program runs), as records keyed by a fresh random nonce per job.
//! - *Exiting early* (`sys.exit(0)`, `os._exit(0)`, `SystemExit` from `__del__`, a kill):
//!   tests without a record are not passes; their outcome comes from how the job ended.
//! - *Patching builtins, `AssertionError`, `json` or `pickle`*, or *walking the stack*
//!   (`sys._getframe`, `gc.get_objects`) to change the harness: all of that lives in the
//!   program's own process, which decides nothing. The harness it can reach holds no
//!   expected value of a split test and no verdict to set.
//! - *Writing forged records* to the channel (found through `/proc/self/fd`, with the
//!   nonce read from memory): a line without the nonce, a malformed or out-of-order record
//!   or a repeat fails the whole verdict; and a well-formed forged record can only claim
//!   a *value* for a hole, never a pass. A claimed value is worth no more than the
//!   program returning that value, and the program does not know the expected values.
//! - *An object whose `__eq__` is always true*, or a subclass of a plain type: not plain
//!   data, so an error; comparisons run on the judge's own values.
//!
//! - *Defining a builtin* (`set`, `abs`), *importing and patching a standard module*
//!   (`operator.eq`, `re.fullmatch`, `Counter.__eq__`) or *returning an object whose
//!   methods always agree* (`startswith`): the judge's builtins, modules and methods are
//!   its own, applied to plain values; an object that is not plain data is an error.
//!
//! Limits of the guarantee, stated plainly:
//! - A test the planner cannot split is **delegated**: it runs whole in the candidate's
//!   process, which reports whether it raised, so its outcome is the program's own word
//!   and its source, expected values included, is visible to the program's process.
//!   That happens to a statement that runs the program's values through test code it
//!   cannot hoist (a loop over the program's results, a call into the program inside a
//!   comprehension or lambda over the test's names, an assignment of a computation on
//!   the program's values), and to an `is` between two values that are not singletons.
//!   Delegated tests are marked [`Provenance::Delegated`] in
//!   [`TestVerifier::verify_report`] (the `provenance` field of `next verify --json`)
//!   and counted in [`VerifierStats::delegated`]; a delegated pass is reported as an
//!   error, so that the loop never learns from it, unless
//!   [`TestVerifierConfig::allow_delegated`] is set. None of MBPP's 2,922 tests and none
//!   of the asserts of HumanEval's split `check`s is delegated.
//! - [`Provenance::Wrapped`] tests send a chain of calls into the program
//!   (`Solution().solve(x)`): the intermediate object stays in the program's process;
//!   the comparison and the expected value stay with the judge.
//! - Names the program defines are the program's: HumanEval/32 judges `find_zero` by
//!   `poly(...)`, which the prompt (hence the program) defines; a program that defines a
//!   name the tests use freely decides what it means.
//! - The expected values are also in the dataset files; keeping the program from reading
//!   them is the sandbox's job: the process sandbox shows a job a fresh root with only
//!   the interpreter and its libraries (see `process`), the WASM sandbox only the
//!   interpreter's standard library, the Docker sandbox only its image.
//! - A test that checks nothing (no `assert`) is refused when the tests are read, never
//!   a pass.
//!
//! # Cost
//!
//! One candidate job per program, whatever the number of tests (and one more after each
//! test that ends the job's process), plus one planner job per distinct test list
//! (cached, so once per task), plus one judge job for a program whose tests the Rust
//! judge does not cover alone. With [`TestIsolation::Test`] each test costs a `fork`
//! inside the job ([`TestIsolation::Program`]: one per program). The job's start is kept
//! light: its request is in `marshal` format (read by a built-in module, no import), and
//! the harness is preloaded by a sandbox that can ([`Sandbox::preload`]: the warm process
//! sandbox's fork server imports it once, and jobs come without it) or else arrives
//! compiled (`harness/bootstrap.py`): the planner job, which runs no program, compiles
//! it once and the verifier keeps the code object's bytes for every later job on the
//! same interpreter (its source comes along, and is compiled instead on any other
//! interpreter). With the default, [`TestIsolation::None`], the tests run one after
//! another in the job's own process, as the classic harness runs them, and a job costs
//! no `fork` at all.
//!
//! Whatever the program does, judging it is bounded: all its jobs together (the first,
//! each rerun after a test ended the process, as when it ignores the per-test alarm,
//! and the judge job) end within [`TestVerifierConfig::max_program_ms`], by default twice
//! one job's limit, and the tests not run by then time out; what it writes on the
//! channel is read in time linear in its size (the caps of `protocol.rs`).
//!
//! Measured with `NEXT_BENCH_TASKS=300 cargo bench -p next-verifiers --bench sandbox`
//! (494 MBPP reference solutions and mutants, 3 asserts each, 2 workers, the warm
//! process sandbox with every isolation on, a shared 2-core machine with another build
//! running): isolation `None` 337 programs/s, `Program` 238, `Test` 154, against 70 for
//! the classic harness (`benches/classic_harness.py`, one `multiprocessing` process per
//! check) in the same run: 4.8x, 3.4x and 2.2x; the bare warm sandbox (the program
//! with its asserts appended, no verifier) 378/s, 5.4x. Verdicts equal the classic
//! harness's on every program.

mod cases;
mod config;
mod imports;
mod judge;
mod judging;
mod plan;
mod protocol;
mod validity;
mod value;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use next_core::registry::{self, Context, OptionDoc, RegistryError, RoleKind};
use next_core::sandbox::{nonce, Execution, Job, Limits, Preload, Sandbox, HARNESS_RECURSION};
use next_core::task::{Program, TestCase};
use next_core::verify::{Verdict, Verifier, VerifyError};
use serde::Serialize;

pub use cases::{evalplus_test, evalplus_test_from_json};
pub use config::{TestIsolation, TestVerifierConfig};
pub use plan::Provenance;
pub use validity::{has_assert, validate, InvalidTests};
pub use value::{py_literal, Value};

use plan::{PlanCache, Plans, TestPlan};

/// The planner's source, run as its own job (it never sees a program): EvalPlus's check
/// and the planner's plain values joined ahead of the planner.
const PLANNER: &str = concat!(
    include_str!("../../harness/evalplus.py"),
    include_str!("../../harness/plan_values.py"),
    include_str!("../../harness/planner.py")
);
/// The most time a planner job may take (it runs test code only).
const PLANNER_WALL: Duration = Duration::from_secs(120);
/// The candidate harness's source, run with the program: EvalPlus's check (for delegated
/// tests that call it) and the recursion limit's part that the tracer's harness shares
/// ([`HARNESS_RECURSION`]) joined ahead of the harness.
static CANDIDATE: LazyLock<String> = LazyLock::new(|| {
    [
        include_str!("../../harness/evalplus.py"),
        HARNESS_RECURSION,
        include_str!("../../harness/candidate.py"),
    ]
    .concat()
});
/// What a candidate job runs: it starts the harness, compiled or from source.
const BOOTSTRAP: &str = include_str!("../../harness/bootstrap.py");

/// Counts of what a verifier did, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerifierStats {
    /// Candidate jobs run (one per program judged).
    pub candidate_jobs: u64,
    /// Planner jobs run (one per distinct test list).
    pub planner_jobs: u64,
    /// Test outcomes decided by the judge from plain values.
    pub judged: u64,
    /// Of those, the tests with a wrapped hole ([`Provenance::Wrapped`]).
    pub wrapped: u64,
    /// Test outcomes reported by the candidate's process ([`Provenance::Delegated`]).
    pub delegated: u64,
    /// Tests that are broken themselves ([`Provenance::Invalid`]).
    pub invalid: u64,
}

#[derive(Default)]
struct Counters {
    candidate_jobs: AtomicU64,
    planner_jobs: AtomicU64,
    judged: AtomicU64,
    wrapped: AtomicU64,
    delegated: AtomicU64,
    invalid: AtomicU64,
}

/// A verdict with how each outcome was reached.
#[derive(Debug, Clone)]
pub struct Report {
    /// One outcome per test.
    pub verdict: Verdict,
    /// Where each outcome was decided, one per test.
    pub provenance: Vec<Provenance>,
    /// The candidate job's execution (its stderr holds what the program printed), if
    /// one ran.
    pub execution: Option<Execution>,
}

/// Runs a program against its tests in a [`Sandbox`] and judges each test outside the
/// program's process. See the [module documentation](self) for how.
pub struct TestVerifier<S> {
    sandbox: S,
    config: TestVerifierConfig,
    plans: PlanCache,
    counters: Counters,
    /// The candidate harness as the planner compiled it: the interpreter's tag and the
    /// marshalled code (see `harness/bootstrap.py`).
    compiled: std::sync::OnceLock<(String, Vec<u8>)>,
    /// The candidate harness as offered to the sandbox to preload.
    harness: Preload,
    /// The source of a candidate job sent without the harness (see [`Preload::entry`]).
    entry: String,
}

impl<S> std::fmt::Debug for TestVerifier<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Sandbox> TestVerifier<S> {
    /// A verifier with the default settings.
    pub fn new(sandbox: S) -> Self {
        Self::with_config(sandbox, TestVerifierConfig::default())
    }

    /// A verifier with these settings.
    pub fn with_config(sandbox: S, config: TestVerifierConfig) -> Self {
        let plans = PlanCache::new(config.plan_cache);
        let harness = Preload::new("__next_candidate_", CANDIDATE.as_str());
        Self {
            sandbox,
            config,
            plans,
            counters: Counters::default(),
            compiled: std::sync::OnceLock::new(),
            entry: harness.entry("main"),
            harness,
        }
    }

    /// The settings.
    pub fn config(&self) -> &TestVerifierConfig {
        &self.config
    }

    /// What the verifier has done so far.
    pub fn stats(&self) -> VerifierStats {
        let c = &self.counters;
        VerifierStats {
            candidate_jobs: c.candidate_jobs.load(Ordering::Relaxed),
            planner_jobs: c.planner_jobs.load(Ordering::Relaxed),
            judged: c.judged.load(Ordering::Relaxed),
            wrapped: c.wrapped.load(Ordering::Relaxed),
            delegated: c.delegated.load(Ordering::Relaxed),
            invalid: c.invalid.load(Ordering::Relaxed),
        }
    }

    /// Where each of these tests would be judged ([`Provenance`]), planning them if they
    /// are not yet planned.
    ///
    /// # Errors
    /// [`VerifyError`] when the planner job fails.
    pub async fn provenance(&self, tests: &[TestCase]) -> Result<Vec<Provenance>, VerifyError> {
        Ok(self
            .plan(tests)
            .await?
            .iter()
            .map(TestPlan::provenance)
            .collect())
    }

    /// Judges `program` on `tests`, saying where each outcome was decided.
    ///
    /// # Errors
    /// [`VerifyError`] when the sandbox cannot run a job, or the planner fails, and
    /// [`VerifyError::Backend`] with [`InvalidTests`] when a test checks nothing (it has
    /// no `assert`: see [`validate`]). A program that misbehaves in any way gets a
    /// verdict, never an error.
    pub async fn verify_report(
        &self, program: &Program, tests: &[TestCase],
    ) -> Result<Report, VerifyError> {
        validate(tests).map_err(|e| VerifyError::Backend(Box::new(e)))?;
        if tests.is_empty() {
            return Ok(Report {
                verdict: Verdict::new(Vec::new()),
                provenance: Vec::new(),
                execution: None,
            });
        }
        let imports = imports::relevant_imports(program.source(), tests);
        let plans = self.plan_with(tests, &imports).await?;
        let provenance: Vec<Provenance> = plans.iter().map(TestPlan::provenance).collect();
        for p in &provenance {
            let counter = match p {
                Provenance::Judged => &self.counters.judged,
                Provenance::Wrapped => {
                    self.counters.judged.fetch_add(1, Ordering::Relaxed);
                    &self.counters.wrapped
                }
                Provenance::Delegated => &self.counters.delegated,
                Provenance::Invalid => &self.counters.invalid,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if plans.iter().all(|p| matches!(p, TestPlan::Invalid { .. })) {
            let outcomes = protocol::outcomes(&plans, &protocol::Records::default(), &idle(), &[]);
            return Ok(Report {
                verdict: Verdict::new(outcomes),
                provenance,
                execution: None,
            });
        }
        // One deadline for all the program's jobs, the judge's included: a test that
        // defeats its own deadline (a C loop, SIGALRM ignored) costs a job's limit, and
        // the jobs after it no more than what is left.
        let deadline = Instant::now() + self.program_budget(tests.len());
        let runs = self
            .candidate_runs(program, tests, &plans, deadline)
            .await?;
        let py = self
            .judge_py(tests, &imports, &plans, &runs, deadline)
            .await;
        let mut outcomes = Vec::with_capacity(tests.len());
        let mut first = None;
        for run in runs {
            let mut chunk = protocol::outcomes(
                &plans[run.start..],
                &run.records,
                &run.execution,
                &py[run.start..],
            );
            if run.end < tests.len() {
                chunk.truncate(run.end - run.start - 1);
                chunk.push(protocol::ended_during(&run.execution));
            }
            outcomes.extend(chunk);
            first.get_or_insert(run.execution);
        }
        if !self.config.allow_delegated {
            judging::refuse_delegated(&mut outcomes, &provenance);
        }
        Ok(Report {
            verdict: Verdict::new(outcomes),
            provenance,
            execution: first,
        })
    }

    /// Runs the candidate jobs of `program`: one, and one more after each test that
    /// ends a job's process early, all by `deadline`.
    async fn candidate_runs(
        &self, program: &Program, tests: &[TestCase], plans: &[TestPlan], deadline: Instant,
    ) -> Result<Vec<judging::Run>, VerifyError> {
        let mut runs = Vec::new();
        let mut start = 0;
        while start < tests.len() {
            if Instant::now() >= deadline {
                let spent = Execution {
                    termination: next_core::sandbox::Termination::TimedOut,
                    ..idle()
                };
                runs.push(judging::Run {
                    start,
                    end: tests.len(),
                    records: protocol::Records::default(),
                    execution: spent,
                });
                break;
            }
            let (execution, nonce) = self
                .candidate_run(program, &tests[start..], &plans[start..], deadline)
                .await?;
            let records = protocol::read_records(
                &execution.stdout,
                &nonce,
                tests.len() - start,
                self.output_bytes(),
            );
            // In process, a test that ends the job (an exit, a crash, a hang the job's
            // limit stopped) leaves the later ones unrun: they run in a job of their own.
            let reached = records.tests.len();
            let cut_short = self.config.isolation == TestIsolation::None
                && records.tampered.is_none()
                && matches!(records.module, Some(protocol::ModuleRecord::Loaded))
                && start + reached < tests.len();
            let end = if cut_short {
                start + reached + 1
            } else {
                tests.len()
            };
            runs.push(judging::Run {
                start,
                end,
                records,
                execution,
            });
            start = end;
        }
        Ok(runs)
    }

    /// Runs `program` on `tests` in one candidate job that ends by `deadline`; returns
    /// its execution and nonce.
    async fn candidate_run(
        &self, program: &Program, tests: &[TestCase], plans: &[TestPlan], deadline: Instant,
    ) -> Result<(Execution, String), VerifyError> {
        // A sandbox that preloads the harness saves every job loading it; should a job
        // not find it there, it says so and is sent again with the harness.
        let preloaded = self.harness.offer(&self.sandbox).await;
        let nonce = nonce();
        let job = self.candidate_job(program, tests, plans, &nonce, !preloaded, deadline)?;
        self.counters.candidate_jobs.fetch_add(1, Ordering::Relaxed);
        let mut execution = self.sandbox.run(job).await?;
        if preloaded && self.harness.missing_in(&execution.stdout) {
            let job = self.candidate_job(program, tests, plans, &nonce, true, deadline)?;
            execution = self.sandbox.run(job).await?;
        }
        Ok((execution, nonce))
    }

    /// The wall-time limit of a candidate job that runs `n` tests: the load time and
    /// each test's time, at most `max_job_ms`.
    fn job_wall(&self, n: usize) -> Duration {
        let c = &self.config;
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let wall = c
            .load_timeout_ms
            .saturating_add(n.saturating_mul(c.test_timeout_ms.saturating_add(100)))
            .min(c.max_job_ms.max(1));
        Duration::from_millis(wall)
    }

    /// The wall time all the candidate jobs of a program with `n` tests may take
    /// together (see [`TestVerifierConfig::max_program_ms`]).
    fn program_budget(&self, n: usize) -> Duration {
        match self.config.max_program_ms {
            0 => self.job_wall(n).saturating_mul(2),
            ms => Duration::from_millis(ms),
        }
    }

    /// The most output a candidate job may write, and the most of it that is read.
    fn output_bytes(&self) -> usize {
        let bytes = self.config.result_bytes.saturating_add(1 << 20);
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// The asserts of a HumanEval-style `check(candidate)` function, one test each, with
    /// `candidate` renamed to `entry_point`. A statement of `check` that is not an assert
    /// (an import, a local variable) is kept before every later assert, so each test
    /// stands alone; a loop holding asserts is one test.
    ///
    /// Runs the planner in the sandbox (it parses the test; it runs no program).
    ///
    /// # Errors
    /// [`VerifyError`] when the planner job fails or the test has no `check` function.
    pub async fn split_check(
        &self, test: &str, entry_point: &str,
    ) -> Result<Vec<TestCase>, VerifyError> {
        let request = serde_json::json!({
            "mode": "split",
            "test": test,
            "entry_point": entry_point,
        });
        let answer = self.run_planner(&request, test.len(), PLANNER_WALL).await?;
        let tests = answer
            .get("tests")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| VerifyError::Protocol("the planner gave no tests".to_owned()))?;
        tests
            .iter()
            .filter_map(serde_json::Value::as_str)
            .map(|t| TestCase::new(t).map_err(|e| VerifyError::Backend(Box::new(e))))
            .collect()
    }

    async fn plan(&self, tests: &[TestCase]) -> Result<Plans, VerifyError> {
        self.plan_with(tests, &[]).await
    }

    /// Plans `tests` for a program whose import lines that bear on them are `imports`.
    async fn plan_with(
        &self, tests: &[TestCase], imports: &[String],
    ) -> Result<Plans, VerifyError> {
        let mut key: Vec<String> = tests.iter().map(|t| t.code().to_owned()).collect();
        // No test is empty, so the empty string marks where the imports begin.
        key.push(String::new());
        key.extend(imports.iter().cloned());
        let slot = self.plans.slot(key);
        let plans = slot
            .get_or_try_init(|| async {
                let size: usize = tests.iter().map(|t| t.code().len()).sum();
                let request = serde_json::json!({
                    "mode": "plan",
                    "tests": tests.iter().map(TestCase::code).collect::<Vec<_>>(),
                    "imports": imports,
                    "harness": CANDIDATE.as_str(),
                });
                let answer = self.run_planner(&request, size, PLANNER_WALL).await?;
                if let Some(compiled) = answer.get("compiled") {
                    let tag = compiled.get("tag").and_then(serde_json::Value::as_str);
                    let code = compiled
                        .get("code")
                        .and_then(serde_json::Value::as_str)
                        .and_then(value::from_hex);
                    if let (Some(tag), Some(code)) = (tag, code) {
                        let _ = self.compiled.set((tag.to_owned(), code));
                    }
                }
                let plans = answer
                    .get("plans")
                    .and_then(serde_json::Value::as_array)
                    .ok_or_else(|| VerifyError::Protocol("the planner gave no plans".to_owned()))?
                    .iter()
                    .map(TestPlan::from_json)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| VerifyError::Protocol(format!("planner: {e}")))?;
                if plans.len() != tests.len() {
                    return Err(VerifyError::Protocol(
                        "the planner gave a plan count other than the test count".to_owned(),
                    ));
                }
                Ok::<Plans, VerifyError>(Arc::new(plans))
            })
            .await?;
        Ok(Arc::clone(plans))
    }

    /// Runs the trusted planner (it never loads a program) on `request`, for at most
    /// `wall`.
    async fn run_planner(
        &self, request: &serde_json::Value, size: usize, wall: Duration,
    ) -> Result<serde_json::Value, VerifyError> {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        let limits = Limits::new(wall, 2 << 30, (64 << 20_u64).max(size.saturating_mul(8)), 4)
            .map_err(|e| VerifyError::Backend(Box::new(e)))?;
        let stdin = serde_json::to_vec(request).map_err(|e| VerifyError::Backend(Box::new(e)))?;
        let job = Job::new(PLANNER).with_stdin(stdin).with_limits(limits);
        self.counters.planner_jobs.fetch_add(1, Ordering::Relaxed);
        let execution = self.sandbox.run(job).await?;
        let fail = |why: &str| {
            let stderr = String::from_utf8_lossy(&execution.stderr);
            let tail: String = stderr
                .chars()
                .rev()
                .take(2000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            VerifyError::Protocol(format!(
                "the test planner {why} ({:?}); its stderr ends: {tail}",
                execution.termination
            ))
        };
        if !execution.succeeded() {
            return Err(fail("failed"));
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&execution.stdout).map_err(|_| fail("gave no answer"))?;
        if answer.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
            let error = answer
                .get("error")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("an unknown error");
            return Err(VerifyError::Protocol(format!("the test planner: {error}")));
        }
        Ok(answer)
    }

    fn candidate_job(
        &self, program: &Program, tests: &[TestCase], plans: &[TestPlan], nonce: &str,
        with_harness: bool, deadline: Instant,
    ) -> Result<Job, VerifyError> {
        let items: Vec<serde_json::Value> = plans
            .iter()
            .zip(tests)
            .map(|(plan, test)| match plan {
                TestPlan::Judged { holes, .. } => serde_json::json!({
                    "holes": holes
                        .iter()
                        .map(|h| serde_json::json!({"src": h.src, "modules": h.modules}))
                        .collect::<Vec<_>>(),
                }),
                TestPlan::Delegated => serde_json::json!({ "exec": test.code() }),
                TestPlan::Invalid { .. } => serde_json::json!({ "holes": [] }),
            })
            .collect();
        let c = &self.config;
        let request = serde_json::json!({
            "nonce": nonce,
            "program": program.source(),
            "tests": items,
            "test_timeout": Duration::from_millis(c.test_timeout_ms).as_secs_f64(),
            "isolation": c.isolation.name(),
            "value_bytes": c.value_bytes,
            "total_bytes": c.result_bytes,
        });
        let compiled = self
            .compiled
            .get()
            .map(|(tag, code)| (tag.as_str(), code.as_slice()));
        // Without the harness, the job calls the preloaded one, which reads the request.
        let (source, mut stdin) = if with_harness {
            let head = self
                .harness
                .stdin_head(compiled)
                .map_err(|e| VerifyError::Protocol(e.to_string()))?;
            (BOOTSTRAP, head)
        } else {
            (self.entry.as_str(), Vec::new())
        };
        stdin.reserve(program.source().len() + 65536);
        protocol::marshal(&request, &mut stdin);
        let left = deadline.saturating_duration_since(Instant::now());
        let wall = self
            .job_wall(tests.len())
            .min(left)
            .max(Duration::from_millis(1));
        let limits = Limits::new(
            wall,
            c.memory_mb.saturating_mul(1 << 20),
            u64::try_from(self.output_bytes()).unwrap_or(u64::MAX),
            c.processes,
        )
        .map_err(|e| VerifyError::Backend(Box::new(e)))?;
        Ok(Job::new(source).with_stdin(stdin).with_limits(limits))
    }
}

/// An execution standing for "no job ran".
fn idle() -> Execution {
    Execution {
        stdout: Vec::new(),
        stderr: Vec::new(),
        termination: next_core::sandbox::Termination::Exited { code: 0 },
        output_truncated: false,
        wall_time: Duration::ZERO,
    }
}

#[async_trait]
impl<S: Sandbox> Verifier for TestVerifier<S> {
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        Ok(self.verify_report(program, tests).await?.verdict)
    }
}

fn build_tests(options: &toml::Table, cx: &Context) -> Result<Box<dyn Verifier>, RegistryError> {
    let config: TestVerifierConfig = registry::options(RoleKind::Verifier, "tests", options)?;
    let sandbox = cx.require_sandbox(RoleKind::Verifier, "tests")?;
    Ok(Box::new(TestVerifier::with_config(sandbox, config)))
}

next_core::register_factory!(
    verifier,
    "tests",
    "runs a program on its tests in the sandbox; judges each test outside the program's \
     process (options: test_timeout_ms, max_job_ms, memory_mb, isolation, ...)",
    build_tests,
    options = &[
        OptionDoc::new("test_timeout_ms", "5000", "time one test may run"),
        OptionDoc::new("load_timeout_ms", "10000", "time to load the program"),
        OptionDoc::new("max_job_ms", "60000", "time one job may run"),
        OptionDoc::new(
            "max_program_ms",
            "0",
            "time for all of a program's jobs (0: twice the first's)"
        ),
        OptionDoc::new("memory_mb", "1024", "memory a job may use"),
        OptionDoc::new("processes", "16", "processes a job may hold"),
        OptionDoc::new(
            "isolation",
            "\"none\"",
            "none, program or test: how tests are kept apart"
        ),
        OptionDoc::new("value_bytes", "1048576", "bytes of one test's values"),
        OptionDoc::new("result_bytes", "16777216", "result bytes per job"),
        OptionDoc::new("plan_cache", "4096", "parsed test plans kept"),
        OptionDoc::new(
            "allow_delegated",
            "false",
            "a delegated test may count as passed"
        ),
    ],
);
