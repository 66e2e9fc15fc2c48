//! `next verify PROGRAM.py --tests-file FILE [--sandbox KIND] [--json]`: judges one
//! program by its tests with the test verifier (`next_verifiers::verify`).
//!
//! The tests file holds Python statements, in one of three forms: a JSON array of
//! strings; JSON Lines, one string a line; or plain text, one test a line, where a line
//! that starts with whitespace continues the test above it (for multi-line tests).
//!
//! Every test must check something: a test without an `assert` (`x = 1`, `pass`,
//! `add(1, 2) == 4`) would pass any program, and is an error naming it.
//!
//! Exit status: 0 when every test passed, 1 when one did not, 2 for a usage or
//! infrastructure error (a missing file, a test that checks nothing, an unknown sandbox,
//! a sandbox that cannot run).
//! With `--json` the verdict is one object on stdout:
//! `{"passed": bool, "tests": [{"test": str, "outcome": str, "message": str,
//! "provenance": str}]}`, where `provenance` says where the outcome was decided:
//! `judged` or `wrapped` (outside the program's process), `delegated` (inside it: such
//! a pass is refused unless the verifier allows delegated tests) or `invalid`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use next_core::error::InvalidInput;
use next_core::task::{Program, TestCase};
use next_core::verify::Verdict;
use next_verifiers::verify::{Provenance, Report, TestVerifier};
use tokio::runtime::Runtime;

use crate::error::CliError;

/// The arguments of `next verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The program to judge: a Python source file.
    program: PathBuf,
    /// The tests: a JSON array of statements, JSON Lines of statements, or text with one
    /// test per line (a line starting with whitespace continues the test above).
    #[arg(long)]
    tests_file: PathBuf,
    /// The sandbox backend that runs the program (a sandbox factory: process, wasm,
    /// docker, as compiled in; `next roles` lists them).
    #[arg(long, default_value = "process")]
    sandbox: String,
    /// Print the verdict as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `next verify`; the exit status says passed (0) or failed (1); an error is the
/// could-not-judge status (2) `main` gives it.
///
/// # Errors
/// [`CliError`] when a file cannot be read, the sandbox cannot be built, or the program
/// cannot be judged.
pub fn run(args: &VerifyArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let passed = verify(args, runtime)?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The contents of the `what` file at `path`.
pub(crate) fn read(path: &Path, what: &'static str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The source of a Python program at `path`: UTF-8, or where it is not, the encoding its
/// PEP 263 coding line declares (in its first two lines), as CPython reads it. The
/// Latin-1 family is decoded here (each byte one character); the coding line stays in
/// the text, where CPython ignores it in a program given as text.
pub(crate) fn read_program(path: &Path, what: &'static str) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => {
            let bytes = err.into_bytes();
            if coding_is_latin1(&bytes) {
                return Ok(bytes.iter().map(|&b| char::from(b)).collect());
            }
            Err(CliError::Read {
                what,
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8, and no coding line declares \
                     Latin-1 (PEP 263)",
                ),
            })
        }
    }
}

/// Whether one of the first two lines of `bytes` is a PEP 263 comment declaring a
/// Latin-1 encoding (`# -*- coding: latin-1 -*-`, `# vim: set fileencoding=iso-8859-1`).
fn coding_is_latin1(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').take(2).any(|line| {
        let text: String = line.iter().map(|&b| char::from(b)).collect();
        let trimmed = text.trim_start_matches([' ', '\t', '\x0c']);
        if !trimmed.starts_with('#') {
            return false;
        }
        let Some(at) = trimmed.find("coding") else {
            return false;
        };
        let rest = &trimmed[at + "coding".len()..];
        let Some(rest) = rest.strip_prefix([':', '=']) else {
            return false;
        };
        let name: String = rest
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect::<String>()
            .to_ascii_lowercase()
            .replace('_', "-");
        matches!(
            name.as_str(),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1" | "cp819"
        ) || name.starts_with("iso-8859-1-")
            || name.starts_with("latin-1-")
    })
}

/// The tests of a tests file, in any of the three forms.
///
/// # Errors
/// [`CliError::Input`] for a blank test.
pub fn parse_tests(text: &str) -> Result<Vec<TestCase>, CliError> {
    let make = |code: String| TestCase::new(code).map_err(CliError::Input);
    if let Ok(list) = serde_json::from_str::<Vec<String>>(text) {
        return list.into_iter().map(make).collect();
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty()
        && lines
            .iter()
            .all(|l| serde_json::from_str::<String>(l).is_ok())
    {
        return lines
            .iter()
            .filter_map(|l| serde_json::from_str::<String>(l).ok())
            .map(make)
            .collect();
    }
    let mut tests: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match tests.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push('\n');
                last.push_str(line);
            }
            _ => tests.push(line.to_owned()),
        }
    }
    tests.into_iter().map(make).collect()
}

fn verify(args: &VerifyArgs, runtime: &Runtime) -> Result<bool, CliError> {
    let program = Program::new(read_program(&args.program, "program")?);
    let tests = parse_tests(&read(&args.tests_file, "tests file")?)?;
    if tests.is_empty() {
        return Err(CliError::NoTests(args.tests_file.clone()));
    }
    // A test that checks nothing would pass any program: refused as the file is read.
    next_verifiers::verify::validate(&tests)
        .map_err(|e| CliError::Input(InvalidInput::new(e.to_string())))?;
    let _context = runtime.enter();
    let sandbox = crate::trace_cmd::sandbox(&args.sandbox, None)?;
    let verifier = TestVerifier::new(sandbox);
    let report = runtime
        .block_on(verifier.verify_report(&program, &tests))
        .map_err(CliError::Verifying)?;
    let passed = report.verdict.passed();
    if args.json {
        crate::outln!("{}", json(&tests, &report));
    } else {
        print_text(&tests, &report);
    }
    Ok(passed)
}

/// The verdict as `--json` prints it: [`verdict_json`], with each test's `provenance`
/// (`judged`, `wrapped`, `delegated` or `invalid`: where its outcome was decided).
pub fn json(tests: &[TestCase], report: &Report) -> serde_json::Value {
    let mut value = verdict_json(tests, &report.verdict);
    if let Some(items) = value
        .get_mut("tests")
        .and_then(serde_json::Value::as_array_mut)
    {
        for (item, provenance) in items.iter_mut().zip(&report.provenance) {
            if let Some(object) = item.as_object_mut() {
                object.insert(
                    "provenance".to_owned(),
                    serde_json::to_value(provenance).unwrap_or_default(),
                );
            }
        }
    }
    value
}

/// The JSON of a verdict: whether it passed, and each test with its outcome.
pub fn verdict_json(tests: &[TestCase], verdict: &Verdict) -> serde_json::Value {
    serde_json::json!({
        "passed": verdict.passed(),
        "tests": tests
            .iter()
            .zip(&verdict.outcomes)
            .map(|(test, outcome)| serde_json::json!({
                "test": test.code(),
                "outcome": outcome.name(),
                "message": outcome.message(),
            }))
            .collect::<Vec<_>>(),
    })
}

fn print_text(tests: &[TestCase], report: &Report) {
    for ((test, outcome), provenance) in tests
        .iter()
        .zip(&report.verdict.outcomes)
        .zip(&report.provenance)
    {
        let mark = if *provenance == Provenance::Delegated {
            " [judged in the program's process]"
        } else {
            ""
        };
        let mut lines = test.code().lines();
        crate::outln!(
            "{:<14} {}{mark}",
            outcome.name().to_uppercase(),
            lines.next().unwrap_or("")
        );
        for line in lines {
            crate::outln!("{:<14} {line}", "");
        }
        if !outcome.message().is_empty() {
            crate::outln!("{:<14} {}", "", outcome.message());
        }
    }
    let verdict = &report.verdict;
    crate::outln!(
        "{}: {} of {} tests passed",
        if verdict.passed() { "passed" } else { "failed" },
        verdict.passes(),
        verdict.outcomes.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latin1_program_with_a_coding_line_is_read() {
        let dir = std::env::temp_dir().join(format!("next-latin1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.py");
        std::fs::write(&path, b"# -*- coding: latin-1 -*-\nx = '\xe9'\n").unwrap();
        assert_eq!(
            read_program(&path, "program").unwrap(),
            "# -*- coding: latin-1 -*-\nx = '\u{e9}'\n"
        );
        std::fs::write(&path, b"x = '\xe9'\n").unwrap();
        assert!(read_program(&path, "program").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tests_files_come_in_three_forms() {
        let codes = |tests: Vec<TestCase>| -> Vec<String> {
            tests.iter().map(|t| t.code().to_owned()).collect()
        };
        assert_eq!(
            codes(parse_tests(r#"["assert f(1) == 1", "assert f(2) == 2"]"#).unwrap()),
            ["assert f(1) == 1", "assert f(2) == 2"]
        );
        assert_eq!(
            codes(parse_tests("\"assert f(1) == 1\"\n\n\"assert f(2) == 2\"\n").unwrap()),
            ["assert f(1) == 1", "assert f(2) == 2"]
        );
        assert_eq!(
            codes(
                parse_tests(
                    "# MBPP 1\nassert f(1) == 1\n\nfor x in range(3):\n    assert f(x) == x\n"
                )
                .unwrap()
            ),
            [
                "assert f(1) == 1",
                "for x in range(3):\n    assert f(x) == x"
            ]
        );
    }
}
