//! One sampling phase: sample every task, judge every fix, keep the training examples,
//! measure. Used by the hard-task filter, the iterations and the evaluations.
//!
//! Resuming is built in: the phase first reads what its directory already records and
//! asks the roles only for what is missing, so running a finished phase again calls no
//! role and gives the same result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use tokio::sync::Semaphore;

use super::Worker;
use crate::guard::derive_seed;
use crate::jsonl::Appender;
use crate::metrics::{self, Counts};
use crate::observe::{Observer, Phase, Progress, Stage};
use crate::prompt::{self, Prompt};
use crate::run::{
    FailureCounts, FailureRecord, PhaseMetrics, RunDir, RunError, SampleRecord, VerdictRecord,
};
use crate::run::{PhaseDir, RecordFile};
use crate::sample::{Answer, Sample};
use crate::task::{RepairTask, TaskId};
use crate::train::{Checkpoint, TrainExample};
use crate::verify::Verdict;

/// What a phase does.
pub(super) struct Plan<'a> {
    pub phase: Phase,
    pub tasks: &'a [&'a RepairTask],
    pub checkpoint: &'a Checkpoint,
    pub samples_per_task: usize,
    /// Keep up to this many distinct passing samples per task as training examples.
    pub keep: Option<usize>,
    /// The pass@k to report.
    pub ks: &'a [usize],
}

/// What a phase found, in task order.
pub(super) struct Outcome {
    pub counts: Vec<Counts>,
    pub examples: Vec<TrainExample>,
    pub metrics: PhaseMetrics,
}

/// The prompts of the run's tasks, and the stage at which the others failed.
pub(super) struct Prompts {
    pub ready: HashMap<TaskId, Prompt>,
    pub failed: HashMap<TaskId, Stage>,
}

/// What the phase directory already holds.
#[derive(Default)]
struct Recorded {
    samples: HashMap<TaskId, BTreeMap<u32, Sample>>,
    verdicts: HashMap<(TaskId, u32), Verdict>,
    sample_failed: HashSet<TaskId>,
    verify_failed: HashSet<(TaskId, u32)>,
    examples: HashSet<(TaskId, u32)>,
}

/// A sampling phase's record files, sealed when it finishes.
const RECORD_FILES: [RecordFile; 4] = [
    RecordFile::Samples,
    RecordFile::Verdicts,
    RecordFile::Failures,
    RecordFile::Train,
];

struct Files {
    samples: Mutex<Appender>,
    verdicts: Mutex<Appender>,
    failures: Mutex<Appender>,
    train: Mutex<Appender>,
}

/// A record a task made, waiting for its turn to be written: every task's records
/// are written when the task ends, in task order (and, within a task, in the order of
/// its samples), so that two runs of one configuration write the same files whatever
/// their concurrency.
enum Entry {
    Sample(SampleRecord),
    Verdict(VerdictRecord),
    Failure(FailureRecord),
}

/// One task's result.
struct TaskResult {
    /// Its new records, in order.
    log: Vec<Entry>,
    counts: Counts,
    recorded: usize,
    unparseable: usize,
    sample_failed: bool,
    verify_failures: usize,
    prompt_failed: Option<Stage>,
    examples: Vec<TrainExample>,
}

impl Recorded {
    fn load(dir: &PhaseDir) -> Result<Self, RunError> {
        let mut recorded = Recorded::default();
        for line in dir.records::<SampleRecord>(RecordFile::Samples)? {
            recorded
                .samples
                .entry(line.task)
                .or_default()
                .entry(line.index)
                .or_insert(line.sample);
        }
        for line in dir.records::<VerdictRecord>(RecordFile::Verdicts)? {
            recorded
                .verdicts
                .entry((line.task, line.index))
                .or_insert(line.verdict);
        }
        for line in dir.records::<FailureRecord>(RecordFile::Failures)? {
            match (line.stage, line.index) {
                (Stage::Verify, Some(index)) => {
                    recorded.verify_failed.insert((line.task, index));
                }
                (Stage::Sample, _) => {
                    recorded.sample_failed.insert(line.task);
                }
                _ => {}
            }
        }
        for line in dir.records::<TrainExample>(RecordFile::Train)? {
            recorded.examples.insert((line.task, line.sample));
        }
        Ok(recorded)
    }
}

impl Files {
    fn open(dir: &PhaseDir) -> Result<Self, RunError> {
        let open =
            |file| -> Result<Mutex<Appender>, RunError> { Ok(Mutex::new(dir.appender(file)?)) };
        Ok(Self {
            samples: open(RecordFile::Samples)?,
            verdicts: open(RecordFile::Verdicts)?,
            failures: open(RecordFile::Failures)?,
            train: open(RecordFile::Train)?,
        })
    }
}

pub(super) fn append<T: serde::Serialize>(
    file: &Mutex<Appender>, record: &T,
) -> Result<(), RunError> {
    // A poisoned lock only means another task panicked while holding it; the file
    // itself is intact, since every record is one write.
    let mut file = file
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(file.append(record)?)
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Worker<'_> {
    /// Runs (or finishes) one phase.
    pub(super) async fn phase(
        &self, run: &RunDir, plan: &Plan<'_>, prompts: &Prompts, observer: &dyn Observer,
    ) -> Result<Outcome, RunError> {
        observer.observe(&Progress::PhaseStarted {
            phase: plan.phase,
            tasks: plan.tasks.len(),
        });
        let dir = run.phase(plan.phase)?;
        dir.check_seal()?;
        let recorded = Recorded::load(&dir)?;
        let files = Files::open(&dir)?;
        let samplers = Semaphore::new(self.config.concurrency.samplers);
        let verifiers = Semaphore::new(self.config.concurrency.verifiers);
        let cx = TaskCx {
            plan,
            prompts,
            recorded: &recorded,
            samplers: &samplers,
            verifiers: &verifiers,
            observer,
        };
        let mut results = Vec::with_capacity(plan.tasks.len());
        let mut examples = Vec::new();
        let mut ordered = stream::iter(plan.tasks.iter().map(|task| self.task(&cx, task)))
            .buffered(self.config.concurrency.tasks);
        while let Some(mut result) = ordered.try_next().await? {
            for entry in std::mem::take(&mut result.log) {
                write(&files, plan.phase, observer, &entry)?;
            }
            // Results arrive in task order, so train.jsonl is written in a canonical
            // order whatever the concurrency, and a resumed run appends exactly the
            // examples that are missing at its end.
            for example in &result.examples {
                if !recorded
                    .examples
                    .contains(&(example.task.clone(), example.sample))
                {
                    append(&files.train, example)?;
                    observer.observe(&Progress::ExampleRecorded {
                        phase: plan.phase,
                        task: &example.task,
                        sample: example.sample,
                    });
                }
            }
            examples.extend(result.examples.iter().cloned());
            results.push(result);
        }
        let metrics = measure(plan, &results)?;
        dir.write_metrics(&metrics)?;
        dir.seal(&RECORD_FILES)?;
        observer.observe(&Progress::PhaseFinished {
            phase: plan.phase,
            metrics: &metrics,
        });
        Ok(Outcome {
            counts: results.iter().map(|r| r.counts).collect(),
            examples,
            metrics,
        })
    }

    async fn task(&self, cx: &TaskCx<'_>, task: &RepairTask) -> Result<TaskResult, RunError> {
        let n = cx.plan.samples_per_task;
        let Some(prompt) = cx.prompts.ready.get(&task.id) else {
            // Tracing or rendering failed: the task is unsolved, its failure counted.
            return Ok(TaskResult {
                log: Vec::new(),
                counts: Counts::new(n, 0)?,
                recorded: 0,
                unparseable: 0,
                sample_failed: false,
                verify_failures: 0,
                prompt_failed: Some(
                    cx.prompts
                        .failed
                        .get(&task.id)
                        .copied()
                        .unwrap_or(Stage::Trace),
                ),
                examples: Vec::new(),
            });
        };
        let mut log = Vec::new();
        let (samples, sample_failed) = self.samples(cx, task, prompt, &mut log).await;
        let judged = self.judge(cx, task, &samples, &mut log).await;
        let passed = |i: u32| {
            cx.recorded
                .verdicts
                .get(&(task.id.clone(), i))
                .or_else(|| judged.verdicts.get(&i))
                .is_some_and(Verdict::passed)
        };
        let passing: Vec<u32> = samples.keys().copied().filter(|i| passed(*i)).collect();
        let mut examples = Vec::new();
        if let Some(keep) = cx.plan.keep {
            let mut seen = HashSet::new();
            for &i in &passing {
                if examples.len() == keep {
                    break;
                }
                if let Some(Answer::Fix { rationale, program }) = samples.get(&i).map(|s| &s.answer)
                {
                    if seen.insert(program.normalized()) {
                        examples.push(TrainExample {
                            task: task.id.clone(),
                            sample: i,
                            prompt: prompt.clone(),
                            completion: prompt::format_answer(rationale, program),
                        });
                    }
                }
            }
        }
        let counts = Counts::new(n, passing.len().min(n))?;
        cx.observer.observe(&Progress::TaskFinished {
            phase: cx.plan.phase,
            task: &task.id,
            counts,
        });
        Ok(TaskResult {
            log,
            counts,
            recorded: samples.len(),
            unparseable: samples.values().filter(|s| s.fix().is_none()).count(),
            sample_failed,
            verify_failures: judged.failures,
            prompt_failed: None,
            examples,
        })
    }

    /// The task's samples: those recorded, plus a sampler call for the missing ones.
    async fn samples(
        &self, cx: &TaskCx<'_>, task: &RepairTask, prompt: &Prompt, log: &mut Vec<Entry>,
    ) -> (BTreeMap<u32, Sample>, bool) {
        let n = cx.plan.samples_per_task;
        let mut samples = cx
            .recorded
            .samples
            .get(&task.id)
            .cloned()
            .unwrap_or_default();
        samples.retain(|i, _| (*i as usize) < n);
        let mut failed = cx.recorded.sample_failed.contains(&task.id);
        if samples.len() >= n || failed {
            return (samples, failed);
        }
        let mut params = self.config.sampling.clone();
        params.seed = Some(derive_seed(
            self.config.seed,
            &cx.plan.phase.to_string(),
            task.id.as_str(),
        ));
        let drawn = {
            let _permit = cx.samplers.acquire().await;
            self.repairer
                .sample(cx.plan.checkpoint, prompt, n, &params)
                .await
        };
        let failure = match drawn {
            Ok(drawn) => {
                let got = drawn.len().min(n);
                for (i, sample) in drawn.into_iter().take(n).enumerate() {
                    let i = index(i);
                    if samples.contains_key(&i) {
                        continue;
                    }
                    log.push(Entry::Sample(SampleRecord {
                        task: task.id.clone(),
                        index: i,
                        sample: sample.clone(),
                    }));
                    samples.insert(i, sample);
                }
                (got < n).then(|| format!("the sampler returned {got} of {n} samples"))
            }
            Err(failure) => Some(failure.message),
        };
        if let Some(message) = failure {
            log.push(failure_entry(task, Stage::Sample, None, message));
            failed = true;
        }
        (samples, failed)
    }

    /// Judges every fix that has no verdict yet.
    async fn judge(
        &self, cx: &TaskCx<'_>, task: &RepairTask, samples: &BTreeMap<u32, Sample>,
        log: &mut Vec<Entry>,
    ) -> Judged {
        let pending = samples.iter().filter_map(|(&i, sample)| {
            let key = (task.id.clone(), i);
            let done =
                cx.recorded.verdicts.contains_key(&key) || cx.recorded.verify_failed.contains(&key);
            let fix = sample.fix()?;
            (!done).then_some((i, fix))
        });
        let mut judged: Vec<(u32, Result<Verdict, String>)> = stream::iter(pending)
            .map(|(i, fix)| async move {
                let _permit = cx.verifiers.acquire().await;
                let verdict = self.repairer.judge(task, fix).await;
                (i, verdict.map_err(|failure| failure.message))
            })
            .buffer_unordered(self.config.concurrency.verifiers)
            .collect()
            .await;
        judged.sort_by_key(|(i, _)| *i);
        let mut failures = samples
            .keys()
            .filter(|i| cx.recorded.verify_failed.contains(&(task.id.clone(), **i)))
            .count();
        let mut verdicts = HashMap::new();
        for (i, judged) in judged {
            match judged {
                Ok(verdict) => {
                    log.push(Entry::Verdict(VerdictRecord {
                        task: task.id.clone(),
                        index: i,
                        verdict: verdict.clone(),
                    }));
                    verdicts.insert(i, verdict);
                }
                Err(message) => {
                    log.push(failure_entry(task, Stage::Verify, Some(i), message));
                    failures += 1;
                }
            }
        }
        Judged { failures, verdicts }
    }
}

fn failure_entry(task: &RepairTask, stage: Stage, index: Option<u32>, message: String) -> Entry {
    Entry::Failure(FailureRecord {
        task: task.id.clone(),
        stage,
        index,
        message,
    })
}

/// Writes a task's record to its file and tells the observer.
fn write(
    files: &Files, phase: Phase, observer: &dyn Observer, entry: &Entry,
) -> Result<(), RunError> {
    match entry {
        Entry::Sample(record) => {
            append(&files.samples, record)?;
            observer.observe(&Progress::SampleRecorded {
                phase,
                task: &record.task,
                index: record.index,
            });
        }
        Entry::Verdict(record) => {
            append(&files.verdicts, record)?;
            observer.observe(&Progress::VerdictRecorded {
                phase,
                task: &record.task,
                index: record.index,
                passed: record.verdict.passed(),
            });
        }
        Entry::Failure(record) => {
            append(&files.failures, record)?;
            observer.observe(&Progress::RoleFailed {
                phase,
                task: &record.task,
                stage: record.stage,
                message: &record.message,
            });
        }
    }
    Ok(())
}

/// What judging a task's fixes added.
struct Judged {
    /// Samples whose verification failed, recorded before or now.
    failures: usize,
    /// The verdicts made now.
    verdicts: HashMap<u32, Verdict>,
}

struct TaskCx<'a> {
    plan: &'a Plan<'a>,
    prompts: &'a Prompts,
    recorded: &'a Recorded,
    samplers: &'a Semaphore,
    verifiers: &'a Semaphore,
    observer: &'a dyn Observer,
}

fn measure(plan: &Plan<'_>, results: &[TaskResult]) -> Result<PhaseMetrics, RunError> {
    let counts: Vec<Counts> = results.iter().map(|r| r.counts).collect();
    let mut pass_at_k = BTreeMap::new();
    for &k in plan.ks {
        pass_at_k.insert(format!("pass@{k}"), metrics::mean_pass_at_k(&counts, k)?);
    }
    let mut failures = FailureCounts::default();
    for result in results {
        match result.prompt_failed {
            Some(Stage::Trace) => failures.trace += 1,
            Some(Stage::Render) => failures.render += 1,
            _ => {}
        }
        failures.sample += usize::from(result.sample_failed);
        failures.verify += result.verify_failures;
    }
    Ok(PhaseMetrics {
        phase: plan.phase.to_string(),
        checkpoint: plan.checkpoint.name.clone(),
        tasks: results.len(),
        samples_requested: results.len() * plan.samples_per_task,
        samples: results.iter().map(|r| r.recorded).sum(),
        unparseable: results.iter().map(|r| r.unparseable).sum(),
        passed: counts.iter().map(Counts::c).sum(),
        tasks_solved: counts.iter().filter(|c| c.c() > 0).count(),
        pass_at_k,
        failures,
        train_examples: plan
            .keep
            .map(|_| results.iter().map(|r| r.examples.len()).sum()),
        hard_tasks: None,
    })
}
