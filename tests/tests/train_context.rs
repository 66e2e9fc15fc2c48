//! What the loop hands a trainer: a fresh output directory for each try, a state
//! directory that survives a failed (or killed) training and its resume, and an observer
//! that receives the trainer's updates as `Progress::Training`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use next_core::observe::{NoObserver, Progress};
use next_core::render::NoneRenderer;
use next_core::run::RunError;
use next_core::self_training::{Roles, SelfTraining};
use next_core::testing::{MockSampler, MockTrainer, MockVerifier, Skill};
use next_core::trace::NoneTracer;
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, TrainUpdate, Trainer};

use common::{block_on, config, fixed_tasks, split_tasks};

/// Fails its first training after leaving a note in both directories; the second
/// finds the note in the state directory only, and reports one step.
#[derive(Default)]
struct Flaky {
    calls: AtomicUsize,
    seen: Mutex<Vec<(bool, bool)>>,
}

#[async_trait]
impl Trainer for Flaky {
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        let state = cx.state().expect("the loop gives a state directory");
        let in_state = state.join("job.json");
        let in_out = cx.out().join("partial.bin");
        self.seen
            .lock()
            .unwrap()
            .push((in_state.exists(), in_out.exists()));
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::fs::write(&in_state, "{\"job\": 1}").unwrap();
            std::fs::write(&in_out, "half").unwrap();
            return Err(TrainError::Backend("the machine went away".into()));
        }
        cx.report(&TrainUpdate::Step {
            step: 1,
            steps: 1,
            loss: 0.5,
            learning_rate: 1e-4,
            tokens: 10,
            tokens_per_sec: 100.0,
        });
        MockTrainer::new().train(base, examples, cx).await
    }
}

#[test]
fn a_resumed_training_finds_its_state_in_a_fresh_output_directory() {
    let (train, dev) = split_tasks(fixed_tasks(6), 0.5);
    let trainer = Arc::new(Flaky::default());
    let roles = Roles {
        tracer: NoneTracer,
        renderer: NoneRenderer,
        sampler: MockSampler::new(Skill::fixed(0.9)),
        verifier: MockVerifier::new(),
        trainer: Arc::clone(&trainer),
    };
    let mut looped_config = config(3, 1, 4, 2);
    looped_config.hard_filter.enabled = false;
    let looped = SelfTraining::new(roles, looped_config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = block_on(looped.run(dir.path(), &train, &dev, &NoObserver)).unwrap_err();
    assert!(
        matches!(&err, RunError::Train { iteration: 1, message } if message.contains("went away")),
        "{err}"
    );

    let updates = Mutex::new(Vec::new());
    let observer = |event: &Progress<'_>| {
        if let Progress::Training { iteration, update } = event {
            updates
                .lock()
                .unwrap()
                .push((*iteration, (*update).clone()));
        }
    };
    let summary = block_on(looped.resume(dir.path(), &observer)).unwrap();
    assert!(summary.iterations[0].trained);
    // First try: nothing anywhere; second: the state kept, the output wiped.
    assert_eq!(
        *trainer.seen.lock().unwrap(),
        vec![(false, false), (true, false)]
    );
    assert!(dir.path().join("iter-1/train-state/job.json").is_file());
    assert!(!dir.path().join("iter-1/checkpoint/partial.bin").exists());
    let updates = updates.into_inner().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].0, 1);
    assert!(matches!(updates[0].1, TrainUpdate::Step { step: 1, .. }));
}
