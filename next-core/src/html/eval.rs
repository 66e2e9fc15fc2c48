//! The report of an evaluation: the results `next eval --out RESULTS.json` writes, as
//! one page.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::page::{count, escape, interval, percent, pre, table, Page};
use super::plot::{self, Series, Value};
use crate::eval::{EvalReport, ProxyScore, Scores};
use crate::task::RepairTask;

/// Tasks shown with their program and tests.
const BROWSE: usize = 30;

/// The results of `next eval`, as its `--out` file holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResults {
    /// The task file evaluated on.
    pub tasks: PathBuf,
    /// Samples per task.
    pub n: usize,
    /// The k of each pass@k.
    pub ks: Vec<usize>,
    /// One result per renderer.
    pub conditions: Vec<EvalCondition>,
}

/// The evaluation with one renderer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalCondition {
    /// The renderer (`none`: no trace in the prompt).
    pub renderer: String,
    /// The scores.
    pub report: EvalReport,
    /// The proxy evaluation of its rationales, if one ran.
    #[serde(default)]
    pub proxy: Option<ProxyScore>,
}

/// The page of `results`; `tasks` are the evaluated tasks where they could be read
/// (empty otherwise), for showing their programs.
pub(crate) fn page(results: &EvalResults, tasks: &[RepairTask]) -> String {
    let mut page = Page::new(&format!("NExT evaluation of {}", results.tasks.display()));
    page.paragraph(&format!(
        "Tasks <code>{}</code>; {} samples per task; {} renderers.",
        escape(&results.tasks.display().to_string()),
        count("n", results.n),
        count("conditions", results.conditions.len()),
    ));
    page.section("fix-rate", "Fix rate", &overview(results));
    page.section("bug-types", "Fix rate per bug type", &bug_types(results));
    page.section("tasks", "Tasks", &task_table(results, tasks));
    page.finish()
}

/// A scores row: the tasks and each pass@k with its interval.
fn score_cells(prefix: &str, scores: &Scores) -> Vec<String> {
    let mut row = vec![count(&format!("{prefix}.tasks"), scores.tasks)];
    for score in &scores.pass_at {
        let p = score.pass;
        row.push(interval(
            &format!("{prefix}.pass@{}", score.k),
            p.estimate,
            p.low,
            p.high,
        ));
    }
    row
}

fn value(scores: &Scores, k: usize) -> Option<Value> {
    scores.pass_at.iter().find(|s| s.k == k).map(|s| Value {
        estimate: s.pass.estimate,
        interval: Some((s.pass.low, s.pass.high)),
    })
}

/// Each renderer's pass@k, answers with a fix and proxy score; the pass@k curves.
fn overview(results: &EvalResults) -> String {
    let labels: Vec<String> = results.ks.iter().map(|k| format!("pass@{k}")).collect();
    let mut head = vec!["renderer", "tasks"];
    head.extend(labels.iter().map(String::as_str));
    head.extend(["answers with a fix", "proxy fix rate of the rationales"]);
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for c in &results.conditions {
        let name = &c.renderer;
        let mut row = vec![escape(name)];
        row.extend(score_cells(name, &c.report.all));
        row.push(percent(&format!("{name}.parsed"), c.report.parsed));
        row.push(match &c.proxy {
            Some(p) => format!(
                "{} ({} of {})",
                interval(
                    &format!("{name}.proxy.fix_rate"),
                    p.fix_rate.estimate,
                    p.fix_rate.low,
                    p.fix_rate.high
                ),
                count(&format!("{name}.proxy.passed"), p.passed),
                count(&format!("{name}.proxy.rationales"), p.rationales),
            ),
            None => "-".to_owned(),
        });
        rows.push(row);
        curves.push(Series {
            label: name.clone(),
            values: results
                .ks
                .iter()
                .map(|k| value(&c.report.all, *k))
                .collect(),
        });
    }
    format!(
        "{}<div class=\"plots\">{}</div>",
        table(&head, &rows),
        plot::lines("pass@k curves", "k", &labels, &curves)
    )
}

/// Each renderer's pass@k per bug type.
fn bug_types(results: &EvalResults) -> String {
    let kinds: BTreeSet<&String> = results
        .conditions
        .iter()
        .flat_map(|c| c.report.by_bug_type.keys())
        .collect();
    if kinds.is_empty() {
        return "<p>No task names its <code>bug_type</code>.</p>".to_owned();
    }
    let labels: Vec<String> = results.ks.iter().map(|k| format!("pass@{k}")).collect();
    let mut head = vec!["renderer", "bug type", "tasks"];
    head.extend(labels.iter().map(String::as_str));
    let mut rows = Vec::new();
    let k = results.ks.first().copied().unwrap_or(1);
    let mut series = Vec::new();
    for c in &results.conditions {
        for (kind, scores) in &c.report.by_bug_type {
            let mut row = vec![escape(&c.renderer), escape(kind)];
            row.extend(score_cells(&format!("{}.bug.{kind}", c.renderer), scores));
            rows.push(row);
        }
        series.push(Series {
            label: c.renderer.clone(),
            values: kinds
                .iter()
                .map(|kind| c.report.by_bug_type.get(*kind).and_then(|s| value(s, k)))
                .collect(),
        });
    }
    let xs: Vec<String> = kinds.into_iter().cloned().collect();
    format!(
        "{}<div class=\"plots\">{}</div>",
        table(&head, &rows),
        plot::bars(&format!("pass@{k} per bug type"), "bug type", &xs, &series)
    )
}

/// Each task's passing samples under each renderer, and the first tasks' programs.
fn task_table(results: &EvalResults, tasks: &[RepairTask]) -> String {
    let Some(first) = results.conditions.first() else {
        return "<p>No renderer was evaluated.</p>".to_owned();
    };
    let mut head = vec!["task".to_owned(), "bug type".to_owned()];
    head.extend(
        results
            .conditions
            .iter()
            .map(|c| format!("{}: passing of n", c.renderer)),
    );
    let mut rows = Vec::new();
    for (i, score) in first.report.tasks.iter().enumerate() {
        let mut row = vec![
            format!("<code>{}</code>", escape(&score.task)),
            escape(score.bug_type.as_deref().unwrap_or("-")),
        ];
        for c in &results.conditions {
            let cell = c
                .report
                .tasks
                .get(i)
                .filter(|t| t.task == score.task)
                .map_or_else(
                    || "-".to_owned(),
                    |t| {
                        let prefix = format!("{}.task.{}", c.renderer, t.task);
                        let mut cell = format!(
                            "{} of {}",
                            count(&format!("{prefix}.passed"), t.counts.c()),
                            count(&format!("{prefix}.n"), t.counts.n())
                        );
                        if let Some(failure) = &t.failure {
                            let _ = write!(
                                cell,
                                " <span class=\"fail\">{} failed: {}</span>",
                                escape(&failure.stage.to_string()),
                                escape(&failure.message)
                            );
                        }
                        cell
                    },
                );
            row.push(cell);
        }
        rows.push(row);
    }
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut out = table(&head, &rows);
    if tasks.is_empty() {
        out.push_str("<p>The task file could not be read, so the programs are not shown.</p>");
    } else {
        let _ = write!(out, "<h3>The first {} tasks</h3>", BROWSE.min(tasks.len()));
    }
    for task in tasks.iter().take(BROWSE) {
        let tests: Vec<&str> = task.tests.iter().map(crate::task::TestCase::code).collect();
        let _ = write!(
            out,
            "<details class=\"task\"><summary><code>{}</code></summary><p>Task:</p>{}\
             <p>Buggy program:</p>{}<p>Tests:</p>{}</details>",
            escape(task.id.as_str()),
            pre(&task.spec, "spec"),
            pre(task.program.source(), "program"),
            pre(&tests.join("\n"), "tests"),
        );
    }
    out.push_str(
        "<p>An evaluation's results keep each task's counts, not its samples: run the loop \
         (<code>next run</code>) and report its directory to browse rationales and fixes.</p>",
    );
    out
}
