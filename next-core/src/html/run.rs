//! The report of a loop run: its run directory, read through [`RunView`], as one page.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::browse::{self, Browsed};
use super::page::{count, escape, interval, percent, table, Page};
use super::plot::{self, Series, Value};
use super::HtmlError;
use crate::eval::{bootstrap, Interval};
use crate::metrics::{mean_pass_at_k, Counts};
use crate::run::{Phase, PhaseMetrics, RunView};
use crate::task::RepairTask;

/// The bootstrap of the intervals the page draws (as `next eval`'s defaults).
pub(crate) const RESAMPLES: usize = 1000;
pub(crate) const CONFIDENCE: f64 = 0.95;
pub(crate) const SEED: u64 = 0;

/// Development tasks, and hard training tasks, shown with their samples.
const BROWSE_DEV: usize = 12;
const BROWSE_TRAIN: usize = 6;

/// A finished phase: its metrics and each task's counts, rebuilt from its verdicts as
/// the loop counted them (`n` samples asked for per task, the passing ones among them).
struct Measured {
    phase: Phase,
    metrics: PhaseMetrics,
    counts: BTreeMap<String, Counts>,
}

impl Measured {
    fn read(run: &RunView, phase: Phase, tasks: &[&RepairTask]) -> Result<Option<Self>, HtmlError> {
        let Some(metrics) = run.metrics(phase)? else {
            return Ok(None);
        };
        let n = metrics
            .samples_requested
            .checked_div(metrics.tasks)
            .unwrap_or(0);
        let passed: BTreeSet<(String, u32)> = run
            .verdicts(phase)?
            .into_iter()
            .filter(|v| v.verdict.passed())
            .map(|v| (v.task.as_str().to_owned(), v.index))
            .collect();
        let mut counts = BTreeMap::new();
        for task in tasks {
            let id = task.id.as_str();
            let c = passed
                .range((id.to_owned(), 0)..=(id.to_owned(), u32::MAX))
                .count();
            counts.insert(id.to_owned(), Counts::new(n, c.min(n))?);
        }
        Ok(Some(Self {
            phase,
            metrics,
            counts,
        }))
    }

    /// pass@k of the tasks `ids` (all the phase's tasks when `None`), with its interval.
    fn pass(&self, k: usize, ids: Option<&BTreeSet<&str>>) -> Result<Interval, HtmlError> {
        let counts: Vec<Counts> = self
            .counts
            .iter()
            .filter(|(id, _)| ids.is_none_or(|ids| ids.contains(id.as_str())))
            .map(|(_, c)| *c)
            .collect();
        if counts.iter().any(|c| k > c.n()) {
            return Ok(Interval {
                estimate: 0.0,
                low: 0.0,
                high: 0.0,
            });
        }
        let mut interval = bootstrap(&counts, k, RESAMPLES, CONFIDENCE, SEED)?;
        match ids {
            // The whole phase: the loop's own number, which the interval must hold.
            None => {
                if let Some(value) = self.metrics.pass_at(k) {
                    interval.estimate = value;
                }
            }
            Some(_) => interval.estimate = mean_pass_at_k(&counts, k)?,
        }
        interval.low = interval.low.min(interval.estimate);
        interval.high = interval.high.max(interval.estimate);
        Ok(interval)
    }
}

/// The `k`s of a phase's `pass@k`, ascending.
fn ks(metrics: &PhaseMetrics) -> Vec<usize> {
    let mut ks: Vec<usize> = metrics
        .pass_at_k
        .keys()
        .filter_map(|key| key.strip_prefix("pass@")?.parse().ok())
        .collect();
    ks.sort_unstable();
    ks
}

/// The page of the run in `run`.
pub(crate) fn page(run: &RunView) -> Result<String, HtmlError> {
    let (train, dev) = run.tasks()?;
    let summary = run.summary()?;
    let phases = run.phases()?;
    let dev_refs: Vec<&RepairTask> = dev.iter().collect();
    let mut evals = Vec::new();
    for phase in phases.iter().filter(|p| matches!(p, Phase::Eval(_))) {
        evals.extend(Measured::read(run, *phase, &dev_refs)?);
    }
    let iterations: Vec<(u32, PhaseMetrics)> = phases
        .iter()
        .filter_map(|p| match p {
            Phase::Iteration(i) => Some((*i, p)),
            _ => None,
        })
        .map(|(i, p)| Ok(run.metrics(*p)?.map(|m| (i, m))))
        .collect::<Result<Vec<_>, HtmlError>>()?
        .into_iter()
        .flatten()
        .collect();

    let mut page = Page::new(&format!("NExT run {}", run.path().display()));
    let mut overview = format!(
        "Run directory <code>{}</code>: {} training tasks, {} development tasks. ",
        escape(&run.path().display().to_string()),
        count("tasks.train", train.len()),
        count("tasks.dev", dev.len()),
    );
    match &summary {
        Some(s) => {
            let _ = write!(
                overview,
                "Finished. Best checkpoint: iteration {} (<code>{}</code>), dev {} = {}.",
                count("best.iteration", s.best.iteration as usize),
                escape(&s.best.checkpoint.name),
                escape(&s.best.metric),
                percent("best.value", s.best.value),
            );
        }
        None => overview
            .push_str("Not finished (no summary.json yet): the page shows the finished phases."),
    }
    page.paragraph(&overview);

    page.section(
        "fix-rate",
        "Fix rate on the development tasks",
        &fix_rate(&evals)?,
    );
    page.section(
        "bug-types",
        "Fix rate per bug type",
        &bug_types(&evals, &dev)?,
    );
    page.section(
        "filter",
        "Hard-task filter",
        &filter(run, summary.as_ref().map(|s| s.hard_tasks))?,
    );
    page.section(
        "training",
        "Training examples per iteration",
        &training(&iterations),
    );

    let mut samples = String::new();
    let shown: Vec<&RepairTask> = dev.iter().take(BROWSE_DEV).collect();
    let eval_phases: Vec<Phase> = evals.iter().map(|m| m.phase).collect();
    samples.push_str("<h3>Development tasks</h3>");
    samples.push_str(&browse::run_tasks(
        run,
        &shown,
        &eval_phases,
        &Browsed::default(),
    )?);
    if let Some((last, _)) = iterations.last() {
        let ids: BTreeSet<String> = run
            .samples(Phase::Iteration(*last))?
            .into_iter()
            .map(|s| s.task.as_str().to_owned())
            .collect();
        let hard: Vec<&RepairTask> = train
            .iter()
            .filter(|t| ids.contains(t.id.as_str()))
            .take(BROWSE_TRAIN)
            .collect();
        let iters: Vec<Phase> = iterations
            .iter()
            .map(|(i, _)| Phase::Iteration(*i))
            .collect();
        let kept = Browsed::kept(run, &iterations.iter().map(|(i, _)| *i).collect::<Vec<_>>())?;
        samples.push_str("<h3>Hard training tasks</h3>");
        samples.push_str(&browse::run_tasks(run, &hard, &iters, &kept)?);
    }
    page.section(
        "samples",
        "Tasks, traces, rationales, fixes and verdicts",
        &samples,
    );
    Ok(page.finish())
}

/// The fix rate of each checkpoint on dev: a table, a plot over the iterations and the
/// pass@k curves.
fn fix_rate(evals: &[Measured]) -> Result<String, HtmlError> {
    let Some(first) = evals.first() else {
        return Ok("<p>No evaluation has finished yet.</p>".to_owned());
    };
    let ks = ks(&first.metrics);
    let mut head = vec!["phase", "checkpoint", "tasks solved"];
    let labels: Vec<String> = ks.iter().map(|k| format!("pass@{k}")).collect();
    head.extend(labels.iter().map(String::as_str));
    let mut rows = Vec::new();
    let mut by_k: Vec<Series> = labels
        .iter()
        .map(|l| Series {
            label: l.clone(),
            values: Vec::new(),
        })
        .collect();
    let mut curves = Vec::new();
    for m in evals {
        let name = m.phase.to_string();
        let mut row = vec![
            escape(&name),
            format!("<code>{}</code>", escape(&m.metrics.checkpoint)),
            format!(
                "{} of {}",
                count(&format!("{name}.tasks_solved"), m.metrics.tasks_solved),
                count(&format!("{name}.tasks"), m.metrics.tasks)
            ),
        ];
        let mut curve = Vec::new();
        for (k, series) in ks.iter().zip(&mut by_k) {
            let i = m.pass(*k, None)?;
            row.push(interval(
                &format!("{name}.pass@{k}"),
                i.estimate,
                i.low,
                i.high,
            ));
            let value = Some(Value {
                estimate: i.estimate,
                interval: Some((i.low, i.high)),
            });
            series.values.push(value);
            curve.push(value);
        }
        rows.push(row);
        curves.push(Series {
            label: name,
            values: curve,
        });
    }
    let xs: Vec<String> = evals.iter().map(|m| m.phase.to_string()).collect();
    Ok(format!(
        "{}<div class=\"plots\">{}{}</div>",
        table(&head, &rows),
        plot::lines("Dev fix rate per iteration", "checkpoint", &xs, &by_k),
        plot::lines("pass@k curves", "k", &labels, &curves),
    ))
}

/// The fix rate per bug type of the dev tasks that name one, for each checkpoint.
fn bug_types(evals: &[Measured], dev: &[RepairTask]) -> Result<String, HtmlError> {
    let mut kinds: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for task in dev {
        if let Some(kind) = task.metadata.get("bug_type").and_then(|v| v.as_str()) {
            kinds
                .entry(kind.to_owned())
                .or_default()
                .insert(task.id.as_str());
        }
    }
    let (Some(first), false) = (evals.first(), kinds.is_empty()) else {
        return Ok("<p>No development task names its <code>bug_type</code>.</p>".to_owned());
    };
    let k = ks(&first.metrics).first().copied().unwrap_or(1);
    let mut head = vec!["bug type".to_owned(), "tasks".to_owned()];
    head.extend(evals.iter().map(|m| format!("{} pass@{k}", m.phase)));
    let mut rows = Vec::new();
    let mut series: Vec<Series> = evals
        .iter()
        .map(|m| Series {
            label: m.phase.to_string(),
            values: Vec::new(),
        })
        .collect();
    for (kind, ids) in &kinds {
        let mut row = vec![escape(kind), count(&format!("bug.{kind}.tasks"), ids.len())];
        for (m, line) in evals.iter().zip(&mut series) {
            let i = m.pass(k, Some(ids))?;
            row.push(interval(
                &format!("{}.bug.{kind}.pass@{k}", m.phase),
                i.estimate,
                i.low,
                i.high,
            ));
            line.values.push(Some(Value {
                estimate: i.estimate,
                interval: Some((i.low, i.high)),
            }));
        }
        rows.push(row);
    }
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let xs: Vec<String> = kinds.keys().cloned().collect();
    Ok(format!(
        "{}<div class=\"plots\">{}</div>",
        table(&head, &rows),
        plot::bars(
            &format!("Dev pass@{k} per bug type"),
            "bug type",
            &xs,
            &series
        )
    ))
}

/// The hard-task filter: how many training tasks the base model found hard.
fn filter(run: &RunView, hard: Option<usize>) -> Result<String, HtmlError> {
    let Some(metrics) = run.metrics(Phase::Filter)? else {
        return Ok("<p>No hard-task filter ran (disabled, or not finished): every training task is sampled.</p>".to_owned());
    };
    let hard = metrics.hard_tasks.or(hard).unwrap_or(0);
    let config = run.config()?;
    let rule = &config["hard_filter"];
    let mut text = format!(
        "The base model drew {} samples for each of {} training tasks; {} tasks were hard \
         (pass@{} below {}), {} were not. Its pass@k on them: ",
        count(
            "filter.samples_per_task",
            metrics
                .samples_requested
                .checked_div(metrics.tasks)
                .unwrap_or(0)
        ),
        count("filter.tasks", metrics.tasks),
        count("filter.hard_tasks", hard),
        escape(&rule["k"].to_string()),
        escape(&rule["threshold"].to_string()),
        count("filter.easy_tasks", metrics.tasks.saturating_sub(hard)),
    );
    let parts: Vec<String> = metrics
        .pass_at_k
        .iter()
        .map(|(key, value)| {
            format!(
                "{} {}",
                escape(key),
                percent(&format!("filter.{key}"), *value)
            )
        })
        .collect();
    text.push_str(&parts.join(", "));
    let bars = [
        ("hard".to_owned(), hard),
        ("not hard".to_owned(), metrics.tasks.saturating_sub(hard)),
    ];
    Ok(format!(
        "<p>{text}.</p><div class=\"plots\">{}</div>",
        plot::counts("Training tasks by the filter", "", &bars)
    ))
}

/// What each iteration sampled on the hard tasks and kept to train on.
fn training(iterations: &[(u32, PhaseMetrics)]) -> String {
    if iterations.is_empty() {
        return "<p>No iteration has finished sampling yet.</p>".to_owned();
    }
    let mut rows = Vec::new();
    let mut kept = Vec::new();
    for (i, m) in iterations {
        let name = format!("iter-{i}");
        let examples = m.train_examples.unwrap_or(0);
        let mut pass: Vec<String> = m
            .pass_at_k
            .iter()
            .map(|(key, v)| format!("{} {}", escape(key), percent(&format!("{name}.{key}"), *v)))
            .collect();
        pass.sort();
        rows.push(vec![
            escape(&name),
            format!("<code>{}</code>", escape(&m.checkpoint)),
            count(&format!("{name}.tasks"), m.tasks),
            count(&format!("{name}.samples"), m.samples),
            count(&format!("{name}.passed"), m.passed),
            count(&format!("{name}.unparseable"), m.unparseable),
            count(&format!("{name}.train_examples"), examples),
            pass.join(", "),
        ]);
        kept.push((name, examples));
    }
    format!(
        "{}<div class=\"plots\">{}</div>",
        table(
            &[
                "iteration",
                "sampled from",
                "hard tasks",
                "samples",
                "passing",
                "unparseable",
                "examples kept",
                "pass@k on them"
            ],
            &rows
        ),
        plot::counts("Training examples kept per iteration", "iteration", &kept)
    )
}
