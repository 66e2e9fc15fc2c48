//! `next` with plugins: `next plugins list --plugin PATH`, a run whose verifier a
//! configuration loads from the example plugin (`[verifier] plugin = ...`), and a plugin
//! that cannot be loaded.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

#[path = "../../tests/tests/plugins/build.rs"]
#[allow(dead_code)]
mod build;

use std::path::Path;
use std::process::{Command, Output};

use next_core::run::Summary;
use next_core::task::{Program, RepairTask, TaskId, TestCase};

fn next(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_next"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn linting() -> String {
    build::library("next_plugin_linting")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Tasks whose mock fixes pass their tests half the time or more.
fn tasks(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}/{i}");
            let task = RepairTask::new(
                TaskId::new(&id).unwrap(),
                format!("Return x plus {i}."),
                Program::new(format!(
                    "def add(x):\n    return x\n# mock-verdict: fail\n# task {id}\n"
                )),
                vec![TestCase::new(format!("assert add(1) == {}", 1 + i)).unwrap()],
                "add",
            )
            .unwrap();
            serde_json::to_string(&task).unwrap() + "\n"
        })
        .collect()
}

#[test]
fn plugins_list_shows_a_plugins_factories_with_origin_and_options() {
    let lib = linting();
    let output = next(&["plugins", "list", "--plugin", &lib]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    let line = table
        .lines()
        .find(|line| line.starts_with("verifier") && line.contains("linting"))
        .unwrap_or_else(|| panic!("no linting verifier in:\n{table}"));
    assert!(line.contains("plugin"), "{line}");
    assert!(table.contains(&format!(
        "from {}",
        std::fs::canonicalize(&lib).unwrap().display()
    )));
    assert!(table.contains("max_line = 100"), "{table}");
    assert!(table
        .lines()
        .any(|l| l.starts_with("renderer") && l.contains("built-in")));

    // JSON lines: the origin is the file, the options carry their defaults.
    let output = next(&["--plugin", &lib, "plugins", "list", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let entry: serde_json::Value = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|entry| entry["name"] == "linting")
        .unwrap();
    let canonical = std::fs::canonicalize(&lib).unwrap();
    assert_eq!(entry["origin"]["file"], canonical.to_str().unwrap());
    assert_eq!(entry["options"][1]["key"], "max_line");
    assert_eq!(entry["options"][1]["default"], "100");
}

#[test]
fn a_plugin_that_cannot_be_loaded_fails_the_command_naming_it() {
    let output = next(&["--plugin", "/nonexistent/libnothing.so", "roles"]);
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output.stderr);
    assert!(message.contains("/nonexistent/libnothing.so"), "{message}");
    assert!(message.contains("cannot find plugin"), "{message}");
}

/// Runs `examples/plugin/run.toml`, its plugin copied beside it and its `max_line` set
/// to `max_line`; the summary and the verdicts.
fn run_example(dir: &Path, max_line: usize) -> (Summary, String) {
    std::fs::create_dir_all(dir).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugin/run.toml");
    let config = std::fs::read_to_string(shipped)
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with("plugin = ") {
                "plugin = \"liblinting.so\"".to_owned()
            } else if line.starts_with("max_line = ") {
                format!("max_line = {max_line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // A relative path is found beside the configuration.
    std::fs::copy(linting(), dir.join("liblinting.so")).unwrap();
    std::fs::write(dir.join("run.toml"), config).unwrap();
    std::fs::write(dir.join("train.jsonl"), tasks("train", 6)).unwrap();
    std::fs::write(dir.join("dev.jsonl"), tasks("dev", 3)).unwrap();
    let out = dir.join("out");
    let arg = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let output = next(&[
        "run",
        "--config",
        &arg("run.toml"),
        "--train",
        &arg("train.jsonl"),
        "--dev",
        &arg("dev.jsonl"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let summary =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let verdicts = std::fs::read_to_string(out.join("iter-1/verdicts.jsonl")).unwrap();
    (summary, verdicts)
}

#[test]
fn a_configuration_runs_the_loop_with_a_plugins_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, _) = run_example(&dir.path().join("lenient"), 79);
    assert!(summary.iterations[0].train.train_examples.unwrap_or(0) > 0);

    let (summary, verdicts) = run_example(&dir.path().join("strict"), 5);
    assert_eq!(summary.iterations[0].train.train_examples.unwrap_or(0), 0);
    assert!(
        verdicts.contains("lint: line 1 has"),
        "no verdict names the lint rule:\n{verdicts}"
    );
}
