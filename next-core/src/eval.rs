//! Evaluation: a model's fix rate on repair tasks, as the paper measures it.
//!
//! Each task is walked by a [`Repairer`] (trace, render, prompt, sample `n`, verify each
//! fix), the same step the loop and `next repair` take, and scored by the unbiased
//! pass@k estimator ([`metrics`](crate::metrics)), over all tasks and per bug type (a
//! task's `bug_type` metadata). Every score comes with a bootstrap confidence interval:
//! the tasks are resampled with replacement, so the interval says how much the score
//! depends on which tasks were drawn, the uncertainty that dominates on a few hundred
//! tasks. The resampling is seeded, so an evaluation is reproducible.
//!
//! The paper's second metric, the **proxy** evaluation of rationales, gives each
//! generated rationale, without its fix, to a second model ([`prompt::proxy`]) that must
//! repair the program; the share of rationales whose proxy fix passes scores them.
//!
//! ```
//! use next_core::eval::{bootstrap, Interval};
//! use next_core::metrics::Counts;
//!
//! let counts = [Counts::new(4, 4).unwrap(), Counts::new(4, 0).unwrap()];
//! let Interval { estimate, low, high } = bootstrap(&counts, 1, 200, 0.95, 7).unwrap();
//! assert_eq!(estimate, 0.5);
//! assert!(low <= estimate && estimate <= high);
//! ```

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt as _};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::error::InvalidInput;
use crate::metrics::{mean_pass_at_k, Counts};
use crate::prompt;
use crate::repair::{Repairer, StepFailure};
use crate::sample::SamplingParams;
use crate::task::RepairTask;

/// How an evaluation samples and scores.
///
/// Invariant (checked by [`EvalConfig::validate`]): `n >= 1`, every k in `1..=n`,
/// `resamples >= 1`, `0 < confidence < 1`, `concurrency >= 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Samples per task.
    pub n: usize,
    /// The k of each pass@k reported.
    pub ks: Vec<usize>,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Tasks walked at once.
    pub concurrency: usize,
    /// Bootstrap resamples of the tasks.
    pub resamples: usize,
    /// The intervals' confidence.
    pub confidence: f64,
    /// The resampling's seed.
    pub seed: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            n: 10,
            ks: vec![1, 5, 10],
            params: SamplingParams::default(),
            concurrency: 4,
            resamples: 1000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

impl EvalConfig {
    /// Checks the invariant.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the setting out of range.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.n == 0 {
            return Err(InvalidInput::new("n must be at least 1"));
        }
        if self.ks.is_empty() || self.ks.iter().any(|&k| k == 0 || k > self.n) {
            return Err(InvalidInput::new(format!(
                "every k must be between 1 and n = {} (got {:?})",
                self.n, self.ks
            )));
        }
        if self.resamples == 0 || self.concurrency == 0 {
            return Err(InvalidInput::new(
                "resamples and concurrency must be at least 1",
            ));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(InvalidInput::new("confidence must be between 0 and 1"));
        }
        self.params.validate()
    }
}

/// An estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The estimate on all the tasks.
    pub estimate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

/// pass@k of a set of tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// k.
    pub k: usize,
    /// The mean pass@k with its interval.
    pub pass: Interval,
}

/// What one task came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// The task.
    pub task: String,
    /// Its bug type, if its metadata names one.
    pub bug_type: Option<String>,
    /// Samples drawn and passed (a step that failed counts as `n` drawn, none passed).
    pub counts: Counts,
    /// Samples that held a fix at all.
    pub parsed: usize,
    /// The rationales of the samples, in order (`None` where an answer had none), for
    /// the proxy evaluation.
    #[serde(skip)]
    pub rationales: Vec<Option<String>>,
    /// The step that failed for this task, if one did.
    pub failure: Option<StepFailure>,
}

#[cfg(test)]
impl TaskScore {
    /// A task's score for tests: `passed` of 2 samples, both parsed, no failure.
    pub(crate) fn of_two(task: &str, bug_type: Option<&str>, passed: usize) -> Self {
        TaskScore {
            task: task.to_owned(),
            bug_type: bug_type.map(str::to_owned),
            counts: Counts::new(2, passed).expect("at most 2 passed"),
            parsed: 2,
            rationales: Vec::new(),
            failure: None,
        }
    }
}

/// The scores of a set of tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// How many tasks.
    pub tasks: usize,
    /// pass@k for each k asked for.
    pub pass_at: Vec<Score>,
}

/// An evaluation's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Every task.
    pub all: Scores,
    /// The tasks of each bug type (tasks without one are left out here).
    pub by_bug_type: BTreeMap<String, Scores>,
    /// The share of samples that held a fix.
    pub parsed: f64,
    /// Each task's counts.
    pub tasks: Vec<TaskScore>,
}

/// Evaluates `checkpoint` on `tasks`, calling `progress` after each task with how many
/// are done.
///
/// # Errors
/// [`InvalidInput`] for a configuration out of range (see [`EvalConfig`]). A task whose
/// step fails is scored as failed and keeps the failure; it is not an error.
pub async fn evaluate(
    repairer: Repairer<'_>, tasks: &[RepairTask], checkpoint: &Checkpoint, config: &EvalConfig,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<EvalReport, InvalidInput> {
    config.validate()?;
    let mut walks = stream::iter(tasks.iter().enumerate())
        .map(|(i, task)| async move {
            let repair = repairer
                .repair(task, checkpoint, config.n, &config.params)
                .await;
            (i, task, repair)
        })
        .buffer_unordered(config.concurrency);
    let mut scores: Vec<Option<TaskScore>> = vec![None; tasks.len()];
    let mut done = 0;
    while let Some((i, task, repair)) = walks.next().await {
        let bug_type = task
            .metadata
            .get("bug_type")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let score = match repair {
            Ok(repair) => {
                let passed = repair.attempts.iter().filter(|a| a.passed()).count();
                TaskScore {
                    task: task.id.as_str().to_owned(),
                    bug_type,
                    // A sampler may return fewer than n: the missing ones count as failed.
                    counts: Counts::new(config.n.max(repair.attempts.len()), passed)?,
                    parsed: repair
                        .attempts
                        .iter()
                        .filter(|a| a.sample.fix().is_some())
                        .count(),
                    rationales: repair
                        .attempts
                        .iter()
                        .map(|a| a.sample.rationale().map(str::to_owned))
                        .collect(),
                    failure: None,
                }
            }
            Err(failure) => TaskScore {
                task: task.id.as_str().to_owned(),
                bug_type,
                counts: Counts::new(config.n, 0)?,
                parsed: 0,
                rationales: Vec::new(),
                failure: Some(failure),
            },
        };
        scores[i] = Some(score);
        done += 1;
        progress(done);
    }
    let tasks: Vec<TaskScore> = scores.into_iter().flatten().collect();
    report(tasks, config)
}

/// Scores `tasks` (their counts) as [`evaluate`] does.
///
/// # Errors
/// [`InvalidInput`] for a configuration out of range.
pub fn report(tasks: Vec<TaskScore>, config: &EvalConfig) -> Result<EvalReport, InvalidInput> {
    let scores = |subset: &[&TaskScore]| -> Result<Scores, InvalidInput> {
        let counts: Vec<Counts> = subset.iter().map(|t| t.counts).collect();
        let pass_at = config
            .ks
            .iter()
            .map(|&k| {
                Ok(Score {
                    k,
                    pass: bootstrap(&counts, k, config.resamples, config.confidence, config.seed)?,
                })
            })
            .collect::<Result<Vec<_>, InvalidInput>>()?;
        Ok(Scores {
            tasks: subset.len(),
            pass_at,
        })
    };
    let all: Vec<&TaskScore> = tasks.iter().collect();
    let mut kinds: BTreeMap<String, Vec<&TaskScore>> = BTreeMap::new();
    for task in &tasks {
        if let Some(kind) = &task.bug_type {
            kinds.entry(kind.clone()).or_default().push(task);
        }
    }
    let by_bug_type = kinds
        .into_iter()
        .map(|(kind, subset)| Ok((kind, scores(&subset)?)))
        .collect::<Result<BTreeMap<_, _>, InvalidInput>>()?;
    let drawn: usize = tasks.iter().map(|t| t.counts.n()).sum();
    let parsed: usize = tasks.iter().map(|t| t.parsed).sum();
    Ok(EvalReport {
        all: scores(&all)?,
        by_bug_type,
        #[allow(clippy::cast_precision_loss)]
        parsed: if drawn == 0 {
            0.0
        } else {
            parsed as f64 / drawn as f64
        },
        tasks,
    })
}

/// The mean pass@k of `counts` with a percentile bootstrap interval of `confidence`
/// over `resamples` resamples of the tasks (seeded by `seed`). With no tasks, every
/// number is 0.
///
/// # Errors
/// [`InvalidInput`] when k is out of range for a task's n, or `confidence` is not in
/// (0, 1).
pub fn bootstrap(
    counts: &[Counts], k: usize, resamples: usize, confidence: f64, seed: u64,
) -> Result<Interval, InvalidInput> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(InvalidInput::new("confidence must be between 0 and 1"));
    }
    if counts.is_empty() {
        return Ok(Interval {
            estimate: 0.0,
            low: 0.0,
            high: 0.0,
        });
    }
    let per_task: Vec<f64> = counts
        .iter()
        .map(|&c| crate::metrics::pass_at_k(c, k))
        .collect::<Result<_, _>>()?;
    let estimate = mean_pass_at_k(counts, k)?;
    let mut rng = SplitMix(seed);
    let len = per_task.len();
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let total: f64 = (0..len).map(|_| per_task[rng.below(len)]).sum();
            #[allow(clippy::cast_precision_loss)]
            let mean = total / len as f64;
            mean
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((means.len() - 1) as f64 * q).round() as usize;
        means[i.min(means.len() - 1)]
    };
    Ok(Interval {
        estimate,
        low: at(tail).min(estimate),
        high: at(1.0 - tail).max(estimate),
    })
}

/// The proxy evaluation's result: how many rationales were given to the proxy model and
/// how many of its fixes passed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProxyScore {
    /// Rationales scored.
    pub rationales: usize,
    /// Those whose proxy fix passed.
    pub passed: usize,
    /// `passed / rationales`, with its bootstrap interval over the rationales.
    pub fix_rate: Interval,
}

/// Scores the rationales of `report` (an evaluation of `tasks`): each goes, without its
/// fix, to `proxy`'s sampler ([`prompt::proxy`]), which draws one fix, judged by
/// `proxy`'s verifier.
///
/// # Errors
/// [`InvalidInput`] for a configuration out of range.
pub async fn proxy(
    proxy: Repairer<'_>, tasks: &[RepairTask], report: &EvalReport, checkpoint: &Checkpoint,
    config: &EvalConfig, progress: &(dyn Fn(usize) + Sync),
) -> Result<ProxyScore, InvalidInput> {
    config.validate()?;
    let by_id: BTreeMap<&str, &RepairTask> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
    let work: Vec<(&RepairTask, &str)> = report
        .tasks
        .iter()
        .filter_map(|score| by_id.get(score.task.as_str()).map(|task| (*task, score)))
        .flat_map(|(task, score)| {
            score
                .rationales
                .iter()
                .flatten()
                .filter(|r| !r.trim().is_empty())
                .map(move |r| (task, r.as_str()))
        })
        .collect();
    let mut judged = stream::iter(work)
        .map(|(task, rationale)| async move {
            let prompt = prompt::proxy(task, rationale);
            let Ok(samples) = proxy.sample(checkpoint, &prompt, 1, &config.params).await else {
                return false;
            };
            match samples.first().and_then(|s| s.fix()) {
                Some(fix) => proxy.judge(task, fix).await.is_ok_and(|v| v.passed()),
                None => false,
            }
        })
        .buffer_unordered(config.concurrency);
    let mut outcomes = Vec::new();
    while let Some(passed) = judged.next().await {
        outcomes.push(passed);
        progress(outcomes.len());
    }
    let counts: Vec<Counts> = outcomes
        .iter()
        .map(|&p| Counts::new(1, usize::from(p)))
        .collect::<Result<_, _>>()?;
    Ok(ProxyScore {
        rationales: outcomes.len(),
        passed: outcomes.iter().filter(|p| **p).count(),
        fix_rate: bootstrap(&counts, 1, config.resamples, config.confidence, config.seed)?,
    })
}

/// A small seeded generator (`SplitMix64`) for the bootstrap: reproducible, and no
/// dependency for a few thousand draws.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        #[allow(clippy::cast_possible_truncation)]
        let i = (self.next() % (n as u64)) as usize;
        i
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn c(n: usize, k: usize) -> Counts {
        Counts::new(n, k).unwrap()
    }

    #[test]
    fn the_interval_holds_the_estimate_and_narrows_with_more_tasks() {
        let few: Vec<Counts> = (0..10).map(|i| c(4, i % 5)).collect();
        let many: Vec<Counts> = (0..1000).map(|i| c(4, i % 5)).collect();
        let a = bootstrap(&few, 1, 500, 0.95, 1).unwrap();
        let b = bootstrap(&many, 1, 500, 0.95, 1).unwrap();
        assert!((a.estimate - 0.5).abs() < 1e-9 && (b.estimate - 0.5).abs() < 1e-9);
        assert!(a.low < a.estimate && a.estimate < a.high, "{a:?}");
        assert!(b.high - b.low < (a.high - a.low) / 4.0, "{a:?} {b:?}");
        assert_eq!(a, bootstrap(&few, 1, 500, 0.95, 1).unwrap(), "seeded");
    }

    #[test]
    fn a_unanimous_set_has_no_spread_and_bad_settings_are_refused() {
        let all = vec![c(3, 3); 20];
        let i = bootstrap(&all, 2, 100, 0.9, 0).unwrap();
        assert_eq!((i.estimate, i.low, i.high), (1.0, 1.0, 1.0));
        assert!(bootstrap(&all, 4, 100, 0.9, 0).is_err(), "k > n");
        assert!(bootstrap(&all, 1, 100, 1.0, 0).is_err());
        let bad = EvalConfig {
            ks: vec![1, 20],
            ..EvalConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("20"));
    }

    #[test]
    fn scores_split_by_bug_type() {
        let task = TaskScore::of_two;
        let config = EvalConfig {
            n: 2,
            ks: vec![1, 2],
            ..EvalConfig::default()
        };
        let report = report(
            vec![
                task("a", Some("off-by-one"), 2),
                task("b", Some("off-by-one"), 0),
                task("c", Some("operator"), 1),
                task("d", None, 0),
            ],
            &config,
        )
        .unwrap();
        assert_eq!(report.all.tasks, 4);
        assert!((report.all.pass_at[0].pass.estimate - 3.0 / 8.0).abs() < 1e-9);
        assert_eq!(report.by_bug_type["off-by-one"].tasks, 2);
        assert!((report.by_bug_type["operator"].pass_at[1].pass.estimate - 1.0).abs() < 1e-9);
        assert!(!report.by_bug_type.contains_key("none"));
        assert!((report.parsed - 1.0).abs() < 1e-9);
    }

    /// The whole evaluation over mock roles: a sampler that always fixes the tasks
    /// tagged for it and never the others, so every score is known.
    #[cfg(feature = "testing")]
    #[test]
    fn an_evaluation_scores_each_task_by_its_samples() {
        use crate::render::NoneRenderer;
        use crate::task::{Program, TaskId, TestCase};
        use crate::testing::{task_tag, MockSampler, MockTracer, MockVerifier, Skill};

        let task = |id: &str, kind: &str| {
            let id = TaskId::new(id).unwrap();
            let mut task = RepairTask::new(
                id.clone(),
                format!("{} Add one.", task_tag(&id)),
                Program::new("def f(x):\n    return x\n# mock-verdict: fail\n"),
                vec![TestCase::new("assert f(1) == 2").unwrap()],
                "f",
            )
            .unwrap();
            task.metadata.insert("bug_type".into(), kind.into());
            task
        };
        let tasks = vec![task("t/1", "a"), task("t/2", "a"), task("t/3", "b")];
        let sampler = MockSampler::fixed(0.0)
            .with_task_skill(&tasks[0].id, Skill::fixed(1.0))
            .with_task_skill(&tasks[2].id, Skill::fixed(1.0));
        let (tracer, verifier) = (MockTracer::new(), MockVerifier::new());
        let repairer = Repairer::new(&tracer, &NoneRenderer, &sampler, &verifier);
        let config = EvalConfig {
            n: 4,
            ks: vec![1, 4],
            resamples: 200,
            ..EvalConfig::default()
        };
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let progress = |done: usize| seen.store(done, std::sync::atomic::Ordering::SeqCst);
        let report = futures::executor::block_on(evaluate(
            repairer,
            &tasks,
            &Checkpoint::base(),
            &config,
            &progress,
        ))
        .unwrap();
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(
            report
                .tasks
                .iter()
                .map(|t| t.counts.c())
                .collect::<Vec<_>>(),
            [4, 0, 4]
        );
        assert!((report.all.pass_at[0].pass.estimate - 2.0 / 3.0).abs() < 1e-9);
        assert!((report.by_bug_type["a"].pass_at[1].pass.estimate - 0.5).abs() < 1e-9);
        assert!((report.by_bug_type["b"].pass_at[0].pass.estimate - 1.0).abs() < 1e-9);

        // Every rationale of the fixed tasks is good enough for a proxy that follows it.
        let proxy = futures::executor::block_on(super::proxy(
            repairer,
            &tasks,
            &report,
            &Checkpoint::base(),
            &config,
            &|_| {},
        ))
        .unwrap();
        let rationales = |i: usize| report.tasks[i].rationales.iter().flatten().count();
        assert_eq!(
            proxy.rationales,
            rationales(0) + rationales(1) + rationales(2)
        );
        assert_eq!(proxy.passed, rationales(0) + rationales(2), "{proxy:?}");
        assert!(proxy.rationales > 0);
    }
}
