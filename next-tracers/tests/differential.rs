//! The differential test of issue 15: generated programs (loops, in-place mutation of
//! long lists, nested containers, helpers, exceptions raised and caught or not) run
//! traced and untraced give the same verdict and the same printed output, and the
//! inline renderings of their traces equal, byte for byte, those of an independent
//! reference renderer of `trace-format.md` written here: a small `sys.settrace` tracer
//! that writes the spec's text directly (values cut to 60 characters, a change decided
//! on the cut text, steps numbered in execution order, long lines elided), run untraced
//! in the same sandbox and interpreter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{python_tracer, pythons, runtime, sandbox, trace, Python};
use next_core::render::TraceRenderer;
use next_core::sandbox::{Job, Limits, Termination};
use next_core::task::{Program, TestCase};
use next_core::trace::TraceStatus;
use next_tracers::python::{Engine, TracerOptions};
use next_tracers::InlineRenderer;

/// The reference renderer: `PROGRAM` and `TEST` are filled in; it prints the program's
/// own output, then `REFERENCE_MARK`, then the rendering.
const REFERENCE: &str = r#"
import sys
PROGRAM = __PROGRAM__
TEST = __TEST__
MAX, STATES = 60, 3

def cut(s):
    if len(s) <= MAX:
        return s
    keep = MAX - 3
    head = keep // 2
    return s[:head] + "..." + s[len(s) - (keep - head):]

def show(v):
    return cut(repr(v).replace("\n", "\\n").replace("\r", "\\r"))

steps = {}
counter = [0]
frames = {}
recorded = []

def add(where, line, items):
    if items:
        steps.setdefault((where, line), []).append("(%d) %s;" % (counter[0], ", ".join(items)))
        counter[0] += 1

class F:
    def __init__(self):
        self.shown, self.order, self.pending, self.unwinding = {}, {}, None, False

def changes(f, frame):
    out = []
    for name, v in frame.f_locals.items():
        if name.startswith(".") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(v, (type(sys), type(cut), type)):
            continue
        text = "%s=%s" % (name, show(v))
        if f.shown.get(name) != text:
            f.order.setdefault(name, len(f.order))
            f.shown[name] = text
            out.append(name)
    out.sort(key=f.order.get)
    return [f.shown[n] for n in out]

def tracer(frame, event, arg):
    if frame.f_code.co_filename != "<program>":
        return None
    f = frames.get(frame)
    if event == "call":
        f = frames[frame] = F()
        code = frame.f_code
        items = []
        for n in code.co_varnames[: code.co_argcount]:
            text = "%s=%s" % (n, show(frame.f_locals[n]))
            f.order[n] = len(f.order)
            f.shown[n] = text
            items.append(text)
        add("p", code.co_firstlineno, items)
        return tracer
    if f is None:
        return tracer
    if event == "line":
        if f.pending is not None:
            add("p", f.pending, changes(f, frame))
        f.pending = frame.f_lineno
        f.unwinding = False
    elif event == "exception":
        exc = arg[1]
        line = f.pending if f.pending is not None else frame.f_lineno
        items = changes(f, frame)
        if not any(e is exc for e in recorded):
            recorded.append(exc)
            items.append("__exception__=" + show(exc))
        add("p", line, items)
        f.pending = None
        f.unwinding = True
    elif event == "return":
        if not (f.unwinding and f.pending is None):
            line = f.pending if f.pending is not None else frame.f_lineno
            add("p", line, changes(f, frame) + ["__return__=" + show(arg)])
        del frames[frame]
    return tracer

ns = {"__name__": "__main__"}
exec(compile(PROGRAM, "<program>", "exec"), ns)
test = compile(TEST, "<test>", "exec")
sys.settrace(tracer)
try:
    exec(test, ns)
except BaseException as exc:
    sys.settrace(None)
    add("t", 1, ["__exception__=" + show(exc)])
sys.settrace(None)

def note(where, number, line):
    s = steps.get((where, number))
    if not s:
        return line
    if len(s) > STATES:
        s = s[: STATES - 1] + ["...;"] + s[-1:]
    return line + "  # " + " ".join(s)

lines = PROGRAM.rstrip("\n").split("\n")
out = [note("p", i + 1, l) for i, l in enumerate(lines)] + ["", note("t", 1, TEST)]
sys.stdout.flush()
sys.stdout.write("\n@@REFERENCE@@\n" + "\n".join(out) + "\n")
"#;

const REFERENCE_MARK: &str = "\n@@REFERENCE@@\n";

/// A small deterministic generator (no dependency, the same programs every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn chance(&mut self) -> bool {
        self.below(2) == 1
    }
}

/// One generated program and its test.
fn generate(rng: &mut Lcg) -> (String, String) {
    let limit = 5 + rng.below(60);
    let extra = rng.below(4);
    let mut program = format!(
        "def helper(a, b):\n    t = a * b\n    if t > {limit}:\n        raise ValueError(t)\n    return t + {extra}\n\n"
    );
    program.push_str("def main(n, k):\n    xs = list(range(n))\n    total = 0\n");
    let nested = rng.chance();
    if nested {
        program.push_str("    d = {'a': [1, 2], 'b': (3, [4])}\n    grid = [[0, 0], [0, 0]]\n");
    }
    let guarded = rng.chance();
    let use_while = rng.chance();
    if use_while {
        program.push_str("    i = 0\n    while i < len(xs):\n");
    } else {
        program.push_str("    for i in range(len(xs)):\n");
    }
    program.push_str("        if xs[i] % k == 0:\n            xs[i] = -xs[i]\n");
    if guarded {
        program.push_str(
            "        try:\n            v = helper(i, k)\n        except ValueError:\n            v = -1\n",
        );
    } else {
        program.push_str("        v = helper(i % 4, k)\n");
    }
    program.push_str("        total += v\n");
    if nested {
        program.push_str("        d['a'].append(v)\n        grid[i % 2][k % 2] += i\n");
    }
    if use_while {
        program.push_str("        i += 1\n");
    }
    if rng.chance() {
        program.push_str("    xs.sort()\n");
    }
    program.push_str("    print(total, len(xs))\n    return total\n");
    let n = 3 + rng.below(38);
    let k = 1 + rng.below(5);
    let test = if rng.chance() {
        format!("assert main({n}, {k}) == {}", rng.below(40))
    } else {
        format!("assert isinstance(main({n}, {k}), int)")
    };
    (program, test)
}

/// Runs `source` untraced: (whether it exited 0, its stdout).
fn untraced(python: &Python, source: &str) -> (bool, String) {
    let job = Job::new(source)
        .with_limits(Limits::new(Duration::from_secs(20), 1 << 30, 1 << 22, 16).expect("limits"));
    let done = runtime()
        .block_on(sandbox(python).run(job))
        .expect("the sandbox runs the job");
    (
        done.termination == Termination::Exited { code: 0 },
        String::from_utf8_lossy(&done.stdout).into_owned(),
    )
}

fn python_literal(text: &str) -> String {
    serde_json_string(text)
}

/// A JSON string literal, which Python reads as the same string.
fn serde_json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn generated_programs_traced_and_untraced_agree_and_render_as_the_reference() {
    let mut rng = Lcg(15);
    let programs: Vec<(String, String)> = (0..16).map(|_| generate(&mut rng)).collect();
    for python in pythons() {
        let tr = python_tracer(&python, Engine::Auto, &TracerOptions::default());
        for (program, test) in &programs {
            let (passed, printed) = untraced(&python, &format!("{program}\n\n{test}\n"));
            let traces = trace(&tr, program, &[test]);
            let what = format!("Python {:?}:\n{program}\n{test}", python.version);
            assert_eq!(
                traces[0].status == TraceStatus::Passed,
                passed,
                "verdict, {what}"
            );
            assert!(
                matches!(traces[0].status, TraceStatus::Passed | TraceStatus::Failed),
                "{what}"
            );
            assert_eq!(traces[0].stdout, printed, "printed output, {what}");
            let reference_source = REFERENCE
                .replace("__PROGRAM__", &python_literal(program))
                .replace("__TEST__", &python_literal(test));
            let (_, out) = untraced(&python, &reference_source);
            let (own, reference) = out.split_once(REFERENCE_MARK).expect("the reference ran");
            assert_eq!(own, printed, "{what}");
            let rendered = InlineRenderer::default().render(
                &Program::new(program.as_str()),
                &[TestCase::new(test.as_str()).unwrap()],
                &traces,
            );
            assert_eq!(rendered, reference, "rendering, {what}");
        }
    }
}
