//! The `TraceRenderer` role: traces into the text the model reads.
//!
//! Rendering is pure and synchronous: the same program, tests and traces always give
//! the same text, byte for byte (`trace-format.md` makes the `inline` format normative).
//! Renderers live in `next-tracers`; this module holds the trait and [`NoneRenderer`],
//! the trivial one, for runs without traces and for implementors' tests.

use crate::task::{Program, TestCase};
use crate::trace::Trace;

/// How to read the `inline` format (`trace-format.md`), as the repair prompt explains it.
pub const INLINE_LEGEND: &str = "The program is shown once per test, run on that test. \
Each trailing comment records the program state at that line: `(k) name=value;` is step k \
of the run, `__return__` is a returned value, `__exception__` a raised exception and \
`__timeout__` where the run was stopped; `...;` stands for steps left out.";

/// Turns a program and its traces into the text shown to the model.
pub trait TraceRenderer: Send + Sync {
    /// The renderer's stable name, used in configuration files and on the command line
    /// (`inline`, `none`, `scratchpad`, `blocks`, ...).
    fn name(&self) -> &str;

    /// Whether the rendering shows execution. When `false` the prompt presents the text
    /// as the program alone and does not explain a trace format.
    fn shows_execution(&self) -> bool {
        true
    }

    /// How to read the rendering, in a few sentences for the model; the repair prompt
    /// puts it above the trace. The default explains the `inline` format.
    fn legend(&self) -> &str {
        INLINE_LEGEND
    }

    /// Renders `program` with `traces` (one per test of `tests`, possibly fewer).
    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String;
}

crate::forward::forward_role! {
    TraceRenderer {
        fn name(&self) -> &str;
        fn shows_execution(&self) -> bool;
        fn legend(&self) -> &str;
        fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String;
    }
}

/// The `none` renderer: the buggy program alone, ending with one newline. The baseline
/// of the paper's "without traces" rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneRenderer;

impl TraceRenderer for NoneRenderer {
    fn name(&self) -> &'static str {
        "none"
    }

    fn shows_execution(&self) -> bool {
        false
    }

    fn render(&self, program: &Program, _tests: &[TestCase], _traces: &[Trace]) -> String {
        let mut text = program.source().trim_end().to_owned();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_renders_the_program_alone() {
        let program = Program::new("def f():\n    return 1\n\n\n");
        let text = NoneRenderer.render(&program, &[], &[]);
        assert_eq!(text, "def f():\n    return 1\n");
        assert!(!NoneRenderer.shows_execution());
    }
}
