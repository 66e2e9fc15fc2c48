//! End-to-end tests of the `next` binary: the real command, run as a process, on a tiny
//! task set with next-core's mock roles (`kind = "mock"`, registered with the `testing`
//! feature), asserting on exit codes, stdout, stderr and the run directory.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use next_core::run::{SampleRecord, Summary, VerdictRecord};
use next_core::task::{Program, RepairTask, TaskId, TestCase};
use next_core::train::TrainExample;
use tempfile::TempDir;

/// The `[loop]` of every run here: small numbers, so that a run takes well under a
/// second.
const LOOP: &str = "\
[loop]
iterations = 2
samples_per_task = 4
eval.samples_per_task = 4
eval.ks = [1, 4]
hard_filter.samples_per_task = 4
";

/// The role tables: a mock model of skill 0.1 that grows with its training data.
const ROLES: &str = r#"
[sampler]
kind = "mock"
skill = 0.1
growth = 0.05
max = 0.9

[verifier]
kind = "mock"

[trainer]
kind = "mock"
"#;

/// A buggy task: its program is marked to fail every test under the mock verifier.
fn task(id: &str, offset: usize) -> RepairTask {
    RepairTask::new(
        TaskId::new(id).unwrap(),
        format!("Return x plus {offset}."),
        Program::new(format!(
            "def add(x):\n    return x\n# mock-verdict: fail\n# task {id}\n"
        )),
        vec![
            TestCase::new(format!("assert add(1) == {}", 1 + offset)).unwrap(),
            TestCase::new(format!("assert add(2) == {}", 2 + offset)).unwrap(),
        ],
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

/// A temporary directory holding `train.jsonl` (8 tasks), `dev.jsonl` (4 tasks) and
/// `run.toml`; the run goes to `out/`.
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
        fixture.write("train.jsonl", &jsonl(&train));
        fixture.write("dev.jsonl", &jsonl(&dev));
        fixture.write("run.toml", &format!("{LOOP}{ROLES}"));
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn out(&self) -> PathBuf {
        self.path("out")
    }

    /// `next run` with the fixture's files, `config` and `train` replaceable.
    fn run_with(&self, config: &str, train: &str) -> Output {
        next(&[
            "run",
            "--config",
            path_arg(&self.path(config)),
            "--train",
            path_arg(&self.path(train)),
            "--dev",
            path_arg(&self.path("dev.jsonl")),
            "--out",
            path_arg(&self.out()),
        ])
    }

    fn run(&self) -> Output {
        self.run_with("run.toml", "train.jsonl")
    }

    fn resume_with(&self, config: &str) -> Output {
        next(&[
            "resume",
            path_arg(&self.out()),
            "--config",
            path_arg(&self.path(config)),
        ])
    }
}

fn path_arg(path: &Path) -> &str {
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

/// Asserts the command succeeded, showing its stderr otherwise.
fn assert_success(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Asserts the command failed with exit code 1 and one `error:` line on stderr holding
/// every one of `needles`; returns stderr.
fn assert_failure(output: &Output, needles: &[&str]) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{err}");
    let line = err
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error:` line in stderr:\n{err}"));
    for needle in needles {
        assert!(line.contains(needle), "`{needle}` not in `{line}`");
    }
    assert!(stdout(output).is_empty(), "stdout: {}", stdout(output));
    err
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

// --- next roles ---------------------------------------------------------------------

#[test]
fn roles_lists_the_none_renderer_and_the_mock_roles() {
    let output = next(&["roles"]);
    assert_success(&output);
    let text = stdout(&output);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    let has = |role: &str, name: &str| rows.iter().any(|row| row[..2] == [role, name]);
    assert!(has("renderer", "none"), "{text}");
    assert!(has("tracer", "none"), "{text}");
    for role in ["sampler", "verifier", "trainer", "tracer"] {
        assert!(has(role, "mock"), "no {role} mock in:\n{text}");
    }
}

#[test]
fn roles_json_gives_one_parseable_object_a_line() {
    let output = next(&["roles", "--json"]);
    assert_success(&output);
    let text = stdout(&output);
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert_eq!(
        entries.len(),
        next(&["roles"]).stdout.split(|b| *b == b'\n').count() - 1
    );
    for entry in &entries {
        for key in ["role", "name", "summary"] {
            assert!(entry[key].is_string(), "{entry}");
        }
    }
    let has = |role: &str, name: &str| {
        entries
            .iter()
            .any(|e| e["role"] == role && e["name"] == name)
    };
    assert!(has("renderer", "none"));
    assert!(has("sampler", "mock"));
    assert!(has("trainer", "mock"));
}

// --- next run and next resume -------------------------------------------------------

#[test]
fn run_writes_the_run_directory_and_prints_the_summary() {
    let fx = Fixture::new();
    let output = fx.run();
    assert_success(&output);

    // summary.json parses and agrees with the configuration.
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(fx.out().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.iterations.len(), 2);
    assert_eq!(summary.best.metric, "pass@1");
    assert_eq!(summary.base_eval.tasks, 4);
    assert_eq!(summary.base_eval.samples_requested, 16);
    assert!(summary.base_eval.pass_at(4).is_some());

    // stdout: the table, one row per checkpoint, then the `best:` line.
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("iteration"), "{text}");
    assert!(lines[0].ends_with("dev pass@1"), "{text}");
    assert!(
        lines[1].starts_with("0 ") && lines[1].contains("base"),
        "{text}"
    );
    for report in &summary.iterations {
        let row = lines[1 + report.iteration as usize];
        assert!(row.starts_with(&format!("{} ", report.iteration)), "{text}");
        assert!(row.contains(&report.checkpoint.name), "{text}");
        assert!(
            row.ends_with(&format!("{:.4}", report.eval.pass_at(1).unwrap())),
            "{text}"
        );
    }
    let best = lines.last().unwrap();
    assert!(
        best.starts_with(&format!("best: iteration {} ", summary.best.iteration)),
        "{text}"
    );
    assert!(
        best.contains(&format!("pass@1 = {:.4}", summary.best.value)),
        "{text}"
    );

    // stderr: one line per phase.
    let err = stderr(&output);
    assert!(
        err.contains("starting run: 8 training tasks, 4 development tasks"),
        "{err}"
    );
    for phase in [
        "eval-0:", "filter:", "iter-1:", "eval-1:", "iter-2:", "eval-2:",
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(phase)),
            "no {phase} in:\n{err}"
        );
    }

    // Every training example of an iteration is one of its samples whose verdict
    // passed; the buggy programs' own failures are not among them.
    let mut kept = 0;
    for report in &summary.iterations {
        let iter = fx.out().join(format!("iter-{}", report.iteration));
        let examples: Vec<TrainExample> = read_jsonl(&iter.join("train.jsonl"));
        let verdicts: HashMap<(TaskId, u32), VerdictRecord> =
            read_jsonl(&iter.join("verdicts.jsonl"))
                .into_iter()
                .map(|v: VerdictRecord| ((v.task.clone(), v.index), v))
                .collect();
        let samples: HashMap<(TaskId, u32), SampleRecord> = read_jsonl(&iter.join("samples.jsonl"))
            .into_iter()
            .map(|s: SampleRecord| ((s.task.clone(), s.index), s))
            .collect();
        assert_eq!(Some(examples.len()), report.train.train_examples);
        assert_eq!(report.trained, !examples.is_empty());
        for example in &examples {
            let key = (example.task.clone(), example.sample);
            let verdict = verdicts
                .get(&key)
                .unwrap_or_else(|| panic!("iter-{}: no verdict for {key:?}", report.iteration));
            assert!(verdict.verdict.passed(), "{key:?}: {:?}", verdict.verdict);
            assert_eq!(samples[&key].sample.raw, example.completion);
        }
        assert!(verdicts.values().any(|v| !v.verdict.passed()));
        kept += examples.len();
    }
    assert!(kept > 0, "no iteration kept a training example");
    assert!(fx.out().join("iter-1/train.jsonl").is_file());
}

#[test]
fn running_into_a_used_directory_asks_to_resume_and_resume_gives_the_same_summary() {
    let fx = Fixture::new();
    assert_success(&fx.run());
    let summary = std::fs::read(fx.out().join("summary.json")).unwrap();

    let again = fx.run();
    let err = assert_failure(&again, &["already holds a run", "next resume", "--config"]);
    assert!(err.contains(path_arg(&fx.out())), "{err}");
    assert_eq!(
        std::fs::read(fx.out().join("summary.json")).unwrap(),
        summary
    );

    let resumed = fx.resume_with("run.toml");
    assert_success(&resumed);
    assert!(
        stderr(&resumed).contains("resuming run"),
        "{}",
        stderr(&resumed)
    );
    assert!(stdout(&resumed).contains("best: iteration"));
    assert_eq!(
        std::fs::read(fx.out().join("summary.json")).unwrap(),
        summary,
        "resuming a finished run changed its summary"
    );
}

#[test]
fn resume_with_another_loop_configuration_names_the_mismatch() {
    let fx = Fixture::new();
    assert_success(&fx.run());
    let summary = std::fs::read(fx.out().join("summary.json")).unwrap();

    fx.write(
        "changed.toml",
        &format!(
            "{}{ROLES}",
            LOOP.replace("iterations = 2", "iterations = 3")
        ),
    );
    let output = fx.resume_with("changed.toml");
    assert_failure(
        &output,
        &[
            "configuration mismatch",
            "[loop]",
            "`iterations` is 2 in the run and 3 here",
            "config.json",
        ],
    );
    assert!(!fx.out().join("iter-3").exists());
    assert_eq!(
        std::fs::read(fx.out().join("summary.json")).unwrap(),
        summary
    );
}

#[test]
fn resume_with_another_model_or_a_faster_concurrency() {
    let fx = Fixture::new();
    assert_success(&fx.run());
    assert!(fx.out().join("roles.json").is_file());
    // Another model: refused, naming the key, before any record is touched.
    fx.write(
        "other-model.toml",
        &format!("{LOOP}{}", ROLES.replace("skill = 0.1", "skill = 0.3")),
    );
    let output = fx.resume_with("other-model.toml");
    assert_failure(&output, &["other roles", "sampler.skill", "roles.json"]);
    // More concurrency cannot change a result: accepted.
    fx.write(
        "faster.toml",
        &format!("{LOOP}concurrency.tasks = 7\n{ROLES}"),
    );
    assert_success(&fx.resume_with("faster.toml"));
}

#[test]
fn run_refuses_a_directory_that_holds_other_files() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.out()).unwrap();
    std::fs::write(fx.out().join("notes.txt"), "mine").unwrap();
    let output = fx.run();
    assert_failure(&output, &["not empty", "holds no run"]);
    assert_eq!(std::fs::read(fx.out().join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn resume_of_a_directory_without_a_run_fails() {
    let fx = Fixture::new();
    let output = fx.resume_with("run.toml");
    assert_failure(&output, &["holds no run"]);
}

// --- clear errors -------------------------------------------------------------------

#[test]
fn a_missing_sampler_table_is_named_with_next_roles() {
    let fx = Fixture::new();
    let roles = ROLES.replace(
        "[sampler]\nkind = \"mock\"\nskill = 0.1\ngrowth = 0.05\nmax = 0.9\n",
        "",
    );
    assert!(!roles.contains("[sampler]"));
    fx.write("nosampler.toml", &format!("{LOOP}{roles}"));
    let output = fx.run_with("nosampler.toml", "train.jsonl");
    assert_failure(
        &output,
        &["nosampler.toml", "missing [sampler] table", "`next roles`"],
    );
    assert!(!fx.out().exists(), "a failed start left a run directory");
}

#[test]
fn an_unknown_section_is_rejected() {
    let fx = Fixture::new();
    fx.write(
        "extra.toml",
        &format!("{LOOP}{ROLES}\n[sampling]\ntemperature = 0.5\n"),
    );
    let output = fx.run_with("extra.toml", "train.jsonl");
    assert_failure(
        &output,
        &["extra.toml", "unknown section [sampling]", "loop, sandbox"],
    );
    assert!(!fx.out().exists());
}

#[test]
fn a_bad_loop_setting_is_named() {
    let fx = Fixture::new();
    fx.write(
        "typed.toml",
        &format!(
            "{}{ROLES}",
            LOOP.replace("iterations = 2", "iterations = \"two\"")
        ),
    );
    assert_failure(
        &fx.run_with("typed.toml", "train.jsonl"),
        &["typed.toml", "[loop]", "`iterations`"],
    );
    fx.write(
        "unknown.toml",
        &format!("{}{ROLES}", LOOP.replace("iterations = 2", "iteration = 2")),
    );
    assert_failure(
        &fx.run_with("unknown.toml", "train.jsonl"),
        &["[loop]", "unknown field `iteration`"],
    );
    // Out of range: pass@8 cannot be estimated from 4 samples.
    fx.write(
        "range.toml",
        &format!("{}{ROLES}", LOOP.replace("ks = [1, 4]", "ks = [1, 8]")),
    );
    assert_failure(
        &fx.run_with("range.toml", "train.jsonl"),
        &["range.toml", "[loop]"],
    );
    assert!(!fx.out().exists());
}

#[test]
fn a_malformed_task_line_is_named_by_file_and_line() {
    let fx = Fixture::new();
    let good = std::fs::read_to_string(fx.path("train.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "{\"id\": \"broken\", \"spec\": ");
    let broken = fx.write("broken.jsonl", &(lines.join("\n") + "\n"));
    let output = fx.run_with("run.toml", "broken.jsonl");
    assert_failure(&output, &[&format!("{}:3", broken.display()), "malformed"]);

    // A task that breaks an invariant (no tests) is named the same way.
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let mut task: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    task["tests"] = serde_json::json!([]);
    lines[4] = task.to_string();
    let invalid = fx.write("invalid.jsonl", &(lines.join("\n") + "\n"));
    let output = fx.run_with("run.toml", "invalid.jsonl");
    assert_failure(&output, &[&format!("{}:5", invalid.display())]);
    assert!(!fx.out().exists());
}

#[test]
fn task_files_need_tasks_but_not_a_final_newline() {
    let fx = Fixture::new();
    fx.write("empty.jsonl", "\n\n");
    assert_failure(
        &fx.run_with("run.toml", "empty.jsonl"),
        &["empty.jsonl", "holds no tasks"],
    );
    assert_failure(
        &fx.run_with("run.toml", "missing.jsonl"),
        &["reading", "missing.jsonl"],
    );
    assert!(!fx.out().exists());

    let good = std::fs::read_to_string(fx.path("train.jsonl")).unwrap();
    fx.write("unterminated.jsonl", good.trim_end());
    let output = fx.run_with("run.toml", "unterminated.jsonl");
    assert_success(&output);
    assert!(stderr(&output).contains("8 training tasks"));
}

#[test]
fn an_unknown_kind_lists_the_available_names() {
    let fx = Fixture::new();
    fx.write(
        "typo.toml",
        &format!(
            "{LOOP}{}",
            ROLES.replacen("kind = \"mock\"", "kind = \"mok\"", 1)
        ),
    );
    let output = fx.run_with("typo.toml", "train.jsonl");
    assert_failure(&output, &["no sampler named `mok`", "available:", "`mock`"]);
    assert!(!fx.out().exists());
}

#[test]
fn a_misspelled_role_option_is_named() {
    let fx = Fixture::new();
    fx.write(
        "option.toml",
        &format!("{LOOP}{}", ROLES.replace("skill = 0.1", "skil = 0.1")),
    );
    let output = fx.run_with("option.toml", "train.jsonl");
    assert_failure(
        &output,
        &["bad options for sampler `mock`", "unknown field `skil`"],
    );
    fx.write(
        "range.toml",
        &format!("{LOOP}{}", ROLES.replace("skill = 0.1", "skill = 1.5")),
    );
    let output = fx.run_with("range.toml", "train.jsonl");
    assert_failure(&output, &["sampler `mock`", "`skill` must be in [0, 1]"]);
}

#[test]
fn bad_usage_is_a_usage_error() {
    let output = next(&["run", "--config", "run.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--train"), "{}", stderr(&output));
}
