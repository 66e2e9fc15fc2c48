//! The browsable part of a run's page: tasks with the trace their prompt shows, and the
//! samples of each phase with their rationale, fix and verdict. Everything here comes
//! from the task files or from the model, and is escaped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::page::{count, escape, pre};
use super::HtmlError;
use crate::prompt::Role;
use crate::run::{Phase, RunView, SampleRecord};
use crate::sample::Answer;
use crate::task::RepairTask;
use crate::verify::Verdict;

/// Samples shown per task and phase.
const SAMPLES: usize = 4;

/// The samples kept as training examples, by iteration, task and index.
#[derive(Debug, Default)]
pub(crate) struct Browsed {
    kept: BTreeSet<(Phase, String, u32)>,
}

impl Browsed {
    /// The training examples of `iterations`.
    pub(crate) fn kept(run: &RunView, iterations: &[u32]) -> Result<Self, HtmlError> {
        let mut kept = BTreeSet::new();
        for &i in iterations {
            for (task, sample) in run.kept_samples(i)? {
                kept.insert((Phase::Iteration(i), task.as_str().to_owned(), sample));
            }
        }
        Ok(Self { kept })
    }
}

/// `tasks`, each with the task turn of its prompt and its samples in `phases`.
pub(crate) fn run_tasks(
    run: &RunView, tasks: &[&RepairTask], phases: &[Phase], kept: &Browsed,
) -> Result<String, HtmlError> {
    if tasks.is_empty() {
        return Ok("<p>No task to show.</p>".to_owned());
    }
    let ids: BTreeSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let prompts: BTreeMap<String, String> = run
        .prompts()?
        .into_iter()
        .filter(|p| ids.contains(p.task.as_str()))
        .filter_map(|p| {
            let turn = p
                .prompt
                .messages
                .iter()
                .rev()
                .find(|m| m.role == Role::User)?;
            Some((p.task.as_str().to_owned(), turn.content.clone()))
        })
        .collect();
    let mut by_phase = Vec::new();
    for &phase in phases {
        let mut samples: BTreeMap<String, Vec<SampleRecord>> = BTreeMap::new();
        for record in run.samples(phase)? {
            if ids.contains(record.task.as_str()) {
                samples
                    .entry(record.task.as_str().to_owned())
                    .or_default()
                    .push(record);
            }
        }
        let verdicts: BTreeMap<(String, u32), Verdict> = run
            .verdicts(phase)?
            .into_iter()
            .filter(|v| ids.contains(v.task.as_str()))
            .map(|v| ((v.task.as_str().to_owned(), v.index), v.verdict))
            .collect();
        by_phase.push((phase, samples, verdicts));
    }
    Ok(tasks
        .iter()
        .map(|task| task_html(task, &prompts, &by_phase, kept))
        .collect())
}

/// A phase's samples and verdicts of the tasks shown.
type PhaseRecords = (
    Phase,
    BTreeMap<String, Vec<SampleRecord>>,
    BTreeMap<(String, u32), Verdict>,
);

/// One task: its prompt's task turn, and its samples in each phase.
fn task_html(
    task: &RepairTask, prompts: &BTreeMap<String, String>, by_phase: &[PhaseRecords],
    kept: &Browsed,
) -> String {
    let mut out = String::new();
    let id = task.id.as_str();
    let kind = task
        .metadata
        .get("bug_type")
        .and_then(|v| v.as_str())
        .map(|k| format!(" <small>({})</small>", escape(k)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<details class=\"task\"><summary><code>{}</code>{kind}</summary>",
        escape(id)
    );
    if let Some(turn) = prompts.get(id) {
        out.push_str(
            "<p>The task as the prompt shows it (spec, program with its execution \
             trace, tests):</p>",
        );
        out.push_str(&pre(turn, "trace"));
    } else {
        out.push_str(
            "<p>No prompt was recorded (its tracing or rendering failed). The buggy \
             program:</p>",
        );
        out.push_str(&pre(task.program.source(), "program"));
    }
    for (phase, samples, verdicts) in by_phase {
        let Some(samples) = samples.get(id) else {
            continue;
        };
        let passed = samples
            .iter()
            .filter(|s| {
                verdicts
                    .get(&(id.to_owned(), s.index))
                    .is_some_and(Verdict::passed)
            })
            .count();
        let _ = write!(
            out,
            "<details><summary>{}: {} of {} samples pass</summary>",
            escape(&phase.to_string()),
            count(&format!("{phase}.task.{id}.passed"), passed),
            count(&format!("{phase}.task.{id}.samples"), samples.len()),
        );
        for record in samples.iter().take(SAMPLES) {
            let is_kept = kept.kept.contains(&(*phase, id.to_owned(), record.index));
            out.push_str(&sample(
                record,
                verdicts.get(&(id.to_owned(), record.index)),
                is_kept,
            ));
        }
        if samples.len() > SAMPLES {
            let _ = write!(
                out,
                "<p>({} more samples in the run directory.)</p>",
                samples.len() - SAMPLES
            );
        }
        out.push_str("</details>");
    }
    out.push_str("</details>");
    out
}

/// One sample: its rationale, its fix and the verdict on it.
fn sample(record: &SampleRecord, verdict: Option<&Verdict>, kept: bool) -> String {
    let mut out = format!("<h4>Sample {}", record.index);
    if kept {
        out.push_str(" <span class=\"kept\">kept for training</span>");
    }
    out.push_str("</h4>");
    match &record.sample.answer {
        Answer::Fix { rationale, program } => {
            let _ = write!(
                out,
                "<p>Rationale:</p>{}<p>Fix:</p>{}",
                pre(rationale, "rationale"),
                pre(program.source(), "fix")
            );
            out.push_str(&verdict_html(verdict));
        }
        Answer::Unparseable { reason } => {
            let _ = write!(
                out,
                "<p class=\"fail\">Unparseable ({}): counted as failing. The answer:</p>{}",
                escape(&format!("{reason:?}")),
                pre(&record.sample.raw, "raw")
            );
        }
    }
    out
}

/// A verdict: pass, or each test's outcome.
fn verdict_html(verdict: Option<&Verdict>) -> String {
    match verdict {
        None => "<p>Verdict: <span class=\"fail\">none recorded</span> (its verification failed, or is pending).</p>".to_owned(),
        Some(v) if v.passed() => "<p>Verdict: <span class=\"pass\">pass</span>, every test.</p>".to_owned(),
        Some(v) => {
            let mut out = String::from("<p>Verdict: <span class=\"fail\">fail</span></p><ul>");
            for (i, outcome) in v.outcomes.iter().enumerate() {
                let _ = write!(
                    out,
                    "<li>test {}: <span class=\"{}\">{}</span> {}</li>",
                    i + 1,
                    if outcome.is_pass() { "pass" } else { "fail" },
                    outcome.name(),
                    escape(outcome.message())
                );
            }
            out.push_str("</ul>");
            out
        }
    }
}
