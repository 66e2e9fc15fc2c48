//! Which traces a renderer shows: failing tests first.

use next_core::trace::Trace;

/// The traces to render, at most `max_traces`: those of failing tests (status other than
/// [`Passed`](next_core::trace::TraceStatus::Passed)) first, then passing ones, each group
/// in test order (traces of one test in the order given). A trace whose test index is
/// not below `tests` (it names no test that was given) is left out, since its test
/// statement is unknown.
///
/// ```
/// use next_core::trace::{Trace, TraceStatus};
/// use next_tracers::render::select_traces;
///
/// let trace = |test, status| Trace {
///     test,
///     status,
///     events: vec![],
///     truncated: false,
///     incomplete: false,
///     stdout: String::new(),
///     stderr: String::new(),
/// };
/// let traces = [
///     trace(0, TraceStatus::Passed),
///     trace(1, TraceStatus::Failed),
///     trace(2, TraceStatus::TimedOut),
///     trace(7, TraceStatus::Failed),
/// ];
/// let picked: Vec<usize> = select_traces(&traces, 3, 2).iter().map(|t| t.test).collect();
/// assert_eq!(picked, [1, 2]);
/// ```
pub fn select_traces(traces: &[Trace], tests: usize, max_traces: usize) -> Vec<&Trace> {
    let mut picked: Vec<&Trace> = traces.iter().filter(|trace| trace.test < tests).collect();
    picked.sort_by_key(|trace| (trace.passed(), trace.test));
    picked.truncate(max_traces);
    picked
}
