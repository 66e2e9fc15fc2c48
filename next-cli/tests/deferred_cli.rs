//! `next run` and `next resume` with a training left to another trainer
//! (`[trainer] kind = "export"`): the run stops with exit status 3 and says how to go
//! on, and `next resume DIR --config RUN.toml --checkpoint iter-N=MODEL` finishes it
//! with that model. The mock sampler and verifier (`kind = "mock"`) need the `testing`
//! feature.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use next_core::run::Summary;
use next_core::task::{Program, RepairTask, TaskId, TestCase};
use tempfile::TempDir;

/// One iteration, every training task used, a mock model of skill 0.5 (some fixes
/// pass, so there is something to export), the export trainer.
const CONFIG: &str = r#"
[loop]
iterations = 1
samples_per_task = 4
eval.samples_per_task = 4
eval.ks = [1]
hard_filter.enabled = false

[sampler]
kind = "mock"
skill = 0.5
growth = 0.01
max = 0.9

[verifier]
kind = "mock"

[trainer]
kind = "export"
"#;

fn task(id: &str, offset: usize) -> RepairTask {
    RepairTask::new(
        TaskId::new(id).unwrap(),
        format!("Return x plus {offset}."),
        Program::new(format!(
            "def add(x):\n    return x\n# mock-verdict: fail\n# task {id}\n"
        )),
        vec![TestCase::new(format!("assert add(1) == {}", 1 + offset)).unwrap()],
        "add",
    )
    .unwrap()
}

fn jsonl(tasks: &[RepairTask]) -> String {
    tasks
        .iter()
        .map(|t| serde_json::to_string(t).unwrap() + "\n")
        .collect()
}

/// A temporary directory with `train.jsonl`, `dev.jsonl` and `run.toml`; the run goes
/// to `out/`.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let fixture = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let train: Vec<RepairTask> = (0..8).map(|i| task(&format!("train/{i}"), i + 1)).collect();
        let dev: Vec<RepairTask> = (0..4).map(|i| task(&format!("dev/{i}"), i + 1)).collect();
        std::fs::write(fixture.path("train.jsonl"), jsonl(&train)).unwrap();
        std::fs::write(fixture.path("dev.jsonl"), jsonl(&dev)).unwrap();
        std::fs::write(fixture.path("run.toml"), CONFIG).unwrap();
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn out(&self) -> PathBuf {
        self.path("out")
    }

    fn run(&self) -> Output {
        next(&[
            "run",
            "--config",
            arg(&self.path("run.toml")),
            "--train",
            arg(&self.path("train.jsonl")),
            "--dev",
            arg(&self.path("dev.jsonl")),
            "--out",
            arg(&self.out()),
        ])
    }

    /// `next resume out --config run.toml` and `--checkpoint SPEC` for each of `specs`.
    fn resume(&self, specs: &[&str]) -> Output {
        let out = self.out();
        let config = self.path("run.toml");
        let mut args = vec!["resume", arg(&out), "--config", arg(&config)];
        for spec in specs {
            args.extend(["--checkpoint", spec]);
        }
        next(&args)
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn next(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_next"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn assert_status(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// A run stopped for its export of iteration 1, checked.
fn deferred_run() -> Fixture {
    let fixture = Fixture::new();
    let output = fixture.run();
    assert_status(&output, 3);
    let text = stdout(&output);
    let command = format!(
        "next resume {} --config {} --checkpoint iter-1=MODEL",
        fixture.out().display(),
        fixture.path("run.toml").display()
    );
    assert!(text.contains(&command), "{text}");
    assert!(text.contains("openai.jsonl"), "{text}");
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    let iter1 = fixture.out().join("iter-1");
    assert!(iter1.join("deferred.json").is_file());
    for name in ["openai.jsonl", "gemini.jsonl", "hf.jsonl", "README.md"] {
        let path = iter1.join("checkpoint").join(name);
        assert!(path.is_file(), "{}", path.display());
    }
    assert!(!iter1.join("checkpoint.json").exists());
    fixture
}

#[test]
fn an_export_stops_the_run_with_status_3_and_the_resume_command() {
    let fixture = deferred_run();
    let kept = std::fs::read_to_string(fixture.out().join("iter-1/train.jsonl"))
        .unwrap()
        .lines()
        .count();
    let exported = std::fs::read_to_string(fixture.out().join("iter-1/checkpoint/openai.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(kept > 0);
    assert_eq!(exported, kept);
    // Resuming without the model exports again and stops again.
    let again = fixture.resume(&[]);
    assert_status(&again, 3);
    assert!(stdout(&again).contains("--checkpoint iter-1=MODEL"));
}

#[test]
fn resume_with_the_trained_model_finishes_the_run() {
    let fixture = deferred_run();
    let output = fixture.resume(&[r#"iter-1={"mock_examples": 5}"#]);
    assert_status(&output, 0);
    assert!(
        stdout(&output).contains("best: iteration"),
        "{}",
        stdout(&output)
    );
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(fixture.out().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary.iterations.len(), 1);
    let checkpoint = &summary.iterations[0].checkpoint;
    assert_eq!(checkpoint.name, "iter-1");
    assert_eq!(checkpoint.data["mock_examples"], 5);
    assert!(summary.iterations[0].trained);

    // The iteration no longer waits for a model.
    let late = fixture.resume(&["iter-1=other"]);
    assert_status(&late, 1);
    let message = stderr(&late);
    assert!(
        message.contains("iter-1") && message.contains("not waiting") && message.contains("none"),
        "{message}"
    );
}

#[test]
fn malformed_checkpoint_specs_are_usage_errors() {
    let fixture = deferred_run();
    for (spec, needles) in [
        ("iter-x=foo", &["iter-x", "expected iter-N"][..]),
        ("iter-0=foo", &["iter-0", "expected iter-N"][..]),
        ("1=foo", &["expected iter-N"][..]),
        ("iter-1", &["iter-N=MODEL", "no `=`"][..]),
        ("iter-1=", &["no model given"][..]),
        ("iter-1={not json", &["not valid JSON"][..]),
    ] {
        let output = fixture.resume(&[spec]);
        assert_status(&output, 2);
        let message = stderr(&output);
        for needle in needles {
            assert!(message.contains(needle), "{spec}: {message}");
        }
    }
    // Nothing was given to the run.
    assert!(!fixture.out().join("iter-1/checkpoint.json").exists());
}

#[test]
fn a_checkpoint_for_an_iteration_that_does_not_wait_is_refused() {
    let fixture = deferred_run();
    for specs in [
        &["iter-9=m"][..],
        &["iter-1=a", "iter-9=m"][..],
        &["iter-1=a", "iter-1=b"][..],
    ] {
        let output = fixture.resume(specs);
        assert_status(&output, 1);
        let message = stderr(&output);
        assert!(message.starts_with("error: --checkpoint"), "{message}");
        if specs.len() == 2 && specs[1] == "iter-1=b" {
            assert!(message.contains("more than once"), "{message}");
        } else {
            assert!(
                message.contains("iter-9") && message.contains("waiting: iter-1"),
                "{message}"
            );
        }
        // A mistake in one leaves the run as it was, the others included.
        assert!(!fixture.out().join("iter-1/checkpoint.json").exists());
    }
}
