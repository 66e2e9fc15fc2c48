//! The `blocks` renderer: the failing run cut into basic blocks, each with the state
//! before and after it, as LDB (Zhong et al., 2024) shows execution.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use next_core::error::InvalidInput;
use next_core::render::TraceRenderer;
use next_core::task::{Program, TestCase};
use next_core::trace::{Location, Trace};
use serde::{Deserialize, Serialize};

use super::budget::{halve, halve_up, Shrink};
use super::inline::{at_least, plain};
use super::select::select_traces;
use super::source::{line_index, trimmed_lines, Layout};
use super::steps::{steps, Frames, Step, StepKind};
use super::value::{self, one_line};

/// The options of [`BlocksRenderer`].
///
/// As configuration (TOML), every key is optional and an unknown key is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlocksOptions {
    /// A run of more blocks shows its first `max_blocks / 2` and its last
    /// `max_blocks - max_blocks / 2`, around a line saying how many were left out
    /// (default 20; at least 1).
    pub max_blocks: usize,
    /// Values longer than this many characters are cut around `...` (default 60; at
    /// least 5).
    pub max_value_chars: usize,
}

impl BlocksOptions {
    /// Checks the options against their minimums (1 block, 5 characters).
    ///
    /// # Errors
    /// [`InvalidInput`] naming the first option below its minimum.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        at_least("max_blocks", self.max_blocks, 1)?;
        at_least("max_value_chars", self.max_value_chars, 5)
    }
}

impl Default for BlocksOptions {
    fn default() -> Self {
        Self {
            max_blocks: 20,
            max_value_chars: 60,
        }
    }
}

impl Shrink for BlocksOptions {
    /// Fewer blocks first (halving, down to 1), then shorter values (halving, down to 5).
    fn shrink(&self) -> Option<Self> {
        let mut next = *self;
        if let Some(blocks) = halve_up(self.max_blocks, 1) {
            next.max_blocks = blocks;
        } else {
            next.max_value_chars = halve(self.max_value_chars, 5)?;
        }
        Some(next)
    }
}

/// The `blocks` renderer: the run of one test, failing if one fails, cut into basic
/// blocks, each shown as its source lines between the frame's state before and after
/// it, in the manner of LDB ("Debug like a Human", Zhong et al., 2024).
///
/// The trace shown is the first that [`select_traces`] picks: the first failing test,
/// or the first test when all pass. The exact format: the program (line endings
/// normalised to `\n`, trailing blank lines removed), one empty line, the test statement
/// with what happened on it as a comment (`  # __exception__=AssertionError()`, items
/// joined by `, `), one empty line, and the blocks in execution order:
///
/// ```text
/// [block 2] sum_odd, lines 3-5
///     # before: nums=[1, 2, 3, 4], s=0
///     for n in nums:
///         if n % 2 == 1:
///             s += n
///     # after: nums=[1, 2, 3, 4], s=1, n=1
/// ```
///
/// - A block is a run of executed lines of one frame. A new block starts when a frame
///   starts or resumes after a traced call (the callee's blocks come between), after a
///   jump (the next line executed in the frame is not the textually next statement:
///   blank lines, comments, continuation lines and the bodies of nested `def`s and
///   `class`es are skipped; a light scan, not a parser, decides), at a loop header (a
///   line that a jump back ever reaches in the run), and after a line that returned,
///   raised or timed out.
/// - The header names the block's number (from 1, in execution order), its function
///   (left out when the frame's call was not recorded) and its lines; the source shown
///   runs from the first line to the end of the last statement, verbatim.
/// - `before` is the frame's locals before the first line, `after` those after the last
///   (the order the names first appeared), plus `__return__=v`, `__exception__=v` or
///   `__timeout__` when the block ended so; `(no locals)` when there are none. The
///   comments are indented like the block's first line.
/// - More than `max_blocks` blocks: the first `max_blocks / 2`, a line
///   `[... N blocks left out ...]`, the last `max_blocks - max_blocks / 2`.
/// - Steps at lines that are not in the program are left out; without a trace to show,
///   the rendering is the program alone. It ends with a newline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlocksRenderer {
    options: BlocksOptions,
}

/// One basic block of the run.
#[derive(Debug, Clone)]
struct Block<'a> {
    frame: u32,
    function: Option<&'a str>,
    first: u32,
    last: u32,
    before: Vec<String>,
    after: Vec<String>,
    ended: bool,
}

impl BlocksRenderer {
    /// A renderer with these options.
    ///
    /// # Errors
    /// [`InvalidInput`] when an option is below its minimum.
    pub fn new(options: BlocksOptions) -> Result<Self, InvalidInput> {
        options.validate()?;
        Ok(Self { options })
    }

    /// Its options.
    pub const fn options(&self) -> &BlocksOptions {
        &self.options
    }

    /// The blocks of `steps`, and the items of the steps at each test line.
    fn blocks<'a>(
        &self, steps: &[Step<'a>], layout: &Layout, program_lines: usize,
    ) -> (Vec<Block<'a>>, BTreeMap<u32, Vec<String>>) {
        let max = self.options.max_value_chars;
        let headers = loop_headers(steps, program_lines);
        let mut frames = Frames::default();
        let mut blocks: Vec<Block<'a>> = Vec::new();
        let mut test_notes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        let mut open: Option<Block<'a>> = None;
        for step in steps {
            let (line, end) = match (step.location, step.kind) {
                (Location::Program(line), StepKind::Line { end, .. })
                    if line_index(line, program_lines).is_some() =>
                {
                    (line, end)
                }
                (location, kind) => {
                    frames.apply(step);
                    if let (Location::Test(line), StepKind::Line { changes, end, .. }) =
                        (location, kind)
                    {
                        test_notes.entry(line).or_default().extend(
                            changes
                                .iter()
                                .map(|change| value::binding(change, max))
                                .chain(end.map(|end| end.item(max))),
                        );
                    }
                    blocks.extend(open.take());
                    continue;
                }
            };
            let continues = open.as_ref().is_some_and(|block| {
                block.frame == step.frame
                    && !block.ended
                    && layout.falls_through(block.last, line)
                    && !headers.contains(&line)
            });
            if !continues {
                blocks.extend(open.take());
            }
            let block = open.get_or_insert_with(|| Block {
                frame: step.frame,
                function: frames.function(step.frame),
                first: line,
                last: line,
                before: frames.items(step.frame, max),
                after: Vec::new(),
                ended: false,
            });
            frames.apply(step);
            block.last = line;
            block.after = frames.items(step.frame, max);
            if let Some(end) = end {
                block.after.push(end.item(max));
                block.ended = true;
            }
        }
        blocks.extend(open);
        (blocks, test_notes)
    }

    /// Writes `block`, numbered `number`.
    fn push_block(
        out: &mut String, block: &Block<'_>, number: usize, lines: &[&str], layout: &Layout,
    ) {
        let _ = write!(out, "[block {number}] ");
        if let Some(function) = block.function {
            let _ = write!(out, "{}, ", one_line(function));
        }
        let end = layout.statement_end(block.last).max(block.first);
        let shown: Vec<&str> = (block.first..=end)
            .map_while(|line| line_index(line, lines.len()).map(|index| lines[index]))
            .collect();
        let last = block
            .first
            .saturating_add(u32::try_from(shown.len().saturating_sub(1)).unwrap_or(u32::MAX));
        if last == block.first {
            let _ = writeln!(out, "line {}", block.first);
        } else {
            let _ = writeln!(out, "lines {}-{last}", block.first);
        }
        let first_line = shown.first().copied().unwrap_or_default();
        let indent = &first_line[..first_line.len() - first_line.trim_start().len()];
        let _ = writeln!(out, "{indent}# before: {}", state(&block.before));
        for line in shown {
            out.push_str(line);
            out.push('\n');
        }
        let _ = writeln!(out, "{indent}# after: {}", state(&block.after));
    }
}

/// Items joined by `, `, or `(no locals)`.
fn state(items: &[String]) -> String {
    if items.is_empty() {
        "(no locals)".to_owned()
    } else {
        items.join(", ")
    }
}

/// The lines that a frame ever jumps back to (or repeats): loop headers.
fn loop_headers(steps: &[Step<'_>], program_lines: usize) -> BTreeSet<u32> {
    let mut last: BTreeMap<u32, u32> = BTreeMap::new();
    let mut headers = BTreeSet::new();
    for step in steps {
        match (step.location, step.kind) {
            (_, StepKind::Call { .. }) => {
                last.remove(&step.frame);
            }
            (Location::Program(line), StepKind::Line { .. })
                if line_index(line, program_lines).is_some() =>
            {
                let previous = last.insert(step.frame, line);
                if previous.is_some_and(|previous| line <= previous) {
                    headers.insert(line);
                }
            }
            _ => {}
        }
    }
    headers
}

impl Shrink for BlocksRenderer {
    fn shrink(&self) -> Option<Self> {
        self.options.shrink().map(|options| Self { options })
    }
}

impl TraceRenderer for BlocksRenderer {
    fn name(&self) -> &'static str {
        "blocks"
    }

    fn legend(&self) -> &'static str {
        "Below the program, the run of a failing test is split into basic blocks: each \
         `[block i] f, lines a-b` shows lines of function f that ran one after another, with \
         the variables of f before the block (`# before:`) and after it (`# after:`)."
    }

    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String {
        let lines = trimmed_lines(program.source());
        let Some((trace, test)) = select_traces(traces, tests.len(), 1)
            .first()
            .and_then(|trace| Some((*trace, tests.get(trace.test)?)))
        else {
            return plain(&lines);
        };
        let layout = Layout::new(&lines);
        let steps = steps(&trace.events);
        let (blocks, test_notes) = self.blocks(&steps, &layout, lines.len());
        let mut out = String::new();
        for line in &lines {
            out.push_str(line);
            out.push('\n');
        }
        if !lines.is_empty() {
            out.push('\n');
        }
        for (index, line) in trimmed_lines(test.code()).iter().enumerate() {
            out.push_str(line);
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            if let Some(notes) = test_notes.get(&number).filter(|notes| !notes.is_empty()) {
                let _ = write!(out, "  # {}", notes.join(", "));
            }
            out.push('\n');
        }
        if blocks.is_empty() {
            return out;
        }
        out.push('\n');
        let max = self.options.max_blocks.max(1);
        let (head, tail) = if blocks.len() > max {
            (max / 2, max - max / 2)
        } else {
            (blocks.len(), 0)
        };
        for (index, block) in blocks.iter().enumerate().take(head) {
            Self::push_block(&mut out, block, index + 1, &lines, &layout);
        }
        if tail > 0 {
            let _ = writeln!(out, "[... {} blocks left out ...]", blocks.len() - max);
            let from = blocks.len() - tail;
            for (index, block) in blocks.iter().enumerate().skip(from) {
                Self::push_block(&mut out, block, index + 1, &lines, &layout);
            }
        }
        out
    }
}
