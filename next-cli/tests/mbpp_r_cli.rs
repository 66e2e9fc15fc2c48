//! `next data mbpp-r` end to end: the model is a chat server of the test's own on
//! loopback that writes, for each problem, the reference program, a buggy program
//! twice, a program that does not load and an answer without code; a real CPython
//! judges them in the process sandbox.
#![cfg(feature = "openai")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use next_core::task::{Program, RepairTask, TaskId, TestCase};

const REFERENCE: &str = "def add(a, b):\n    return a + b\n";
const BUGGY: &str = "def add(a, b):\n    return a - b\n";

#[test]
fn keeps_the_models_distinct_programs_that_run_and_fail() {
    let Some(python) = common::python() else {
        eprintln!("skipped: no CPython (set NEXT_TEST_PYTHONS)");
        return;
    };
    let url = common::chat_server(|request| {
        let prompt = request.to_string();
        // The reference program is never shown: the model writes from the description.
        assert!(!prompt.contains("return a + b"), "{prompt}");
        assert!(prompt.contains("assert add(1, 2) == 3"), "{prompt}");
        let block = |code: &str| format!("Here it is:\n```python\n{code}```\n");
        Some(vec![
            block(REFERENCE),
            block(BUGGY),
            block(&format!("\n{BUGGY}\n")),
            block("def add(a, b):\n    return (\n"),
            "I cannot.".to_owned(),
        ])
    });
    let dir = tempfile::tempdir().unwrap();
    let task = RepairTask::new(
        TaskId::new("mbpp/9001").unwrap(),
        "Write a function to add two numbers.",
        Program::new(REFERENCE),
        vec![
            TestCase::new("assert add(1, 2) == 3").unwrap(),
            TestCase::new("assert add(0, 0) == 0").unwrap(),
        ],
        "add",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mbpp.jsonl"),
        serde_json::to_string(&task).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("model.toml"),
        format!(
            "[sampler]\nkind = \"openai\"\nbase_url = \"{url}\"\nmodel = \"m\"\napi_key_env = \"NEXT_TEST_NO_KEY\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_next"))
        .current_dir(dir.path())
        .args([
            "data",
            "mbpp-r",
            "mbpp.jsonl",
            "--model",
            "model.toml",
            "-o",
            "r.jsonl",
        ])
        .args(["-n", "5", "--splits", "", "--python"])
        .arg(&python)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("wrote 1 failing programs of 1 of 1 problems"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.path().join("r.jsonl")).unwrap();
    let kept: Vec<RepairTask> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept.len(), 1, "{text}");
    assert_eq!(kept[0].id.as_str(), "mbpp/9001/s0");
    assert_eq!(kept[0].program.source(), BUGGY);
    assert_eq!(kept[0].metadata["source_task"], "mbpp/9001");
    assert_eq!(kept[0].metadata["operator"], "model");
    assert_eq!(kept[0].tests.len(), 2);
}
