//! Property tests of the self-training loop, driven by the mock roles of
//! `next_core::testing`:
//!
//! 1. an iteration's training set holds only samples whose verdict passed every test, at
//!    most `max_rationales_per_task` per task, distinct by normalised code;
//! 3. a run interrupted after any number of recorded events (and with a torn last line)
//!    and resumed ends with byte-identical metrics and training sets;
//! 4. a role that errors or panics on some inputs never aborts the loop: the failure is
//!    recorded against the task and counted in the metrics;
//! 5. with a model whose skill grows with its training data, the dev metric improves and
//!    the chosen checkpoint is the argmax over iterations.
//!
//! (Properties 2 and 6 are in `metrics_props.rs` and `prompt_props.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use next_core::observe::{NoObserver, Phase, Progress, Stage};
use next_core::prompt::parse_answer;
use next_core::render::NoneRenderer;
use next_core::run::{FailureRecord, PhaseMetrics, SampleRecord, Summary, VerdictRecord};
use next_core::sample::Answer;
use next_core::self_training::{LoopConfig, Roles, SelfTraining, TrainFrom};
use next_core::task::{Program, RepairTask, TaskId};
use next_core::testing::{
    strategies, FailOn, Fault, MockSampler, MockTracer, MockTrainer, MockVerifier, Skill,
};
use next_core::trace::NoneTracer;
use next_core::train::TrainExample;
use proptest::prelude::*;

use common::{
    block_on, config, fixed_tasks, quiet_panics, read, split_tasks, CrashAt, TracedRenderer,
};

fn phase_metrics(dir: &Path, phase: Phase) -> PhaseMetrics {
    serde_json::from_slice(
        &std::fs::read(dir.join(phase.to_string()).join("metrics.json")).unwrap(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Property 1.
    #[test]
    fn training_sets_hold_only_distinct_passing_samples(
        tasks in strategies::repair_tasks(2..9),
        split in 0.0_f64..1.0,
        sampler in strategies::mock_sampler(),
        samples in 1_usize..9,
        keep in 1_usize..5,
        iterations in 1_u32..3,
        accumulate in any::<bool>(),
        from_previous in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (train, dev) = split_tasks(tasks, split);
        let mut config = config(seed, iterations, samples, keep);
        config.accumulate = accumulate;
        config.train_from = if from_previous { TrainFrom::Previous } else { TrainFrom::Base };
        let looped = SelfTraining::new(
            Roles {
                tracer: NoneTracer,
                renderer: NoneRenderer,
                sampler,
                verifier: MockVerifier::new(),
                trainer: MockTrainer::new(),
            },
            config,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let summary = block_on(looped.run(dir.path(), &train, &dev, &NoObserver)).unwrap();
        let tests: HashMap<&TaskId, usize> = train.iter().map(|t| (&t.id, t.tests.len())).collect();

        for iteration in 1..=iterations {
            let phase = dir.path().join(Phase::Iteration(iteration).to_string());
            let examples: Vec<TrainExample> = read(&phase.join("train.jsonl"));
            let samples: HashMap<(TaskId, u32), Program> = read::<SampleRecord>(&phase.join("samples.jsonl"))
                .into_iter()
                .filter_map(|r| r.sample.fix().cloned().map(|fix| ((r.task, r.index), fix)))
                .collect();
            let verdicts: HashMap<(TaskId, u32), VerdictRecord> = read::<VerdictRecord>(&phase.join("verdicts.jsonl"))
                .into_iter()
                .map(|r| ((r.task.clone(), r.index), r))
                .collect();

            let mut kept: BTreeMap<TaskId, BTreeSet<String>> = BTreeMap::new();
            for example in &examples {
                let key = (example.task.clone(), example.sample);
                let verdict = &verdicts.get(&key).expect("every example has a verdict").verdict;
                prop_assert!(verdict.passed(), "{key:?} kept with {verdict:?}");
                prop_assert_eq!(verdict.outcomes.len(), tests[&example.task]);
                let Answer::Fix { program, .. } = parse_answer(&example.completion) else {
                    panic!("a kept completion has no fix: {}", example.completion);
                };
                prop_assert_eq!(&program, &samples[&key], "the completion's fix is the sample's");
                let fresh = kept.entry(example.task.clone()).or_default().insert(program.normalized());
                prop_assert!(fresh, "{key:?} repeats a kept fix");
            }
            // At most `keep` per task, and as many as there are (distinct passing fixes).
            let mut passing: BTreeMap<TaskId, BTreeSet<String>> = BTreeMap::new();
            for (key, record) in &verdicts {
                if record.verdict.passed() {
                    passing.entry(key.0.clone()).or_default().insert(samples[key].normalized());
                }
            }
            for (task, fixes) in &passing {
                let got = kept.get(task).map_or(0, BTreeSet::len);
                prop_assert_eq!(got, fixes.len().min(keep), "task {}", task);
            }
            prop_assert!(kept.keys().all(|t| passing.contains_key(t)));
            prop_assert_eq!(
                summary.iterations[iteration as usize - 1].train.train_examples,
                Some(examples.len())
            );
        }
    }
}

fn compared_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in walk(dir) {
        let name = entry
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let compared = name == "summary.json"
            || name.ends_with("metrics.json")
            || name.ends_with("train.jsonl")
            || name.ends_with("checkpoint.json");
        if compared {
            files.insert(name, std::fs::read(&entry).unwrap());
        }
    }
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Appends half a record, without its newline, to one of the run's record files: what a
/// kill in the middle of a write leaves.
fn tear(dir: &Path, pick: usize) {
    let mut files: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl") && !p.starts_with(dir.join("tasks"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return;
    }
    let path = &files[pick % files.len()];
    let mut bytes = std::fs::read(path).unwrap();
    bytes.extend_from_slice(br#"{"task":"half a line","ind"#);
    std::fs::write(path, bytes).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Property 3.
    #[test]
    fn interrupted_runs_resume_to_identical_results(
        tasks in strategies::repair_tasks(2..7),
        split in 0.0_f64..1.0,
        sampler in strategies::mock_sampler(),
        stops in proptest::collection::vec((0.0_f64..1.0, any::<bool>(), any::<usize>()), 1..4),
        seed in any::<u64>(),
    ) {
        quiet_panics();
        let (train, dev) = split_tasks(tasks, split);
        let mut config = config(seed, 2, 4, 2);
        config.eval.samples_per_task = 3;
        config.eval.ks = vec![1, 3];
        let roles = || Roles {
            tracer: MockTracer::new(),
            renderer: TracedRenderer,
            sampler: sampler.clone(),
            verifier: MockVerifier::new(),
            trainer: MockTrainer::new(),
        };

        let whole = tempfile::tempdir().unwrap();
        let counter = CrashAt::never();
        let looped = SelfTraining::new(roles(), config.clone()).unwrap();
        block_on(looped.run(whole.path(), &train, &dev, &counter)).unwrap();
        let events = counter.seen();

        let broken = tempfile::tempdir().unwrap();
        let mut started = false;
        for (at, torn, pick) in stops {
            // Each attempt is a fresh process: new roles, new loop.
            let looped = SelfTraining::new(roles(), config.clone()).unwrap();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            let crash = CrashAt::after((at * events as f64) as usize);
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if started {
                    block_on(looped.resume(broken.path(), &crash))
                } else {
                    block_on(looped.run(broken.path(), &train, &dev, &crash))
                }
            }));
            if !started {
                // The first attempt sees every event of a whole run, so it must crash.
                prop_assert!(attempt.is_err(), "no crash at event {} of {}", crash.at(), events);
            }
            started = true;
            if let Ok(result) = attempt {
                result.unwrap();
            } else if torn {
                tear(broken.path(), pick);
            }
        }
        let looped = SelfTraining::new(roles(), config).unwrap();
        block_on(looped.resume(broken.path(), &NoObserver)).unwrap();

        let expected = compared_files(whole.path());
        let got = compared_files(broken.path());
        prop_assert_eq!(expected.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
        for (name, bytes) in &expected {
            prop_assert!(bytes == &got[name], "{} differs after resuming", name);
        }
    }
}

/// Which tasks a role fails on, and how.
#[derive(Debug, Clone)]
struct Faults {
    trace: BTreeSet<usize>,
    sample: BTreeSet<usize>,
    trace_fault: bool,
    sample_fault: bool,
    verify_fault: bool,
}

fn fault(panic: bool, what: &str) -> Fault {
    if panic {
        Fault::Panic(format!("[quiet] {what} exploded"))
    } else {
        Fault::Error(format!("{what} refused"))
    }
}

fn faults() -> impl Strategy<Value = Faults> {
    (
        proptest::collection::btree_set(0_usize..10, 0..4),
        proptest::collection::btree_set(0_usize..10, 0..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(trace, sample, trace_fault, sample_fault, verify_fault)| Faults {
                trace,
                sample,
                trace_fault,
                sample_fault,
                verify_fault,
            },
        )
}

fn with_needle(task: &RepairTask, needle: &str) -> RepairTask {
    let mut task = task.clone();
    task.program = Program::new(format!("{}\n# {needle}\n", task.program.source()));
    task
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Property 4.
    #[test]
    fn failing_roles_are_recorded_and_counted(
        tasks in strategies::repair_tasks(2..10),
        split in 0.0_f64..1.0,
        faults in faults(),
        seed in any::<u64>(),
    ) {
        quiet_panics();
        let tasks: Vec<RepairTask> = tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                let task = if faults.trace.contains(&i) { with_needle(task, "fail-trace") } else { task.clone() };
                if faults.sample.contains(&i) { with_needle(&task, "fail-sample") } else { task }
            })
            .collect();
        let (train, dev) = split_tasks(tasks, split);
        let looped = SelfTraining::new(
            Roles {
                tracer: FailOn::when_contains(MockTracer::new(), "fail-trace", fault(faults.trace_fault, "tracer")),
                renderer: TracedRenderer,
                sampler: FailOn::when_contains(
                    MockSampler::fixed(0.5).with_variants(3),
                    "fail-sample",
                    fault(faults.sample_fault, "sampler"),
                ),
                verifier: FailOn::when_contains(MockVerifier::new(), "VARIANT = 0", fault(faults.verify_fault, "verifier")),
                trainer: MockTrainer::new(),
            },
            config(seed, 2, 4, 2),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let finished = Mutex::new(Vec::new());
        let observer = |event: &Progress<'_>| {
            if let Progress::TaskFinished { phase, task, counts } = event {
                finished.lock().unwrap().push((*phase, (*task).clone(), *counts));
            }
        };
        let summary: Summary = block_on(looped.run(dir.path(), &train, &dev, &observer)).unwrap();

        let traced_out = |t: &RepairTask| t.program.source().contains("fail-trace");
        let sampled_out = |t: &RepairTask| !traced_out(t) && t.program.source().contains("fail-sample");
        let prepare: Vec<FailureRecord> = read(&dir.path().join("prepare/failures.jsonl"));
        let expected: BTreeSet<&TaskId> = train.iter().chain(&dev).filter(|t| traced_out(t)).map(|t| &t.id).collect();
        prop_assert_eq!(prepare.iter().map(|r| &r.task).collect::<BTreeSet<_>>(), expected);
        prop_assert!(prepare.iter().all(|r| r.stage == Stage::Trace && r.message.contains("tracer")));

        let mut phases = vec![(Phase::Eval(0), dev.iter().collect::<Vec<_>>())];
        if let Some(filter) = &summary.filter {
            prop_assert_eq!(filter.tasks, train.len());
            phases.push((Phase::Filter, train.iter().collect()));
        }
        for report in &summary.iterations {
            // Every task whose role failed is unsolved, so hard: the failures of an
            // iteration are those of all training tasks.
            phases.push((Phase::Iteration(report.iteration), train.iter().collect()));
            // A checkpoint evaluated before (the base model again) is not re-evaluated.
            if report.eval.phase == Phase::Eval(report.iteration).to_string() {
                phases.push((Phase::Eval(report.iteration), dev.iter().collect()));
            }
        }
        for (phase, tasks) in &phases {
            let metrics = phase_metrics(dir.path(), *phase);
            let path = dir.path().join(phase.to_string());
            prop_assert_eq!(metrics.failures.trace, tasks.iter().filter(|t| traced_out(t)).count());
            prop_assert_eq!(metrics.failures.sample, tasks.iter().filter(|t| sampled_out(t)).count());
            let samples: Vec<SampleRecord> = read(&path.join("samples.jsonl"));
            let doomed = samples
                .iter()
                .filter(|r| r.sample.fix().is_some_and(|f| f.source().contains("VARIANT = 0")))
                .count();
            prop_assert_eq!(metrics.failures.verify, doomed);
            let failures: Vec<FailureRecord> = read(&path.join("failures.jsonl"));
            prop_assert_eq!(failures.iter().filter(|r| r.stage == Stage::Verify).count(), doomed);
            prop_assert!(failures.iter().all(|r| r.message.contains("sampler") || r.message.contains("verifier")));
        }
        // Every task of a phase finished; the ones whose roles failed count as unsolved.
        let finished = finished.into_inner().unwrap();
        let all: BTreeMap<&TaskId, &RepairTask> = train.iter().chain(&dev).map(|t| (&t.id, t)).collect();
        for (phase, task, counts) in &finished {
            if traced_out(all[task]) || sampled_out(all[task]) {
                prop_assert_eq!(counts.c(), 0, "{} {}", phase, task);
            }
        }
        for report in &summary.iterations {
            let examples: Vec<TrainExample> =
                read(&dir.path().join(Phase::Iteration(report.iteration).to_string()).join("train.jsonl"));
            prop_assert!(examples.iter().all(|e| !e.completion.contains("VARIANT = 0")));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Property 5.
    #[test]
    fn growing_skill_improves_dev_and_best_is_the_argmax(
        tasks in strategies::repair_tasks(20..21),
        base in 0.06_f64..0.15,
        growth in 0.03_f64..0.1,
        filter in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (train, dev) = split_tasks(tasks, 0.6);
        let mut config: LoopConfig = config(seed, 3, 16, 4);
        config.hard_filter.enabled = filter;
        config.hard_filter.threshold = 0.3;
        let looped = SelfTraining::new(
            Roles {
                tracer: NoneTracer,
                renderer: NoneRenderer,
                sampler: MockSampler::new(Skill::growing(base, growth, 0.95))
                    .with_unparseable_rate(0.05)
                    .with_variants(8),
                verifier: MockVerifier::new(),
                trainer: MockTrainer::new(),
            },
            config,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let summary = block_on(looped.run(dir.path(), &train, &dev, &NoObserver)).unwrap();

        let dev_metric: Vec<f64> = std::iter::once(&summary.base_eval)
            .chain(summary.iterations.iter().map(|r| &r.eval))
            .map(|m| m.pass_at(1).unwrap())
            .collect();
        prop_assert!(
            dev_metric[dev_metric.len() - 1] > dev_metric[0],
            "dev pass@1 did not improve: {:?}", dev_metric
        );
        let best = dev_metric.iter().copied().fold(f64::MIN, f64::max);
        let argmax = dev_metric.iter().position(|v| *v == best).unwrap();
        prop_assert_eq!(summary.best.value, best);
        prop_assert_eq!(summary.best.iteration as usize, argmax);
        let chosen = if argmax == 0 {
            next_core::train::Checkpoint::base()
        } else {
            summary.iterations[argmax - 1].checkpoint.clone()
        };
        prop_assert_eq!(&summary.best.checkpoint, &chosen);
        // What was written agrees with what was returned.
        let written: Summary =
            serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
        prop_assert_eq!(written, summary);
    }
}

#[test]
fn a_failed_training_stops_the_run_and_resume_retries_it() {
    quiet_panics();
    let tasks = fixed_tasks(6);
    let (train, dev) = split_tasks(tasks, 0.5);
    let mut config = config(3, 2, 8, 2);
    config.hard_filter.enabled = false;
    let roles = |trainer| Roles {
        tracer: NoneTracer,
        renderer: NoneRenderer,
        sampler: MockSampler::fixed(0.5),
        verifier: MockVerifier::new(),
        trainer,
    };
    let dir = tempfile::tempdir().unwrap();
    let broken = SelfTraining::new(
        roles(FailOn::always(MockTrainer::new(), fault(true, "trainer"))),
        config.clone(),
    )
    .unwrap();
    let err = block_on(broken.run(dir.path(), &train, &dev, &NoObserver)).unwrap_err();
    assert!(
        err.to_string().contains("training for iteration 1 failed"),
        "{err}"
    );
    assert!(err.to_string().contains("trainer exploded"), "{err}");
    let samples_before = std::fs::read(dir.path().join("iter-1/samples.jsonl")).unwrap();

    let sampler_calls = MockSampler::fixed(0.5);
    let trainer = MockTrainer::new();
    let calls = trainer.call_counter();
    let healthy = SelfTraining::new(
        Roles {
            tracer: NoneTracer,
            renderer: NoneRenderer,
            sampler: sampler_calls.clone(),
            verifier: MockVerifier::new(),
            trainer,
        },
        config,
    )
    .unwrap();
    let summary = block_on(healthy.resume(dir.path(), &NoObserver)).unwrap();
    assert_eq!(summary.iterations.len(), 2);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    // The samples of iteration 1 were reused, not drawn again: the eval-0, filter and
    // iter-1 phases were complete, so only iteration 2 and its evaluations sampled.
    assert!(std::fs::read(dir.path().join("iter-1/samples.jsonl"))
        .unwrap()
        .starts_with(&samples_before));
    assert_eq!(sampler_calls.calls(), dev.len() * 2 + train.len());
}

#[test]
fn a_model_that_never_learns_keeps_the_base_score_and_is_not_re_evaluated() {
    let tasks = fixed_tasks(5);
    let (train, dev) = split_tasks(tasks, 0.6);
    let sampler = MockSampler::fixed(0.0);
    let looped = SelfTraining::new(
        Roles {
            tracer: NoneTracer,
            renderer: NoneRenderer,
            sampler: sampler.clone(),
            verifier: MockVerifier::new(),
            trainer: MockTrainer::new(),
        },
        config(5, 3, 4, 2),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = block_on(looped.run(dir.path(), &train, &dev, &NoObserver)).unwrap();
    for report in &summary.iterations {
        assert!(!report.trained);
        assert!(report.checkpoint.is_base());
        assert_eq!(report.eval, summary.base_eval);
    }
    assert_eq!(summary.best.iteration, 0);
    assert!(!dir.path().join("eval-1").exists());
    // eval-0 and the filter once per task, then one call per task per iteration.
    assert_eq!(sampler.calls(), dev.len() + train.len() + 3 * train.len());
}
