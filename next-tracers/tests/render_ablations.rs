//! Golden tests of the ablation renderers, `scratchpad` and `blocks`, with traces
//! written by hand as the event contract says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use next_core::render::TraceRenderer;
use next_core::task::Program;
use next_core::trace::{Trace, TraceStatus};
use next_tracers::render::{BlocksOptions, BlocksRenderer, ScratchpadOptions, ScratchpadRenderer};
use support::{sum_odd, sum_odd_events, tests, Recorder, SUM_ODD};

fn failing_sum_odd() -> Trace {
    sum_odd_events()
        .test_raise(1, "AssertionError()")
        .trace(0, TraceStatus::Failed)
}

const SUM_ODD_TEST: &str = "assert sum_odd([1, 2, 3, 4]) == 5";

const SCRATCHPAD: &str = "\
Test: assert sum_odd([1, 2, 3, 4]) == 5
[line 1, call sum_odd] nums=[1, 2, 3, 4]
[line 2, in sum_odd] nums=[1, 2, 3, 4], s=0
[line 3, in sum_odd] nums=[1, 2, 3, 4], s=0, n=1
[line 4, in sum_odd] nums=[1, 2, 3, 4], s=0, n=1
[line 5, in sum_odd] nums=[1, 2, 3, 4], s=1, n=1
[line 3, in sum_odd] nums=[1, 2, 3, 4], s=1, n=2
[line 4, in sum_odd] nums=[1, 2, 3, 4], s=1, n=2
[line 3, in sum_odd] nums=[1, 2, 3, 4], s=1, n=3
[line 4, in sum_odd] nums=[1, 2, 3, 4], s=1, n=3
[line 5, in sum_odd] nums=[1, 2, 3, 4], s=4, n=3
[line 3, in sum_odd] nums=[1, 2, 3, 4], s=4, n=4
[line 4, in sum_odd] nums=[1, 2, 3, 4], s=4, n=4
[line 3, in sum_odd] nums=[1, 2, 3, 4], s=4, n=4
[line 6, in sum_odd] nums=[1, 2, 3, 4], s=4, n=4, __return__=4
[test line 1] __exception__=AssertionError()
";

#[test]
fn scratchpad_lists_the_full_state_after_every_line() {
    let text = ScratchpadRenderer::default().render(
        &sum_odd(),
        &tests(&[SUM_ODD_TEST]),
        &[failing_sum_odd()],
    );
    assert_eq!(text, format!("{SUM_ODD}\n{SCRATCHPAD}"));
}

#[test]
fn scratchpad_elides_the_middle_and_shows_failing_tests_first() {
    let renderer = ScratchpadRenderer::new(ScratchpadOptions {
        max_steps: 4,
        max_value_chars: 5,
        max_traces: 2,
    })
    .unwrap();
    let passing = sum_odd_events().trace(1, TraceStatus::Passed);
    let text = renderer.render(
        &sum_odd(),
        &tests(&[SUM_ODD_TEST, "assert sum_odd(\n    [1, 2, 3, 4]) == 4"]),
        &[passing, failing_sum_odd()],
    );
    assert_eq!(
        text,
        format!(
            "{SUM_ODD}
Test: assert sum_odd([1, 2, 3, 4]) == 5
[line 1, call sum_odd] nums=[...]
[line 2, in sum_odd] nums=[...], s=0
[... 11 steps left out ...]
[line 6, in sum_odd] nums=[...], s=4, n=4, __return__=4
[test line 1] __exception__=A...)

Test: assert sum_odd(
          [1, 2, 3, 4]) == 4
[line 1, call sum_odd] nums=[...]
[line 2, in sum_odd] nums=[...], s=0
[... 10 steps left out ...]
[line 3, in sum_odd] nums=[...], s=4, n=4
[line 6, in sum_odd] nums=[...], s=4, n=4, __return__=4
"
        )
    );
}

#[test]
fn scratchpad_without_traces_is_the_program() {
    let program = Program::new("x = 1\r\n\r\n");
    assert_eq!(
        ScratchpadRenderer::default().render(&program, &[], &[]),
        "x = 1\n"
    );
    assert_eq!(
        ScratchpadRenderer::default().render(&Program::new(""), &[], &[]),
        "\n"
    );
}

const BLOCKS: &str = "\
[block 1] sum_odd, line 2
    # before: nums=[1, 2, 3, 4]
    s = 0
    # after: nums=[1, 2, 3, 4], s=0
[block 2] sum_odd, lines 3-5
    # before: nums=[1, 2, 3, 4], s=0
    for n in nums:
        if n % 2 == 1:
            s += n
    # after: nums=[1, 2, 3, 4], s=1, n=1
[block 3] sum_odd, lines 3-4
    # before: nums=[1, 2, 3, 4], s=1, n=1
    for n in nums:
        if n % 2 == 1:
    # after: nums=[1, 2, 3, 4], s=1, n=2
[block 4] sum_odd, lines 3-5
    # before: nums=[1, 2, 3, 4], s=1, n=2
    for n in nums:
        if n % 2 == 1:
            s += n
    # after: nums=[1, 2, 3, 4], s=4, n=3
[block 5] sum_odd, lines 3-4
    # before: nums=[1, 2, 3, 4], s=4, n=3
    for n in nums:
        if n % 2 == 1:
    # after: nums=[1, 2, 3, 4], s=4, n=4
[block 6] sum_odd, line 3
    # before: nums=[1, 2, 3, 4], s=4, n=4
    for n in nums:
    # after: nums=[1, 2, 3, 4], s=4, n=4
[block 7] sum_odd, line 6
    # before: nums=[1, 2, 3, 4], s=4, n=4
    return s
    # after: nums=[1, 2, 3, 4], s=4, n=4, __return__=4
";

#[test]
fn blocks_cut_the_failing_run_at_jumps_and_loop_headers() {
    let passing = sum_odd_events().trace(0, TraceStatus::Passed);
    let text = BlocksRenderer::default().render(
        &sum_odd(),
        &tests(&["assert sum_odd([1, 2, 3, 4]) == 4", SUM_ODD_TEST]),
        &[passing, failing_sum_odd().with_test(1)],
    );
    assert_eq!(
        text,
        format!("{SUM_ODD}\n{SUM_ODD_TEST}  # __exception__=AssertionError()\n\n{BLOCKS}")
    );
}

trait WithTest {
    fn with_test(self, test: usize) -> Self;
}

impl WithTest for Trace {
    fn with_test(mut self, test: usize) -> Self {
        self.test = test;
        self
    }
}

#[test]
fn blocks_elide_the_middle() {
    let renderer = BlocksRenderer::new(BlocksOptions {
        max_blocks: 3,
        ..BlocksOptions::default()
    })
    .unwrap();
    let text = renderer.render(&sum_odd(), &tests(&[SUM_ODD_TEST]), &[failing_sum_odd()]);
    let blocks: Vec<&str> = BLOCKS.split_inclusive("    # after: ").collect();
    assert!(text.contains("[block 1] sum_odd, line 2\n"));
    assert!(!text.contains("[block 2]"));
    assert!(!text.contains("[block 5]"));
    assert!(text.contains("[... 4 blocks left out ...]\n[block 6] sum_odd, line 3\n"));
    assert!(text.ends_with(
        "[block 7] sum_odd, line 6
    # before: nums=[1, 2, 3, 4], s=4, n=4
    return s
    # after: nums=[1, 2, 3, 4], s=4, n=4, __return__=4
"
    ));
    assert_eq!(blocks.len(), 8);
}

#[test]
fn blocks_follow_calls_into_helpers_and_their_exceptions() {
    let program = Program::new(
        "def average(xs):\n    n = len(xs)\n    return total(xs) / n\n\ndef total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
    );
    let mut rec = Recorder::new();
    rec.call(1, 1, "average", &[("xs", "[1, 'a']")]);
    rec.line(1, 2, &[("n", "2")]);
    rec.call(2, 5, "total", &[("xs", "[1, 'a']")]);
    rec.line(2, 6, &[("s", "0")]);
    rec.line(2, 7, &[("x", "1")]);
    rec.line(2, 8, &[("s", "1")]);
    rec.line(2, 7, &[("x", "'a'")]);
    rec.line(2, 8, &[]).raise(2, 8, "TypeError('bad +=')");
    rec.line(1, 3, &[]);
    rec.test_raise(1, "TypeError('bad +=')");
    let text = BlocksRenderer::default().render(
        &program,
        &tests(&["assert average([1, 'a']) == 1"]),
        &[rec.trace(0, TraceStatus::Failed)],
    );
    assert_eq!(
        text,
        format!(
            "{}
assert average([1, 'a']) == 1  # __exception__=TypeError('bad +=')

[block 1] average, line 2
    # before: xs=[1, 'a']
    n = len(xs)
    # after: xs=[1, 'a'], n=2
[block 2] total, line 6
    # before: xs=[1, 'a']
    s = 0
    # after: xs=[1, 'a'], s=0
[block 3] total, lines 7-8
    # before: xs=[1, 'a'], s=0
    for x in xs:
        s += x
    # after: xs=[1, 'a'], s=1, x=1
[block 4] total, lines 7-8
    # before: xs=[1, 'a'], s=1, x=1
    for x in xs:
        s += x
    # after: xs=[1, 'a'], s=1, x='a', __exception__=TypeError('bad +=')
[block 5] average, line 3
    # before: xs=[1, 'a'], n=2
    return total(xs) / n
    # after: xs=[1, 'a'], n=2
",
            program.source()
        )
    );
}

#[test]
fn blocks_show_a_timeout_and_whole_multi_line_statements() {
    let program = Program::new(
        "def spin(n):\n\n    total = (n +\n             1)\n    while True:\n        total += 1\n",
    );
    let mut rec = Recorder::new();
    rec.call(1, 1, "spin", &[]);
    rec.line(1, 3, &[("n", "1"), ("total", "2")]);
    rec.line(1, 5, &[]);
    rec.line(1, 6, &[("total", "3")]);
    rec.line(1, 5, &[]);
    rec.timeout(1, 6);
    let text = BlocksRenderer::default().render(
        &program,
        &tests(&["spin(1)"]),
        &[rec.trace(0, TraceStatus::TimedOut)],
    );
    assert_eq!(
        text,
        format!(
            "{}
spin(1)

[block 1] spin, lines 3-4
    # before: (no locals)
    total = (n +
             1)
    # after: n=1, total=2
[block 2] spin, lines 5-6
    # before: n=1, total=2
    while True:
        total += 1
    # after: n=1, total=3
[block 3] spin, lines 5-6
    # before: n=1, total=3
    while True:
        total += 1
    # after: n=1, total=3, __timeout__
",
            program.source()
        )
    );
}

#[test]
fn blocks_without_a_trace_are_the_program() {
    let program = Program::new("def f():\n    pass\n\n");
    assert_eq!(
        BlocksRenderer::default().render(&program, &tests(&["f()"]), &[]),
        "def f():\n    pass\n"
    );
}
