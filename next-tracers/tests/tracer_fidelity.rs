//! The tracer exact to `trace-format.md` and invisible to the program (issue 15): steps
//! in execution order (generators and `__yield__`), the end of the last test of a job
//! kept whatever it does (hang in a `repr`, sleep, loop in C, `os._exit`, close its
//! file descriptors), addresses removed only from default reprs, control characters
//! escaped, no rendered value kept alive, output, time and recursion as untraced, tests
//! run one after another in one process as the verifier runs them, and a program that
//! forks still traced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{compact, for_each_engine, one_python, python_tracer, quick, runtime, sandbox, trace};
use next_core::render::TraceRenderer;
use next_core::sandbox::{Job, Limits};
use next_core::task::{Program, TestCase};
use next_core::trace::{EventKind, Location, TraceStatus};
use next_tracers::python::{Engine, TracerOptions};
use next_tracers::InlineRenderer;

#[test]
fn a_generator_expression_is_numbered_in_execution_order() {
    let program = "\
def f(xs):
    g = (x * 2 for x in xs)
    a = next(g)
    return a
";
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let traces = trace(&tr, program, &["assert f([1, 2]) == 2"]);
        let steps = compact(&traces[0]);
        let x = steps.iter().position(|s| s.ends_with("line @2 x=1"));
        let y = steps.iter().position(|s| s.ends_with("yield @2 2"));
        let a = steps.iter().position(|s| s == "1 line @3 a=2");
        assert!(x.is_some() && y.is_some() && a.is_some(), "{steps:?}");
        assert!(x < y && y < a, "{steps:?}");
    });
}

#[test]
fn a_generator_function_renders_its_yields() {
    let program = "\
def gen(n):
    for i in range(n):
        yield i * 10

def total(n):
    s = 0
    for v in gen(n):
        s += v
    return s
";
    let tr = python_tracer(&one_python(), Engine::Auto, &TracerOptions::default());
    let traces = trace(&tr, program, &["assert total(2) == 10"]);
    let text = InlineRenderer::default().render(
        &Program::new(program),
        &[TestCase::new("assert total(2) == 10").unwrap()],
        &traces,
    );
    assert!(
        text.contains(concat!(
            "        yield i * 10  # (4) __yield__=0; (7) __yield__=10;\n\n",
            "def total(n):  # (0) n=2;\n",
            "    s = 0  # (1) s=0;\n",
            "    for v in gen(n):  # (5) v=0; (8) v=10;\n",
            "        s += v  # (9) s=10;\n",
        )),
        "{text}"
    );
}

/// A test that ends or outlasts its job (a loop in C code without `fork`, on WASI, or
/// an exit where the tests run in the job's process) leaves the tests after it traced:
/// they run in a new job, as the verifier runs them.
#[test]
fn the_tests_after_one_that_ends_the_job_are_traced() {
    let program = "\
import os

def c_loop(n):
    return sum(range(n))

def vanish(code):
    os._exit(code)

def double(x):
    return 2 * x
";
    for_each_engine(|python, engine| {
        let options = TracerOptions {
            setup_time_limit: Duration::from_secs(2),
            ..quick()
        };
        let tr = python_tracer(python, engine, &options);
        let traces = trace(
            &tr,
            program,
            &[
                "assert double(1) == 2",
                "c_loop(10 ** 13)",
                "assert double(2) == 4",
                "assert double(3) == 7",
            ],
        );
        let statuses: Vec<TraceStatus> = traces.iter().map(|t| t.status).collect();
        assert_eq!(
            statuses,
            [
                TraceStatus::Passed,
                TraceStatus::TimedOut,
                TraceStatus::Passed,
                TraceStatus::Failed
            ],
            "{python:?} {engine:?}"
        );
        assert_eq!(traces[2].test, 2);
        assert!(
            compact(&traces[2]).contains(&"1 return @10 4".to_owned()),
            "{:?}",
            compact(&traces[2])
        );
        if python.wasi {
            // Without fork the exit ends the job's process: the next test runs anew.
            let traces = trace(&tr, program, &["vanish(3)", "assert double(5) == 10"]);
            assert_eq!(traces[0].status, TraceStatus::Crashed);
            assert_eq!(
                traces[1].status,
                TraceStatus::Passed,
                "{:?}",
                compact(&traces[1])
            );
            // Every test outlasting its job: the jobs of the task stop at twice the
            // first job's time limit, and each test says it timed out.
            let first_job =
                Duration::from_secs(2) + 3 * (options.time_limit + Duration::from_millis(180));
            let start = Instant::now();
            let traces = trace(&tr, program, &["c_loop(10 ** 13)"; 3]);
            let took = start.elapsed();
            assert!(
                traces.iter().all(|t| t.status == TraceStatus::TimedOut),
                "{traces:?}"
            );
            assert!(
                took < 2 * first_job + Duration::from_secs(1),
                "took {took:?}"
            );
        }
    });
}

/// The last test of a job keeps its call step and its end, whatever it does.
#[test]
fn the_last_test_keeps_its_end() {
    let program = "\
import os, time

class Stuck:
    def __repr__(self):
        while True:
            pass

def hang_in_repr():
    s = Stuck()
    return 1

def sleep(n):
    time.sleep(n)

def c_loop(n):
    return sum(range(n))

def vanish(code):
    os._exit(code)

def close_fds(n):
    os.closerange(0, 1024)
    return n
";
    for_each_engine(|python, engine| {
        if python.wasi {
            return; // one process, no fork: the sandbox's limit ends such a job
        }
        let tr = python_tracer(python, engine, &quick());
        for (test, line) in [
            ("hang_in_repr()", 9),
            ("sleep(100)", 13),
            ("c_loop(10 ** 12)", 16),
        ] {
            let start = Instant::now();
            let traces = trace(&tr, program, &["assert True", test]);
            let took = start.elapsed();
            let steps = compact(&traces[1]);
            assert_eq!(traces[1].status, TraceStatus::TimedOut, "{test}: {steps:?}");
            assert!(steps[0].contains(" call "), "{test}: {steps:?}");
            assert_eq!(
                steps.last().map(String::as_str),
                Some(format!("1 timeout @{line}").as_str()),
                "{test}: {steps:?}"
            );
            assert!(took < Duration::from_secs(4), "{test} took {took:?}");
        }
        let traces = trace(&tr, program, &["assert True", "vanish(7)"]);
        assert_eq!(traces[1].status, TraceStatus::Crashed);
        assert_eq!(
            compact(&traces[1]),
            ["1 call vanish@18 code=7", "1 exit @19 7"]
        );
        let traces = trace(&tr, program, &["assert close_fds(3) == 3", "assert True"]);
        assert_eq!(
            traces[0].status,
            TraceStatus::Passed,
            "{:?}",
            compact(&traces[0])
        );
        assert!(compact(&traces[0]).contains(&"1 return @23 3".to_owned()));
        assert_eq!(traces[1].status, TraceStatus::Passed);
    });
}

#[test]
fn a_module_level_loop_renders_as_timed_out() {
    let program = "def f():\n    return 1\n\nwhile True:\n    pass\n";
    let python = one_python();
    let options = TracerOptions {
        setup_time_limit: Duration::from_millis(800),
        ..quick()
    };
    let tr = python_tracer(&python, Engine::Auto, &options);
    let traces = trace(&tr, program, &["assert f() == 1"]);
    assert_eq!(traces[0].status, TraceStatus::TimedOut);
    let text = InlineRenderer::default().render(
        &Program::new(program),
        &[TestCase::new("assert f() == 1").unwrap()],
        &traces,
    );
    assert!(
        text.ends_with("assert f() == 1  # (0) __timeout__;\n"),
        "{text}"
    );
}

/// Addresses go only from default reprs, control characters are escaped, and a lone
/// surrogate (a `__repr__` may return one; UTF-8 cannot hold it) arrives as `?`, the
/// rest of its step whole.
#[test]
fn addresses_go_only_from_default_reprs_and_controls_are_escaped() {
    let program = "\
class Foo:
    pass

class Raw:
    def __repr__(self):
        return 'a\\x01b\\nc'

def f():
    s = 'value at 0x1f here'
    xs = [s, Foo()]
    r = Raw()
    rs = [r, 1]
    lone = Lone()
    return 0

class Lone:
    def __repr__(self):
        return 'x\\ud800y'
";
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let steps = compact(&trace(&tr, program, &["assert f() == 0"])[0]);
        for expected in [
            "1 line @9 s='value at 0x1f here'",
            "1 line @10 xs=['value at 0x1f here', <__main__.Foo object>]",
            "1 line @11 r=a\\x01b\\x0ac",
            "1 line @12 rs=[a\\x01b\\x0ac, 1]",
            "1 line @13 lone=x?y",
        ] {
            assert!(
                steps.contains(&expected.to_owned()),
                "{expected}: {steps:?}"
            );
        }
    });
}

/// The rendering cache keeps nothing alive: long lists rebound in a loop stay within
/// the memory limit, and objects with `__del__` are collected as untraced.
#[test]
fn rendered_values_are_not_kept_alive() {
    let program = "\
deleted = []

class D:
    def __init__(self, i):
        self.i = i
    def __del__(self):
        deleted.append(self.i)

def churn():
    for i in range(100):
        big = [i] * 2_000_000
    return len(big)

def collect():
    for i in range(5):
        d = [D(i)]
    return len(deleted)
";
    let options = TracerOptions {
        memory_bytes: 400 << 20,
        time_limit: Duration::from_secs(20),
        ..TracerOptions::default()
    };
    for engine in one_python().engines() {
        let tr = python_tracer(&one_python(), engine, &options);
        let traces = trace(
            &tr,
            program,
            &["assert churn() == 2_000_000", "assert collect() == 4"],
        );
        for t in &traces {
            assert_eq!(t.status, TraceStatus::Passed, "{:?}", t.events.last());
        }
    }
}

#[test]
fn output_is_as_untraced() {
    let program = "\
import sys

def shout():
    sys.stderr.write('x' * 50_000_000)
    sys.stderr.flush()
    return 1
";
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &TracerOptions::default());
        // Shouting is the job's last test: it used to run where output went to files.
        let traces = trace(&tr, program, &["print(1)", "assert shout() == 1"]);
        assert_eq!(
            traces[1].status,
            TraceStatus::Passed,
            "{:?}",
            traces[1].events.last()
        );
        assert!(traces[1].stderr.len() <= 70_000);
    });
}

/// Recursion as deep as untraced, however the frames recurse, and the limit the
/// program reads and sets its own.
const RECURSION: &str = "\
import sys

def depth(n):
    try:
        return depth(n + 1)
    except RecursionError:
        return n

class Node:
    def __init__(self, n):
        self.n = n
        try:
            self.child = Node(n + 1)
        except RecursionError:
            self.child = None

def nodes():
    node, k = Node(0), 0
    while node.child is not None:
        node, k = node.child, k + 1
    return k

def via_map(n):
    try:
        return max(map(via_map, [n + 1]))
    except RecursionError:
        return n

def limits():
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    low = depth(0)
    try:
        sys.setrecursionlimit(3)
        refused = None
    except RecursionError as e:
        refused = str(e)
    sys.setrecursionlimit(before)
    return before, sys.getrecursionlimit(), low, refused
";

#[test]
fn recursion_is_as_deep_as_untraced() {
    let tests = [
        "print(depth(0))",
        "print(nodes())",
        "print(via_map(0))",
        "print(limits())",
    ];
    for_each_engine(|python, engine| {
        // On WASI the C stack, not the recursion limit, bounds the depth.
        let tests = if python.wasi { &tests[3..] } else { &tests[..] };
        let script: String = tests.iter().fold(RECURSION.to_owned(), |mut s, t| {
            s.push_str(t);
            s.push('\n');
            s
        });
        let untraced = run_untraced(python, &script);
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let traces = trace(&tr, RECURSION, tests);
        let printed: String = traces.iter().map(|t| t.stdout.as_str()).collect();
        if python.version == (3, 12) && !python.wasi {
            // 3.12 alone bounds C recursion by a fixed limit, not the program's, and the
            // tracing callbacks' C calls count against it: recursion through a class's
            // or `map`'s calls, which use it too, ends up to two calls sooner.
            let lines: Vec<(&str, &str)> = printed.lines().zip(untraced.lines()).collect();
            assert_eq!(lines.len(), 4, "{printed} traced, {untraced} untraced");
            for (i, (got, want)) in lines.into_iter().enumerate() {
                if i == 1 || i == 2 {
                    let depth = |text: &str| -> i64 { text.parse().expect("a depth") };
                    let (got, want) = (depth(got), depth(want));
                    assert!(
                        (want - 2..=want).contains(&got),
                        "{got} traced, {want} untraced"
                    );
                } else {
                    assert_eq!(got, want);
                }
            }
        } else {
            assert_eq!(printed, untraced, "traced, then untraced");
        }
        for t in &traces {
            assert_eq!(t.status, TraceStatus::Passed, "{:?}", t.events.last());
        }
        if python.wasi {
            return;
        }
        // The deepest call's RecursionError is recorded where it was raised: the
        // recursive call's line of the deepest frame that ran.
        let raised = traces[0]
            .events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Exception { value } if value.starts_with("RecursionError(")))
            .count();
        assert_eq!(raised, 1, "{:?}", traces[0].events.last());
    });
}

/// As the verifier runs them: one after another, in one process.
#[test]
fn tests_share_the_program_state_as_in_the_verifier() {
    let program = "\
count = 0

def inc():
    global count
    count += 1
    return count
";
    for_each_engine(|python, engine| {
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let traces = trace(&tr, program, &["assert inc() == 1", "assert inc() == 2"]);
        assert!(traces.iter().all(|t| t.status == TraceStatus::Passed));
    });
}

#[test]
fn a_program_that_forks_is_traced() {
    let program = "\
import os

def split():
    pid = os.fork()
    if pid == 0:
        return 2
    os.waitpid(pid, 0)
    return 1
";
    for_each_engine(|python, engine| {
        if python.wasi {
            return;
        }
        let tr = python_tracer(python, engine, &TracerOptions::default());
        let traces = trace(
            &tr,
            program,
            &["assert split() == 1", "assert split() == 1"],
        );
        for t in &traces {
            assert_eq!(t.status, TraceStatus::Passed, "{:?}", compact(t));
            assert!(compact(t).contains(&"1 return @8 1".to_owned()));
            assert!(matches!(
                t.events.last().map(|e| (&e.kind, e.location)),
                Some((EventKind::Return { .. }, Location::Program(8)))
            ));
        }
    });
}

/// `xs[20] = -1` changes a long list only where the cut hides it: no second step.
#[test]
fn a_hidden_change_of_a_long_list_is_no_step() {
    let program = "\
def f():
    xs = list(range(40))
    xs[20] = -1
    y = 1
    return y
";
    let tr = python_tracer(&one_python(), Engine::Auto, &TracerOptions::default());
    let traces = trace(&tr, program, &["assert f() == 1"]);
    let text = InlineRenderer::default().render(
        &Program::new(program),
        &[TestCase::new("assert f() == 1").unwrap()],
        &traces,
    );
    assert!(
        text.contains("    xs[20] = -1\n    y = 1  # (1) y=1;\n"),
        "{text}"
    );
}

fn run_untraced(python: &common::Python, source: &str) -> String {
    let job = Job::new(source)
        .with_limits(Limits::new(Duration::from_secs(20), 1 << 30, 1 << 20, 16).expect("limits"));
    let done = runtime()
        .block_on(sandbox(python).run(job))
        .expect("the sandbox runs the job");
    String::from_utf8_lossy(&done.stdout).into_owned()
}
