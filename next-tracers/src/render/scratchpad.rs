//! The `scratchpad` renderer: the full state after every executed line, listed under the
//! program.

use std::fmt::Write as _;

use next_core::error::InvalidInput;
use next_core::render::TraceRenderer;
use next_core::task::{Program, TestCase};
use next_core::trace::{Location, Trace};
use serde::{Deserialize, Serialize};

use super::budget::{halve, halve_up, Shrink};
use super::inline::at_least;
use super::select::select_traces;
use super::source::trimmed_lines;
use super::steps::{steps, Frames, Step, StepKind};
use super::value::one_line;

/// The options of [`ScratchpadRenderer`].
///
/// As configuration (TOML), every key is optional and an unknown key is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScratchpadOptions {
    /// A test with more steps shows its first `max_steps / 2` and its last
    /// `max_steps - max_steps / 2`, around a line saying how many were left out
    /// (default 100; at least 1).
    pub max_steps: usize,
    /// Values longer than this many characters are cut around `...` (default 60; at
    /// least 5).
    pub max_value_chars: usize,
    /// At most this many tests are shown, failing ones first (default 3; at least 1).
    pub max_traces: usize,
}

impl ScratchpadOptions {
    /// Checks the options against their minimums (1 step, 5 characters, 1 trace).
    ///
    /// # Errors
    /// [`InvalidInput`] naming the first option below its minimum.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        at_least("max_steps", self.max_steps, 1)?;
        at_least("max_value_chars", self.max_value_chars, 5)?;
        at_least("max_traces", self.max_traces, 1)
    }
}

impl Default for ScratchpadOptions {
    fn default() -> Self {
        Self {
            max_steps: 100,
            max_value_chars: 60,
            max_traces: 3,
        }
    }
}

impl Shrink for ScratchpadOptions {
    /// Fewer traces first (halving), then fewer steps (halving, down to 1), then shorter
    /// values (halving, down to 5).
    fn shrink(&self) -> Option<Self> {
        let mut next = *self;
        if let Some(traces) = halve_up(self.max_traces, 1) {
            next.max_traces = traces;
        } else if let Some(steps) = halve_up(self.max_steps, 1) {
            next.max_steps = steps;
        } else {
            next.max_value_chars = halve(self.max_value_chars, 5)?;
        }
        Some(next)
    }
}

/// The `scratchpad` renderer: the program, then for each test (failing ones first, at
/// most `max_traces`) the full state of the running frame after every executed line,
/// in execution order, in the spirit of the scratchpads of Nye et al. (2021).
///
/// The exact format: the program (line endings normalised to `\n`, trailing blank lines
/// removed), then for each test one empty line and a section:
///
/// ```text
/// Test: assert sum_odd([1, 2, 3, 4]) == 5
/// [line 1, call sum_odd] nums=[1, 2, 3, 4]
/// [line 2, in sum_odd] nums=[1, 2, 3, 4], s=0
/// [line 3, in sum_odd] nums=[1, 2, 3, 4], s=0, n=1
/// [line 6, in sum_odd] nums=[1, 2, 3, 4], s=4, n=4, __return__=4
/// [test line 1] __exception__=AssertionError()
/// ```
///
/// - the header is `Test: ` and the test statement; its further lines follow, indented by
///   six spaces;
/// - one entry per step: a call (`call F`, the arguments), every executed line, even
///   one that changed nothing (`in F`, the frame's locals after it, in the order the
///   names first appeared), with `__return__=v`, `__exception__=v` or `__timeout__`
///   appended when the line ended the frame or the run; steps at the test statement are
///   `[test line N]`; a frame whose call was not recorded shows no `in F`;
/// - more than `max_steps` entries: the first `max_steps / 2`, a line
///   `[... N steps left out ...]`, the last `max_steps - max_steps / 2`;
/// - values cut to `max_value_chars`, their line breaks written as `\n`, `\r`;
/// - the rendering ends with a newline; without a trace to show, it is the program
///   alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScratchpadRenderer {
    options: ScratchpadOptions,
}

impl ScratchpadRenderer {
    /// A renderer with these options.
    ///
    /// # Errors
    /// [`InvalidInput`] when an option is below its minimum.
    pub fn new(options: ScratchpadOptions) -> Result<Self, InvalidInput> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Its options.
    pub const fn options(&self) -> &ScratchpadOptions {
        &self.options
    }

    /// One test's section, each line ending with `\n`.
    fn section(&self, test: &TestCase, trace: &Trace) -> String {
        let mut out = String::new();
        for (index, line) in trimmed_lines(test.code()).iter().enumerate() {
            out.push_str(if index == 0 { "Test: " } else { "      " });
            out.push_str(line);
            out.push('\n');
        }
        let steps = steps(&trace.events);
        let max = self.options.max_steps.max(1);
        let (head, tail) = if steps.len() > max {
            (max / 2, max - max / 2)
        } else {
            (steps.len(), 0)
        };
        let shown = |index: usize| index < head || index >= steps.len() - tail;
        let mut frames = Frames::default();
        for (index, step) in steps.iter().enumerate() {
            frames.apply(step);
            if shown(index) {
                self.push_entry(&mut out, step, &frames);
            } else if index == head {
                let _ = writeln!(out, "[... {} steps left out ...]", steps.len() - max);
            }
        }
        out
    }

    /// Writes the line of `step`, the frames holding the state after it.
    fn push_entry(&self, out: &mut String, step: &Step<'_>, frames: &Frames<'_>) {
        let max = self.options.max_value_chars;
        match (step.location, step.kind, frames.function(step.frame)) {
            (Location::Test(line), ..) => {
                let _ = write!(out, "[test line {line}]");
            }
            (Location::Program(line), StepKind::Call { function, .. }, _) => {
                let _ = write!(out, "[line {line}, call {}]", one_line(function));
            }
            (Location::Program(line), _, Some(function)) => {
                let _ = write!(out, "[line {line}, in {}]", one_line(function));
            }
            (Location::Program(line), _, None) => {
                let _ = write!(out, "[line {line}]");
            }
        }
        let mut items = frames.items(step.frame, max);
        if let StepKind::Line { end: Some(end), .. } = step.kind {
            items.push(end.item(max));
        }
        if !items.is_empty() {
            out.push(' ');
            out.push_str(&items.join(", "));
        }
        out.push('\n');
    }
}

impl Shrink for ScratchpadRenderer {
    fn shrink(&self) -> Option<Self> {
        self.options.shrink().map(|options| Self { options })
    }
}

impl TraceRenderer for ScratchpadRenderer {
    fn name(&self) -> &'static str {
        "scratchpad"
    }

    fn legend(&self) -> &'static str {
        "Below the program, each test's run is listed step by step: `[line N, in f] a=1, b=2` \
         is the full state of the variables of function f after line N ran, `[line N, call f]` \
         gives the arguments of a call, and `__return__`, `__exception__` and `__timeout__` \
         mark a returned value, a raised exception and where the run was stopped."
    }

    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String {
        let lines = trimmed_lines(program.source());
        let mut out = String::new();
        for line in &lines {
            out.push_str(line);
            out.push('\n');
        }
        for trace in select_traces(traces, tests.len(), self.options.max_traces) {
            if let Some(test) = tests.get(trace.test) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&self.section(test, trace));
            }
        }
        if out.is_empty() {
            out.push('\n');
        }
        out
    }
}
