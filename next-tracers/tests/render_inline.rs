//! Golden tests of the `inline` renderer: the examples of `trace-format.md` byte for
//! byte, and the cases the format names (failing tests, recursion, an exception inside a
//! helper, a timeout) with traces written by hand as the event contract says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use next_core::render::TraceRenderer;
use next_core::task::Program;
use next_core::trace::TraceStatus;
use next_tracers::render::{InlineOptions, InlineRenderer};
use support::{sum_odd, sum_odd_events, tests, Recorder};

fn inline() -> InlineRenderer {
    InlineRenderer::default()
}

const WORKED: &str = "\
def sum_odd(nums):  # (0) nums=[1, 2, 3, 4];
    s = 0  # (1) s=0;
    for n in nums:  # (2) n=1; (4) n=2; ...; (7) n=4;
        if n % 2 == 1:
            s += n  # (3) s=1; (6) s=4;
    return s  # (8) __return__=4;

assert sum_odd([1, 2, 3, 4]) == 4
";

#[test]
fn the_worked_example_byte_for_byte() {
    let trace = sum_odd_events().trace(0, TraceStatus::Passed);
    let text = inline().render(
        &sum_odd(),
        &tests(&["assert sum_odd([1, 2, 3, 4]) == 4"]),
        &[trace],
    );
    assert_eq!(text, WORKED);
}

#[test]
fn the_worked_example_had_the_test_expected_5() {
    let trace = sum_odd_events()
        .test_raise(1, "AssertionError()")
        .trace(0, TraceStatus::Failed);
    let text = inline().render(
        &sum_odd(),
        &tests(&["assert sum_odd([1, 2, 3, 4]) == 5"]),
        &[trace],
    );
    let expected = WORKED.replace(
        "assert sum_odd([1, 2, 3, 4]) == 4\n",
        "assert sum_odd([1, 2, 3, 4]) == 5  # (9) __exception__=AssertionError();\n",
    );
    assert_eq!(text, expected);
}

const FIGURE_2_PROGRAM: &str = "\
def separate_odd_and_even(lst):
    odd_list = []
    even_list = []
    for n in lst:
        if n % 2 != 0:
            even_list.append(n)
        else:
            odd_list.append(n)
    return odd_list, even_list
";

const FIGURE_2: &str = "\
def separate_odd_and_even(lst):  # (0) lst=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    odd_list = []  # (1) odd_list=[];
    even_list = []  # (2) even_list=[];
    for n in lst:  # (3) n=1; (5) n=2; ...; (21) n=10;
        if n % 2 != 0:
            even_list.append(n)  # (4) even_list=[1]; (8) even_list=[1, 3]; ...; (20) even_list=[1, 3, 5, 7, 9];
        else:
            odd_list.append(n)  # (6) odd_list=[2]; (10) odd_list=[2, 4]; ...; (22) odd_list=[2, 4, 6, 8, 10];
    return odd_list, even_list  # (23) __return__=([2, 4, 6, 8, 10], [1, 3, 5, 7, 9]);

assert separate_odd_and_even([1,2,3,4,5,6,7,8,9,10]) == ([1,3,5,7,9], [2,4,6,8,10])  # (24) __exception__=AssertionError();
";

/// Python's `repr` of a list of integers.
fn repr(list: &[i32]) -> String {
    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

#[test]
fn figure_2_of_the_paper_under_the_spec_rules() {
    let mut rec = Recorder::new();
    rec.call(
        1,
        1,
        "separate_odd_and_even",
        &[("lst", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")],
    );
    rec.line(1, 2, &[("odd_list", "[]")]);
    rec.line(1, 3, &[("even_list", "[]")]);
    let (mut odd, mut even) = (Vec::new(), Vec::new());
    for n in 1..=10 {
        rec.line(1, 4, &[("n", &n.to_string())]);
        rec.line(1, 5, &[]);
        // `else:` reports no line event.
        if n % 2 != 0 {
            even.push(n);
            rec.line(1, 6, &[("even_list", &repr(&even))]);
        } else {
            odd.push(n);
            rec.line(1, 8, &[("odd_list", &repr(&odd))]);
        }
    }
    rec.line(1, 4, &[]);
    rec.line(1, 9, &[]);
    rec.ret(1, 9, &format!("({}, {})", repr(&odd), repr(&even)));
    rec.test_raise(1, "AssertionError()");
    let text = inline().render(
        &Program::new(FIGURE_2_PROGRAM),
        &tests(&[
            "assert separate_odd_and_even([1,2,3,4,5,6,7,8,9,10]) == ([1,3,5,7,9], [2,4,6,8,10])",
        ]),
        &[rec.trace(0, TraceStatus::Failed)],
    );
    assert_eq!(text, FIGURE_2);
}

const ADD: &str = "def add(a, b):\n    return a - b\n";

fn add_trace(test: usize, a: i32, b: i32, expected: i32) -> next_core::trace::Trace {
    let mut rec = Recorder::new();
    rec.call(1, 1, "add", &[("a", &a.to_string()), ("b", &b.to_string())]);
    rec.line(1, 2, &[]);
    rec.ret(1, 2, &(a - b).to_string());
    if a - b == expected {
        rec.trace(test, TraceStatus::Passed)
    } else {
        rec.test_raise(1, "AssertionError()");
        rec.trace(test, TraceStatus::Failed)
    }
}

#[test]
fn failing_tests_come_first_in_test_order() {
    let tests = tests(&[
        "assert add(1, 1) == 2",
        "assert add(2, 0) == 2",
        "assert add(0, 3) == 3",
    ]);
    let traces = [
        add_trace(0, 1, 1, 2),
        add_trace(1, 2, 0, 2),
        add_trace(2, 0, 3, 3),
    ];
    let text = inline().render(&Program::new(ADD), &tests, &traces);
    assert_eq!(
        text,
        "\
def add(a, b):  # (0) a=1, b=1;
    return a - b  # (1) __return__=0;

assert add(1, 1) == 2  # (2) __exception__=AssertionError();

def add(a, b):  # (0) a=0, b=3;
    return a - b  # (1) __return__=-3;

assert add(0, 3) == 3  # (2) __exception__=AssertionError();

def add(a, b):  # (0) a=2, b=0;
    return a - b  # (1) __return__=2;

assert add(2, 0) == 2
"
    );

    // One trace: the first failing test. Traces given in another order pick the same.
    let one = InlineRenderer::new(InlineOptions {
        max_traces: 1,
        ..InlineOptions::default()
    })
    .unwrap();
    let reversed = [traces[2].clone(), traces[1].clone(), traces[0].clone()];
    let text = one.render(&Program::new(ADD), &tests, &reversed);
    assert_eq!(
        text,
        "\
def add(a, b):  # (0) a=1, b=1;
    return a - b  # (1) __return__=0;

assert add(1, 1) == 2  # (2) __exception__=AssertionError();
"
    );
}

#[test]
fn recursion_numbers_every_frame_on_the_shared_lines() {
    let program = Program::new(
        "def fact(n):\n    if n == 0:\n        return 0\n    return n * fact(n - 1)\n",
    );
    let mut rec = Recorder::new();
    // Each frame's line 2 finishes before its line 4 calls the next frame, and line 4
    // finishes (and returns) after the frames it called.
    for (frame, n) in [(1, "3"), (2, "2"), (3, "1"), (4, "0")] {
        rec.call(frame, 1, "fact", &[("n", n)]);
        rec.line(frame, 2, &[]);
    }
    rec.line(4, 3, &[]).ret(4, 3, "0");
    for frame in [3, 2, 1] {
        rec.line(frame, 4, &[]).ret(frame, 4, "0");
    }
    rec.test_raise(1, "AssertionError()");
    let text = inline().render(
        &program,
        &tests(&["assert fact(3) == 6"]),
        &[rec.trace(0, TraceStatus::Failed)],
    );
    assert_eq!(
        text,
        "\
def fact(n):  # (0) n=3; (1) n=2; ...; (3) n=0;
    if n == 0:
        return 0  # (4) __return__=0;
    return n * fact(n - 1)  # (5) __return__=0; (6) __return__=0; (7) __return__=0;

assert fact(3) == 6  # (8) __exception__=AssertionError();
"
    );
}

#[test]
fn an_exception_inside_a_helper_is_written_where_it_was_raised() {
    let program = Program::new(
        "def average(xs):\n    n = len(xs)\n    return total(xs) / n\n\ndef total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
    );
    let error = "TypeError(\"unsupported operand type(s) for +=: 'int' and 'str'\")";
    let mut rec = Recorder::new();
    rec.call(1, 1, "average", &[("xs", "[1, 'a']")]);
    rec.line(1, 2, &[("n", "2")]);
    rec.call(2, 5, "total", &[("xs", "[1, 'a']")]);
    rec.line(2, 6, &[("s", "0")]);
    rec.line(2, 7, &[("x", "1")]);
    rec.line(2, 8, &[("s", "1")]);
    rec.line(2, 7, &[("x", "'a'")]);
    rec.line(2, 8, &[]).raise(2, 8, error);
    // The caller's line is finished by the exception passing through: no second
    // `Exception` there.
    rec.line(1, 3, &[]);
    rec.test_raise(1, error);
    let text = inline().render(
        &program,
        &tests(&["assert average([1, 'a']) == 1"]),
        &[rec.trace(0, TraceStatus::Failed)],
    );
    // 64 characters: cut to 60, the first 28 and the last 29 around `...`.
    let cut = "TypeError(\"unsupported opera...(s) for +=: 'int' and 'str'\")";
    assert_eq!(cut.chars().count(), 60);
    assert_eq!(
        text,
        format!(
            "\
def average(xs):  # (0) xs=[1, 'a'];
    n = len(xs)  # (1) n=2;
    return total(xs) / n

def total(xs):  # (2) xs=[1, 'a'];
    s = 0  # (3) s=0;
    for x in xs:  # (4) x=1; (6) x='a';
        s += x  # (5) s=1; (7) __exception__={cut};
    return s

assert average([1, 'a']) == 1  # (8) __exception__={cut};
"
        )
    );
}

#[test]
fn a_timeout_is_written_on_the_line_that_was_running() {
    let program =
        Program::new("def count_down(n):\n    while n != 0:\n        n -= 2\n    return n\n");
    let mut rec = Recorder::new();
    rec.call(1, 1, "count_down", &[("n", "3")]);
    for n in ["1", "-1", "-3", "-5"] {
        rec.line(1, 2, &[]);
        rec.line(1, 3, &[("n", n)]);
    }
    rec.timeout(1, 2);
    let text = inline().render(
        &program,
        &tests(&["assert count_down(3) == 0"]),
        &[rec.trace(0, TraceStatus::TimedOut)],
    );
    assert_eq!(
        text,
        "\
def count_down(n):  # (0) n=3;
    while n != 0:  # (5) __timeout__;
        n -= 2  # (1) n=1; (2) n=-1; ...; (4) n=-5;
    return n

assert count_down(3) == 0
"
    );
}

#[test]
fn a_line_that_assigns_and_returns_is_one_step_state_first() {
    let program = Program::new("def f(a):\n    b = a + 1; return b\n");
    let mut rec = Recorder::new();
    rec.call(1, 1, "f", &[("a", "1")]);
    rec.line(1, 2, &[("b", "2")]).ret(1, 2, "2");
    let text = inline().render(
        &program,
        &tests(&["assert f(1) == 2"]),
        &[rec.trace(0, TraceStatus::Passed)],
    );
    assert_eq!(
        text,
        "def f(a):  # (0) a=1;\n    b = a + 1; return b  # (1) b=2, __return__=2;\n\nassert f(1) == 2\n"
    );
}

#[test]
fn layout_choices_comments_line_endings_tabs_and_multi_line_tests() {
    // MBPP's `\r\n`, a tab, a comment already on a line, trailing blank lines, and a
    // test statement over two lines whose exception Python reports on its first line.
    let program = Program::new("def f(x):\r\n\ty = x * 2  # double\r\n\treturn y\r\n\r\n\r\n");
    let mut rec = Recorder::new();
    rec.call(1, 1, "f", &[("x", "'a\nb'")]);
    rec.line(1, 2, &[("y", "'a\nba\nb'")]);
    rec.line(1, 3, &[]).ret(1, 3, "'a\nba\nb'");
    rec.test_raise(1, "AssertionError()");
    let text = inline().render(
        &program,
        &tests(&["assert f('a\\nb') == (\n    'ab')\n\n"]),
        &[rec.trace(0, TraceStatus::Failed)],
    );
    assert_eq!(
        text,
        "\
def f(x):  # (0) x='a\\nb';
\ty = x * 2  # double  # (1) y='a\\nba\\nb';
\treturn y  # (2) __return__='a\\nba\\nb';

assert f('a\\nb') == (  # (3) __exception__=AssertionError();
    'ab')
"
    );
}

#[test]
fn options_cut_values_and_elide_states() {
    let renderer = InlineRenderer::new(InlineOptions {
        max_states_per_line: 2,
        max_value_chars: 7,
        max_traces: 1,
    })
    .unwrap();
    let trace = sum_odd_events().trace(0, TraceStatus::Passed);
    let text = renderer.render(
        &sum_odd(),
        &tests(&["assert sum_odd([1, 2, 3, 4]) == 4"]),
        &[trace],
    );
    assert_eq!(
        text,
        "\
def sum_odd(nums):  # (0) nums=[1...4];
    s = 0  # (1) s=0;
    for n in nums:  # (2) n=1; ...; (7) n=4;
        if n % 2 == 1:
            s += n  # (3) s=1; (6) s=4;
    return s  # (8) __return__=4;

assert sum_odd([1, 2, 3, 4]) == 4
"
    );
}

#[test]
fn options_have_the_spec_defaults_and_minimums() {
    assert_eq!(
        InlineOptions::default(),
        InlineOptions {
            max_states_per_line: 3,
            max_value_chars: 60,
            max_traces: 3
        }
    );
    let parsed: InlineOptions = toml::from_str("max_traces = 1").unwrap();
    assert_eq!(parsed.max_traces, 1);
    assert_eq!(parsed.max_value_chars, 60);
    assert!(toml::from_str::<InlineOptions>("max_trace = 1").is_err());
    for bad in [
        InlineOptions {
            max_states_per_line: 1,
            ..InlineOptions::default()
        },
        InlineOptions {
            max_value_chars: 4,
            ..InlineOptions::default()
        },
        InlineOptions {
            max_traces: 0,
            ..InlineOptions::default()
        },
    ] {
        let err = InlineRenderer::new(bad).unwrap_err();
        assert!(err.message().contains("must be at least"), "{err}");
    }
}

#[test]
fn malformed_traces_render_without_panicking() {
    let program = Program::new("def f(x):\n    return x\n\n");
    let tests = tests(&["assert f(1) == 1"]);
    // No trace, a trace of a test that was not given: the program alone.
    assert_eq!(
        inline().render(&program, &tests, &[]),
        "def f(x):\n    return x\n"
    );
    let stray = Recorder::new().trace(5, TraceStatus::Failed);
    assert_eq!(
        inline().render(&program, &tests, &[stray]),
        "def f(x):\n    return x\n"
    );
    // Events beyond the program, on its trailing blank line, at line 0 or beyond the test
    // statement are left out and take no number; a call without arguments takes none.
    let mut rec = Recorder::new();
    rec.call(1, 1, "f", &[]);
    rec.line(1, 3, &[("y", "1")]);
    rec.line(1, 0, &[("y", "1")]);
    rec.line(1, 99, &[("y", "1")]);
    rec.line(1, 2, &[]).ret(1, 2, "1");
    rec.test_raise(2, "AssertionError()");
    let text = inline().render(&program, &tests, &[rec.trace(0, TraceStatus::Failed)]);
    assert_eq!(
        text,
        "def f(x):\n    return x  # (0) __return__=1;\n\nassert f(1) == 1\n"
    );
    // An empty trace is the program and the bare test.
    let empty = Recorder::new().trace(0, TraceStatus::Crashed);
    assert_eq!(
        inline().render(&program, &tests, &[empty]),
        "def f(x):\n    return x\n\nassert f(1) == 1\n"
    );
}
