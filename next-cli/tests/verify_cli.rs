//! `next verify` end to end: the exit status and the `--json` object.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::Path;
use std::process::{Command, Output};

fn next(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_next"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Whether this machine can run the process sandbox (`next verify` needs one).
fn sandbox_works(dir: &Path) -> bool {
    write(dir, "probe.py", "def f():\n    return 1\n");
    write(dir, "probe.txt", "assert f() == 1\n");
    let out = next(&["verify", "probe.py", "--tests-file", "probe.txt"], dir);
    if out.status.code() == Some(2) {
        eprintln!(
            "skipped: no working process sandbox here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return false;
    }
    true
}

#[test]
fn verify_exits_0_on_pass_1_on_fail_and_prints_the_json_verdict() {
    let dir = tempfile::tempdir().unwrap();
    if !sandbox_works(dir.path()) {
        return;
    }
    write(
        dir.path(),
        "tests.txt",
        "assert add(1, 2) == 3\nassert abs(half(1) - 0.5) < 1e-9\n",
    );
    write(
        dir.path(),
        "good.py",
        "def add(a, b):\n    return a + b\ndef half(x):\n    return x / 2\n",
    );
    write(
        dir.path(),
        "bad.py",
        "print('PASS')\ndef add(a, b):\n    return a - b\ndef half(x):\n    return x / 2\n",
    );

    let good = next(
        &["verify", "good.py", "--tests-file", "tests.txt", "--json"],
        dir.path(),
    );
    assert_eq!(good.status.code(), Some(0), "{good:?}");
    let verdict: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(verdict["passed"], true);
    assert_eq!(verdict["tests"][0]["outcome"], "pass");
    assert_eq!(verdict["tests"][0]["test"], "assert add(1, 2) == 3");
    assert_eq!(verdict["tests"][0]["message"], "");

    let bad = next(
        &["verify", "bad.py", "--tests-file", "tests.txt", "--json"],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let verdict: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(
        verdict,
        serde_json::json!({
            "passed": false,
            "tests": [
                {"test": "assert add(1, 2) == 3", "outcome": "fail",
                 "message": "expected 3, got -1", "provenance": "judged"},
                {"test": "assert abs(half(1) - 0.5) < 1e-9", "outcome": "pass", "message": "",
                 "provenance": "judged"},
            ]
        })
    );

    let text = next(
        &["verify", "bad.py", "--tests-file", "tests.txt"],
        dir.path(),
    );
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("expected 3, got -1"),
        "{stdout}"
    );
    assert!(stdout.contains("failed: 1 of 2 tests passed"), "{stdout}");
}

/// A test judged in the program's own process (a loop over its results) is marked
/// `delegated`, and its pass is not accepted.
#[test]
fn a_delegated_test_is_marked_and_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.py"), "def f(x):\n    return [1, 2]\n").unwrap();
    std::fs::write(
        dir.path().join("t.json"),
        r#"["for x in f(1):\n    assert x > 0", "assert f(1) == [1, 2]"]"#,
    )
    .unwrap();
    let out = next(
        &["verify", "p.py", "--tests-file", "t.json", "--json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["tests"][0]["provenance"], "delegated");
    assert_eq!(verdict["tests"][0]["outcome"], "error");
    assert!(
        verdict["tests"][0]["message"]
            .as_str()
            .unwrap()
            .contains("allow_delegated"),
        "{verdict}"
    );
    assert_eq!(verdict["tests"][1]["provenance"], "judged");
    assert_eq!(verdict["tests"][1]["outcome"], "pass");
}

#[test]
fn verify_exits_2_when_it_cannot_judge() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.py", "x = 1\n");
    write(dir.path(), "t.txt", "assert x == 1\n");
    let missing = next(
        &["verify", "nowhere.py", "--tests-file", "t.txt"],
        dir.path(),
    );
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let unknown = next(
        &[
            "verify",
            "p.py",
            "--tests-file",
            "t.txt",
            "--sandbox",
            "no-such-sandbox",
        ],
        dir.path(),
    );
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no-such-sandbox"));
    let usage = next(&["verify", "p.py"], dir.path());
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");
}

#[test]
fn verify_exits_2_on_a_test_that_checks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.py", "def add(a, b):\n    return a + b\n");
    for tests in [
        "assert add(1, 2) == 3\nx = 1\n",
        "pass\n",
        "import os\n",
        "add(1, 2) == 4\n",
        "[\"assert add(1, 2) == 3\", \"'assert' # assert\"]",
    ] {
        write(dir.path(), "t.txt", tests);
        let out = next(
            &["verify", "p.py", "--tests-file", "t.txt", "--json"],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{tests:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("checks nothing"), "{stderr}");
    }
    // Setup lines and loops around an assert are a valid test.
    if sandbox_works(dir.path()) {
        write(
            dir.path(),
            "t.txt",
            "[\"import math\\nfor i in range(3):\\n    x = i\\n    assert add(x, 1) == x + 1\"]",
        );
        let out = next(&["verify", "p.py", "--tests-file", "t.txt"], dir.path());
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
}
