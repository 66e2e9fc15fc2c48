//! The wire between the Rust side and the tracing harness (`tracer/*.py`): the payload
//! written to the job's stdin, and the lines read back from its stdout.
//!
//! # Stdin
//!
//! First the harness, for `bootstrap.py`: its module name, interpreter tag, compiled
//! form and source, as [`Preload::stdin_head`] frames them (the verifier's harness
//! comes the same way). The bootstrap uses the preloaded module if there is one, else
//! loads the compiled form when the tag names its own interpreter, and compiles the
//! source otherwise. A job for a sandbox that holds the harness has no such head: its
//! source calls the harness's `enter` ([`Preload::entry`]).
//!
//! Then the payload, for the harness's `boot`: the line `NEXT-TRACE 1`, one `key=value`
//! line per option, a blank line, then records, each `KIND LENGTH\n`, LENGTH bytes and
//! `\n`: `program`, and one `test` per test, in order.
//!
//! # Output
//!
//! One message a line, each after the job's nonce (text before the nonce on a line, and
//! lines without it, are not the harness's and are ignored). A message is an object
//! with a `t` key ([`Message`]) or an array, an event ([`WireEvent`]):
//!
//! | array | event |
//! |---|---|
//! | `["c", frame, line, function, [[name, value], ...]]` | call, at the `def` line |
//! | `["l", frame, line, [[name, value], ...]]` | a line finished; its changes |
//! | `["r", frame, line, value]` | return |
//! | `["x", frame, line, value]` | exception (frame 0: the test line) |
//! | `["t", frame, line]` | stopped here by a limit (frame 0, line 0: the test) |
//! | `["y", frame, line, value]` | a generator yielded |
//! | `["e", frame, line, code]` | the test's process ended here (exit status or signal name) |

use std::fmt;
use std::fmt::Write as _;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

#[cfg(doc)]
use next_core::sandbox::Preload;

/// The first line of every payload.
const MAGIC: &str = "NEXT-TRACE 1";

/// Builds a payload.
pub(crate) struct Payload {
    header: String,
    records: Vec<u8>,
}

impl Payload {
    /// A payload with no options and no records yet.
    pub(crate) fn new() -> Self {
        Self {
            header: format!("{MAGIC}\n"),
            records: Vec::new(),
        }
    }

    /// Adds a header option. Keys and values must not hold line breaks (the callers'
    /// are fixed names, numbers and hex).
    pub(crate) fn option(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        let _ = writeln!(self.header, "{key}={value}");
        self
    }

    /// Adds a record.
    pub(crate) fn record(&mut self, kind: &str, body: &[u8]) -> &mut Self {
        self.records
            .extend_from_slice(format!("{kind} {}\n", body.len()).as_bytes());
        self.records.extend_from_slice(body);
        self.records.push(b'\n');
        self
    }

    /// The bytes of the payload alone.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.header.into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&self.records);
        bytes
    }
}

/// How a test ended, as the harness reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EndStatus {
    /// The test statement ran without an exception.
    Passed,
    /// It raised (the exception is the test's last event).
    Failed,
    /// It was stopped at the time limit (a timeout event says where).
    Timeout,
    /// The test's process exited without reporting (`os._exit`, a crash).
    Exited,
    /// The test's process died of a signal.
    Signaled,
}

/// A message of the harness (an object with a `t` key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Message {
    /// The harness started.
    Hello {
        /// `X.Y.Z`.
        python: String,
        /// `settrace` or `monitoring`.
        engine: String,
        /// Whether each test runs in a forked process.
        fork: bool,
    },
    /// The tracer compiled by this job, for the next jobs on the same interpreter build.
    Code {
        /// The build it is valid for.
        tag: String,
        /// `marshal` bytes, in hex.
        hex: String,
    },
    /// The module level ran; what it printed.
    Module {
        /// Its stdout.
        out: String,
        /// Its stderr.
        err: String,
    },
    /// The program could not be run: a syntax error, or its module level raised.
    Crash {
        /// The program line of the error.
        line: u32,
        /// The exception, rendered.
        value: String,
    },
    /// The module level did not end: it ran out of its time (`end` is `timeout`) or
    /// its process ended (`end` is the exit status or the signal's name).
    Stalled {
        /// How it ended.
        end: String,
    },
    /// A test starts; the events that follow are its own.
    Begin {
        /// The test's index.
        test: usize,
    },
    /// A test ended.
    End {
        /// The test's index.
        test: usize,
        /// How.
        status: EndStatus,
        /// Recording stopped at a limit.
        #[serde(default)]
        truncated: bool,
        /// The tracer was removed or failed during the run.
        #[serde(default)]
        incomplete: bool,
        /// What the test printed on stdout.
        #[serde(default)]
        out: String,
        /// What it printed on stderr.
        #[serde(default)]
        err: String,
        /// The exit status or signal, for `exited` and `signaled`.
        #[serde(default)]
        code: Option<i32>,
    },
    /// The harness finished.
    Done,
}

/// An event as the harness writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireEvent {
    /// `["c", frame, line, function, args]`.
    Call {
        frame: u32,
        line: u32,
        function: String,
        args: Vec<(String, String)>,
    },
    /// `["l", frame, line, changes]`.
    Line {
        frame: u32,
        line: u32,
        changes: Vec<(String, String)>,
    },
    /// `["r", frame, line, value]`.
    Return {
        frame: u32,
        line: u32,
        value: String,
    },
    /// `["x", frame, line, value]`.
    Exception {
        frame: u32,
        line: u32,
        value: String,
    },
    /// `["t", frame, line]`.
    Timeout { frame: u32, line: u32 },
    /// `["y", frame, line, value]`.
    Yield {
        frame: u32,
        line: u32,
        value: String,
    },
    /// `["e", frame, line, code]`.
    Exit { frame: u32, line: u32, code: String },
}

impl<'de> Deserialize<'de> for WireEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(EventVisitor)
    }
}

struct EventVisitor;

fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A, what: &str,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom(format!("event without its {what}")))
}

impl<'de> Visitor<'de> for EventVisitor {
    type Value = WireEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event array such as [\"l\", frame, line, changes]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireEvent, A::Error> {
        let kind: std::borrow::Cow<'de, str> = next(&mut seq, "kind")?;
        let frame: u32 = next(&mut seq, "frame")?;
        let line: u32 = next(&mut seq, "line")?;
        let event = match &*kind {
            "c" => WireEvent::Call {
                frame,
                line,
                function: next(&mut seq, "function")?,
                args: next(&mut seq, "arguments")?,
            },
            "l" => WireEvent::Line {
                frame,
                line,
                changes: next(&mut seq, "changes")?,
            },
            "r" => WireEvent::Return {
                frame,
                line,
                value: next(&mut seq, "value")?,
            },
            "x" => WireEvent::Exception {
                frame,
                line,
                value: next(&mut seq, "value")?,
            },
            "t" => WireEvent::Timeout { frame, line },
            "y" => WireEvent::Yield {
                frame,
                line,
                value: next(&mut seq, "value")?,
            },
            "e" => WireEvent::Exit {
                frame,
                line,
                code: next(&mut seq, "code")?,
            },
            other => return Err(de::Error::custom(format!("unknown event kind {other:?}"))),
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("event with extra elements"));
        }
        Ok(event)
    }
}

/// One line of the harness's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A message.
    Message(Message),
    /// An event.
    Event(WireEvent),
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    /// The 1-based line number in the job's stdout.
    pub line: usize,
    /// What was wrong.
    pub why: String,
}

/// The harness's items in `stdout`, in order: lines holding `nonce`, read from just
/// after it. A line that holds the nonce but cannot be read is reported with its
/// position, so that the caller can forgive a last line cut by a kill.
pub(crate) fn parse(stdout: &[u8], nonce: &str) -> Vec<Result<Item, BadLine>> {
    let nonce = nonce.as_bytes();
    let mut items = Vec::new();
    for (index, raw) in stdout.split(|&b| b == b'\n').enumerate() {
        let Some(start) = find(raw, nonce) else {
            continue;
        };
        let body = &raw[start + nonce.len()..];
        let parsed = match body.first() {
            Some(b'[') => serde_json::from_slice::<WireEvent>(body).map(Item::Event),
            Some(b'{') => serde_json::from_slice::<Message>(body).map(Item::Message),
            _ => {
                items.push(Err(BadLine {
                    line: index + 1,
                    why: "neither an object nor an array".to_owned(),
                }));
                continue;
            }
        };
        items.push(parsed.map_err(|err| BadLine {
            line: index + 1,
            why: err.to_string(),
        }));
    }
    items
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes the hex of a [`Message::Code`].
pub(crate) fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let bytes = hex.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_layout() {
        let mut payload = Payload::new();
        payload
            .option("nonce", "N1")
            .record("program", b"x = 1\r\n");
        assert_eq!(
            payload.into_bytes(),
            b"NEXT-TRACE 1\nnonce=N1\n\nprogram 7\nx = 1\r\n\n".to_vec()
        );
    }

    #[test]
    fn events_and_messages_are_read_after_the_nonce() {
        let out = concat!(
            "NN{\"t\":\"begin\",\"test\":0}\n",
            "printed by the program NN[\"c\",1,1,\"f\",[[\"a\",\"1\"]]]\n",
            "NM[\"l\",1,2,[]]\n",
            "NN[\"l\",1,2,[[\"s\",\"0\"],[\"t\",\"'x'\"]]]\n",
            "NN[\"t\",0,0]\n",
            "NN[\"q\",0,0]\n",
            "NN[\"l\",1"
        );
        let items = parse(out.as_bytes(), "NN");
        assert_eq!(items.len(), 6);
        assert_eq!(items[0], Ok(Item::Message(Message::Begin { test: 0 })));
        assert_eq!(
            items[1],
            Ok(Item::Event(WireEvent::Call {
                frame: 1,
                line: 1,
                function: "f".into(),
                args: vec![("a".into(), "1".into())],
            }))
        );
        assert_eq!(
            items[2],
            Ok(Item::Event(WireEvent::Line {
                frame: 1,
                line: 2,
                changes: vec![("s".into(), "0".into()), ("t".into(), "'x'".into())],
            }))
        );
        assert_eq!(
            items[3],
            Ok(Item::Event(WireEvent::Timeout { frame: 0, line: 0 }))
        );
        assert!(items[4]
            .as_ref()
            .is_err_and(|bad| bad.why.contains("unknown event kind")));
        assert!(items[5].as_ref().is_err_and(|bad| bad.line == 7));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(decode_hex("00ff10Ab"), Some(vec![0, 255, 16, 171]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
