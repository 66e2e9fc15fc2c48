//! The candidate job's result channel: reading its records and turning them, with the
//! plans and the way the job ended, into one outcome per test.
//!
//! The channel is the job's stdout, which the harness keeps for itself before the program
//! runs (the program's own stdout goes to stderr). Every record is one line
//! `NONCE {json}`, where the nonce is fresh for every job. The records must come in
//! order: `start` (with the number of tests), `module` (whether the program loaded), one
//! `test` record per test in order, `end`. A line without the nonce, a malformed record,
//! a repeat or a record out of order means something other than the harness wrote to the
//! channel: the whole verdict is then a failure. A record can only ever claim the VALUES
//! of the program's sub-expressions (or, for a delegated test, that its statement ran);
//! passes are decided by the judge.
//!
//! # What reading costs
//!
//! The program can write anything to the channel, so reading it must cost no more than
//! its size, whatever it holds; the caps are enforced while reading, before any work
//! that grows faster than the input:
//! - **bytes**: no more than the job's output limit is read ([`read_records`]'s
//!   `max_bytes`; the sandbox already cuts the output there);
//! - **nesting**: the JSON parser refuses a record nested more than 128 brackets deep
//!   as it parses it (a malformed record, so a tampered channel); the harness writes no
//!   value nested more than 100 brackets deep (it reports a deeper one as too big);
//! - **integer digits**: an `int` written with more digits than the harness ever
//!   writes is refused before it is converted (decimal conversion is quadratic: sixteen
//!   million digits took minutes), and judged as an unreadable value.
//!
//! Everything else read (strings, bytes, lists, sets, dicts) costs time linear in its
//! size, or `n log n`.

use next_core::sandbox::{Execution, Termination};
use next_core::verify::TestOutcome;

use super::judge::{self, HoleResult, Holes, PyAnswer};
use super::plan::TestPlan;
use super::value::Value;

/// What the channel held for one test.
#[derive(Debug, Clone)]
pub(crate) enum TestRecord {
    Holes(Vec<HoleResult>),
    Exec(TestOutcome),
    Timeout,
    Crash(i32),
    Exit(i32),
    Limit(String),
    Lost,
    TooBig,
}

/// How the program's module level went.
#[derive(Debug, Clone)]
pub(crate) enum ModuleRecord {
    Loaded,
    Failed { message: String, kind: String },
}

/// Everything read from the channel.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub module: Option<ModuleRecord>,
    pub tests: Vec<TestRecord>,
    pub ended: bool,
    /// Why the channel cannot be believed, if it cannot.
    pub tampered: Option<String>,
}

fn str_field<'a>(json: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    json.get(name).and_then(serde_json::Value::as_str)
}

/// Reads the records of a job that ran `n` tests, keyed by `nonce`, from the first
/// `max_bytes` bytes of its output (what lies beyond is cut, as the output limit cuts).
pub(crate) fn read_records(stdout: &[u8], nonce: &str, n: usize, max_bytes: usize) -> Records {
    let mut records = Records::default();
    let mut started = false;
    let stdout = stdout.get(..max_bytes).unwrap_or(stdout);
    let mut lines: Vec<&[u8]> = stdout.split(|&b| b == b'\n').collect();
    // The piece after the last newline is an unfinished line (the job was cut or
    // killed while writing it): it is not a record.
    lines.pop();
    for line in lines {
        if let Err(why) = read_line(line, nonce, n, &mut started, &mut records) {
            records.tampered = Some(why);
            return records;
        }
    }
    records
}

fn read_line(
    line: &[u8], nonce: &str, n: usize, started: &mut bool, records: &mut Records,
) -> Result<(), String> {
    let body = line
        .strip_prefix(nonce.as_bytes())
        .and_then(|rest| rest.strip_prefix(b" "))
        .ok_or("a line without the job's nonce")?;
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("a malformed record ({e})"))?;
    if records.ended {
        return Err("a record after the end".to_owned());
    }
    match str_field(&json, "k") {
        Some("start") if !*started => {
            if json.get("n").and_then(serde_json::Value::as_u64) != u64::try_from(n).ok() {
                return Err("a start record with the wrong number of tests".to_owned());
            }
            *started = true;
        }
        Some("module") if *started && records.module.is_none() => {
            records.module = Some(match json.get("ok").and_then(serde_json::Value::as_bool) {
                Some(true) => ModuleRecord::Loaded,
                Some(false) => ModuleRecord::Failed {
                    message: str_field(&json, "error").unwrap_or("").to_owned(),
                    kind: str_field(&json, "type").unwrap_or("").to_owned(),
                },
                None => return Err("a malformed module record".to_owned()),
            });
        }
        Some("test") if matches!(records.module, Some(ModuleRecord::Loaded)) => {
            let index = json.get("i").and_then(serde_json::Value::as_u64);
            if index != u64::try_from(records.tests.len()).ok() || records.tests.len() >= n {
                return Err("a test record out of order".to_owned());
            }
            records.tests.push(test_record(&json)?);
        }
        Some("end") if records.module.is_some() => {
            let complete = matches!(records.module, Some(ModuleRecord::Failed { .. }))
                || records.tests.len() == n;
            if !complete {
                return Err("an end record before every test".to_owned());
            }
            records.ended = true;
        }
        _ => return Err("an unexpected record".to_owned()),
    }
    Ok(())
}

fn int_field(json: &serde_json::Value, name: &str) -> Option<i32> {
    json.get(name)
        .and_then(serde_json::Value::as_i64)
        .and_then(|x| i32::try_from(x).ok())
}

fn test_record(json: &serde_json::Value) -> Result<TestRecord, String> {
    if let Some(results) = json.get("r") {
        let results = results.as_array().ok_or("results that are not a list")?;
        return results
            .iter()
            .map(hole_result)
            .collect::<Result<Vec<_>, _>>()
            .map(TestRecord::Holes);
    }
    if let Some(exec) = json.get("exec") {
        return Ok(TestRecord::Exec(
            if exec.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
                TestOutcome::Pass
            } else if let Some(message) = str_field(exec, "assert") {
                TestOutcome::Fail {
                    message: message.to_owned(),
                }
            } else if let Some(message) = str_field(exec, "err") {
                judge::raised(message, str_field(exec, "type").unwrap_or(""))
            } else {
                return Err("a malformed statement result".to_owned());
            },
        ));
    }
    if json.get("timeout").is_some() {
        return Ok(TestRecord::Timeout);
    }
    if let Some(signal) = int_field(json, "crash") {
        return Ok(TestRecord::Crash(signal));
    }
    if let Some(code) = int_field(json, "exit") {
        return Ok(TestRecord::Exit(code));
    }
    if let Some(message) = str_field(json, "limit") {
        return Ok(TestRecord::Limit(message.to_owned()));
    }
    if json.get("lost").is_some() {
        return Ok(TestRecord::Lost);
    }
    if json.get("big").is_some() {
        return Ok(TestRecord::TooBig);
    }
    Err("a test record of no known kind".to_owned())
}

fn hole_result(json: &serde_json::Value) -> Result<HoleResult, String> {
    if let Some(v) = json.get("v") {
        // A value that does not read is the program's doing (the harness writes only
        // well-formed values): it judges as a non-data value.
        return Ok(match Value::from_wire(v) {
            Ok(value) => HoleResult::Value(value),
            Err(why) => HoleResult::NonData(format!("<unreadable: {why}>")),
        });
    }
    if let Some(message) = str_field(json, "err") {
        return Ok(HoleResult::Raised {
            message: message.to_owned(),
            kind: str_field(json, "type").unwrap_or("").to_owned(),
        });
    }
    if let Some(type_name) = str_field(json, "nd") {
        return Ok(HoleResult::NonData(type_name.to_owned()));
    }
    if json.get("big").is_some() {
        return Ok(HoleResult::TooBig);
    }
    Err("a hole result of no known kind".to_owned())
}

/// The name of a Linux signal, for messages.
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "signal",
    }
}

fn crashed(signal: i32, whose: &str) -> TestOutcome {
    match signal {
        9 => TestOutcome::ResourceLimit {
            message: format!("memory: {whose} was killed (signal 9, SIGKILL)"),
        },
        24 => TestOutcome::Timeout,
        25 => TestOutcome::ResourceLimit {
            message: format!("file size: {whose} was killed (signal 25, SIGXFSZ)"),
        },
        _ => TestOutcome::Error {
            message: format!(
                "crashed: {whose} died of signal {signal} ({})",
                signal_name(signal)
            ),
        },
    }
}

/// The outcome of a test the channel says nothing about, from the way the job ended.
fn unreached(execution: &Execution, loaded: bool) -> TestOutcome {
    if execution.output_truncated && matches!(execution.termination, Termination::Exited { .. }) {
        return TestOutcome::ResourceLimit {
            message: "output: the results were cut at the output limit".to_owned(),
        };
    }
    match &execution.termination {
        Termination::TimedOut => TestOutcome::Timeout,
        Termination::ResourceLimit { resource } => TestOutcome::ResourceLimit {
            message: resource.clone(),
        },
        Termination::Signaled { signal } => crashed(*signal, "the program's process"),
        Termination::Exited { code } => TestOutcome::Error {
            message: if loaded {
                format!("the program ended the process (exit status {code}) before this test ran")
            } else {
                format!(
                    "the program ended the process (exit status {code}) while loading, before \
                     the tests ran"
                )
            },
        },
    }
}

/// The outcome of the test that was running when the job ended, in process.
pub(crate) fn ended_during(execution: &Execution) -> TestOutcome {
    match unreached(execution, true) {
        TestOutcome::Error { .. } => match &execution.termination {
            Termination::Exited { code } => TestOutcome::Error {
                message: format!(
                    "the program ended the process (exit status {code}) during this test"
                ),
            },
            _ => unreached(execution, true),
        },
        other => other,
    }
}

/// One outcome per test: from the plan (a broken test), the channel, or the job's end.
/// The outcome of each test, from its plan, what the candidate job recorded and how it
/// ended, and the judge job's answers to its "py" checks (`py[i]`, empty where none).
pub(crate) fn outcomes(
    plans: &[TestPlan], records: &Records, execution: &Execution, py: &[Vec<PyAnswer>],
) -> Vec<TestOutcome> {
    plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            if let TestPlan::Invalid { error } = plan {
                return TestOutcome::Error {
                    message: format!("the test itself fails: {error}"),
                };
            }
            if let Some(why) = &records.tampered {
                return TestOutcome::Error {
                    message: format!(
                        "something other than the verifier wrote to its private result \
                         channel ({why}); no result of this program can be trusted"
                    ),
                };
            }
            match &records.module {
                None => return unreached(execution, false),
                Some(ModuleRecord::Failed { message, kind }) => {
                    return match kind.as_str() {
                        "SystemExit" => TestOutcome::Error {
                            message: format!("the program exited while loading ({message})"),
                        },
                        _ => match judge::raised(message, kind) {
                            TestOutcome::Error { message } => TestOutcome::Error {
                                message: format!("the program failed to load: {message}"),
                            },
                            other => other,
                        },
                    }
                }
                Some(ModuleRecord::Loaded) => {}
            }
            let Some(record) = records.tests.get(i) else {
                return unreached(execution, true);
            };
            test_outcome(plan, record, py.get(i).map_or(&[], Vec::as_slice))
        })
        .collect()
}

fn test_outcome(plan: &TestPlan, record: &TestRecord, py: &[PyAnswer]) -> TestOutcome {
    match (plan, record) {
        (
            TestPlan::Judged {
                checks, sources, ..
            },
            TestRecord::Holes(results),
        ) => {
            if results.len() != sources.len() {
                return TestOutcome::Error {
                    message: "the result channel gave the wrong number of values".to_owned(),
                };
            }
            judge::judge(
                checks,
                &Holes {
                    sources,
                    results,
                    py,
                },
            )
        }
        (TestPlan::Delegated, TestRecord::Exec(outcome)) => outcome.clone(),
        (_, TestRecord::Holes(_) | TestRecord::Exec(_)) => TestOutcome::Error {
            message: "the result channel gave a result of the wrong kind".to_owned(),
        },
        (_, TestRecord::Timeout) => TestOutcome::Timeout,
        (_, TestRecord::Crash(signal)) => crashed(*signal, "the test's process"),
        (_, TestRecord::Exit(code)) => TestOutcome::Error {
            message: format!(
                "the program ended the test's process (exit status {code}) before the test \
                 finished"
            ),
        },
        (_, TestRecord::Limit(message)) => TestOutcome::ResourceLimit {
            message: message.clone(),
        },
        (_, TestRecord::Lost) => TestOutcome::Error {
            message: "the test's process was lost".to_owned(),
        },
        (_, TestRecord::TooBig) => TestOutcome::ResourceLimit {
            message: "output: the program's results passed the size limit".to_owned(),
        },
    }
}

/// Writes a JSON value in Python's `marshal` format, which the candidate harness reads
/// with the built-in `marshal.loads` (no module to import at start-up). Only the types
/// whose layout has been the same since marshal version 2 are used: `None`, `True`,
/// `False`, 32-bit ints, binary floats, `str`, lists and dicts. A number beyond 32 bits
/// is written as a float.
pub(crate) fn marshal(json: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value as J;
    let len = |n: usize, out: &mut Vec<u8>| {
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    };
    match json {
        J::Null => out.push(b'N'),
        J::Bool(true) => out.push(b'T'),
        J::Bool(false) => out.push(b'F'),
        J::Number(n) => {
            if let Some(i) = n.as_i64().and_then(|i| i32::try_from(i).ok()) {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            } else {
                out.push(b'g');
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_le_bytes());
            }
        }
        J::String(text) => {
            out.push(b'u');
            len(text.len(), out);
            out.extend_from_slice(text.as_bytes());
        }
        J::Array(items) => {
            out.push(b'[');
            len(items.len(), out);
            for item in items {
                marshal(item, out);
            }
        }
        J::Object(map) => {
            out.push(b'{');
            for (key, value) in map {
                marshal(&J::String(key.clone()), out);
                marshal(value, out);
            }
            out.push(b'0');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marshal_writes_what_python_reads() {
        let mut out = Vec::new();
        marshal(
            &serde_json::json!({"a": [1, "x", null, true, 2.5]}),
            &mut out,
        );
        // marshal.dumps({'a': [1, 'x', None, True, 2.5]}, 2) without the interning flags.
        let mut expected =
            b"{u\x01\x00\x00\x00a[\x05\x00\x00\x00i\x01\x00\x00\x00u\x01\x00\x00\x00xNTg".to_vec();
        expected.extend_from_slice(&2.5f64.to_le_bytes());
        expected.push(b'0');
        assert_eq!(out, expected);
    }

    #[test]
    fn records_must_come_in_order_with_the_nonce() {
        let good = b"n1 {\"k\":\"start\",\"n\":1}\nn1 {\"k\":\"module\",\"ok\":true}\nn1 {\"k\":\"test\",\"i\":0,\"r\":[{\"v\":1}]}\nn1 {\"k\":\"end\"}\n";
        let records = read_records(good, "n1", 1, usize::MAX);
        assert!(records.tampered.is_none() && records.ended);
        assert_eq!(records.tests.len(), 1);

        let forged = b"n1 {\"k\":\"start\",\"n\":1}\nn1 {\"k\":\"module\",\"ok\":true}\nn1 {\"k\":\"test\",\"i\":0,\"r\":[{\"v\":1}]}\nn1 {\"k\":\"test\",\"i\":0,\"r\":[{\"v\":2}]}\n";
        assert!(read_records(forged, "n1", 1, usize::MAX).tampered.is_some());
        let foreign = b"PASS\n";
        assert!(read_records(foreign, "n1", 1, usize::MAX)
            .tampered
            .is_some());
        let cut = b"n1 {\"k\":\"start\",\"n\":1}\nn1 {\"k\":\"mod";
        let records = read_records(cut, "n1", 1, usize::MAX);
        assert!(records.tampered.is_none() && records.module.is_none());
    }

    /// The records of a one-test job whose test result is `result`.
    fn one_test(result: &str) -> Vec<u8> {
        format!(
            "n1 {{\"k\":\"start\",\"n\":1}}\nn1 {{\"k\":\"module\",\"ok\":true}}\n\
             n1 {{\"k\":\"test\",\"i\":0,\"r\":[{result}]}}\nn1 {{\"k\":\"end\"}}\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_forged_huge_int_is_refused_before_it_is_converted() {
        // Sixteen million digits: converting them took minutes. Refused by their count.
        let digits = "7".repeat(16_000_000);
        let start = std::time::Instant::now();
        let records = read_records(
            &one_test(&format!("{{\"v\":{{\"int\":\"{digits}\"}}}}")),
            "n1",
            1,
            usize::MAX,
        );
        assert!(records.tampered.is_none());
        assert!(
            matches!(&records.tests[..], [TestRecord::Holes(h)] if matches!(&h[..], [HoleResult::NonData(why)] if why.contains("digits"))),
            "{records:?}"
        );
        // As a bare JSON number it is out of a float's range: a malformed record, found
        // in linear time.
        let records = read_records(
            &one_test(&format!("{{\"v\":{digits}}}")),
            "n1",
            1,
            usize::MAX,
        );
        assert!(records.tampered.is_some(), "{records:?}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );

        // The largest the harness writes, 2**65536, reads (its 19,729 digits, and a sign).
        let big = format!("-{}", "9".repeat(super::super::value::MAX_INT_DIGITS));
        let records = read_records(
            &one_test(&format!("{{\"v\":{{\"int\":\"{big}\"}}}}")),
            "n1",
            1,
            usize::MAX,
        );
        assert!(
            matches!(&records.tests[..], [TestRecord::Holes(h)] if matches!(&h[..], [HoleResult::Value(Value::Int(_))])),
            "{records:?}"
        );
    }

    #[test]
    fn nesting_is_bounded_while_parsing_and_bytes_at_the_output_limit() {
        // A million brackets: refused by the parser at its depth limit, without
        // overflowing the stack.
        let deep = format!(
            "{{\"v\":{}1{}}}",
            "[".repeat(1_000_000),
            "]".repeat(1_000_000)
        );
        let records = read_records(&one_test(&deep), "n1", 1, usize::MAX);
        assert!(records.tampered.is_some(), "{records:?}");
        // What the harness writes at its own depth limit (100 brackets) reads.
        let deepest = format!("{{\"v\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        let records = read_records(&one_test(&deepest), "n1", 1, usize::MAX);
        assert!(records.tampered.is_none() && records.ended, "{records:?}");
        // Bytes past the cap are not read: the records there do not count.
        let text = one_test("{\"v\":1}");
        let records = read_records(&text, "n1", 1, text.len() - "n1 {\"k\":\"end\"}\n".len());
        assert!(records.tampered.is_none() && !records.ended, "{records:?}");
        assert_eq!(records.tests.len(), 1);
    }
}
