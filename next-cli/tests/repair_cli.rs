//! `next repair` end to end: a real CPython traces and verifies in the process sandbox;
//! the model is an OpenAI-compatible server of the test's own on loopback (feature
//! `openai`) or the real local candle model (feature `candle`).
//!
//! The interpreter: the first of `NEXT_TEST_PYTHONS`, else CPython 3.12 from pyenv;
//! skipped, saying so, when there is none. The candle model is found as next-models'
//! tests find it (`.cache/models/`, else the user's cache); missing, it fails the test
//! when `CI` is set and skips it otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::similar_names)]
// The tests need a model backend; without one only the helpers are left.
#![cfg_attr(
    not(any(feature = "openai", feature = "candle")),
    allow(dead_code, unused_imports)
)]

mod common;

use common::python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use next_core::task::{Program, RepairTask, TaskId, TestCase};

const FIXED: &str = "def sum_odd(xs):\n    return sum(x for x in xs if x % 2 == 1)\n";

/// A task file and a model file in `dir`.
fn files(dir: &Path, sampler: &str) -> (PathBuf, PathBuf) {
    let task = RepairTask::new(
        TaskId::new("cli/sum_odd").unwrap(),
        "Return the sum of the odd numbers of a list.",
        Program::new("def sum_odd(xs):\n    return sum(xs)\n"),
        vec![
            TestCase::new("assert sum_odd([1, 2, 3, 4]) == 4").unwrap(),
            TestCase::new("assert sum_odd([]) == 0").unwrap(),
        ],
        "sum_odd",
    )
    .unwrap();
    let task_path = dir.join("task.json");
    std::fs::write(&task_path, serde_json::to_string(&task).unwrap()).unwrap();
    let model_path = dir.join("model.toml");
    std::fs::write(&model_path, sampler).unwrap();
    (task_path, model_path)
}

fn repair(task: &Path, model: &Path, python: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_next"))
        .arg("repair")
        .arg("--task")
        .arg(task)
        .arg("--model")
        .arg(model)
        .arg("--python")
        .arg(python)
        .args(extra)
        .output()
        .unwrap()
}

/// A loopback chat completions server that answers `answers.len()` requests, one
/// choice each, in order; returns its base URL.
fn chat_server(answers: Vec<String>) -> String {
    let mut answers = answers.into_iter();
    common::chat_server(move |_| answers.next().map(|a| vec![a]))
}

#[cfg(feature = "openai")]
#[test]
fn repair_prints_the_prompt_the_samples_and_their_verdicts() {
    let Some(python) = python() else {
        eprintln!("skipped: no CPython 3.12 (set NEXT_TEST_PYTHONS)");
        return;
    };
    let good =
        format!("It adds even numbers too.\n\nHere is a fixed version:\n```python\n{FIXED}```\n");
    let bad = "It is fine.\n\n```python\ndef sum_odd(xs):\n    return 0\n```\n".to_owned();
    let url = chat_server(vec![good, bad, "no code at all".to_owned()]);
    let dir = tempfile::tempdir().unwrap();
    let sampler = format!(
        "[sampler]\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"{url}\"\napi_key_env = \"NEXT_TEST_NO_KEY\"\n"
    );
    let (task, model) = files(dir.path(), &sampler);
    let out = repair(
        &task,
        &model,
        &python,
        &["-n", "3", "--json", "--seed", "5"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["task"], "cli/sum_odd");
    // The shipped exemplars lead the prompt, 3-shot, traced as the task is.
    let prompt = json["prompt"].as_array().unwrap();
    assert_eq!(prompt.len(), 8, "{json:#}");
    let shot = prompt[1]["content"].as_str().unwrap();
    assert!(shot.contains("return total  # (6) __return__=5;"), "{shot}");
    let answer = prompt[2]["content"].as_str().unwrap();
    assert!(
        answer.contains("Here is a fixed version:\n\n```python\n"),
        "{answer}"
    );
    let user = prompt[7]["content"].as_str().unwrap();
    assert!(user.contains("execution trace"), "{user}");
    assert!(user.contains("assert sum_odd([1, 2, 3, 4]) == 4"), "{user}");
    let samples = json["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3, "{json:#}");
    assert_eq!(samples[0]["fix"], FIXED);
    assert_eq!(
        samples[0]["rationale"],
        "It adds even numbers too.\n\nHere is a fixed version:"
    );
    assert_eq!(samples[0]["verdict"]["passed"], true);
    assert_eq!(samples[1]["verdict"]["passed"], false);
    assert_eq!(samples[1]["verdict"]["tests"][0]["outcome"], "fail");
    assert!(samples[2]["verdict"].is_null() && samples[2]["fix"].is_null());

    // The text form, with a server whose only fix fails: exit status 1.
    let url = chat_server(vec![
        "```python\ndef sum_odd(xs):\n    return 1\n```".to_owned()
    ]);
    let sampler = format!(
        "[sampler]\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"{url}\"\napi_key_env = \"NEXT_TEST_NO_KEY\"\n"
    );
    let (task, model) = files(dir.path(), &sampler);
    let out = repair(&task, &model, &python, &["-n", "1", "--renderer", "none"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("=== prompt for cli/sum_odd"), "{stdout}");
    assert!(stdout.contains("# Buggy program\n"), "{stdout}");
    assert!(
        stdout.contains("--- verdict: failed (0 of 2 tests passed)"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 of 1 fixes passed\n"), "{stdout}");
}

#[cfg(feature = "candle")]
fn candle_model() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let smollm2 = next_models::artifact::SMOLLM2;
    match smollm2
        .locate_in(&workspace.join(".cache"))
        .or_else(|_| smollm2.locate())
    {
        Ok(path) => Some(path),
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the candle model is missing ({err}): run next-models/scripts/llama-server-setup.sh"
            );
            eprintln!("skipped: {err}");
            None
        }
    }
}

#[cfg(feature = "candle")]
#[test]
fn repair_samples_from_the_local_candle_model() {
    let (Some(python), Some(gguf)) = (python(), candle_model()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sampler = format!(
        "[sampler]\nkind = \"candle\"\nmodel = \"{}\"\ncontext_length = 2048\n",
        gguf.display()
    );
    let (task, model) = files(dir.path(), &sampler);
    let out = repair(
        &task,
        &model,
        &python,
        &[
            "-n",
            "2",
            "--max-tokens",
            "24",
            "--seed",
            "3",
            "--shots",
            "0",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A model this small seldom writes a passing fix: 0 or 1, not 2.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("=== prompt for cli/sum_odd"), "{stdout}");
    assert!(
        stdout.contains("=== sample 0") && stdout.contains("=== sample 1"),
        "{stdout}"
    );
    assert!(stdout.contains("--- verdict: "), "{stdout}");
}

#[cfg(feature = "candle")]
#[test]
fn a_missing_default_model_names_the_command_that_fetches_it() {
    let Some(python) = python() else {
        eprintln!("skipped: no CPython 3.12 (set NEXT_TEST_PYTHONS)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (task, model) = files(dir.path(), "[sampler]\nkind = \"candle\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_next"))
        .env("NEXT_CACHE_DIR", dir.path().join("empty-cache"))
        .args(["repair", "--task"])
        .arg(&task)
        .arg("--model")
        .arg(&model)
        .arg("--python")
        .arg(&python)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`next model fetch`"), "{stderr}");
    assert!(
        stderr.contains("empty-cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{stderr}"
    );
}
