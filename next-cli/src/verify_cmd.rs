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

use std::path::PathBuf;
use std::process::ExitCode;

use next_core::error::InvalidInput;
use next_core::task::{Program, TestCase};
use next_core::verify::Verdict;
use next_verifiers::verify::{Provenance, Report, TestVerifier};
use tokio::runtime::Runtime;

use crate::error::CliError;
use crate::input::{parse_tests, read, read_program};

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
    let sandbox = crate::input::sandbox(&args.sandbox, None)?;
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
