//! The event contract of `next_core::trace` read into steps, and the frames' states.
//!
//! A [`Step`] is what one step number of the inline format covers: a `Call`, or a `Line`
//! event together with the `Return`, `Exception` or `Yield` of the same frame and
//! location that directly follows it. A `Return`, `Exception`, `Yield`, `Timeout` or
//! `Exit` that follows no such line is a step of its own.

use std::collections::BTreeMap;

use next_core::trace::{Binding, Event, EventKind, Location};

/// How a step ended its frame or the run, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End<'a> {
    /// The frame returned this value.
    Return(&'a str),
    /// This exception was raised here.
    Exception(&'a str),
    /// The run was stopped here.
    Timeout,
    /// A generator yielded this value.
    Yield(&'a str),
    /// The process ended here, with this status or signal.
    Exit(&'a str),
}

impl End<'_> {
    /// The item the renderers write for it: `__return__=v`, `__exception__=v`,
    /// `__yield__=v`, `__exit__=code` or `__timeout__`, values cut to `max_chars`.
    pub(crate) fn item(self, max_chars: usize) -> String {
        match self {
            End::Return(value) => super::value::item("__return__", value, max_chars),
            End::Exception(value) => super::value::item("__exception__", value, max_chars),
            End::Timeout => "__timeout__".to_owned(),
            End::Yield(value) => super::value::item("__yield__", value, max_chars),
            End::Exit(code) => super::value::item("__exit__", code, max_chars),
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepKind<'a> {
    /// A frame started with these arguments.
    Call {
        /// The function's name.
        function: &'a str,
        /// Its arguments.
        args: &'a [Binding],
    },
    /// A line was executed (`ran`: from a `Line` event) with these changes, perhaps
    /// ending as `end` says.
    Line {
        /// Whether a `Line` event recorded it (not only a `Return`, `Exception` or
        /// `Timeout`).
        ran: bool,
        /// The locals it changed.
        changes: &'a [Binding],
        /// How it ended the frame or the run, if it did.
        end: Option<End<'a>>,
    },
}

/// One step of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step<'a> {
    /// Its frame.
    pub(crate) frame: u32,
    /// Where it happened.
    pub(crate) location: Location,
    /// What it did.
    pub(crate) kind: StepKind<'a>,
}

/// The steps of `events`, in order.
pub(crate) fn steps(events: &[Event]) -> Vec<Step<'_>> {
    let mut steps = Vec::with_capacity(events.len());
    let mut index = 0;
    while let Some(event) = events.get(index) {
        index += 1;
        let kind = match &event.kind {
            EventKind::Call { function, args } => StepKind::Call { function, args },
            EventKind::Line { changes } => {
                let end = events
                    .get(index)
                    .filter(|next| next.frame == event.frame && next.location == event.location)
                    .and_then(|next| match &next.kind {
                        EventKind::Return { value } => Some(End::Return(value)),
                        EventKind::Exception { value } => Some(End::Exception(value)),
                        EventKind::Yield { value } => Some(End::Yield(value)),
                        _ => None,
                    });
                if end.is_some() {
                    index += 1;
                }
                StepKind::Line {
                    ran: true,
                    changes,
                    end,
                }
            }
            EventKind::Return { value } => ended(End::Return(value)),
            EventKind::Exception { value } => ended(End::Exception(value)),
            EventKind::Timeout => ended(End::Timeout),
            EventKind::Yield { value } => ended(End::Yield(value)),
            EventKind::Exit { code } => ended(End::Exit(code)),
        };
        steps.push(Step {
            frame: event.frame,
            location: event.location,
            kind,
        });
    }
    steps
}

fn ended(end: End<'_>) -> StepKind<'_> {
    StepKind::Line {
        ran: false,
        changes: &[],
        end: Some(end),
    }
}

/// One frame's function and locals, in the order the names first appeared.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frame<'a> {
    /// The function, when its `Call` was seen.
    pub(crate) function: Option<&'a str>,
    /// The locals and their last values.
    pub(crate) locals: Vec<(&'a str, &'a str)>,
}

impl<'a> Frame<'a> {
    /// The locals as `name=value` items, values cut to `max_chars`.
    pub(crate) fn items(&self, max_chars: usize) -> Vec<String> {
        self.locals
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    super::value::one_line(name),
                    super::value::show(value, max_chars)
                )
            })
            .collect()
    }

    fn set(&mut self, bindings: &'a [Binding]) {
        for binding in bindings {
            match self
                .locals
                .iter_mut()
                .find(|(name, _)| *name == binding.name)
            {
                Some(local) => local.1 = &binding.value,
                None => self.locals.push((&binding.name, &binding.value)),
            }
        }
    }
}

/// The full state of every frame, rebuilt step by step: a `Call` sets the frame's
/// locals to its arguments, a line's changes update them. A frame whose `Call` was not
/// seen (events out of order) starts empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frames<'a> {
    frames: BTreeMap<u32, Frame<'a>>,
}

impl<'a> Frames<'a> {
    /// Applies `step` to its frame.
    pub(crate) fn apply(&mut self, step: &Step<'a>) {
        let frame = self.frames.entry(step.frame).or_default();
        match step.kind {
            StepKind::Call { function, args } => {
                frame.function = Some(function);
                frame.locals.clear();
                frame.set(args);
            }
            StepKind::Line { changes, .. } => frame.set(changes),
        }
    }

    /// The state of `frame` as `name=value` items, values cut to `max_chars` (none when
    /// nothing of the frame was seen).
    pub(crate) fn items(&self, frame: u32, max_chars: usize) -> Vec<String> {
        self.frames
            .get(&frame)
            .map(|frame| frame.items(max_chars))
            .unwrap_or_default()
    }

    /// The function of `frame`, when its `Call` was seen.
    pub(crate) fn function(&self, frame: u32) -> Option<&'a str> {
        self.frames.get(&frame).and_then(|frame| frame.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(frame: u32, line: u32, kind: EventKind) -> Event {
        Event {
            frame,
            location: Location::Program(line),
            kind,
        }
    }

    #[test]
    fn a_line_and_its_return_are_one_step() {
        let changes = vec![Binding::new("x", "1")];
        let events = [
            event(
                1,
                2,
                EventKind::Line {
                    changes: changes.clone(),
                },
            ),
            event(1, 2, EventKind::Return { value: "1".into() }),
            event(1, 3, EventKind::Line { changes: vec![] }),
            event(1, 4, EventKind::Return { value: "2".into() }),
            event(2, 3, EventKind::Line { changes: vec![] }),
            event(
                1,
                3,
                EventKind::Exception {
                    value: "E()".into(),
                },
            ),
            event(1, 5, EventKind::Line { changes: vec![] }),
            event(1, 5, EventKind::Timeout),
        ];
        let steps = steps(&events);
        assert_eq!(steps.len(), 7);
        assert_eq!(
            steps[0].kind,
            StepKind::Line {
                ran: true,
                changes: &changes,
                end: Some(End::Return("1"))
            }
        );
        assert_eq!(
            steps[2].kind,
            StepKind::Line {
                ran: false,
                changes: &[],
                end: Some(End::Return("2"))
            }
        );
        assert!(matches!(steps[3].kind, StepKind::Line { end: None, .. }));
        assert!(matches!(steps[4].kind, StepKind::Line { ran: false, .. }));
        assert!(matches!(
            steps[6].kind,
            StepKind::Line {
                end: Some(End::Timeout),
                ..
            }
        ));
    }

    #[test]
    fn frames_accumulate_state() {
        let args = vec![Binding::new("a", "1")];
        let first = vec![Binding::new("b", "2"), Binding::new("a", "3")];
        let events = [
            event(
                1,
                1,
                EventKind::Call {
                    function: "f".into(),
                    args,
                },
            ),
            event(1, 2, EventKind::Line { changes: first }),
            event(9, 2, EventKind::Line { changes: vec![] }),
        ];
        let mut frames = Frames::default();
        for step in steps(&events) {
            frames.apply(&step);
        }
        assert_eq!(frames.items(1, 60), ["a=3", "b=2"]);
        assert_eq!(frames.function(1), Some("f"));
        assert_eq!(frames.function(9), None);
        assert!(frames.items(7, 60).is_empty());
    }
}
