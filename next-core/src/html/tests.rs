//! The pages on a hand-made run directory and evaluation results whose every number is
//! known, one of whose samples is hostile.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::checkpoint::Checkpoint;
use crate::eval::{report, EvalConfig, ProxyScore, TaskScore};
use crate::prompt::{format_answer, Message, Prompt, Role};
use crate::run::{
    Best, FailureCounts, Phase, PhaseMetrics, PromptRecord, RecordFile, RunDir, SampleRecord,
    Summary, VerdictRecord,
};
use crate::sample::Sample;
use crate::task::{Program, RepairTask, TaskId, TestCase};
use crate::verify::{TestOutcome, Verdict};

/// Model output that would run a script if it were not escaped.
const HOSTILE: &str =
    "It fails.</script><script>alert('pwned')</script><img src=x onerror=alert(1)>";

/// Every `(data-metric, data-value)` of a page.
fn figures(html: &str) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for piece in html.split("data-metric=\"").skip(1) {
        let (name, rest) = piece.split_once('"').unwrap();
        let value = rest
            .split_once("data-value=\"")
            .and_then(|(_, v)| v.split_once('"'))
            .unwrap()
            .0;
        out.entry(unescape(name))
            .or_default()
            .push(value.parse().unwrap());
    }
    out
}

/// The text an attribute value escaped by [`escape`] stands for.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn assert_figure(figures: &BTreeMap<String, Vec<f64>>, name: &str, expected: f64) {
    let values = figures
        .get(name)
        .unwrap_or_else(|| panic!("no {name} among {:?}", figures.keys()));
    assert!(
        values.iter().all(|v| v.to_bits() == expected.to_bits()),
        "{name}: {values:?} != {expected}"
    );
}

fn task(id: &str, kind: &str) -> RepairTask {
    let mut task = RepairTask::new(
        TaskId::new(id).unwrap(),
        "Add one. <b>bold</b>",
        Program::new("def f(x):\n    return x  # x < 1 && \"q\"\n"),
        vec![TestCase::new("assert f(1) == 2").unwrap()],
        "f",
    )
    .unwrap();
    task.metadata.insert("bug_type".into(), kind.into());
    task
}

fn metrics(
    phase: &str, tasks: usize, n: usize, passed: usize, pass: &[(usize, f64)],
) -> PhaseMetrics {
    PhaseMetrics {
        phase: phase.into(),
        checkpoint: "base".into(),
        tasks,
        samples_requested: tasks * n,
        samples: tasks * n,
        unparseable: 0,
        passed,
        tasks_solved: passed.min(tasks),
        pass_at_k: pass
            .iter()
            .map(|(k, v)| (format!("pass@{k}"), *v))
            .collect(),
        failures: FailureCounts::default(),
        train_examples: None,
        hard_tasks: None,
    }
}

/// A finished run: two dev tasks, two samples each; in eval-0 task a passes once and b
/// never; iteration 1 keeps one example; in eval-1 both pass both.
#[allow(clippy::too_many_lines)] // one fixture, written out record by record
fn make_run(dir: &std::path::Path) {
    let dev = [task("dev/a", "operator"), task("dev/b", "value")];
    let train = [task("train/a", "operator")];
    let config = br#"{"hard_filter": {"k": 1, "threshold": 0.1}}"#;
    let run = RunDir::create(dir, config, None, &train, &dev).unwrap();
    let mut prompts = run
        .phase(Phase::Prepare)
        .unwrap()
        .appender(RecordFile::Prompts)
        .unwrap();
    for t in dev.iter().chain(&train) {
        let trace = format!(
            "{}  # f(1) -> 1 </pre><script>x</script>",
            t.program.source()
        );
        prompts
            .append(&PromptRecord {
                task: t.id.clone(),
                prompt: Prompt {
                    messages: vec![Message::new(Role::User, trace)],
                },
            })
            .unwrap();
    }
    let fix = Program::new("def f(x):\n    return x + 1  # </script>\n");
    let write_phase =
        |phase: Phase, tasks: &[RepairTask], pass: &dyn Fn(&str, u32) -> bool, m: PhaseMetrics| {
            let dir = run.phase(phase).unwrap();
            let mut samples = dir.appender(RecordFile::Samples).unwrap();
            let mut verdicts = dir.appender(RecordFile::Verdicts).unwrap();
            for t in tasks {
                for index in 0..2 {
                    let sample = Sample::from_raw(format_answer(HOSTILE, &fix));
                    samples
                        .append(&SampleRecord {
                            task: t.id.clone(),
                            index,
                            sample,
                        })
                        .unwrap();
                    let outcome = if pass(t.id.as_str(), index) {
                        TestOutcome::Pass
                    } else {
                        TestOutcome::Fail {
                            message: "<b>1 != 2</b>".into(),
                        }
                    };
                    let verdict = Verdict::new(vec![outcome]);
                    verdicts
                        .append(&VerdictRecord {
                            task: t.id.clone(),
                            index,
                            verdict,
                        })
                        .unwrap();
                }
            }
            dir.write_metrics(&m).unwrap();
        };
    write_phase(
        Phase::Eval(0),
        &dev,
        &|id, i| id == "dev/a" && i == 0,
        metrics("eval-0", 2, 2, 1, &[(1, 0.25), (2, 0.5)]),
    );
    let mut filter = metrics("filter", 1, 2, 0, &[(1, 0.0)]);
    filter.hard_tasks = Some(1);
    write_phase(Phase::Filter, &train, &|_, _| false, filter.clone());
    let mut iter = metrics("iter-1", 1, 2, 1, &[(1, 0.5)]);
    iter.train_examples = Some(1);
    write_phase(Phase::Iteration(1), &train, &|_, i| i == 1, iter.clone());
    let iter_dir = run.phase(Phase::Iteration(1)).unwrap();
    iter_dir
        .appender(RecordFile::Train)
        .unwrap()
        .append(&crate::train::TrainExample {
            task: train[0].id.clone(),
            sample: 1,
            prompt: Prompt {
                messages: Vec::new(),
            },
            completion: format_answer(HOSTILE, &fix),
        })
        .unwrap();
    let eval1 = metrics("eval-1", 2, 2, 4, &[(1, 1.0), (2, 1.0)]);
    write_phase(Phase::Eval(1), &dev, &|_, _| true, eval1.clone());
    let checkpoint = Checkpoint {
        name: "iter-1".into(),
        data: serde_json::Value::Null,
    };
    run.write_summary(&Summary {
        base_eval: metrics("eval-0", 2, 2, 1, &[(1, 0.25), (2, 0.5)]),
        filter: Some(filter),
        hard_tasks: 1,
        iterations: vec![crate::run::IterationReport {
            iteration: 1,
            train: iter,
            checkpoint: checkpoint.clone(),
            trained: true,
            eval: eval1,
        }],
        best: Best {
            iteration: 1,
            checkpoint,
            metric: "pass@1".into(),
            value: 1.0,
        },
    })
    .unwrap();
}

#[test]
fn a_run_page_escapes_model_output_and_shows_the_recorded_numbers() {
    let dir = tempfile::tempdir().unwrap();
    make_run(dir.path());
    let out = write_run_report(dir.path(), None).unwrap();
    assert_eq!(out, dir.path().join("report.html"));
    let html = std::fs::read_to_string(&out).unwrap();

    // Nothing from the model, the tasks or the traces became markup.
    assert!(!html.to_lowercase().contains("<script"), "a script element");
    assert!(!html.contains("<img") && !html.contains("<b>"));
    assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(&#39;pwned&#39;)"));
    assert!(html.contains("x &lt; 1 &amp;&amp; &quot;q&quot;"));
    assert!(html.contains("kept for training"));

    let f = figures(&html);
    assert_figure(&f, "eval-0.pass@1", 0.25);
    assert_figure(&f, "eval-0.pass@2", 0.5);
    assert_figure(&f, "eval-1.pass@1", 1.0);
    assert_figure(&f, "best.value", 1.0);
    assert_figure(&f, "best.iteration", 1.0);
    assert_figure(&f, "filter.hard_tasks", 1.0);
    assert_figure(&f, "filter.tasks", 1.0);
    assert_figure(&f, "iter-1.train_examples", 1.0);
    assert_figure(&f, "eval-0.bug.operator.pass@1", 0.5);
    assert_figure(&f, "eval-0.bug.value.pass@1", 0.0);
    assert_figure(&f, "eval-0.task.dev/a.passed", 1.0);
    assert_figure(&f, "tasks.dev", 2.0);
    // An interval holds its estimate.
    let low = f["eval-0.pass@1.low"][0];
    let high = f["eval-0.pass@1.high"][0];
    assert!(low <= 0.25 && 0.25 <= high, "[{low}, {high}]");
    assert!(html.contains("<svg") && html.matches("<svg").count() >= 4);
}

#[test]
fn an_unfinished_run_is_reported_as_far_as_it_went() {
    let dir = tempfile::tempdir().unwrap();
    let dev = [task("dev/a", "operator")];
    RunDir::create(dir.path(), b"{}", None, &[], &dev).unwrap();
    let html = run_report(dir.path()).unwrap();
    assert!(html.contains("Not finished"));
    assert!(html.contains("No evaluation has finished yet"));
    assert!(matches!(
        run_report(&dir.path().join("nowhere")),
        Err(HtmlError::Run(RunError::NotARun(_)))
    ));
}

#[test]
fn an_eval_page_shows_the_results_numbers_and_escapes_task_text() {
    let score = |id: &str, kind: &str, c: usize| TaskScore::of_two(id, Some(kind), c);
    let config = EvalConfig {
        n: 2,
        ks: vec![1, 2],
        resamples: 50,
        ..EvalConfig::default()
    };
    let inline = report(
        vec![score("t/1", "<op>", 2), score("t/2", "value", 0)],
        &config,
    )
    .unwrap();
    let none = report(
        vec![score("t/1", "<op>", 1), score("t/2", "value", 0)],
        &config,
    )
    .unwrap();
    let results = EvalResults {
        tasks: "tasks.jsonl".into(),
        n: 2,
        ks: vec![1, 2],
        conditions: vec![
            EvalCondition {
                renderer: "inline".into(),
                report: inline.clone(),
                proxy: Some(ProxyScore {
                    rationales: 4,
                    passed: 3,
                    fix_rate: inline.all.pass_at[0].pass,
                }),
            },
            EvalCondition {
                renderer: "none".into(),
                report: none.clone(),
                proxy: None,
            },
        ],
    };
    // Through the file, as `next eval --out` leaves it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, serde_json::to_vec(&results).unwrap()).unwrap();
    let out = write_eval_report(&path, None).unwrap();
    assert_eq!(out, dir.path().join("results.html"));
    let html = std::fs::read_to_string(out).unwrap();
    assert!(
        html.contains("could not be read"),
        "tasks.jsonl is not there"
    );
    assert!(!html.contains("<op>") && html.contains("&lt;op&gt;"));

    let f = figures(&html);
    for (name, report) in [("inline", &inline), ("none", &none)] {
        for score in &report.all.pass_at {
            assert_figure(&f, &format!("{name}.pass@{}", score.k), score.pass.estimate);
            assert_figure(&f, &format!("{name}.pass@{}.low", score.k), score.pass.low);
            assert_figure(
                &f,
                &format!("{name}.pass@{}.high", score.k),
                score.pass.high,
            );
        }
        for (kind, scores) in &report.by_bug_type {
            for score in &scores.pass_at {
                assert_figure(
                    &f,
                    &format!("{name}.bug.{kind}.pass@{}", score.k),
                    score.pass.estimate,
                );
            }
        }
        assert_figure(&f, &format!("{name}.parsed"), report.parsed);
    }
    assert_figure(&f, "inline.proxy.passed", 3.0);
    assert_figure(&f, "inline.task.t/1.passed", 2.0);

    // With its tasks, the page shows their (escaped) programs.
    let tasks = [task("t/1", "<op>")];
    let html = eval_report(&results, &tasks);
    assert!(html.contains("x &lt; 1 &amp;&amp;") && html.contains("Add one. &lt;b&gt;"));
    assert_eq!(
        eval_report_path(std::path::Path::new("a/r.json")),
        std::path::Path::new("a/r.html")
    );
    assert_eq!(
        eval_report_path(std::path::Path::new("r.html")),
        std::path::Path::new("r.report.html")
    );
    std::fs::write(&path, b"{}").unwrap();
    assert!(matches!(
        write_eval_report(&path, None),
        Err(HtmlError::Results { .. })
    ));
}
