//! The `Tracer` role and what it records: one [`Trace`] per test.
//!
//! A trace is the ordered list of events of one test run against the program, as
//! `trace-format.md` defines them: calls with their arguments, executed lines with the
//! locals they changed, returns, exceptions and the timeout marker. Values are already
//! rendered (`repr`) by the tracer, so traces are plain data that any renderer can turn
//! into text.
//!
//! # The event contract
//!
//! What a [`Tracer`] records and a [`TraceRenderer`](crate::render::TraceRenderer)
//! reads, in execution order:
//!
//! - Frames: every activation of a code object from the program's source (functions,
//!   nested functions, lambdas, comprehensions, generators, recursion) gets a
//!   [`Event::frame`] id, unique within the trace, from 1. Frame 0 is the test statement
//!   itself; the program's module-level code is not traced.
//! - [`EventKind::Call`]: a traced frame starts (not when a generator resumes), at the
//!   line of its `def` (the `lambda` or comprehension line for those), with every
//!   argument in signature order (`*args` as its tuple, `**kwargs` as its dict). A call
//!   without arguments renders nothing and so takes no step number.
//! - [`EventKind::Line`]: a line of a traced frame has finished executing: `changes`
//!   holds the locals of the frame that are new, or whose rendered value differs from
//!   the last value recorded for that name in that frame, in the order the names first
//!   appeared. A line that changed nothing is still recorded, with no changes (renderers
//!   of basic blocks need it; the inline renderer gives it no step number). A line is
//!   finished when its frame reaches its next line, returns or raises, so the events of
//!   frames it called come before it.
//! - [`EventKind::Return`]: a traced frame returns a value, at the line of the `return`
//!   (or the last line executed, for an implicit return). It directly follows the
//!   [`EventKind::Line`] event of that line; together they make one step. A frame left
//!   by an exception has no `Return`.
//! - [`EventKind::Exception`]: an exception leaves a traced frame (one raised and
//!   caught within the same frame is not recorded). It is recorded once, in the first
//!   frame it left, at the line where it was raised there (not again in the frames it
//!   passes through); it directly follows the `Line` event of that line, and together
//!   they make one step. The frames it passes through get the `Line` event of their
//!   current line (possibly without changes) and no `Return`. An exception that ends the test is recorded at
//!   [`Location::Test`] in frame 0, as `AssertionError()` for a failed assert.
//! - [`EventKind::Timeout`]: the run was stopped by the time limit (or recording by
//!   the event limit, when [`Trace::truncated`] is set) while this line was executing.
//! - [`EventKind::Yield`]: a generator frame yielded a value at this line. It directly
//!   follows the [`EventKind::Line`] event of that line (the line's changes up to the
//!   yield); together they make one step. A resumption records nothing.
//! - [`EventKind::Exit`]: the process running the test ended while this line was
//!   executing (`os._exit`, a signal), or at the test line when that is not known.
//!
//! Values are `repr()`s with memory addresses removed (`<Foo object>`), `<TypeName
//! repr failed>` for a `repr` that raises, and bounded in size by the tracer: a long
//! value keeps at least its first and last 500 characters around `...`, so that a
//! renderer cutting to fewer characters (keeping a head and a tail) gives the same text
//! as from the whole value. "Differs" in a [`EventKind::Line`] event compares these
//! bounded values. Functions, classes and modules among the locals
//! are not recorded.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::BoxError;
use crate::sandbox::SandboxError;
use crate::task::{Program, TestCase};

/// A name and its rendered value, such as `n` and `1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The variable or argument name.
    pub name: String,
    /// The rendered value (`repr`, addresses removed, bounded in size).
    pub value: String,
}

impl Binding {
    /// Makes a binding.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Where an event happened: a 1-based line of the program, or of the test statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// A line of the program's source.
    Program(u32),
    /// A line of the test statement.
    Test(u32),
}

/// What happened at one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A traced function was called with these arguments, in signature order.
    Call {
        /// The function's name.
        function: String,
        /// The arguments (`*args` and `**kwargs` as their tuple and dict).
        args: Vec<Binding>,
    },
    /// A line ran; these locals are new or changed their rendered value.
    Line {
        /// The changed locals, in the order the names first appeared in the frame.
        changes: Vec<Binding>,
    },
    /// A traced frame returned this value.
    Return {
        /// The rendered return value.
        value: String,
    },
    /// An exception left a traced frame, or ended the test.
    Exception {
        /// The rendered exception, `TypeName(args)`.
        value: String,
    },
    /// The run was stopped by the time or event limit here.
    Timeout,
    /// A generator yielded this value (at its `yield` line).
    Yield {
        /// The rendered value.
        value: String,
    },
    /// The process running the test ended here (`os._exit`, a signal, a crash).
    Exit {
        /// The exit status (`3`) or the signal's name (`SIGKILL`).
        code: String,
    },
}

/// One step of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Which frame it belongs to: an id unique within the trace (0 for the test itself).
    pub frame: u32,
    /// Where it happened.
    pub location: Location,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// How the traced test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceStatus {
    /// The test statement ran without an exception.
    Passed,
    /// The test statement raised (a failed assert or an error in the program).
    Failed,
    /// The run hit the time limit.
    TimedOut,
    /// The program could not be run (syntax error, interpreter died).
    Crashed,
}

/// The execution of one test against the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Index of the test in the task's list.
    pub test: usize,
    /// How the test ended.
    pub status: TraceStatus,
    /// The steps, in execution order.
    pub events: Vec<Event>,
    /// Recording stopped at the event or time limit before the run ended.
    #[serde(default)]
    pub truncated: bool,
    /// The tracer was removed during the run (by the program or the interpreter), so
    /// some steps are missing.
    #[serde(default)]
    pub incomplete: bool,
    /// What the program printed on stdout (lossily decoded), kept apart from the trace.
    #[serde(default)]
    pub stdout: String,
    /// What the program printed on stderr (lossily decoded).
    #[serde(default)]
    pub stderr: String,
}

impl Trace {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        self.status == TraceStatus::Passed
    }
}

/// Why a tracer gave no traces. A misbehaving program is not an error: it yields a trace
/// whose status says how it ended.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The sandbox could not run the tracing job.
    #[error("the sandbox failed")]
    Sandbox(#[from] SandboxError),
    /// The tracing harness's output could not be understood.
    #[error("malformed tracer output: {0}")]
    Protocol(String),
    /// Any other failure.
    #[error("tracer failed")]
    Backend(#[source] BoxError),
}

/// Runs a program on its tests and records what it does: one [`Trace`] per test, in the
/// order of `tests`.
#[async_trait]
pub trait Tracer: Send + Sync {
    /// Traces `program` on each test.
    ///
    /// # Errors
    /// [`TraceError`] when tracing itself failed (never because the program is bad).
    async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError>;
}

crate::forward::forward_role! {
    Tracer {
        async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError>;
    }
}

/// A tracer that records nothing: one empty trace per test, status
/// [`TraceStatus::Crashed`]. For loops run without traces, where a [`Tracer`] is still
/// required, together with [`NoneRenderer`](crate::render::NoneRenderer).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneTracer;

/// The old name of [`NoneTracer`], as a type.
#[deprecated(note = "renamed `NoneTracer`, after its factory's name `none` and `NoneRenderer`")]
pub type NoTracer = NoneTracer;

/// The old name of [`NoneTracer`], as a value, so that `tracer: NoTracer` still builds.
#[deprecated(note = "renamed `NoneTracer`, after its factory's name `none` and `NoneRenderer`")]
#[allow(non_upper_case_globals)]
pub const NoTracer: NoneTracer = NoneTracer;

#[async_trait]
impl Tracer for NoneTracer {
    async fn trace(
        &self, _program: &Program, tests: &[TestCase],
    ) -> Result<Vec<Trace>, TraceError> {
        Ok((0..tests.len())
            .map(|test| Trace {
                test,
                status: TraceStatus::Crashed,
                events: Vec::new(),
                truncated: false,
                incomplete: true,
                stdout: String::new(),
                stderr: String::new(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn the_old_name_of_the_none_tracer_still_builds() {
        let old: NoTracer = NoTracer;
        let recorded = futures::executor::block_on(old.trace(
            &Program::new("x = 1\n"),
            &[TestCase::new("assert x == 1").unwrap()],
        ))
        .unwrap();
        assert_eq!(recorded.len(), 1);
    }

    #[test]
    fn event_json_is_flat() {
        let event = Event {
            frame: 1,
            location: Location::Program(3),
            kind: EventKind::Line {
                changes: vec![Binding::new("n", "1")],
            },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"frame":1,"location":{"program":3},"kind":"line","changes":[{"name":"n","value":"1"}]}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}
