//! From the harness's output and how the job ended to one [`Trace`] per test.

use next_core::sandbox::{Execution, Termination};
use next_core::trace::{Binding, Event, EventKind, Location, Trace, TraceError, TraceStatus};

use super::protocol::{decode_hex, parse, EndStatus, Item, Message, WireEvent};

/// What one tracing job gave.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// One trace per test, in test order.
    pub traces: Vec<Trace>,
    /// The tracer compiled by the job, with the tag of the build it is valid for.
    pub code: Option<(String, Vec<u8>)>,
    /// How many tests, from the first, the job traced or was running: the job was
    /// stopped before the ones after (their traces are blank), which a new job can run.
    pub reached: usize,
}

/// The test being traced when the output ended.
struct Open {
    test: usize,
    events: Vec<Event>,
}

/// Assembles the traces of a job run on `tests` tests.
///
/// Rules, when the job did not finish (the harness's `done` is missing): the test that
/// was running gets a `Timeout` event at its last location and status `TimedOut` if the
/// sandbox stopped the job at its time limit, status `Crashed` (marked incomplete)
/// otherwise; tests never reached get status `Crashed` and no events (and
/// [`Outcome::reached`] says where they begin, for the tracer to run them in a new
/// job). A program that
/// cannot be run (syntax error, module level raising) gives every test status `Crashed`
/// and one `Exception` event at the program line of the error, in frame 0.
///
/// # Errors
/// [`TraceError::Protocol`] when the harness did not start, or wrote something that is
/// not the protocol (except a last line cut by a kill), or contradicted itself.
pub(crate) fn assemble(
    execution: &Execution, nonce: &str, tests: usize,
) -> Result<Outcome, TraceError> {
    let items = parse(&execution.stdout, nonce);
    let finished = items
        .iter()
        .any(|item| matches!(item, Ok(Item::Message(Message::Done))));
    let last = items.len().saturating_sub(1);
    let mut assembler = Assembler::new(execution, tests);
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(item) => assembler.feed(item)?,
            // A line cut by a kill or by the output limit.
            Err(_) if index == last && !finished => break,
            Err(bad) => {
                return Err(protocol(
                    execution,
                    &format!("line {}: {}", bad.line, bad.why),
                ))
            }
        }
    }
    assembler.finish(finished)
}

/// The state of [`assemble`] between lines.
struct Assembler<'a> {
    execution: &'a Execution,
    started: bool,
    module_ran: bool,
    module_out: String,
    module_err: String,
    crash: Option<(u32, String)>,
    stalled: Option<String>,
    code: Option<(String, Vec<u8>)>,
    traces: Vec<Option<Trace>>,
    open: Option<Open>,
}

impl<'a> Assembler<'a> {
    fn new(execution: &'a Execution, tests: usize) -> Self {
        Self {
            execution,
            started: false,
            module_ran: false,
            module_out: String::new(),
            module_err: String::new(),
            crash: None,
            stalled: None,
            code: None,
            traces: vec![None; tests],
            open: None,
        }
    }

    fn feed(&mut self, item: Item) -> Result<(), TraceError> {
        match item {
            Item::Message(Message::Hello { .. }) => self.started = true,
            Item::Message(Message::Code { tag, hex }) => {
                // Accepted only before the program ran, so that it cannot be forged.
                if !self.module_ran && self.open.is_none() {
                    self.code = decode_hex(&hex).map(|bytes| (tag, bytes));
                }
            }
            Item::Message(Message::Module { out, err }) => {
                self.module_ran = true;
                self.module_out = out;
                self.module_err = err;
            }
            Item::Message(Message::Crash { line, value }) => self.crash = Some((line, value)),
            Item::Message(Message::Stalled { end }) => self.stalled = Some(end),
            Item::Message(Message::Begin { test }) => {
                let fresh = matches!(self.traces.get(test), Some(None));
                if !fresh || self.open.is_some() {
                    return Err(protocol(
                        self.execution,
                        &format!("unexpected start of test {test}"),
                    ));
                }
                self.open = Some(Open {
                    test,
                    events: Vec::new(),
                });
            }
            Item::Event(event) => match self.open.as_mut() {
                Some(current) => current.events.push(convert(event)),
                None => return Err(protocol(self.execution, "an event outside any test")),
            },
            Item::Message(Message::End {
                test,
                status,
                truncated,
                incomplete,
                out,
                err,
                code: _,
            }) => {
                let current = match self.open.take() {
                    Some(current) if current.test == test => current,
                    _ => {
                        return Err(protocol(
                            self.execution,
                            &format!("unexpected end of test {test}"),
                        ))
                    }
                };
                let status = match status {
                    EndStatus::Passed => TraceStatus::Passed,
                    EndStatus::Failed => TraceStatus::Failed,
                    EndStatus::Timeout => TraceStatus::TimedOut,
                    EndStatus::Exited | EndStatus::Signaled => TraceStatus::Crashed,
                };
                self.traces[test] = Some(Trace {
                    test,
                    status,
                    events: current.events,
                    truncated: truncated || status == TraceStatus::TimedOut,
                    incomplete,
                    stdout: join(&self.module_out, &out),
                    stderr: join(&self.module_err, &err),
                });
            }
            Item::Message(Message::Done) => {}
        }
        Ok(())
    }

    fn finish(self, finished: bool) -> Result<Outcome, TraceError> {
        let Self {
            execution,
            started,
            module_out,
            module_err,
            crash,
            stalled,
            code,
            mut traces,
            open,
            ..
        } = self;
        if !started {
            return Err(protocol(execution, "the tracing harness did not start"));
        }
        let blank = |test, events| Trace {
            test,
            status: TraceStatus::Crashed,
            events,
            truncated: false,
            incomplete: false,
            stdout: module_out.clone(),
            stderr: module_err.clone(),
        };
        if let Some((line, value)) = crash {
            let events = vec![Event {
                frame: 0,
                location: Location::Program(line.max(1)),
                kind: EventKind::Exception { value },
            }];
            let reached = traces.len();
            let traces = (0..reached)
                .map(|test| blank(test, events.clone()))
                .collect();
            return Ok(Outcome {
                traces,
                code,
                reached,
            });
        }
        // The module level never ended (`stalled`), or the job was stopped before any
        // test began: every test says how, on its line.
        let module_stopped = !finished && open.is_none() && traces.iter().all(Option::is_none);
        if stalled.is_some() || module_stopped {
            let end = stalled.unwrap_or_else(|| match execution.termination {
                Termination::TimedOut => "timeout".to_owned(),
                Termination::Exited { code } => code.to_string(),
                Termination::Signaled { signal } => signal_name(signal),
                Termination::ResourceLimit { .. } => "crashed".to_owned(),
            });
            let (status, kind) = if end == "timeout" {
                (TraceStatus::TimedOut, EventKind::Timeout)
            } else {
                (TraceStatus::Crashed, EventKind::Exit { code: end })
            };
            let events = vec![Event {
                frame: 0,
                location: Location::Test(1),
                kind,
            }];
            let reached = traces.len();
            let traces = (0..reached)
                .map(|test| Trace {
                    status,
                    truncated: status == TraceStatus::TimedOut,
                    ..blank(test, events.clone())
                })
                .collect();
            return Ok(Outcome {
                traces,
                code,
                reached,
            });
        }
        if let Some(current) = open {
            let test = current.test;
            traces[test] = Some(interrupted(current, execution, &module_out, &module_err));
        } else if finished && traces.iter().any(Option::is_none) {
            return Err(protocol(
                execution,
                "the harness finished without tracing every test",
            ));
        }
        let reached = traces
            .iter()
            .position(Option::is_none)
            .unwrap_or(traces.len());
        let traces = traces
            .into_iter()
            .enumerate()
            .map(|(test, trace)| trace.unwrap_or_else(|| blank(test, Vec::new())))
            .collect();
        Ok(Outcome {
            traces,
            code,
            reached,
        })
    }
}

/// The trace of the test that was running when the job was stopped.
fn interrupted(current: Open, execution: &Execution, out: &str, err: &str) -> Trace {
    let mut events = current.events;
    let timed_out = execution.termination == Termination::TimedOut;
    let already_marked = matches!(
        events.last(),
        Some(Event {
            kind: EventKind::Timeout,
            ..
        })
    );
    let (frame, location) = events.last().map_or((0, Location::Test(1)), |event| {
        (event.frame, event.location)
    });
    if timed_out && !already_marked {
        events.push(Event {
            frame,
            location,
            kind: EventKind::Timeout,
        });
    } else if !timed_out {
        // The job's process ended during the test (no fork: the test ran in it).
        let code = match &execution.termination {
            Termination::Exited { code } => code.to_string(),
            Termination::Signaled { signal } => signal_name(*signal),
            Termination::TimedOut | Termination::ResourceLimit { .. } => "crashed".to_owned(),
        };
        events.push(Event {
            frame,
            location,
            kind: EventKind::Exit { code },
        });
    }
    Trace {
        test: current.test,
        status: if timed_out {
            TraceStatus::TimedOut
        } else {
            TraceStatus::Crashed
        },
        events,
        truncated: timed_out,
        incomplete: !timed_out,
        stdout: out.to_owned(),
        stderr: err.to_owned(),
    }
}

/// The name of a signal, as Python's `signal.Signals` gives it (`SIG` and the number for
/// one it does not name here).
fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return format!("SIG{signal}"),
    };
    name.to_owned()
}

fn convert(event: WireEvent) -> Event {
    fn bindings(pairs: Vec<(String, String)>) -> Vec<Binding> {
        pairs
            .into_iter()
            .map(|(name, value)| Binding { name, value })
            .collect()
    }
    fn location(frame: u32, line: u32) -> Location {
        if frame == 0 {
            Location::Test(line.max(1))
        } else {
            Location::Program(line.max(1))
        }
    }
    let (frame, line, kind) = match event {
        WireEvent::Call {
            frame,
            line,
            function,
            args,
        } => (
            frame,
            line,
            EventKind::Call {
                function,
                args: bindings(args),
            },
        ),
        WireEvent::Line {
            frame,
            line,
            changes,
        } => (
            frame,
            line,
            EventKind::Line {
                changes: bindings(changes),
            },
        ),
        WireEvent::Return { frame, line, value } => (frame, line, EventKind::Return { value }),
        WireEvent::Exception { frame, line, value } => {
            (frame, line, EventKind::Exception { value })
        }
        WireEvent::Timeout { frame, line } => (frame, line, EventKind::Timeout),
        WireEvent::Yield { frame, line, value } => (frame, line, EventKind::Yield { value }),
        WireEvent::Exit { frame, line, code } => (frame, line, EventKind::Exit { code }),
    };
    Event {
        frame,
        location: location(frame, line),
        kind,
    }
}

fn join(first: &str, second: &str) -> String {
    let mut text = String::with_capacity(first.len() + second.len());
    text.push_str(first);
    text.push_str(second);
    text
}

/// A protocol error, with how the job ended and the end of its stderr (where the
/// harness reports its own failures).
fn protocol(execution: &Execution, what: &str) -> TraceError {
    let stderr = String::from_utf8_lossy(&execution.stderr);
    let tail: String = {
        let trimmed = stderr.trim_end();
        let start = trimmed
            .char_indices()
            .rev()
            .nth(400)
            .map_or(0, |(index, _)| index);
        trimmed[start..].to_owned()
    };
    let end = match &execution.termination {
        Termination::Exited { code } => format!("exited with status {code}"),
        Termination::Signaled { signal } => format!("killed by signal {signal}"),
        Termination::TimedOut => "stopped at the time limit".to_owned(),
        Termination::ResourceLimit { resource } => format!("stopped at the {resource} limit"),
    };
    if tail.is_empty() {
        TraceError::Protocol(format!("{what} (the job {end})"))
    } else {
        TraceError::Protocol(format!("{what} (the job {end}; stderr: {tail})"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn execution(stdout: &str, termination: Termination) -> Execution {
        Execution {
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            termination,
            output_truncated: false,
            wall_time: Duration::from_millis(5),
        }
    }

    const OK: Termination = Termination::Exited { code: 0 };

    #[test]
    fn a_finished_job_gives_one_trace_per_test() {
        let out = concat!(
            "N{\"t\":\"hello\",\"python\":\"3.12.1\",\"engine\":\"monitoring\",\"fork\":true}\n",
            "N{\"t\":\"module\",\"out\":\"hi\\n\",\"err\":\"\"}\n",
            "N{\"t\":\"begin\",\"test\":0}\n",
            "N[\"c\",1,1,\"f\",[[\"x\",\"1\"]]]\n",
            "N[\"l\",1,2,[]]\n",
            "N[\"r\",1,2,\"2\"]\n",
            "N[\"x\",0,1,\"AssertionError()\"]\n",
            "N{\"t\":\"end\",\"test\":0,\"status\":\"failed\",\"out\":\"a\",\"err\":\"b\"}\n",
            "N{\"t\":\"begin\",\"test\":1}\n",
            "N{\"t\":\"end\",\"test\":1,\"status\":\"passed\"}\n",
            "N{\"t\":\"done\"}\n",
        );
        let outcome = assemble(&execution(out, OK), "N", 2).unwrap();
        let [first, second] = &outcome.traces[..] else {
            panic!("two traces expected")
        };
        assert_eq!(first.status, TraceStatus::Failed);
        assert_eq!(first.stdout, "hi\na");
        assert_eq!(first.stderr, "b");
        assert_eq!(first.events.len(), 4);
        assert_eq!(
            first.events[3],
            Event {
                frame: 0,
                location: Location::Test(1),
                kind: EventKind::Exception {
                    value: "AssertionError()".into()
                }
            }
        );
        assert_eq!(second.status, TraceStatus::Passed);
        assert_eq!(second.stdout, "hi\n");
    }

    #[test]
    fn a_killed_job_times_out_the_running_test_and_crashes_the_rest() {
        let out = concat!(
            "N{\"t\":\"hello\",\"python\":\"3.8.18\",\"engine\":\"settrace\",\"fork\":false}\n",
            "N{\"t\":\"module\",\"out\":\"\",\"err\":\"\"}\n",
            "N{\"t\":\"begin\",\"test\":0}\n",
            "N[\"c\",1,1,\"f\",[]]\n",
            "N[\"l\",1,2,[[\"x\",\"1\"]]]\n",
            "N[\"l\",1,3",
        );
        let outcome = assemble(&execution(out, Termination::TimedOut), "N", 3).unwrap();
        let traces = &outcome.traces;
        assert_eq!(traces[0].status, TraceStatus::TimedOut);
        assert!(traces[0].truncated);
        assert_eq!(
            traces[0]
                .events
                .last()
                .map(|e| (e.frame, e.location, &e.kind)),
            Some((1, Location::Program(2), &EventKind::Timeout))
        );
        for trace in &traces[1..] {
            assert_eq!(trace.status, TraceStatus::Crashed);
            assert!(trace.events.is_empty());
        }
    }

    #[test]
    fn a_program_that_cannot_run_crashes_every_test_at_its_line() {
        let out = concat!(
            "N{\"t\":\"hello\",\"python\":\"3.8.18\",\"engine\":\"settrace\",\"fork\":true}\n",
            "N{\"t\":\"crash\",\"line\":3,\"value\":\"SyntaxError('invalid syntax')\"}\n",
            "N{\"t\":\"done\"}\n",
        );
        let outcome = assemble(&execution(out, OK), "N", 2).unwrap();
        for trace in &outcome.traces {
            assert_eq!(trace.status, TraceStatus::Crashed);
            assert_eq!(trace.events[0].location, Location::Program(3));
        }
    }

    #[test]
    fn garbage_and_silence_are_protocol_errors() {
        let err = assemble(&execution("", Termination::Exited { code: 1 }), "N", 1).unwrap_err();
        assert!(
            matches!(err, TraceError::Protocol(ref m) if m.contains("did not start")),
            "{err}"
        );
        let out = "N{\"t\":\"hello\",\"python\":\"3\",\"engine\":\"e\",\"fork\":true}\nN[\"l\",1,2,[]]\nN{\"t\":\"done\"}\n";
        let err = assemble(&execution(out, OK), "N", 1).unwrap_err();
        assert!(
            matches!(err, TraceError::Protocol(ref m) if m.contains("outside")),
            "{err}"
        );
        let out = "N{\"t\":\"hello\",\"python\":\"3\",\"engine\":\"e\",\"fork\":true}\nN{bad\nN{\"t\":\"done\"}\n";
        assert!(assemble(&execution(out, OK), "N", 1).is_err());
    }
}
