//! [`MockTracer`]: a trace per test, shaped by the program's verdict marker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::verdict::{MockOutcome, VerdictPattern};
use crate::task::{Program, TestCase};
use crate::trace::{Event, EventKind, Location, Trace, TraceError, TraceStatus, Tracer};

/// A [`Tracer`] that executes nothing and records a small, plausible trace per test.
///
/// The traced function is the first `def NAME(` line of the program (`<module>` at line
/// 1 when there is none). Each trace opens with a `Call` of that function (frame 1, no
/// arguments) and then follows the test's outcome in the program's `# mock-verdict:`
/// marker (see [`VerdictPattern`]):
///
/// | outcome | events after the call | status |
/// |---|---|---|
/// | `pass`, no marker, malformed marker | `Return None` | `Passed` |
/// | `fail` | `Return None`, then `Exception AssertionError()` in the test (frame 0) | `Failed` |
/// | `error` | `Exception MockError('test i')` in the function | `Failed` |
/// | `timeout` | `Timeout` (the trace is marked truncated) | `TimedOut` |
/// | `resource` | nothing more; `MemoryError` on stderr | `Crashed` |
///
/// Clones share the call counter.
#[derive(Debug, Clone, Default)]
pub struct MockTracer {
    calls: Arc<AtomicUsize>,
}

impl MockTracer {
    /// Makes a tracer.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times [`Tracer::trace`] was called, on this tracer or a clone.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The traces of `program` on `tests`, without counting a call.
    pub fn traces(program: &Program, tests: &[TestCase]) -> Vec<Trace> {
        let (function, line) = traced_function(program.source());
        let pattern = VerdictPattern::from_source(program.source())
            .ok()
            .flatten()
            .unwrap_or_else(VerdictPattern::pass);
        (0..tests.len())
            .map(|test| trace_one(test, pattern.outcome_for(test), &function, line))
            .collect()
    }
}

/// The first `def NAME(` of the source and its 1-based line.
fn traced_function(source: &str) -> (String, u32) {
    for (index, line) in source.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("def ") else {
            continue;
        };
        let Some((name, _)) = rest.split_once('(') else {
            continue;
        };
        let name = name.trim();
        if !name.is_empty() {
            return (
                name.to_owned(),
                u32::try_from(index + 1).unwrap_or(u32::MAX),
            );
        }
    }
    ("<module>".to_owned(), 1)
}

fn trace_one(test: usize, outcome: MockOutcome, function: &str, line: u32) -> Trace {
    let at = |frame, location, kind| Event {
        frame,
        location,
        kind,
    };
    let mut events = vec![at(
        1,
        Location::Program(line),
        EventKind::Call {
            function: function.to_owned(),
            args: Vec::new(),
        },
    )];
    let returned = at(
        1,
        Location::Program(line),
        EventKind::Return {
            value: "None".to_owned(),
        },
    );
    let mut trace = Trace {
        test,
        status: TraceStatus::Passed,
        events: Vec::new(),
        truncated: false,
        incomplete: false,
        stdout: String::new(),
        stderr: String::new(),
    };
    match outcome {
        MockOutcome::Pass => events.push(returned),
        MockOutcome::Fail => {
            events.push(returned);
            events.push(at(
                0,
                Location::Test(1),
                EventKind::Exception {
                    value: "AssertionError()".to_owned(),
                },
            ));
            trace.status = TraceStatus::Failed;
        }
        MockOutcome::Error => {
            events.push(at(
                1,
                Location::Program(line),
                EventKind::Exception {
                    value: format!("MockError('test {test}')"),
                },
            ));
            trace.status = TraceStatus::Failed;
        }
        MockOutcome::Timeout => {
            events.push(at(1, Location::Program(line), EventKind::Timeout));
            trace.status = TraceStatus::TimedOut;
            trace.truncated = true;
        }
        MockOutcome::Resource => {
            trace.status = TraceStatus::Crashed;
            trace.stderr.push_str("MemoryError\n");
        }
    }
    trace.events = events;
    trace
}

#[async_trait]
impl Tracer for MockTracer {
    async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Self::traces(program, tests))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    fn tests(n: usize) -> Vec<TestCase> {
        super::super::identity_tests("g", n)
    }

    #[test]
    fn traces_follow_the_marker() {
        let program =
            Program::new("import math\n\n  def g (x):\n    return x\n# mock-verdict: pass,fail,error,timeout,resource\n");
        let mock = MockTracer::new();
        let traces = block_on(mock.trace(&program, &tests(5))).unwrap();
        let statuses: Vec<TraceStatus> = traces.iter().map(|t| t.status).collect();
        assert_eq!(
            statuses,
            [
                TraceStatus::Passed,
                TraceStatus::Failed,
                TraceStatus::Failed,
                TraceStatus::TimedOut,
                TraceStatus::Crashed
            ]
        );
        for (i, trace) in traces.iter().enumerate() {
            assert_eq!(trace.test, i);
            assert_eq!(
                trace.events[0].kind,
                EventKind::Call {
                    function: "g".into(),
                    args: vec![]
                }
            );
            assert_eq!(trace.events[0].location, Location::Program(3));
        }
        assert!(matches!(traces[0].events[1].kind, EventKind::Return { .. }));
        assert!(traces[3].truncated);
        assert_eq!(mock.calls(), 1);
    }

    #[test]
    fn unmarked_programs_pass_and_modules_are_traced() {
        let traces = MockTracer::traces(&Program::new("x = 1\n"), &tests(2));
        assert_eq!(traces.len(), 2);
        assert!(traces.iter().all(Trace::passed));
        assert_eq!(
            traces[0].events[0].kind,
            EventKind::Call {
                function: "<module>".into(),
                args: vec![]
            }
        );
    }
}
