//! The `inline` renderer on the rules `trace-format.md` tightened: a change is decided on
//! the cut text, generators render `__yield__`, a process that ended renders
//! `__exit__=...`, and a run stopped at the time limit says so even where the tracer
//! could not record where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use next_core::render::TraceRenderer;
use next_core::task::Program;
use next_core::trace::TraceStatus;
use next_tracers::render::InlineRenderer;
use support::{tests, Recorder};

fn render(program: &str, test: &str, trace: &next_core::trace::Trace) -> String {
    InlineRenderer::default().render(
        &Program::new(program),
        &tests(&[test]),
        std::slice::from_ref(trace),
    )
}

/// `xs[20] = -1` changes the long list only in the middle that the 60-character cut
/// hides: the renderer shows no second `xs=` step, and the numbers after it do not
/// move.
#[test]
fn a_change_the_cut_text_does_not_show_is_no_step() {
    let program = "def f():\n    xs = list(range(40))\n    xs[20] = -1\n    y = 1\n    return y\n";
    let full: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let before = format!("[{}]", full.join(", "));
    let mut changed = full.clone();
    changed[20] = "-1".to_owned();
    let after = format!("[{}]", changed.join(", "));
    let trace = Recorder::new()
        .call(1, 1, "f", &[])
        .line(1, 2, &[("xs", &before)])
        .line(1, 3, &[("xs", &after)])
        .line(1, 4, &[("y", "1")])
        .line(1, 5, &[])
        .ret(1, 5, "1")
        .trace(0, TraceStatus::Passed);
    let text = render(program, "assert f() == 1", &trace);
    assert!(text.contains("    xs[20] = -1\n"), "{text}");
    assert!(text.contains("    y = 1  # (1) y=1;\n"), "{text}");
    assert!(
        text.contains("    return y  # (2) __return__=1;\n"),
        "{text}"
    );
}

/// A value that shows differently after the cut is still a new step.
#[test]
fn a_change_the_cut_text_shows_is_a_step() {
    let program = "def f():\n    xs = list(range(40))\n    xs[0] = -1\n    return 0\n";
    let full: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let before = format!("[{}]", full.join(", "));
    let after = before.replacen("[0,", "[-1,", 1);
    let trace = Recorder::new()
        .call(1, 1, "f", &[])
        .line(1, 2, &[("xs", &before)])
        .line(1, 3, &[("xs", &after)])
        .line(1, 4, &[])
        .ret(1, 4, "0")
        .trace(0, TraceStatus::Passed);
    let text = render(program, "assert f() == 0", &trace);
    assert!(text.contains("    xs[0] = -1  # (1) xs=[-1, "), "{text}");
    assert!(text.contains("# (2) __return__=0;"), "{text}");
}

#[test]
fn a_generator_renders_its_yields_in_execution_order() {
    let program = "def gen(n):\n    for i in range(n):\n        yield i\n\ndef f():\n    g = gen(2)\n    a = next(g)\n    return a\n";
    let trace = Recorder::new()
        .call(1, 5, "f", &[])
        .line(1, 6, &[("g", "<generator object gen>")])
        .call(2, 1, "gen", &[("n", "2")])
        .line(2, 2, &[("i", "0")])
        .line(2, 3, &[])
        .yielded(2, 3, "0")
        .line(1, 7, &[("a", "0")])
        .line(1, 8, &[])
        .ret(1, 8, "0")
        .trace(0, TraceStatus::Passed);
    let text = render(program, "assert f() == 0", &trace);
    let expected = "\
def gen(n):  # (1) n=2;
    for i in range(n):  # (2) i=0;
        yield i  # (3) __yield__=0;

def f():
    g = gen(2)  # (0) g=<generator object gen>;
    a = next(g)  # (4) a=0;
    return a  # (5) __return__=0;

assert f() == 0
";
    assert_eq!(text, expected);
}

#[test]
fn a_process_that_ended_renders_its_exit() {
    let program = "import os\n\ndef f():\n    os._exit(3)\n";
    let trace = Recorder::new()
        .call(1, 3, "f", &[])
        .exit(1, 4, "3")
        .trace(0, TraceStatus::Crashed);
    let text = render(program, "assert f() is None", &trace);
    assert!(
        text.contains("    os._exit(3)  # (0) __exit__=3;\n"),
        "{text}"
    );
    let killed = Recorder::new()
        .exit(0, 1, "SIGKILL")
        .trace(0, TraceStatus::Crashed);
    let text = render(program, "assert f() is None", &killed);
    assert!(
        text.ends_with("assert f() is None  # (0) __exit__=SIGKILL;\n"),
        "{text}"
    );
}

/// A module-level loop stopped by the sandbox left no event at all: the test line still
/// says that the run timed out, rather than showing a clean program.
#[test]
fn a_timed_out_run_without_a_marker_says_so_on_the_test_line() {
    let program = "while True:\n    pass\n\ndef f():\n    return 1\n";
    let trace = Recorder::new().trace(0, TraceStatus::TimedOut);
    let text = render(program, "assert f() == 1", &trace);
    assert!(
        text.ends_with("assert f() == 1  # (0) __timeout__;\n"),
        "{text}"
    );
    let marked = Recorder::new()
        .call(1, 4, "f", &[])
        .timeout(1, 5)
        .trace(0, TraceStatus::TimedOut);
    let text = render(program, "assert f() == 1", &marked);
    assert_eq!(text.matches("__timeout__").count(), 1, "{text}");
}
