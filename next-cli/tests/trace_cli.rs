//! `next trace` end to end: real CPython in the process sandbox, the Python tracer and
//! the inline renderer give the worked example of `trace-format.md` byte for byte.
//!
//! The interpreter: the first of `NEXT_TEST_PYTHONS` (paths separated by `:`), else
//! CPython 3.12 from pyenv; the test is skipped, saying so, when there is none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::python;

use std::process::Command;

const SUM_ODD: &str = "\
def sum_odd(nums):
    s = 0
    for n in nums:
        if n % 2 == 1:
            s += n
    return s
";

#[test]
fn next_trace_prints_the_worked_example_of_the_spec() {
    let Some(python) = python() else {
        eprintln!("skipped: no CPython 3.12 (set NEXT_TEST_PYTHONS)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("sum_odd.py");
    std::fs::write(&program, SUM_ODD).unwrap();
    let tests = dir.path().join("tests.txt");
    std::fs::write(&tests, "assert sum_odd([1, 2, 3, 4]) == 4\n").unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_next"))
        .arg("trace")
        .arg(&program)
        .args(["--test", "assert sum_odd([1, 2, 3, 4]) == 5"])
        .arg("--tests-file")
        .arg(&tests)
        .arg("--python")
        .arg(&python)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let block = |annotation: &str| {
        format!(
            "\
def sum_odd(nums):  # (0) nums=[1, 2, 3, 4];
    s = 0  # (1) s=0;
    for n in nums:  # (2) n=1; (4) n=2; ...; (7) n=4;
        if n % 2 == 1:
            s += n  # (3) s=1; (6) s=4;
    return s  # (8) __return__=4;

{annotation}
"
        )
    };
    // The failing test first, then the passing one.
    let expected = format!(
        "{}\n{}",
        block("assert sum_odd([1, 2, 3, 4]) == 5  # (9) __exception__=AssertionError();"),
        block("assert sum_odd([1, 2, 3, 4]) == 4")
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    // --json gives the traces themselves.
    let out = Command::new(env!("CARGO_BIN_EXE_next"))
        .arg("trace")
        .arg(&program)
        .args(["--test", "assert sum_odd([1]) == 1", "--json", "--python"])
        .arg(&python)
        .output()
        .unwrap();
    assert!(out.status.success());
    let traces: Vec<next_core::trace::Trace> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(traces.len(), 1);
    assert!(traces[0].passed());

    // A sandbox that is not compiled in is an error that says how to get it (with the
    // feature, tests/docker_cli.rs runs it).
    if !cfg!(feature = "docker") {
        let out = Command::new(env!("CARGO_BIN_EXE_next"))
            .arg("trace")
            .arg(&program)
            .args(["--test", "assert True", "--sandbox", "docker"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cargo feature `docker`"));
    }
}

#[test]
fn a_reader_that_goes_away_ends_next_trace_quietly() {
    use std::io::Read as _;
    use std::process::Stdio;

    let Some(python) = python() else {
        eprintln!("skipped: no CPython 3.12 (set NEXT_TEST_PYTHONS)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("count.py");
    // Some 200 KB of JSON: more than a pipe holds, so the writer meets the closed end.
    std::fs::write(
        &program,
        "def count(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_next"))
        .arg("trace")
        .arg(&program)
        .args(["--test", "assert count(2000) > 0", "--json", "--python"])
        .arg(&python)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, as `| head -c 100` does, and hang up.
    let mut stdout = child.stdout.take().unwrap();
    let mut start = [0u8; 100];
    stdout.read_exact(&mut start).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(start.starts_with(b"["));
}
