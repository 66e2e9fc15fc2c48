//! Few-shot prompting in the loop, as the paper does it: the base model is sampled with
//! the exemplars before each prompt, tuned checkpoints without them (unless
//! `shots_for_tuned`), and the training examples are kept zero-shot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use next_core::observe::NoObserver;
use next_core::prompt::shots::Exemplars;
use next_core::prompt::{Prompt, Role};
use next_core::render::NoneRenderer;
use next_core::run::RunError;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::self_training::{Roles, SelfTraining};
use next_core::testing::{MockSampler, MockTrainer, MockVerifier, Skill};
use next_core::trace::NoneTracer;
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};

use common::{block_on, config, fixed_tasks, split_tasks};

/// The checkpoint and the number of user turns of every prompt sampled.
#[derive(Default)]
struct Seen {
    sampled: Mutex<Vec<(String, usize)>>,
    trained: Mutex<Vec<usize>>,
}

fn user_turns(prompt: &Prompt) -> usize {
    prompt
        .messages
        .iter()
        .filter(|m| m.role == Role::User)
        .count()
}

struct Recording {
    inner: MockSampler,
    seen: Arc<Seen>,
}

#[async_trait]
impl RationaleSampler for Recording {
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        self.seen
            .sampled
            .lock()
            .unwrap()
            .push((model.name.clone(), user_turns(prompt)));
        self.inner.sample(model, prompt, n, params).await
    }
}

struct RecordingTrainer(Arc<Seen>);

#[async_trait]
impl Trainer for RecordingTrainer {
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        self.0
            .trained
            .lock()
            .unwrap()
            .extend(examples.iter().map(|e| user_turns(&e.prompt)));
        MockTrainer::new().train(base, examples, cx).await
    }
}

fn run(shots: usize, for_tuned: bool) -> (Result<(), RunError>, Arc<Seen>) {
    let (train, dev) = split_tasks(fixed_tasks(6), 0.5);
    let seen = Arc::new(Seen::default());
    let roles = Roles {
        tracer: NoneTracer,
        renderer: NoneRenderer,
        sampler: Recording {
            inner: MockSampler::new(Skill::fixed(0.9)),
            seen: Arc::clone(&seen),
        },
        verifier: MockVerifier::new(),
        trainer: RecordingTrainer(Arc::clone(&seen)),
    };
    let mut looped_config = config(5, 1, 4, 2);
    looped_config.hard_filter.enabled = false;
    looped_config.shots = shots;
    looped_config.shots_for_tuned = for_tuned;
    let looped = SelfTraining::new(roles, looped_config)
        .unwrap()
        .with_exemplars(Exemplars::shipped());
    let dir = tempfile::tempdir().unwrap();
    let result = block_on(looped.run(dir.path(), &train, &dev, &NoObserver)).map(|_| ());
    (result, seen)
}

#[test]
fn the_base_model_is_sampled_with_shots_and_trained_on_bare_prompts() {
    let (result, seen) = run(2, false);
    result.unwrap();
    let sampled = seen.sampled.lock().unwrap().clone();
    assert!(sampled.iter().any(|(model, _)| model == "base"));
    assert!(
        sampled.iter().any(|(model, _)| model != "base"),
        "{sampled:?}"
    );
    for (model, turns) in &sampled {
        let expected = if model == "base" { 3 } else { 1 };
        assert_eq!(*turns, expected, "{model}");
    }
    let trained = seen.trained.lock().unwrap().clone();
    assert!(!trained.is_empty());
    assert!(trained.iter().all(|turns| *turns == 1), "{trained:?}");
}

#[test]
fn tuned_checkpoints_see_the_shots_when_asked() {
    let (result, seen) = run(1, true);
    result.unwrap();
    let sampled = seen.sampled.lock().unwrap().clone();
    assert!(sampled.iter().all(|(_, turns)| *turns == 2), "{sampled:?}");
}

#[test]
fn more_shots_than_exemplars_is_a_clear_error_before_anything_is_sampled() {
    let (result, seen) = run(4, false);
    let err = result.unwrap_err();
    assert!(err.to_string().contains("holds 3 exemplars"), "{err}");
    assert!(seen.sampled.lock().unwrap().is_empty());
}
