//! [`PythonTracer`]: runs a program on its tests inside a [`Sandbox`] and records what it
//! does, as the event contract of [`next_core::trace`] defines it.
//!
//! # How a task is traced
//!
//! One sandbox [`Job`] per task, whatever the number of tests, because an interpreter
//! start per test would cost more than the tracing. The job's source is a small
//! bootstrap (`tracer/bootstrap.py`); its stdin carries the tracing harness
//! ([`HARNESS`]: the files of `tracer/`, joined and embedded in this crate), the
//! options, a random nonce, the program and the tests. (A sandbox that preloads the
//! harness gets jobs whose source only calls it, [`Preload::entry`], and whose stdin
//! carries the rest.) The harness:
//!
//! 1. compiles the program as `<program>` (a syntax error ends here: every test's trace
//!    is `Crashed`, with a `SyntaxError(...)` exception event at the error's line);
//! 2. runs its module level once, untraced, as `__main__` in a fresh module (an
//!    exception there ends here in the same way, at the line that raised);
//! 3. for each test, compiled as `<test>`: starts tracing, runs the test statement in
//!    the program's namespace, stops tracing, and reports how the test ended: passed,
//!    failed (the exception that ended it is the last event, at the test's line, in
//!    frame 0), timed out (a `Timeout` event where it was running), or crashed (its
//!    process exited or died without reporting).
//!
//! Where `os.fork` exists, the job's own process runs no program code: it forks a child
//! that runs the module level and then the tests one after another, sharing the
//! program's state, as the verifier runs them by default (with
//! [`TracerOptions::isolate`], the module level runs once in the job's process and each
//! test in a child of its own). The child records each test into a memory map shared
//! with the parent and hands it over before the next; its output comes through pipes
//! the parent drains (so 50 MB on stderr behave as untraced, bounded in the trace). A
//! test is interrupted at its time limit by a timer (`SIGALRM`, as the verifier does),
//! with a `Timeout` event where it was; a child that overruns it anyway (a loop in C
//! code, a `repr` that ignores the signal) is killed by the parent, and one that ends
//! (`os._exit`, a signal, closed pipes) is seen ending: either way the test keeps every
//! step recorded and gets a `Timeout` or `Exit` event where the child was, and the
//! tests after it run in a fresh child (the module level run again, as the verifier
//! runs them in a new job). A process the program forks records nothing. Without fork
//! (the WASI build of CPython, as next-verifiers' `WasmSandbox` runs it; the
//! integration tests run there too with the feature `wasm`) the tests run in the job's
//! own process: the time limit is checked inside the tracing callbacks, which stops a
//! loop in the program's own code but not one inside a C function (the sandbox's own
//! wall-time limit stops that job; the test times out there, and the tests after it run
//! in a new job, as after an `os._exit`, within twice the first job's time limit in all).
//! The WASI build has no `dup` either: the event
//! stream is fd 1 itself, and the program's output is captured at the level of
//! `sys.stdout` and `sys.stderr` only (what it writes to fd 1 directly is dropped, as a
//! line without the nonce). Its C stack is 512 KiB: a value whose `repr` recurses
//! through C frames (a recursive `__repr__`) crashes the job after some 50 levels.
//!
//! Tracing uses `sys.monitoring` on CPython 3.12 and later (local events on the
//! program's code objects only; CPython's own `sys.settrace` emulation on 3.12 is built
//! on it and is slower) and `sys.settrace` before. Both engines give the same events:
//! the monitoring engine also treats a backward jump within one line (a loop written on
//! one line, a comprehension) as a new execution of that line, as `sys.settrace` does.
//!
//! # The program cannot forge or garble the trace
//!
//! The program's stdout and stderr (file descriptors 1 and 2, and `sys.stdout` /
//! `sys.stderr`) are captured apart from the event stream, which goes to a private
//! duplicate of the original stdout; each event line starts with the job's nonce, and
//! lines without it are ignored. Output is decoded lossily, so non-UTF-8 bytes do no
//! harm, and it is bounded ([`TracerOptions::max_output_bytes`] per stream and test).
//! A program that reads stdin finds it at end of file.
//!
//! # The tracer does not change what the program does
//!
//! Callbacks catch everything (an exception escaping a trace function would remove the
//! tracer and surface in the program); values are rendered by a bounded `repr` (see
//! [`TracerOptions::max_value_chars`]) in which one failing or slow `repr` affects only
//! its value; the test runs with the recursion depth it would have in a plain script,
//! less the frame of the tracing callback at the deepest call (`sys.monitoring`; a
//! `sys.settrace` function before 3.12 needs up to four); the rendering cache keeps
//! no value alive; the program's output goes through pipes that the supervisor drains.
//! Where CPython removes the tracer anyway (a `sys.settrace` tracer is dropped when the
//! program recurses to the recursion limit, or when the program calls
//! `sys.settrace(None)`), the trace is marked [`Trace::incomplete`]; `sys.monitoring`
//! survives both.
//!
//! # Limits
//!
//! Recording stops at [`TracerOptions::max_events`] (or at
//! [`TracerOptions::max_trace_bytes`]) with a `Timeout` event and [`Trace::truncated`],
//! and the program runs on untraced; at [`TracerOptions::time_limit`] the test is
//! stopped, with a `Timeout` event and status [`TraceStatus::TimedOut`].
//!
//! [`Trace::incomplete`]: next_core::trace::Trace::incomplete
//! [`Trace::truncated`]: next_core::trace::Trace::truncated
//! [`TraceStatus::TimedOut`]: next_core::trace::TraceStatus::TimedOut

mod convert;
mod protocol;

use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use next_core::error::InvalidInput;
use next_core::registry::{self, Context, OptionDoc, RegistryError, RoleKind};
use next_core::sandbox::{Job, Limits, Preload, Sandbox, HARNESS_RECURSION};
use next_core::task::{Program, TestCase};
use next_core::trace::{Event, EventKind, Location, Trace, TraceError, TraceStatus, Tracer};
use serde::{Deserialize, Serialize};

use protocol::Payload;

/// The tracing harness, run by [`BOOTSTRAP`] inside the sandbox: its parts in
/// `tracer/`, joined in this order into one program, with the recursion limit's part
/// that the verifier's harness shares ([`HARNESS_RECURSION`]) ahead of `recursion.py`.
pub static HARNESS: LazyLock<String> = LazyLock::new(|| {
    [
        include_str!("../../tracer/prelude.py"),
        include_str!("../../tracer/render.py"),
        include_str!("../../tracer/values.py"),
        include_str!("../../tracer/sink.py"),
        include_str!("../../tracer/tracer.py"),
        include_str!("../../tracer/engines.py"),
        HARNESS_RECURSION,
        include_str!("../../tracer/recursion.py"),
        include_str!("../../tracer/runner.py"),
        include_str!("../../tracer/supervise.py"),
    ]
    .concat()
});

/// The source of every tracing job: reads the payload on stdin and runs [`HARNESS`].
pub const BOOTSTRAP: &str = include_str!("../../tracer/bootstrap.py");

/// Which CPython mechanism records the events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// `sys.monitoring` where the interpreter has it (3.12+), `sys.settrace` elsewhere.
    #[default]
    Auto,
    /// `sys.settrace` on every version.
    Settrace,
    /// `sys.monitoring`; falls back to `sys.settrace` before 3.12.
    Monitoring,
}

impl Engine {
    /// The name used in configuration files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Settrace => "settrace",
            Engine::Monitoring => "monitoring",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The options of [`PythonTracer`], as read from the `[tracer]` table of a run's
/// configuration (`kind = "python"`). Every field has a default and an unknown key is
/// an error.
///
/// ```toml
/// [tracer]
/// kind = "python"
/// max_events = 10000          # per test
/// time_limit_ms = 5000        # per test
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracerOptions {
    /// Events recorded per test before recording stops (the trace is then truncated and
    /// the program runs on untraced). Default 10,000.
    pub max_events: u32,
    /// Time a test may run; then it is stopped and its trace ends with a timeout.
    /// Default 5 s. In configuration files: `time_limit_ms`.
    #[serde(rename = "time_limit_ms", with = "millis")]
    pub time_limit: Duration,
    /// Time allowed for the interpreter to start and the program's module level to run,
    /// on top of the tests' time. Default 5 s. In configuration files:
    /// `setup_time_limit_ms`.
    #[serde(rename = "setup_time_limit_ms", with = "millis")]
    pub setup_time_limit: Duration,
    /// Longest rendered value kept: a longer `repr` keeps its head and tail around
    /// `...` (as `trace-format.md` cuts), so a renderer cutting at this length or less
    /// gives the same text as from the whole value. Values are compared by this
    /// rendering, so a change inside the cut middle of a long value is not seen.
    /// Default 500; at least 8.
    pub max_value_chars: u32,
    /// Bytes of the program's stdout (and, apart, stderr) kept per test. Default 64 KiB.
    pub max_output_bytes: u32,
    /// Bytes of event lines recorded per test; past them recording stops as at
    /// `max_events`. Default 8 MiB.
    pub max_trace_bytes: u64,
    /// The recording mechanism. Default [`Engine::Auto`].
    pub engine: Engine,
    /// Run each test in a process of its own where the interpreter can fork (the
    /// module level runs once, and each test starts from the state it left). Default
    /// false: the tests run one after another in one process, sharing the program's
    /// state, as the verifier runs them by default (`TestIsolation::None`), so that a
    /// trace shows the run the verdict judged.
    pub isolate: bool,
    /// Memory the tracing job may use (the sandbox's limit). Default 1 GiB.
    pub memory_bytes: u64,
    /// Processes the tracing job may hold at once (the sandbox's limit; the harness
    /// needs two, plus what the program starts). Default 16.
    pub processes: u32,
}

impl Default for TracerOptions {
    fn default() -> Self {
        Self {
            max_events: 10_000,
            time_limit: Duration::from_secs(5),
            setup_time_limit: Duration::from_secs(5),
            max_value_chars: 500,
            max_output_bytes: 64 << 10,
            max_trace_bytes: 8 << 20,
            engine: Engine::Auto,
            isolate: false,
            memory_bytes: 1 << 30,
            processes: 16,
        }
    }
}

impl TracerOptions {
    /// Checks that every limit is usable.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the first option out of range.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let problem = if self.max_events == 0 {
            "max_events must be positive"
        } else if self.time_limit.is_zero() {
            "time_limit_ms must be positive"
        } else if self.setup_time_limit.is_zero() {
            "setup_time_limit_ms must be positive"
        } else if self.max_value_chars < 8 {
            "max_value_chars must be at least 8"
        } else if self.max_output_bytes == 0 || self.max_trace_bytes < 1024 {
            "max_output_bytes must be positive and max_trace_bytes at least 1024"
        } else if self.memory_bytes == 0 || self.processes < 2 {
            "memory_bytes must be positive and processes at least 2"
        } else {
            return Ok(());
        };
        Err(InvalidInput::new(problem))
    }

    /// The sandbox limits of a job tracing `tests` tests: the tests' time plus the setup
    /// time, memory and processes as set, and room on stdout for every event line and
    /// the captured output.
    fn limits(&self, tests: usize) -> Result<Limits, InvalidInput> {
        let tests_u32 = u32::try_from(tests).unwrap_or(u32::MAX);
        let per_test = self.time_limit + grace(self.time_limit);
        let wall = self
            .setup_time_limit
            .saturating_add(per_test.saturating_mul(tests_u32));
        let tests_u64 = u64::try_from(tests).unwrap_or(u64::MAX);
        // Escaped output can take six bytes per byte (`\u0001`).
        let per_test_bytes = self
            .max_trace_bytes
            .saturating_add(12 * u64::from(self.max_output_bytes))
            .saturating_add(64 << 10);
        let output = (2u64 << 20).saturating_add(per_test_bytes.saturating_mul(tests_u64));
        Limits::new(wall, self.memory_bytes, output, self.processes)
    }
}

/// What the harness allows a forked test beyond its time limit before killing it, so
/// that a test stopped in traced code reports where itself (as `tracer/runner.py`).
fn grace(limit: Duration) -> Duration {
    (Duration::from_millis(100) + limit / 10).min(Duration::from_millis(500))
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` passes a reference
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// The tracer compiled by an earlier job: `marshal` bytes and the interpreter build
/// they are valid for.
type CompiledHarness = Arc<(String, Vec<u8>)>;

/// The Python execution tracer: one sandbox job per task, one [`Trace`] per test (see
/// the [module documentation](self) for what it records and how).
///
/// Works with any [`Sandbox`] whose interpreter is CPython 3.8 to 3.13, including the
/// WASI build of 3.12. The first job reports the harness compiled by its interpreter,
/// and later jobs on the same interpreter build reuse it (compiling the harness costs
/// about as much as starting the interpreter).
///
/// ```no_run
/// use next_core::task::{Program, TestCase};
/// use next_core::trace::Tracer;
/// use next_tracers::python::PythonTracer;
/// use next_verifiers::process::{ProcessConfig, ProcessSandbox};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let tracer = PythonTracer::new(ProcessSandbox::new(ProcessConfig::default())?);
/// let program = Program::new("def add(a, b):\n    return a - b\n");
/// let tests = [TestCase::new("assert add(1, 2) == 3")?];
/// let traces = tracer.trace(&program, &tests).await?;
/// assert!(!traces[0].passed());
/// # Ok(())
/// # }
/// ```
pub struct PythonTracer<S> {
    sandbox: S,
    options: TracerOptions,
    compiled: Mutex<Option<CompiledHarness>>,
    /// The harness as offered to the sandbox to preload.
    harness: Preload,
    /// The source of a job sent without the harness (see [`Preload::entry`]).
    entry: String,
}

impl<S> fmt::Debug for PythonTracer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PythonTracer")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: Sandbox> PythonTracer<S> {
    /// A tracer with the default options.
    pub fn new(sandbox: S) -> Self {
        Self::with_options(sandbox, TracerOptions::default())
    }

    /// A tracer with these options (see [`TracerOptions::validate`]: a tracer made with
    /// invalid options answers every call with an error).
    pub fn with_options(sandbox: S, options: TracerOptions) -> Self {
        let harness = Preload::new("__next_trace_", HARNESS.as_str());
        Self {
            sandbox,
            options,
            compiled: Mutex::new(None),
            entry: harness.entry("enter"),
            harness,
        }
    }

    /// Its options.
    pub fn options(&self) -> &TracerOptions {
        &self.options
    }

    /// The sandbox it runs jobs in.
    pub fn sandbox(&self) -> &S {
        &self.sandbox
    }

    /// The job for one task; `with_harness` false leaves the harness out (the sandbox
    /// preloaded it); its wall time is at most `wall_cap`.
    fn job(
        &self, program: &Program, tests: &[TestCase], nonce: &str, with_harness: bool,
        wall_cap: Duration,
    ) -> Result<Job, TraceError> {
        let options = &self.options;
        let limits = options
            .limits(tests.len())
            .and_then(|limits| {
                Limits::new(
                    limits.wall_time().min(wall_cap),
                    limits.memory_bytes(),
                    limits.output_bytes(),
                    limits.processes(),
                )
            })
            .map_err(|err| TraceError::Backend(Box::new(err)))?;
        let compiled = self
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut payload = Payload::new();
        payload
            .option("nonce", nonce)
            .option("max_events", options.max_events)
            .option("time_limit", options.time_limit.as_secs_f64())
            .option("max_value_chars", options.max_value_chars)
            .option("max_output_bytes", options.max_output_bytes)
            .option("max_trace_bytes", options.max_trace_bytes)
            .option("engine", options.engine)
            .option("isolate", u8::from(options.isolate))
            .option("setup_time_limit", options.setup_time_limit.as_secs_f64())
            .option("want_code", 1);
        payload.record("program", program.source().as_bytes());
        for test in tests {
            payload.record("test", test.code().as_bytes());
        }
        let compiled = compiled
            .as_deref()
            .map(|(tag, code)| (tag.as_str(), code.as_slice()));
        // Without the harness, the job calls the preloaded one, which reads the payload.
        let (source, mut stdin) = if with_harness {
            let head = self
                .harness
                .stdin_head(compiled)
                .map_err(|err| TraceError::Backend(Box::new(err)))?;
            (BOOTSTRAP, head)
        } else {
            (self.entry.as_str(), Vec::new())
        };
        stdin.extend_from_slice(&payload.into_bytes());
        Ok(Job::new(source).with_stdin(stdin).with_limits(limits))
    }
}

impl<S: Sandbox> PythonTracer<S> {
    /// Runs one tracing job on `tests`, for at most `wall_cap`, and assembles its traces.
    async fn run_job(
        &self, program: &Program, tests: &[TestCase], preloaded: bool, wall_cap: Duration,
    ) -> Result<convert::Outcome, TraceError> {
        let nonce = nonce();
        let mut execution = self
            .sandbox
            .run(self.job(program, tests, &nonce, !preloaded, wall_cap)?)
            .await?;
        if preloaded && self.harness.missing_in(&execution.stdout) {
            execution = self
                .sandbox
                .run(self.job(program, tests, &nonce, true, wall_cap)?)
                .await?;
        }
        let mut outcome = convert::assemble(&execution, &nonce, tests.len())?;
        if let Some(compiled) = outcome.code.take() {
            *self.compiled.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Arc::new(compiled));
        }
        Ok(outcome)
    }
}

#[async_trait]
impl<S: Sandbox> Tracer for PythonTracer<S> {
    /// Traces the tests in one job, as the verifier runs them. Where the job was stopped
    /// during a test (its process ended, or it ran out of time in code the harness could
    /// not interrupt, as a loop in C code without `fork` on WASI), that test ends there
    /// and the tests after it run in a new job (the module level again), as the verifier
    /// runs them; all the jobs of one call take at most twice the first job's time
    /// limit, and the tests not run by then time out without running.
    async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError> {
        self.options
            .validate()
            .map_err(|err| TraceError::Backend(Box::new(err)))?;
        if tests.is_empty() {
            return Ok(Vec::new());
        }
        let budget = self
            .options
            .limits(tests.len())
            .map_err(|err| TraceError::Backend(Box::new(err)))?
            .wall_time();
        // None: too far to be represented, as good as no deadline.
        let deadline = Instant::now().checked_add(budget.saturating_mul(2));
        // A sandbox that preloads the harness saves every job loading it (and reading
        // it from stdin); should a job not find it there, it says so, and is sent again
        // with the harness, as every job is where the sandbox declined.
        let preloaded = self.harness.offer(&self.sandbox).await;
        let outcome = self.run_job(program, tests, preloaded, budget).await?;
        let mut traces = outcome.traces;
        let mut done = outcome.reached;
        while done < tests.len() {
            let left = deadline.map_or(Duration::MAX, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                for (test, trace) in traces.iter_mut().enumerate().skip(done) {
                    *trace = not_run(test);
                }
                break;
            }
            let outcome = self
                .run_job(program, &tests[done..], preloaded, left)
                .await?;
            for (offset, mut trace) in outcome.traces.into_iter().enumerate().take(outcome.reached)
            {
                trace.test = done + offset;
                traces[done + offset] = trace;
            }
            if outcome.reached == 0 {
                break; // cannot happen (a stopped job was running a test); never loop
            }
            done += outcome.reached;
        }
        Ok(traces)
    }
}

/// The trace of a test not run because its task's jobs used up their time: timed out at
/// its first line, without events of the program.
fn not_run(test: usize) -> Trace {
    Trace {
        test,
        status: TraceStatus::TimedOut,
        events: vec![Event {
            frame: 0,
            location: Location::Test(1),
            kind: EventKind::Timeout,
        }],
        truncated: true,
        incomplete: false,
        stdout: String::new(),
        stderr: String::new(),
    }
}

/// A fresh nonce for a tracing job, as its event lines carry it: the sandbox's
/// [`nonce`](next_core::sandbox::nonce) between markers.
fn nonce() -> String {
    format!("@@next-trace-{}@@", next_core::sandbox::nonce())
}

fn build_python(options: &toml::Table, cx: &Context) -> Result<Box<dyn Tracer>, RegistryError> {
    let options: TracerOptions = registry::options(RoleKind::Tracer, "python", options)?;
    options
        .validate()
        .map_err(|err| RegistryError::options(RoleKind::Tracer, "python", err.message()))?;
    let sandbox = cx.require_sandbox(RoleKind::Tracer, "python")?;
    Ok(Box::new(PythonTracer::with_options(sandbox, options)))
}

next_core::register_factory!(
    tracer,
    "python",
    "the Python execution tracer (sys.monitoring or sys.settrace), run in the sandbox",
    build_python,
    options = &[
        OptionDoc::new("max_events", "10000", "events recorded per test"),
        OptionDoc::new("time_limit_ms", "5000", "time a test may run"),
        OptionDoc::new(
            "setup_time_limit_ms",
            "5000",
            "time to start and run the module level"
        ),
        OptionDoc::new("max_value_chars", "500", "longest rendered value kept"),
        OptionDoc::new(
            "max_output_bytes",
            "65536",
            "stdout (and stderr) kept per test"
        ),
        OptionDoc::new(
            "max_trace_bytes",
            "8388608",
            "event bytes recorded per test"
        ),
        OptionDoc::new("engine", "\"auto\"", "auto, monitoring or settrace"),
        OptionDoc::new(
            "isolate",
            "false",
            "each test in a forked process of its own"
        ),
        OptionDoc::new(
            "memory_bytes",
            "1073741824",
            "memory the tracing job may use"
        ),
        OptionDoc::new("processes", "16", "processes the tracing job may hold"),
    ],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_from_toml_with_defaults_and_reject_unknown_keys() {
        let options: TracerOptions =
            toml::from_str("max_events = 50\ntime_limit_ms = 1500\nengine = \"settrace\"").unwrap();
        assert_eq!(options.max_events, 50);
        assert_eq!(options.time_limit, Duration::from_millis(1500));
        assert_eq!(options.engine, Engine::Settrace);
        assert_eq!(options.max_value_chars, 500);
        assert!(toml::from_str::<TracerOptions>("max_event = 5").is_err());
        let zero = TracerOptions {
            max_events: 0,
            ..TracerOptions::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn job_limits_grow_with_the_tests() {
        let options = TracerOptions::default();
        let one = options.limits(1).unwrap();
        let three = options.limits(3).unwrap();
        assert!(three.wall_time() > one.wall_time());
        assert!(one.wall_time() > options.time_limit + options.setup_time_limit);
        assert!(three.output_bytes() > 3 * options.max_trace_bytes);
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
    }

    #[test]
    fn the_factory_needs_a_sandbox_and_checks_its_options() {
        let err = registry::tracer("python", &toml::Table::new(), &Context::new())
            .err()
            .unwrap();
        assert!(matches!(err, RegistryError::MissingSandbox { .. }), "{err}");
        let table: toml::Table = toml::from_str("max_value_chars = 2").unwrap();
        let err = registry::tracer("python", &table, &Context::new())
            .err()
            .unwrap();
        assert!(err.to_string().contains("max_value_chars"), "{err}");
    }
}
