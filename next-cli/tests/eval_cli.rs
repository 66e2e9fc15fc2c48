//! `next eval` end to end: a real CPython traces and verifies in the process sandbox;
//! the model is an OpenAI-compatible server of the test's own on loopback, which fixes
//! the program only when the prompt shows its execution trace, so that the scores with
//! and without traces are known.
//!
//! The interpreter: the first of `NEXT_TEST_PYTHONS`, else CPython 3.12 from pyenv;
//! skipped, saying so, when there is none.
#![cfg(feature = "openai")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::python;

use std::process::Command;

use next_core::task::{Program, RepairTask, TaskId, TestCase};

const FIXED: &str = "def sum_odd(xs):\n    return sum(x for x in xs if x % 2 == 1)\n";

/// A loopback chat completions server that answers every request with `n` choices:
/// the fix when the prompt shows an execution trace, a wrong program otherwise.
fn chat_server() -> String {
    common::chat_server(|request| {
        let answer = if request.to_string().contains("execution trace") {
            format!(
                "It adds even numbers too.\n\nHere is a fixed version:\n```python\n{FIXED}```\n"
            )
        } else {
            "It is fine.\n\n```python\ndef sum_odd(xs):\n    return 0\n```\n".to_owned()
        };
        let n = usize::try_from(request["n"].as_u64().unwrap_or(1)).unwrap();
        Some(vec![answer; n])
    })
}

#[test]
fn eval_scores_each_renderer_per_bug_type_and_writes_json() {
    let Some(python) = python() else {
        eprintln!("skipped: no CPython (set NEXT_TEST_PYTHONS)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for (i, kind) in ["operator", "operator", "value"].iter().enumerate() {
        let mut task = RepairTask::new(
            TaskId::new(format!("cli/{i}")).unwrap(),
            "Return the sum of the odd numbers of a list.",
            Program::new("def sum_odd(xs):\n    return sum(xs)\n"),
            vec![
                TestCase::new("assert sum_odd([1, 2, 3, 4]) == 4").unwrap(),
                TestCase::new("assert sum_odd([]) == 0").unwrap(),
            ],
            "sum_odd",
        )
        .unwrap();
        task.metadata.insert("bug_type".into(), (*kind).into());
        lines.push_str(&serde_json::to_string(&task).unwrap());
        lines.push('\n');
    }
    std::fs::write(dir.path().join("tasks.jsonl"), lines).unwrap();
    let url = chat_server();
    std::fs::write(
        dir.path().join("model.toml"),
        format!(
            "[sampler]\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"{url}\"\napi_key_env = \"NEXT_TEST_NO_KEY\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_next"))
        .current_dir(dir.path())
        .args([
            "eval",
            "--tasks",
            "tasks.jsonl",
            "--model",
            "model.toml",
            "-n",
            "2",
            "-k",
            "1,2",
        ])
        .args(["--out", "results.json", "--proxy", "model.toml", "--python"])
        .arg(&python)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("inline") && table.contains("  operator"),
        "{table}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let conditions = json["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 2);
    let pass = |c: &serde_json::Value, k: usize| {
        c["report"]["all"]["pass_at"][k]["pass"]["estimate"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(conditions[0]["renderer"], "inline");
    assert!((pass(&conditions[0], 0) - 1.0).abs() < 1e-9, "{json}");
    assert_eq!(conditions[1]["renderer"], "none");
    assert!(pass(&conditions[1], 1).abs() < 1e-9, "{json}");
    assert_eq!(
        conditions[0]["report"]["by_bug_type"]["operator"]["tasks"],
        2
    );
    assert_eq!(
        conditions[0]["report"]["tasks"].as_array().unwrap().len(),
        3
    );
    // The proxy sees no trace, only the rationale: this model then never fixes it.
    assert_eq!(conditions[0]["proxy"]["rationales"], 6);
    assert_eq!(conditions[0]["proxy"]["passed"], 0);
    assert!(conditions[1]["proxy"].is_null());
}

#[test]
fn eval_refuses_a_k_above_n() {
    let dir = tempfile::tempdir().unwrap();
    let task = RepairTask::new(
        TaskId::new("t").unwrap(),
        "spec",
        Program::new("def f():\n    return 1\n"),
        vec![TestCase::new("assert f() == 2").unwrap()],
        "f",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t.jsonl"),
        serde_json::to_string(&task).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("m.toml"),
        "[sampler]\nkind = \"openai\"\nmodel = \"m\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_next"))
        .current_dir(dir.path())
        .args([
            "eval", "--tasks", "t.jsonl", "--model", "m.toml", "-n", "2", "-k", "1,5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("between 1 and n = 2"), "{stderr}");
}
