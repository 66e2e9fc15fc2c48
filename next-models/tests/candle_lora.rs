//! The LoRA trainer of the local model (feature `candle`) on the real default model,
//! SmolLM2-135M-Instruct: it overfits a handful of examples until the sampler, loading
//! the adapter, answers a training prompt with its target; it reports its steps and
//! stops when its future is dropped; and the loop trains with it end to end.
//!
//! The model is installed by `next-models/scripts/llama-server-setup.sh` (which
//! `.ci/run` calls) at `.cache/models/` (or `NEXT_CANDLE_MODEL`, or the user's cache):
//! without it the tests fail under `CI` and are skipped otherwise.
#![cfg(feature = "candle")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use next_core::observe::{Observer, Progress};
use next_core::prompt::{Message, Prompt, Role};
use next_core::render::NoneRenderer;
use next_core::sample::{RationaleSampler, SamplingParams};
use next_core::self_training::{LoopConfig, Roles, SelfTraining};
use next_core::task::{Program, RepairTask, TaskId, TestCase};
use next_core::testing::{MockSampler, MockVerifier, Skill};
use next_core::trace::NoneTracer;
use next_core::train::{Checkpoint, TrainContext, TrainExample, TrainUpdate, Trainer};
use next_models::artifact::SMOLLM2;
use next_models::candle::train::{Schedule, Target, SETTINGS_FILE, TENSORS_FILE};
use next_models::candle::{CandleConfig, CandleLoraTrainer, CandleSampler, LoraConfig};

fn model_path(test: &str) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let found = std::env::var_os("NEXT_CANDLE_MODEL")
        .map(PathBuf::from)
        .ok_or(())
        .or_else(|()| SMOLLM2.locate_in(&workspace.join(".cache")))
        .or_else(|_| SMOLLM2.locate());
    match found {
        Ok(path) => Some(path),
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test} needs the model: {err}; run next-models/scripts/llama-server-setup.sh"
            );
            eprintln!("{test}: skipped: {err}");
            None
        }
    }
}

fn example(i: u32, question: &str, answer: &str) -> TrainExample {
    TrainExample {
        task: TaskId::new(format!("t{i}")).unwrap(),
        sample: 0,
        prompt: Prompt {
            messages: vec![
                Message::new(Role::System, "Answer with the code word."),
                Message::new(Role::User, question),
            ],
        },
        completion: answer.to_owned(),
    }
}

/// Counts the training steps and keeps the losses an observer is told of.
#[derive(Default)]
struct Steps(Mutex<Vec<(u64, u64, f64)>>);

impl Observer for Steps {
    fn observe(&self, event: &Progress<'_>) {
        if let Progress::Training {
            update: TrainUpdate::Step {
                step, steps, loss, ..
            },
            ..
        } = event
        {
            self.0.lock().unwrap().push((*step, *steps, *loss));
        }
    }
}

#[test]
fn lora_overfits_a_few_examples_until_the_sampler_answers_with_the_target() {
    let Some(path) = model_path("lora_overfits") else {
        return;
    };
    let examples = vec![
        example(0, "What is the code word for apple?", "Zebra quartz 41."),
        example(1, "What is the code word for river?", "Lantern maple 7."),
        example(2, "What is the code word for cloud?", "Copper violin 93."),
    ];
    let trainer = CandleLoraTrainer::new(LoraConfig {
        model: Some(path.clone()),
        rank: 8,
        learning_rate: 3e-3,
        schedule: Schedule::Constant,
        warmup_ratio: 0.0,
        dropout: 0.0,
        epochs: 24,
        batch_size: 3,
        grad_accumulation: 1,
        max_seq_len: 128,
        ..LoraConfig::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let steps = Steps::default();
    let cx = TrainContext::new(out.path()).with_observer(&steps);
    let checkpoint =
        futures::executor::block_on(trainer.train(&Checkpoint::base(), &examples, &cx)).unwrap();
    assert!(out.path().join(TENSORS_FILE).is_file());
    assert!(out.path().join(SETTINGS_FILE).is_file());
    let adapter_dir = std::path::absolute(out.path()).unwrap();
    assert_eq!(
        checkpoint.data["adapter"],
        serde_json::json!(adapter_dir.display().to_string())
    );

    let steps = steps.0.into_inner().unwrap();
    assert_eq!(steps.len(), 24, "one report a step");
    assert!(steps.iter().all(|&(_, total, _)| total == 24));
    let (first, last) = (steps[0].2, steps[23].2);
    assert!(
        last < first * 0.1,
        "the loss fell from {first} to {last} only"
    );

    let sampler = CandleSampler::new(CandleConfig {
        model: Some(path),
        ..CandleConfig::default()
    })
    .unwrap();
    let params = SamplingParams {
        temperature: 0.0,
        max_tokens: 16,
        seed: Some(0),
        ..SamplingParams::default()
    };
    let tuned =
        futures::executor::block_on(sampler.sample(&checkpoint, &examples[1].prompt, 1, &params))
            .unwrap();
    assert_eq!(tuned[0].raw, "Lantern maple 7.");
    let base = futures::executor::block_on(sampler.sample(
        &Checkpoint::base(),
        &examples[1].prompt,
        1,
        &params,
    ))
    .unwrap();
    assert_ne!(
        base[0].raw, "Lantern maple 7.",
        "the base model knew it already"
    );
}

fn training_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|name| name.trim() == "next-candle-lora")
        })
        .count()
}

#[test]
fn dropping_the_training_stops_its_thread() {
    let Some(path) = model_path("dropping_the_training_stops_its_thread") else {
        return;
    };
    let trainer = CandleLoraTrainer::new(LoraConfig {
        model: Some(path),
        epochs: 1000,
        batch_size: 1,
        grad_accumulation: 1,
        targets: vec![Target::V],
        ..LoraConfig::default()
    })
    .unwrap();
    let examples = vec![example(0, "Code word?", "Zebra.")];
    let out = tempfile::tempdir().unwrap();
    let steps = Steps::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cx = TrainContext::new(out.path()).with_observer(&steps);
        let base = Checkpoint::base();
        let training = trainer.train(&base, &examples, &cx);
        let stopped = tokio::time::timeout(Duration::from_secs(20), training).await;
        assert!(stopped.is_err(), "1000 epochs ended within the timeout");
    });
    assert!(!steps.0.lock().unwrap().is_empty(), "no step in 20 s");
    let deadline = Instant::now() + Duration::from_secs(20);
    while training_threads() > 0 {
        assert!(Instant::now() < deadline, "the training thread still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !out.path().join(TENSORS_FILE).exists(),
        "a stopped training wrote its adapter"
    );
}

fn task(id: &str) -> RepairTask {
    RepairTask::new(
        TaskId::new(id).unwrap(),
        "Return the sum of the odd numbers of a list.",
        Program::new("def sum_odd(xs):\n    return sum(xs)\n"),
        vec![TestCase::new("assert sum_odd([1, 2, 3]) == 4").unwrap()],
        "sum_odd",
    )
    .unwrap()
}

#[test]
fn the_loop_trains_an_adapter_with_mock_sampling() {
    let Some(path) = model_path("the_loop_trains_an_adapter_with_mock_sampling") else {
        return;
    };
    let trainer = CandleLoraTrainer::new(LoraConfig {
        model: Some(path),
        epochs: 1,
        batch_size: 4,
        max_seq_len: 512,
        ..LoraConfig::default()
    })
    .unwrap();
    let roles = Roles {
        tracer: NoneTracer,
        renderer: NoneRenderer,
        sampler: MockSampler::new(Skill::growing(0.6, 0.0, 0.9)),
        verifier: MockVerifier::new(),
        trainer,
    };
    let mut config = LoopConfig::default();
    config.iterations = 1;
    config.samples_per_task = 4;
    config.max_rationales_per_task = 1;
    config.eval.samples_per_task = 2;
    config.eval.ks = vec![1];
    config.hard_filter.enabled = false;
    let looped = SelfTraining::new(roles, config).unwrap();
    let train: Vec<RepairTask> = (0..3).map(|i| task(&format!("train/{i}"))).collect();
    let dev = vec![task("dev/0")];
    let dir = tempfile::tempdir().unwrap();
    let steps = Steps::default();
    let summary =
        futures::executor::block_on(looped.run(dir.path(), &train, &dev, &steps)).unwrap();
    let report = &summary.iterations[0];
    assert!(report.trained, "nothing was kept to train on");
    let adapter = dir.path().join("iter-1/checkpoint");
    assert!(adapter.join(TENSORS_FILE).is_file());
    assert_eq!(
        report.checkpoint.data["adapter"],
        serde_json::json!(std::path::absolute(&adapter).unwrap().display().to_string())
    );
    assert!(
        !steps.0.lock().unwrap().is_empty(),
        "the loop's observer saw no step"
    );
    let kept = std::fs::read_to_string(dir.path().join("iter-1/train.jsonl")).unwrap();
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(adapter.join(SETTINGS_FILE)).unwrap()).unwrap();
    assert_eq!(
        settings["training"]["examples"].as_u64().unwrap(),
        kept.lines().count() as u64
    );
}
