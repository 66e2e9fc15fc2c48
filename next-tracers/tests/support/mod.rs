//! Traces written by hand, event by event, as the event contract of `next_core::trace`
//! says a tracer records them.
#![allow(dead_code)]

use next_core::task::{Program, TestCase};
use next_core::trace::{Binding, Event, EventKind, Location, Trace, TraceStatus};

/// Records the events of one trace.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Vec<Event>,
}

fn bindings(pairs: &[(&str, &str)]) -> Vec<Binding> {
    pairs
        .iter()
        .map(|(name, value)| Binding::new(*name, *value))
        .collect()
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, frame: u32, location: Location, kind: EventKind) -> &mut Self {
        self.events.push(Event {
            frame,
            location,
            kind,
        });
        self
    }

    /// `Call` of `function` in `frame` at its `def` line.
    pub fn call(
        &mut self, frame: u32, line: u32, function: &str, args: &[(&str, &str)],
    ) -> &mut Self {
        self.push(
            frame,
            Location::Program(line),
            EventKind::Call {
                function: function.to_owned(),
                args: bindings(args),
            },
        )
    }

    /// `Line` of `frame` with these changes.
    pub fn line(&mut self, frame: u32, line: u32, changes: &[(&str, &str)]) -> &mut Self {
        self.push(
            frame,
            Location::Program(line),
            EventKind::Line {
                changes: bindings(changes),
            },
        )
    }

    /// `Return` of `frame` at `line`.
    pub fn ret(&mut self, frame: u32, line: u32, value: &str) -> &mut Self {
        self.push(
            frame,
            Location::Program(line),
            EventKind::Return {
                value: value.to_owned(),
            },
        )
    }

    /// `Exception` raised in `frame` at `line`.
    pub fn raise(&mut self, frame: u32, line: u32, value: &str) -> &mut Self {
        self.push(
            frame,
            Location::Program(line),
            EventKind::Exception {
                value: value.to_owned(),
            },
        )
    }

    /// The exception that ended the test, at line `line` of the test statement.
    pub fn test_raise(&mut self, line: u32, value: &str) -> &mut Self {
        self.push(
            0,
            Location::Test(line),
            EventKind::Exception {
                value: value.to_owned(),
            },
        )
    }

    /// `Timeout` in `frame` at `line`.
    pub fn timeout(&mut self, frame: u32, line: u32) -> &mut Self {
        self.push(frame, Location::Program(line), EventKind::Timeout)
    }

    /// `Yield` of a generator `frame` at `line`.
    pub fn yielded(&mut self, frame: u32, line: u32, value: &str) -> &mut Self {
        self.push(
            frame,
            Location::Program(line),
            EventKind::Yield {
                value: value.to_owned(),
            },
        )
    }

    /// `Exit` of the test's process while `frame` ran `line` (frame 0: the test line).
    pub fn exit(&mut self, frame: u32, line: u32, code: &str) -> &mut Self {
        let location = if frame == 0 {
            Location::Test(line)
        } else {
            Location::Program(line)
        };
        self.push(
            frame,
            location,
            EventKind::Exit {
                code: code.to_owned(),
            },
        )
    }

    /// The trace of test `test`.
    pub fn trace(&self, test: usize, status: TraceStatus) -> Trace {
        Trace {
            test,
            status,
            events: self.events.clone(),
            truncated: status == TraceStatus::TimedOut,
            incomplete: false,
            stdout: String::new(),
            stderr: String::new(),
        }
    }
}

pub fn tests(codes: &[&str]) -> Vec<TestCase> {
    codes
        .iter()
        .map(|code| TestCase::new(*code).expect("a test statement"))
        .collect()
}

/// The spec's worked example.
pub const SUM_ODD: &str = "def sum_odd(nums):
    s = 0
    for n in nums:
        if n % 2 == 1:
            s += n
    return s
";

pub fn sum_odd() -> Program {
    Program::new(SUM_ODD)
}

/// The events of `sum_odd([1, 2, 3, 4])`, without the test's end.
pub fn sum_odd_events() -> Recorder {
    let mut rec = Recorder::new();
    rec.call(1, 1, "sum_odd", &[("nums", "[1, 2, 3, 4]")]);
    rec.line(1, 2, &[("s", "0")]);
    let mut s = 0;
    for n in 1..=4 {
        rec.line(1, 3, &[("n", &n.to_string())]);
        rec.line(1, 4, &[]);
        if n % 2 == 1 {
            s += n;
            rec.line(1, 5, &[("s", &s.to_string())]);
        }
    }
    rec.line(1, 3, &[]);
    rec.line(1, 6, &[]);
    rec.ret(1, 6, &s.to_string());
    rec
}
