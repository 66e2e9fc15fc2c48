//! The `inline` renderer: NExT's format, states as trailing comments of the code lines.

use std::collections::BTreeMap;

use next_core::error::InvalidInput;
use next_core::render::TraceRenderer;
use next_core::task::{Program, TestCase};
use next_core::trace::{Location, Trace, TraceStatus};
use serde::{Deserialize, Serialize};

use super::budget::{halve, halve_up, Shrink};
use super::select::select_traces;
use super::source::{line_index, trimmed_lines};
use super::steps::{steps, End, StepKind};
use super::value;

/// The options of [`InlineRenderer`], with the defaults of `trace-format.md`.
///
/// As configuration (TOML), every key is optional and an unknown key is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InlineOptions {
    /// A line with more steps shows the first `max_states_per_line - 1`, then `...;`,
    /// then the last (default 3; at least 2, so that both the first and the last step of
    /// a loop stay visible).
    pub max_states_per_line: usize,
    /// Values longer than this many characters are cut around `...` (default 60; at
    /// least 5, which keeps one character on each side).
    pub max_value_chars: usize,
    /// At most this many tests are shown, failing ones first (default 3; at least 1).
    pub max_traces: usize,
}

impl InlineOptions {
    /// The least `max_states_per_line`: the first and the last step.
    pub const MIN_STATES_PER_LINE: usize = 2;
    /// The least `max_value_chars`: one character, `...`, one character.
    pub const MIN_VALUE_CHARS: usize = 5;
    /// The least `max_traces`.
    pub const MIN_TRACES: usize = 1;

    /// Checks the options against their minimums.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the first option below its minimum.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        at_least(
            "max_states_per_line",
            self.max_states_per_line,
            Self::MIN_STATES_PER_LINE,
        )?;
        at_least(
            "max_value_chars",
            self.max_value_chars,
            Self::MIN_VALUE_CHARS,
        )?;
        at_least("max_traces", self.max_traces, Self::MIN_TRACES)
    }
}

/// `Err` naming `name` when `value` is below `min`.
pub(crate) fn at_least(name: &str, value: usize, min: usize) -> Result<(), InvalidInput> {
    if value < min {
        return Err(InvalidInput::new(format!(
            "`{name}` must be at least {min}, not {value}"
        )));
    }
    Ok(())
}

impl Default for InlineOptions {
    fn default() -> Self {
        Self {
            max_states_per_line: 3,
            max_value_chars: 60,
            max_traces: 3,
        }
    }
}

impl Shrink for InlineOptions {
    /// Fewer traces first (`3 -> 2 -> 1`), then fewer states per line (halving, down to
    /// 2), then shorter values (`60 -> 30 -> 15 -> 7 -> 5`).
    fn shrink(&self) -> Option<Self> {
        let mut next = *self;
        if let Some(traces) = halve_up(self.max_traces, Self::MIN_TRACES) {
            next.max_traces = traces;
        } else if let Some(states) = halve_up(self.max_states_per_line, Self::MIN_STATES_PER_LINE) {
            next.max_states_per_line = states;
        } else {
            next.max_value_chars = halve(self.max_value_chars, Self::MIN_VALUE_CHARS)?;
        }
        Some(next)
    }
}

/// The `inline` renderer, NExT's trace format, normative and byte-exact as
/// `trace-format.md` defines it: each test's block is the program with every step
/// written as a trailing comment of its line (`  # (0) nums=[1, 2, 3, 4];`), one empty
/// line, and the test statement with its own steps (the exception that ended the test).
///
/// Where the format leaves a choice to the renderer, this one:
///
/// - keeps a comment the line already holds and appends the trace after it, with the
///   same separator: `x = 1  # init  # (1) x=1;`. The trace is always the text after
///   the last `  # ` of a line, and finding it needs no Python lexing;
/// - writes the program's lines as Python numbers them (`\r\n`, `\r` and `\n` end a
///   line) and ends every output line with `\n`; tabs and other whitespace in a line
///   are kept as they are;
/// - gives no step number to a call without arguments (it has nothing to show, like a
///   line that changed nothing);
/// - drops, without a number, a step at a line that is not in the program (nor in the
///   test statement), or in the program's trailing blank lines: a trace that breaks the
///   event contract renders without panicking;
/// - writes a value's line breaks as `\n` and `\r`, so that a user `__repr__` cannot
///   break a line;
/// - shows the program alone (as [`NoneRenderer`](next_core::render::NoneRenderer)
///   does, line endings normalised) when there is no trace of a given test to show.
///
/// ```
/// use next_core::render::TraceRenderer;
/// use next_core::task::{Program, TestCase};
/// use next_core::trace::{Binding, Event, EventKind, Location, Trace, TraceStatus};
/// use next_tracers::render::InlineRenderer;
///
/// let program = Program::new("def inc(x):\n    return x + 1\n");
/// let tests = [TestCase::new("assert inc(1) == 3")?];
/// let at = |frame, location, kind| Event { frame, location, kind };
/// let trace = Trace {
///     test: 0,
///     status: TraceStatus::Failed,
///     events: vec![
///         at(1, Location::Program(1), EventKind::Call {
///             function: "inc".into(),
///             args: vec![Binding::new("x", "1")],
///         }),
///         at(1, Location::Program(2), EventKind::Line { changes: vec![] }),
///         at(1, Location::Program(2), EventKind::Return { value: "2".into() }),
///         at(0, Location::Test(1), EventKind::Exception { value: "AssertionError()".into() }),
///     ],
///     truncated: false,
///     incomplete: false,
///     stdout: String::new(),
///     stderr: String::new(),
/// };
/// assert_eq!(
///     InlineRenderer::default().render(&program, &tests, &[trace]),
///     "def inc(x):  # (0) x=1;\n    return x + 1  # (1) __return__=2;\n\n\
///      assert inc(1) == 3  # (2) __exception__=AssertionError();\n"
/// );
/// # Ok::<(), next_core::error::InvalidInput>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InlineRenderer {
    options: InlineOptions,
}

impl InlineRenderer {
    /// A renderer with these options.
    ///
    /// # Errors
    /// [`InvalidInput`] when an option is below its minimum ([`InlineOptions::validate`]).
    pub fn new(options: InlineOptions) -> Result<Self, InvalidInput> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Its options.
    pub const fn options(&self) -> &InlineOptions {
        &self.options
    }

    /// One test's block, without a final line break.
    fn block(&self, lines: &[&str], test: &TestCase, trace: &Trace) -> String {
        let test_lines = trimmed_lines(test.code());
        let notes = self.notes(trace, lines.len(), test_lines.len());
        let mut out = String::new();
        for (index, line) in lines.iter().enumerate() {
            self.push_line(&mut out, line, notes.get(&Location::Program(number(index))));
            out.push('\n');
        }
        if !lines.is_empty() {
            out.push('\n');
        }
        for (index, line) in test_lines.iter().enumerate() {
            if index > 0 {
                out.push('\n');
            }
            self.push_line(&mut out, line, notes.get(&Location::Test(number(index))));
        }
        out
    }

    /// The rendered steps of `trace` by line, numbered from 0.
    fn notes(
        &self, trace: &Trace, program_lines: usize, test_lines: usize,
    ) -> BTreeMap<Location, Vec<String>> {
        let max = self.options.max_value_chars;
        let mut notes: BTreeMap<Location, Vec<String>> = BTreeMap::new();
        let mut number = 0_usize;
        // The text last shown for each name of each frame: whether a name changed is
        // decided on the cut text (a change the cut does not show is no new step).
        let mut shown_values: BTreeMap<u32, BTreeMap<&str, String>> = BTreeMap::new();
        let mut ended = false;
        for step in steps(&trace.events) {
            let shown = match step.location {
                Location::Program(line) => line_index(line, program_lines),
                Location::Test(line) => line_index(line, test_lines),
            };
            if shown.is_none() {
                continue;
            }
            let items: Vec<String> = match step.kind {
                StepKind::Call { args, .. } => {
                    let frame = shown_values.entry(step.frame).or_default();
                    frame.clear();
                    args.iter()
                        .map(|arg| {
                            let text = value::binding(arg, max);
                            frame.insert(&arg.name, text.clone());
                            text
                        })
                        .collect()
                }
                StepKind::Line { changes, end, .. } => {
                    let frame = shown_values.entry(step.frame).or_default();
                    ended |= matches!(end, Some(End::Timeout | End::Exit(_)));
                    changes
                        .iter()
                        .filter_map(|change| {
                            let text = value::binding(change, max);
                            if frame.get(change.name.as_str()) == Some(&text) {
                                return None;
                            }
                            frame.insert(&change.name, text.clone());
                            Some(text)
                        })
                        .chain(end.map(|end| end.item(max)))
                        .collect()
                }
            };
            if items.is_empty() {
                continue;
            }
            notes
                .entry(step.location)
                .or_default()
                .push(format!("({number}) {};", items.join(", ")));
            number += 1;
        }
        // A run stopped at the time limit says so even where the tracer could not
        // record where (a job killed outside traced code): on the test line.
        if trace.status == TraceStatus::TimedOut && !ended && test_lines > 0 {
            notes
                .entry(Location::Test(1))
                .or_default()
                .push(format!("({number}) __timeout__;"));
        }
        notes
    }

    /// Writes `line` and, when it has steps, its comment.
    fn push_line(&self, out: &mut String, line: &str, steps: Option<&Vec<String>>) {
        out.push_str(line);
        let Some(steps) = steps.filter(|steps| !steps.is_empty()) else {
            return;
        };
        out.push_str("  # ");
        let max = self.options.max_states_per_line.max(1);
        if steps.len() > max {
            for step in &steps[..max - 1] {
                out.push_str(step);
                out.push(' ');
            }
            out.push_str("...; ");
            out.push_str(&steps[steps.len() - 1]);
        } else {
            out.push_str(&steps.join(" "));
        }
    }
}

/// The 1-based line number of 0-based `index`.
fn number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// `lines`, each ending with `\n`: the program alone.
pub(crate) fn plain(lines: &[&str]) -> String {
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

impl Shrink for InlineRenderer {
    fn shrink(&self) -> Option<Self> {
        self.options.shrink().map(|options| Self { options })
    }
}

impl TraceRenderer for InlineRenderer {
    fn name(&self) -> &'static str {
        "inline"
    }

    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String {
        let lines = trimmed_lines(program.source());
        let picked = select_traces(traces, tests.len(), self.options.max_traces);
        let blocks: Vec<String> = picked
            .iter()
            .filter_map(|trace| Some(self.block(&lines, tests.get(trace.test)?, trace)))
            .collect();
        if blocks.is_empty() {
            return plain(&lines);
        }
        let mut out = blocks.join("\n\n");
        out.push('\n');
        out
    }
}
