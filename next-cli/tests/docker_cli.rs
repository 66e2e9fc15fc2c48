//! `--sandbox docker` and `next docker image` end to end, against the real local engine
//! (built with next-cli's feature `docker`).
//!
//! When to run: whenever an engine answers and the image exists. When either is
//! missing the tests **fail** if `CI` or `NEXT_DOCKER=1` is set, and otherwise print why
//! they are skipped and pass. `bash next-verifiers/scripts/docker-setup.sh` provides
//! both.
#![cfg(feature = "docker")]
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether the Docker sandbox can run here; panics where it must (CI).
fn docker_works(dir: &Path) -> bool {
    write(dir, "probe.py", "def f():\n    return 1\n");
    write(dir, "probe.txt", "assert f() == 1\n");
    let out = next(
        &[
            "verify",
            "probe.py",
            "--tests-file",
            "probe.txt",
            "--sandbox",
            "docker",
        ],
        dir,
    );
    if out.status.code() != Some(2) {
        return true;
    }
    let why = text(&out.stderr);
    let flag = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    assert!(
        flag("CI").is_none() && flag("NEXT_DOCKER").as_deref() != Some("1"),
        "the Docker sandbox cannot run: {why} (run bash next-verifiers/scripts/docker-setup.sh)"
    );
    eprintln!("skipped: the Docker sandbox cannot run here: {why}");
    false
}

#[test]
fn verify_and_trace_run_in_docker() {
    let dir = tempfile::tempdir().unwrap();
    if !docker_works(dir.path()) {
        return;
    }
    write(
        dir.path(),
        "tests.txt",
        "assert add(1, 2) == 3\nassert add(2, 2) == 4\n",
    );
    write(dir.path(), "good.py", "def add(a, b):\n    return a + b\n");
    write(
        dir.path(),
        "bad.py",
        "print('PASS')\ndef add(a, b):\n    return a * b\n",
    );
    let good = next(
        &[
            "verify",
            "good.py",
            "--tests-file",
            "tests.txt",
            "--sandbox",
            "docker",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(verdict["passed"], true);
    let bad = next(
        &[
            "verify",
            "bad.py",
            "--tests-file",
            "tests.txt",
            "--sandbox",
            "docker",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(verdict["passed"], false);
    // The first test fails (1 * 2 is 2), the second passes (2 * 2 is 4).
    assert_eq!(verdict["tests"][0]["outcome"], "fail", "{verdict}");
    assert_eq!(verdict["tests"][1]["outcome"], "pass", "{verdict}");

    let run = next(
        &[
            "trace",
            "bad.py",
            "--test",
            "assert add(1, 2) == 3",
            "--sandbox",
            "docker",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let traces: Vec<next_core::trace::Trace> = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(traces.len(), 1);
    assert!(!traces[0].passed(), "{traces:?}");
    let inline = next(
        &[
            "trace",
            "bad.py",
            "--test",
            "assert add(1, 2) == 3",
            "--sandbox",
            "docker",
        ],
        dir.path(),
    );
    assert_eq!(inline.status.code(), Some(0), "{}", text(&inline.stderr));
    // The inline renderer writes the states the tracer saw inside the container.
    let rendered = text(&inline.stdout);
    assert!(rendered.contains("# (0) a=1, b=2;"), "{rendered}");
    assert!(rendered.contains("# (1) __return__=2;"), "{rendered}");
}

#[test]
fn docker_image_builds_a_working_image_and_names_a_missing_engine() {
    let dir = tempfile::tempdir().unwrap();
    let out = next(
        &["docker", "image", "--socket", "/nonexistent/docker.sock"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("docker-setup.sh"),
        "{}",
        text(&out.stderr)
    );
    if !docker_works(dir.path()) {
        return;
    }
    let tag = format!("next-python:cli-test-{}", std::process::id());
    let out = next(&["docker", "image", "--tag", &tag], dir.path());
    let _ = Command::new("docker").args(["rmi", &tag]).output();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with(&format!("built {tag} (sha256:")), "{said}");
    assert!(said.contains(" files, "), "{said}");
}
