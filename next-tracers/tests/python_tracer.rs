//! The Python tracer against real CPython (3.8 to 3.13, both engines where there are
//! two), in the process sandbox: the event contract of `next_core::trace` on the spec's
//! examples, and a trace (never an error) for every kind of bad program.
//!
//! Interpreters: `NEXT_TEST_PYTHONS` (paths separated by `:`), or every CPython 3.8 to
//! 3.13 found under `/root/.pyenv/versions`; with the feature `wasm`, also the WASI
//! build of 3.12 in the WASM sandbox. There the tests of a job share one process (no
//! `fork`), so where a test's outcome depends on that the WASI expectation is stated
//! apart (`python.wasi`): a test that ends the process, loops in C code or exhausts the
//! build's 512 KiB C stack ends the job, and the tests after it are not reached.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{
    compact, for_each_engine, one_python, passes_untraced, python_tracer, quick, trace, Python,
};
use next_core::trace::{EventKind, Location, TraceStatus};
use next_tracers::python::{Engine, TracerOptions};

const SUM_ODD: &str = "\
def sum_odd(nums):
    s = 0
    for n in nums:
        if n % 2 == 1:
            s += n
    return s
";

/// The worked example of `trace-format.md`: exactly the event sequence of the contract.
#[test]
fn sum_odd_gives_the_contract_sequence() {
    let expected_pass = [
        "1 call sum_odd@1 nums=[1, 2, 3, 4]",
        "1 line @2 s=0",
        "1 line @3 n=1",
        "1 line @4",
        "1 line @5 s=1",
        "1 line @3 n=2",
        "1 line @4",
        "1 line @3 n=3",
        "1 line @4",
        "1 line @5 s=4",
        "1 line @3 n=4",
        "1 line @4",
        "1 line @3",
        "1 line @6",
        "1 return @6 4",
    ];
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let traces = trace(
            &tr,
            SUM_ODD,
            &[
                "assert sum_odd([1, 2, 3, 4]) == 4",
                "assert sum_odd([1, 2, 3, 4]) == 5",
            ],
        );
        assert_eq!(traces[0].status, TraceStatus::Passed);
        assert_eq!(compact(&traces[0]), expected_pass);
        assert!(!traces[0].truncated && !traces[0].incomplete);
        assert_eq!(traces[1].status, TraceStatus::Failed);
        let mut expected_fail: Vec<String> =
            expected_pass.iter().map(|s| (*s).to_owned()).collect();
        expected_fail.push("0 exception @t1 AssertionError()".to_owned());
        assert_eq!(compact(&traces[1]), expected_fail);
    });
}

/// The paper's Figure 2: the steps the spec numbers (0) to (24).
#[test]
fn figure_2_separate_odd_and_even() {
    let program = "\
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
    let test =
        "assert separate_odd_and_even([1,2,3,4,5,6,7,8,9,10]) == ([1,3,5,7,9], [2,4,6,8,10])";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &[test],
        );
        let trace = &traces[0];
        assert_eq!(trace.status, TraceStatus::Failed);
        // Steps as the inline renderer numbers them: events that show something.
        let steps: Vec<String> = compact(trace)
            .into_iter()
            .filter(|e| !(e.contains(" line ") && e.split_whitespace().count() == 3))
            .collect();
        assert_eq!(steps.len(), 25, "{steps:#?}");
        assert_eq!(
            steps[0],
            "1 call separate_odd_and_even@1 lst=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"
        );
        assert_eq!(steps[3], "1 line @4 n=1");
        assert_eq!(steps[4], "1 line @6 even_list=[1]");
        assert_eq!(steps[21], "1 line @4 n=10");
        assert_eq!(steps[22], "1 line @8 odd_list=[2, 4, 6, 8, 10]");
        assert_eq!(steps[23], "1 return @9 ([2, 4, 6, 8, 10], [1, 3, 5, 7, 9])");
        assert_eq!(steps[24], "0 exception @t1 AssertionError()");
    });
}

#[test]
fn recursion_gets_a_frame_per_call() {
    let program = "\
def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)
";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["assert fact(3) == 6"],
        );
        assert_eq!(
            compact(&traces[0]),
            [
                "1 call fact@1 n=3",
                "1 line @2",
                "2 call fact@1 n=2",
                "2 line @2",
                "3 call fact@1 n=1",
                "3 line @2",
                "3 line @3",
                "3 return @3 1",
                "2 line @4",
                "2 return @4 2",
                "1 line @4",
                "1 return @4 6",
            ]
        );
    });
}

#[test]
fn an_exception_is_recorded_once_where_raised_and_at_the_test() {
    let program = "\
def check(x):
    if x < 0:
        raise ValueError('negative: %d' % x)
    return x

def total(xs):
    t = 0
    for x in xs:
        t += check(x)
    return t
";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["assert total([1, -2]) == 1"],
        );
        let events = compact(&traces[0]);
        assert_eq!(traces[0].status, TraceStatus::Failed);
        assert_eq!(
            events[events.len() - 6..],
            [
                "3 call check@1 x=-2",
                "3 line @2",
                "3 line @3",
                "3 exception @3 ValueError('negative: -2')",
                "1 line @9",
                "0 exception @t1 ValueError('negative: -2')",
            ]
        );
        // No return for frames left by the exception.
        assert!(!events
            .iter()
            .any(|e| e.starts_with("3 return") || e.starts_with("1 return")));
    });
}

#[test]
fn generators_comprehensions_nested_functions_and_lambdas() {
    let program = "\
def gen(n):
    i = 0
    while i < n:
        x = yield i
        i += 1

def use():
    doubled = [v * 2 for v in gen(3)]
    total = sum(y for y in doubled)
    inc = lambda z: z + 1
    def inner(a, *args, k=1, **kw):
        return a + k
    return inner(inc(total), 5, k=2, extra=3)
";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["assert use() == 9"],
        );
        let trace = &traces[0];
        assert_eq!(trace.status, TraceStatus::Passed);
        let events = compact(trace);
        let calls: Vec<&String> = events.iter().filter(|e| e.contains(" call ")).collect();
        // One call per activation: the generator resumes without a new call.
        let gen_calls = calls.iter().filter(|c| c.contains("call gen@1")).count();
        assert_eq!(gen_calls, 1, "{events:#?}");
        assert!(
            calls.iter().any(|c| c.ends_with("call <genexpr>@9")),
            "{calls:?}"
        );
        assert!(
            calls.iter().any(|c| c.ends_with("call <lambda>@10 z=6")),
            "{calls:?}"
        );
        assert!(
            calls
                .iter()
                .any(|c| c.ends_with("call inner@11 a=7 args=(5,) k=2 kw={'extra': 3}")),
            "{calls:?}"
        );
        // Before 3.12 a list comprehension is a frame of its own (without its `.0`).
        if python.version < (3, 12) {
            assert!(
                calls.iter().any(|c| c.ends_with("call <listcomp>@8")),
                "{calls:?}"
            );
        }
        // The generator's state shows as it runs; `x` gets None when resumed.
        assert!(
            events.iter().any(|e| e.ends_with("line @4 x=None")),
            "{events:#?}"
        );
        assert!(
            events.iter().any(|e| e.ends_with("line @5 i=3")),
            "{events:#?}"
        );
        assert!(
            events.iter().any(|e| e.ends_with("return @13 9")),
            "{events:#?}"
        );
        // Functions are not shown among the locals.
        assert!(
            !events
                .iter()
                .any(|e| e.contains("inner=") || e.contains("inc=")),
            "{events:#?}"
        );
    });
}

#[test]
fn syntax_errors_crash_every_test_at_their_line() {
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            "x = 1\ndef f(:\n    pass\n",
            &["assert f()", "assert True"],
        );
        for trace in &traces {
            assert_eq!(trace.status, TraceStatus::Crashed);
            assert_eq!(trace.events.len(), 1);
            assert_eq!(trace.events[0].location, Location::Program(2));
            assert!(
                matches!(&trace.events[0].kind, EventKind::Exception { value } if value.starts_with("SyntaxError(")),
                "{:?}",
                trace.events
            );
        }
    });
}

/// A test that does not compile fails alone, with its `SyntaxError` at its line; the
/// tests around it run (they are compiled ahead, all in the job's process).
#[test]
fn a_test_that_does_not_compile_fails_alone() {
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            "def f():\n    return 1\n",
            &["assert f() == 1", "x = 1\nassert f(", "assert f() == 2"],
        );
        let statuses: Vec<_> = traces.iter().map(|t| t.status).collect();
        assert_eq!(
            statuses,
            [
                TraceStatus::Passed,
                TraceStatus::Failed,
                TraceStatus::Failed
            ],
            "{python:?} {engine}"
        );
        let broken = &traces[1].events;
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(broken[0].location, Location::Test(2));
        assert!(
            matches!(&broken[0].kind, EventKind::Exception { value } if value.starts_with("SyntaxError(")),
            "{broken:?}"
        );
        assert!(
            matches!(&traces[2].events.last().unwrap().kind, EventKind::Exception { value } if value.starts_with("AssertionError")),
            "{:?}",
            traces[2].events
        );
    });
}

#[test]
fn a_module_level_error_crashes_every_test_at_its_line() {
    let python = one_python();
    let traces = trace(
        &python_tracer(&python, Engine::Auto, &TracerOptions::default()),
        "print('hi')\nx = undefined_name\n",
        &["assert x"],
    );
    assert_eq!(traces[0].status, TraceStatus::Crashed);
    assert_eq!(traces[0].stdout, "hi\n");
    assert_eq!(
        compact(&traces[0]),
        ["0 exception @2 NameError(\"name 'undefined_name' is not defined\")"]
    );
}

/// The last test runs in the job's own process: when it ends that process, or loops,
/// the trace says so as for a forked test (only the lines not yet written out, at most
/// 64, can be lost to an exit).
#[test]
fn the_last_test_ends_the_same_way_in_process() {
    let program = "\
import os

def vanish():
    y = 4
    os._exit(y)

def spin():
    x = 0
    while True:
        x += 1
";
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &quick());
        let traces = trace(&tr, program, &["assert True", "vanish()"]);
        assert_eq!(traces[0].status, TraceStatus::Passed);
        assert_eq!(traces[1].status, TraceStatus::Crashed);
        if python.wasi {
            assert!(traces[1].incomplete);
        } else {
            // Its process ended: every step it took, then where, with the status.
            let steps = compact(&traces[1]);
            assert!(steps.contains(&"1 line @4 y=4".to_owned()), "{steps:?}");
            assert_eq!(steps.last().map(String::as_str), Some("1 exit @5 4"));
        }
        let traces = trace(&tr, program, &["assert True", "spin()"]);
        assert_eq!(traces[1].status, TraceStatus::TimedOut);
        assert!(traces[1].truncated);
        assert!(matches!(
            traces[1].events.last().map(|e| &e.kind),
            Some(EventKind::Timeout)
        ));
        // The tracer is still usable: the next task runs normally (with fork, a test
        // that ends its process is alone in it and loses nothing).
        let traces = trace(&tr, program, &["vanish()", "assert 1 + 1 == 2"]);
        assert_eq!(traces[0].status, TraceStatus::Crashed);
        if !python.wasi {
            assert!(compact(&traces[0]).contains(&"1 line @4 y=4".to_owned()));
            assert_eq!(traces[1].status, TraceStatus::Passed);
        }
    });
}

#[test]
fn an_infinite_loop_times_out_and_the_next_test_still_runs() {
    let program = "\
def spin():
    x = 0
    while True:
        x += 1

def stuck():
    return sum(range(10 ** 12))
";
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &quick());
        let traces = trace(&tr, program, &["spin()", "stuck()", "assert 1 + 1 == 2"]);
        // In traced code the child stops itself where it was (after recording stopped at
        // the event limit, the parent kills it); in C code the parent kills it.
        assert_eq!(traces[0].status, TraceStatus::TimedOut);
        assert!(traces[0].truncated);
        assert!(matches!(
            traces[0].events.last().map(|e| &e.kind),
            Some(EventKind::Timeout)
        ));
        assert_eq!(traces[1].status, TraceStatus::TimedOut);
        if python.wasi {
            // A loop in C code is stopped by the sandbox's limit, which ends the job; the
            // next test runs in a new one.
            assert_eq!(traces[2].status, TraceStatus::Passed);
            return;
        }
        let last = compact(&traces[1]).pop().unwrap_or_default();
        assert_eq!(last, "1 timeout @7");
        assert_eq!(traces[2].status, TraceStatus::Passed);
    });
}

#[test]
fn deep_recursion_fails_without_crashing() {
    let program = "def down(n):\n    return down(n + 1)\n";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["down(0)", "assert True"],
        );
        assert_eq!(traces[0].status, TraceStatus::Failed);
        let last = traces[0].events.last().map(|e| (&e.kind, e.location));
        assert!(
            matches!(last, Some((EventKind::Exception { value }, Location::Test(1))) if value.starts_with("RecursionError(")),
            "{last:?}"
        );
        assert_eq!(traces[1].status, TraceStatus::Passed);
    });
}

#[test]
fn a_caught_recursion_error_leaves_the_program_unchanged() {
    let program = "\
def depth(n):
    try:
        return depth(n + 1)
    except RecursionError:
        return n

def deep_enough():
    return depth(0) > 100
";
    let test = "assert deep_enough()";
    for_each_engine(|python, engine| {
        assert!(passes_untraced(python, program, test));
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &[test, test],
        );
        for trace in &traces {
            assert_eq!(
                trace.status,
                TraceStatus::Passed,
                "{:?}",
                trace.events.last()
            );
            // sys.settrace is removed by CPython at the recursion limit; the trace says so.
            if engine == Engine::Settrace {
                assert!(trace.incomplete);
            }
        }
    });
}

#[test]
fn exits_are_traces_too() {
    let program = "\
import os, sys

def leave(code):
    x = code
    sys.exit(x)

def vanish():
    y = 4
    os._exit(y)
";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["leave(3)", "vanish()", "assert True"],
        );
        assert_eq!(traces[0].status, TraceStatus::Failed);
        assert_eq!(
            compact(&traces[0]).last().map(String::as_str),
            Some("0 exception @t1 SystemExit(3)")
        );
        assert_eq!(traces[1].status, TraceStatus::Crashed);
        if python.wasi {
            // `os._exit` ends the one process: the next test runs in a new job.
            assert_eq!(traces[2].status, TraceStatus::Passed);
            return;
        }
        assert!(
            compact(&traces[1]).contains(&"1 line @8 y=4".to_owned()),
            "{:?}",
            compact(&traces[1])
        );
        assert_eq!(traces[2].status, TraceStatus::Passed);
    });
}

/// A list changed in place is rendered as its `repr` after every line, whatever took
/// the place of an element: an equal number of another type, `-0.0`, an equal int that
/// is another object, a tuple, an object with a `repr` of its own, a long int.
#[test]
fn a_list_changed_in_place_renders_as_its_repr_after_each_line() {
    let program = "\
class Box:
    def __repr__(self):
        return '<box>'

def mutate(n):
    xs = [1, 2, n]
    xs[0] = 1.0
    xs[1] = True
    xs[2] = n + 0
    xs[2] = -0.0
    xs[0] = (1, 'a')
    xs[1] = Box()
    xs[1] = 10 ** 40
    xs[2], xs[0] = xs[0], xs[2]
    return len(xs)
";
    let want = [
        "1 call mutate@5 n=1000",
        "1 line @6 xs=[1, 2, 1000]",
        "1 line @7 xs=[1.0, 2, 1000]",
        "1 line @8 xs=[1.0, True, 1000]",
        "1 line @9",
        "1 line @10 xs=[1.0, True, -0.0]",
        "1 line @11 xs=[(1, 'a'), True, -0.0]",
        "1 line @12 xs=[(1, 'a'), <box>, -0.0]",
        "1 line @13 xs=[(1, 'a'), 10000000000000000000000000000000000000000, -0.0]",
        "1 line @14 xs=[-0.0, 10000000000000000000000000000000000000000, (1, 'a')]",
        "1 line @15",
        "1 return @15 3",
    ];
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let traces = trace(&tr, program, &["assert mutate(1000) == 3"]);
        assert_eq!(traces[0].status, TraceStatus::Passed);
        assert_eq!(compact(&traces[0]), want);
    });
}

#[test]
fn bad_reprs_and_huge_values_are_rendered_safely() {
    let program = "\
class Raises:
    def __repr__(self):
        raise RuntimeError('no')

class Recurses:
    def __repr__(self):
        return repr(self)

class Plain:
    pass

def f():
    a = Raises()
    b = Recurses()
    c = Plain()
    n = 10 ** 5000
    s = 'x' * 1000000
    l = [a, b, list(range(100000))]
    l.append(l)
    return len(l)
";
    for_each_engine(|python, engine| {
        let options = TracerOptions {
            max_value_chars: 61,
            ..TracerOptions::default()
        };
        let traces = trace(
            &python_tracer(python, engine, &options),
            program,
            &["assert f() == 4"],
        );
        if python.wasi {
            // Rendering `Recurses` recurses through C frames: the build's 512 KiB C
            // stack runs out before the recursion limit, and the job crashes.
            assert_eq!(traces[0].status, TraceStatus::Crashed);
            return;
        }
        assert_eq!(traces[0].status, TraceStatus::Passed);
        let events = compact(&traces[0]);
        // Cut at 61 characters: the first 29 and the last 29 of the full repr.
        let want = [
            "1 line @13 a=<Raises repr failed>",
            "1 line @14 b=<Recurses repr failed>",
            "1 line @15 c=<__main__.Plain object>",
            "1 line @16 n=10000000000000000000000000000...00000000000000000000000000000",
            "1 line @17 s='xxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxx'",
            "1 line @18 l=[<Raises repr failed>, <Recur... 99996, 99997, 99998, 99999]]",
            "1 line @19 l=[<Raises repr failed>, <Recur... 99997, 99998, 99999], [...]]",
        ];
        for line in want {
            assert!(
                events.iter().any(|e| e == line),
                "{line} not in {events:#?}"
            );
        }
        assert!(!traces[0].incomplete);
    });
}

#[test]
fn a_long_list_that_starts_with_a_huge_int_keeps_its_trace_whole() {
    // Too long a list to render whole, whose first element has no `repr` (3.11+ refuses
    // 5001 digits): walked from both ends, and not memoized by its ends.
    let program = "def f():
    xs = [10 ** 5000] + list(range(400))
    xs[-1] = -1
    return len(xs)
";
    for_each_engine(|python, engine| {
        let options = TracerOptions {
            max_value_chars: 61,
            ..TracerOptions::default()
        };
        let traces = trace(
            &python_tracer(python, engine, &options),
            program,
            &["assert f() == 401"],
        );
        assert_eq!(traces[0].status, TraceStatus::Passed);
        assert!(!traces[0].incomplete, "{:#?}", compact(&traces[0]));
        assert_eq!(
            compact(&traces[0]),
            [
                "1 call f@1",
                "1 line @2 xs=[1000000000000000000000000000...394, 395, 396, 397, 398, 399]",
                "1 line @3 xs=[1000000000000000000000000000... 394, 395, 396, 397, 398, -1]",
                "1 line @4",
                "1 return @4 401",
            ]
        );
    });
}

#[test]
fn program_output_is_captured_apart_and_cannot_forge_events() {
    let program = "\
import os, sys

def talk():
    print('hello')
    print('@@next-trace-0000000000000000@@[\"l\",1,1,[]]')
    sys.stdout.flush()
    os.write(1, b'raw \\xff\\xfe bytes\\n')
    print('oops', file=sys.stderr)
    return 1

print('module level')
";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["assert talk() == 1"],
        );
        let trace = &traces[0];
        assert_eq!(trace.status, TraceStatus::Passed);
        // Without `dup` (WASI) fd 1 is the event channel itself: what the program writes
        // there is not captured, and, without the nonce, not taken for an event.
        let raw = if python.wasi {
            ""
        } else {
            "raw \u{fffd}\u{fffd} bytes\n"
        };
        assert_eq!(
            trace.stdout,
            format!("module level\nhello\n@@next-trace-0000000000000000@@[\"l\",1,1,[]]\n{raw}")
        );
        assert_eq!(trace.stderr, "oops\n");
        assert_eq!(compact(trace).len(), 8, "{:#?}", compact(trace));
    });
}

#[test]
fn reading_stdin_finds_end_of_file() {
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            "def ask():\n    return input()\n",
            &["ask()"],
        );
        assert_eq!(traces[0].status, TraceStatus::Failed);
        assert_eq!(
            compact(&traces[0]).last().map(String::as_str),
            Some("0 exception @t1 EOFError('EOF when reading a line')")
        );
    });
}

#[test]
fn a_program_that_removes_the_tracer_gives_an_incomplete_trace() {
    let program = "\
import sys

def g(x):
    return x + 1

def f():
    a = g(1)
    sys.settrace(None)
    b = g(2)
    return a + b
";
    for_each_engine(|python, engine| {
        let traces = trace(
            &python_tracer(python, engine, &TracerOptions::default()),
            program,
            &["assert f() == 5"],
        );
        let trace = &traces[0];
        assert_eq!(trace.status, TraceStatus::Passed);
        if engine == Engine::Monitoring {
            // sys.monitoring does not care: the trace is whole.
            assert!(!trace.incomplete);
            assert_eq!(
                compact(trace).last().map(String::as_str),
                Some("1 return @10 5")
            );
        } else {
            assert!(trace.incomplete);
            assert!(!compact(trace).iter().any(|e| e.contains("return @10")));
        }
    });
}

#[test]
fn the_event_limit_truncates_and_the_program_runs_on() {
    let program = "\
def count(n):
    t = 0
    for i in range(n):
        t += i
    return t
";
    for_each_engine(|python, engine| {
        // Without fork the tracer stays installed after the limit, to check the time
        // limit: slower in the WASI build, which is given more time.
        let time_limit = if python.wasi {
            Duration::from_secs(60)
        } else {
            TracerOptions::default().time_limit
        };
        let options = TracerOptions {
            max_events: 50,
            time_limit,
            ..TracerOptions::default()
        };
        let traces = trace(
            &python_tracer(python, engine, &options),
            program,
            &[
                "assert count(100000) == 4999950000",
                "assert count(100000) == 1",
            ],
        );
        for trace in &traces {
            assert!(trace.truncated);
            assert_eq!(
                trace
                    .events
                    .iter()
                    .filter(|e| e.kind == EventKind::Timeout)
                    .count(),
                1
            );
        }
        assert_eq!(traces[0].status, TraceStatus::Passed);
        assert_eq!(traces[0].events.len(), 51);
        assert_eq!(traces[1].status, TraceStatus::Failed);
        assert_eq!(
            compact(&traces[1]).last().map(String::as_str),
            Some("0 exception @t1 AssertionError()")
        );
    });
}

#[test]
fn without_isolation_tests_run_in_one_process() {
    // The path taken where there is no fork (WASI): the same events, state shared.
    let program = "\
seen = []

def remember(x):
    seen.append(x)
    return len(seen)

def spin():
    while True:
        pass
";
    for_each_engine(|python, engine| {
        let shared = TracerOptions {
            isolate: false,
            time_limit: Duration::from_millis(800),
            ..TracerOptions::default()
        };
        let traces = trace(
            &python_tracer(python, engine, &shared),
            program,
            &[
                "assert remember(1) == 1",
                "assert remember(2) == 2",
                "spin()",
                "assert remember(3) == 3",
            ],
        );
        assert_eq!(traces[0].status, TraceStatus::Passed);
        assert_eq!(
            traces[1].status,
            TraceStatus::Passed,
            "state is shared without isolation"
        );
        assert_eq!(traces[2].status, TraceStatus::TimedOut);
        assert_eq!(traces[3].status, TraceStatus::Passed);
        if python.wasi {
            return; // it cannot fork: there is no isolation to compare with
        }
        let isolate = TracerOptions {
            isolate: true,
            ..TracerOptions::default()
        };
        let isolated = trace(
            &python_tracer(python, engine, &isolate),
            program,
            &["assert remember(1) == 1", "assert remember(2) == 1"],
        );
        assert!(isolated.iter().all(|t| t.status == TraceStatus::Passed));
    });
}

#[test]
fn the_registry_builds_the_python_tracer_over_the_context_sandbox() {
    use next_core::registry::{self, Context};
    use next_core::task::{Program, TestCase};
    use std::sync::Arc;

    let python = one_python();
    let sandbox: Arc<dyn next_core::sandbox::Sandbox> = common::sandbox(&python);
    let cx = Context::new().with_sandbox(sandbox);
    let table: toml::Table = toml::from_str("max_events = 100\ntime_limit_ms = 2000").unwrap();
    let built = registry::tracer("python", &table, &cx).unwrap_or_else(|err| panic!("{err}"));
    let traces = common::runtime()
        .block_on(built.trace(
            &Program::new(SUM_ODD),
            &[TestCase::new("assert sum_odd([1]) == 1").unwrap()],
        ))
        .unwrap();
    assert_eq!(traces[0].status, TraceStatus::Passed);
}

#[test]
fn every_engine_agrees_on_a_mixed_program() {
    // The two engines of one interpreter give the same events.
    let program = "\
def walk(grid):
    out = []
    for row in grid:
        out.append(sum(x for x in row if x % 2))
    pairs = {k: v for k, v in enumerate(out)}
    while out: out.pop()
    try:
        return pairs[99]
    except KeyError as e:
        return str(e)
";
    for python in common::pythons()
        .iter()
        .filter(|p: &&Python| p.has_monitoring())
    {
        let run = |engine| {
            trace(
                &python_tracer(python, engine, &TracerOptions::default()),
                program,
                &["assert walk([[1, 2], [3, 5]]) == '99'"],
            )
        };
        let settrace = run(Engine::Settrace);
        let monitoring = run(Engine::Monitoring);
        assert_eq!(settrace[0].status, TraceStatus::Passed);
        assert_eq!(
            compact(&settrace[0]),
            compact(&monitoring[0]),
            "Python {:?}",
            python.version
        );
    }
}

/// A sandbox that says it preloaded every module but did not: jobs sent without the
/// harness do not find it, and must be sent again with it.
struct ClaimsToPreload(std::sync::Arc<dyn next_core::sandbox::Sandbox>);

#[async_trait::async_trait]
impl next_core::sandbox::Sandbox for ClaimsToPreload {
    async fn run(
        &self, job: next_core::sandbox::Job,
    ) -> Result<next_core::sandbox::Execution, next_core::sandbox::SandboxError> {
        self.0.run(job).await
    }

    async fn preload(
        &self, _name: &str, _source: &str,
    ) -> Result<bool, next_core::sandbox::SandboxError> {
        Ok(true)
    }
}

/// The warm process sandbox preloads the harness, and jobs then come without it: the
/// traces are those of jobs that carry it (the cold sandbox's), on every interpreter;
/// a sandbox that only claims to preload it costs a second job, not a wrong trace.
#[test]
fn a_preloaded_harness_gives_the_same_traces() {
    use next_core::task::{Program, TestCase};
    use next_core::trace::Tracer;
    use next_tracers::python::PythonTracer;
    use next_verifiers::process::Mode;

    let tests = [
        "assert sum_odd([1, 2, 3, 4]) == 4",
        "assert sum_odd([7]) == 5",
    ];
    for python in common::pythons().into_iter().filter(|p| !p.wasi) {
        let cold = trace(
            &python_tracer(&python, Engine::Auto, &TracerOptions::default()),
            SUM_ODD,
            &tests,
        );
        let warm = PythonTracer::new(common::sandbox_in(&python, Mode::Warm));
        let lying = PythonTracer::new(ClaimsToPreload(common::sandbox(&python)));
        let program = Program::new(SUM_ODD);
        let cases: Vec<TestCase> = tests.iter().map(|t| TestCase::new(*t).unwrap()).collect();
        for _ in 0..2 {
            for tracer in [&warm as &dyn Tracer, &lying] {
                let traces = common::runtime()
                    .block_on(tracer.trace(&program, &cases))
                    .unwrap();
                assert_eq!(traces, cold, "Python {:?}", python.version);
            }
        }
    }
}

/// A long list (its rendering cut) changed in every way, one change a line: after
/// each line the traced value is exactly the cut `repr` that the same program prints
/// untraced (the tracer keeps only a long list's first and last elements to check
/// and renders a grown tail alone, from the reprs of its last elements still there;
/// this shows it loses nothing).
#[test]
fn a_long_list_changed_every_way_renders_as_its_cut_repr() {
    use std::fmt::Write as _;

    let steps = [
        "xs.append(100)",
        "xs[30] = 'middle'",
        "xs.insert(30, (1, 't'))",
        "xs[0] = -5",
        "xs[-1] = 7.5",
        "del xs[10:50]",
        "xs[-1] = Box()",
        "xs[-1] = 3",
        "xs.extend(range(100, 140))",
        // The tail's reprs are kept and reused for the elements still there: growth
        // one at a time, the last ones swapped, one before the last replaced.
        "xs.append(141)",
        "xs.append((142, 'v'))",
        "xs[-1], xs[-2] = xs[-2], xs[-1]",
        "xs[-3] = 'w'",
        "xs.append(143)",
        "xs.pop()",
        "xs[-1] = 1.0",
        "xs[5:7] = []",
        "del xs[3:]",
        "xs.extend([(2, 'u')] * 30)",
        "xs.reverse()",
    ];
    // 60 elements are rendered whole once, then checked element by element; 400 are
    // too many for that and are walked from both ends, then checked by their ends.
    for size in [60, 400] {
        let mut program = format!(
            "class Box:\n    def __repr__(self):\n        return '<box>'\n\n\
             def cut(s, m=61):\n    h = (m - 3) // 2\n    return s if len(s) <= m else s[:h] + '...' + s[-(m - 3 - h):]\n\n\
             def run(show):\n    xs = list(range({size}))\n",
        );
        for step in steps {
            let _ = write!(program, "    {step}\n    show(xs)\n");
        }
        program.push_str("    return 0\n");
        long_list_steps(&program, steps.len());
    }
    // A matrix: too long a repr to be rendered whole at every line, walked instead.
    let steps = [
        "xs[0][0] = 5",
        "xs[30][30] = 7",
        "xs[-1][-1] = 9",
        "xs[0].append(1)",
        "xs[-1].insert(0, 'x')",
        "xs.append([Box()])",
        "xs[1] = (1, 2)",
        "del xs[2:]",
    ];
    let mut program = String::from(
        "class Box:\n    def __repr__(self):\n        return '<box>'\n\n\
         def cut(s, m=61):\n    h = (m - 3) // 2\n    return s if len(s) <= m else s[:h] + '...' + s[-(m - 3 - h):]\n\n\
         def run(show):\n    xs = [[i] * 60 for i in range(60)]\n",
    );
    for step in steps {
        let _ = write!(program, "    {step}\n    show(xs)\n");
    }
    program.push_str("    return 0\n");
    long_list_steps(&program, steps.len());
}

/// Runs `program` (see `a_long_list_changed_every_way_renders_as_its_cut_repr`) untraced
/// and traced, and compares what it printed of `xs` after each of its `steps` with the
/// tracer's rendering of `xs` then.
fn long_list_steps(program: &str, steps: usize) {
    use next_core::sandbox::{Job, Sandbox};
    use next_core::trace::Location;

    let first = 11; // the line of the first step
    for python in common::pythons() {
        let printed = common::runtime()
            .block_on(common::sandbox(&python).run(Job::new(format!(
                "{program}\nrun(lambda xs: print(cut(repr(xs))))\n"
            ))))
            .unwrap();
        let printed = String::from_utf8(printed.stdout).unwrap();
        let want: Vec<&str> = printed.lines().collect();
        assert_eq!(want.len(), steps, "{printed}");
        let options = TracerOptions {
            max_value_chars: 61,
            ..TracerOptions::default()
        };
        for engine in python.engines() {
            let traces = trace(
                &python_tracer(&python, engine, &options),
                program,
                &["assert run(len) == 0"],
            );
            let mut current = String::new();
            let mut seen = Vec::new();
            for event in &traces[0].events {
                if let EventKind::Line { changes } = &event.kind {
                    if let Some(b) = changes.iter().find(|b| b.name == "xs") {
                        current.clone_from(&b.value);
                    }
                    let Location::Program(line) = event.location else {
                        continue;
                    };
                    let step = usize::try_from(line).unwrap();
                    let last = first + 2 * steps;
                    if event.frame == 1 && (first..last).contains(&step) && (step - first) % 2 == 0
                    {
                        seen.push(current.clone());
                    }
                }
            }
            assert_eq!(seen, want, "Python {:?} {engine}", python.version);
        }
    }
}
