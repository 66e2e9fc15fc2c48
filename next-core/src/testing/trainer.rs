//! [`MockTrainer`] and the mock checkpoint convention.
//!
//! A mock checkpoint records how much training data went into it:
//!
//! ```json
//! { "name": "mock-12-5be4c2f0a19d7e33",
//!   "data": { "mock_examples": 12, "mock_digest": "5be4c2f0a19d7e33" } }
//! ```
//!
//! `data.mock_examples` ([`EXAMPLES_KEY`]) is the number of training examples the model
//! has seen, `N`; [`MockSampler`](super::MockSampler) turns it into skill. `data` may
//! also be `null`, as in [`Checkpoint::base`], which means `N = 0`. Anything else is not
//! a mock checkpoint, and the mock sampler and trainer refuse it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::rng::Fnv;
use crate::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};

/// The key of `Checkpoint::data` holding the number of training examples, `N`.
pub const EXAMPLES_KEY: &str = "mock_examples";

/// The key of `Checkpoint::data` holding the hex digest of the training examples.
pub const DIGEST_KEY: &str = "mock_digest";

/// The file [`MockTrainer`] writes into its output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";

/// A mock checkpoint that has seen `examples` training examples, named `name`.
pub fn mock_checkpoint(name: impl Into<String>, examples: u64) -> Checkpoint {
    Checkpoint {
        name: name.into(),
        data: serde_json::json!({ EXAMPLES_KEY: examples }),
    }
}

/// The number of training examples `N` recorded in a mock checkpoint: 0 when `data` is
/// `null`.
///
/// # Errors
/// A description of the problem when `data` is neither `null` nor an object whose
/// [`EXAMPLES_KEY`] is a non-negative integer.
pub fn examples_in(checkpoint: &Checkpoint) -> Result<u64, String> {
    if checkpoint.data.is_null() {
        return Ok(0);
    }
    checkpoint
        .data
        .get(EXAMPLES_KEY)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            format!(
                "not a mock checkpoint: its data has no integer `{EXAMPLES_KEY}`: {}",
                checkpoint.data
            )
        })
}

/// A [`Trainer`] that "fine-tunes" by counting examples.
///
/// [`Trainer::train`] returns a checkpoint with `N = examples.len()` (ReST-EM: every
/// training starts from the base model), or, with [`MockTrainer::continuing`], `N` of
/// the starting checkpoint plus `examples.len()`. The name, `mock-{N}-{digest}`, is a
/// deterministic function of the examples' content (and of the carried `N`), so the
/// same training set always gives the same checkpoint. It writes the checkpoint as JSON
/// to [`CHECKPOINT_FILE`] in `out`, which must exist, as for a real trainer (a missing
/// directory is a [`TrainError::Io`]). A starting checkpoint that is not a mock one
/// gives [`TrainError::Checkpoint`].
///
/// Clones share the call counter.
#[derive(Debug, Clone, Default)]
pub struct MockTrainer {
    continue_adds: bool,
    calls: Arc<AtomicUsize>,
}

impl MockTrainer {
    /// A trainer whose checkpoints hold only the examples of their own training.
    pub fn new() -> Self {
        Self::default()
    }

    /// A trainer whose checkpoints add their examples to those of the starting
    /// checkpoint (continued training, accumulating skill).
    pub fn continuing() -> Self {
        Self {
            continue_adds: true,
            calls: Arc::default(),
        }
    }

    /// How many times [`Trainer::train`] was called, on this trainer or a clone.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The shared call counter, for tests that hand the trainer away.
    pub fn call_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.calls)
    }

    /// The checkpoint [`Trainer::train`] returns for these inputs, without writing
    /// anything or counting a call.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when `base` is not a mock checkpoint;
    /// [`TrainError::Backend`] when an example cannot be serialised.
    pub fn checkpoint_for(
        &self, base: &Checkpoint, examples: &[TrainExample],
    ) -> Result<Checkpoint, TrainError> {
        let start = examples_in(base).map_err(|reason| TrainError::Checkpoint {
            name: base.name.clone(),
            reason,
        })?;
        let carried = if self.continue_adds { start } else { 0 };
        let total = carried.saturating_add(u64::try_from(examples.len()).unwrap_or(u64::MAX));
        let mut hash = Fnv::new().u64(carried);
        for example in examples {
            let json =
                serde_json::to_string(example).map_err(|e| TrainError::Backend(Box::new(e)))?;
            hash = hash.str(&json);
        }
        let digest = format!("{:016x}", hash.finish());
        Ok(Checkpoint {
            name: format!("mock-{total}-{digest}"),
            data: serde_json::json!({ EXAMPLES_KEY: total, DIGEST_KEY: digest }),
        })
    }
}

#[async_trait]
impl Trainer for MockTrainer {
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let checkpoint = self.checkpoint_for(base, examples)?;
        let path = cx.out().join(CHECKPOINT_FILE);
        let mut json = serde_json::to_string_pretty(&checkpoint)
            .map_err(|e| TrainError::Backend(Box::new(e)))?;
        json.push('\n');
        std::fs::write(&path, json).map_err(|source| TrainError::Io {
            context: format!("writing {}", path.display()),
            source,
        })?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::prompt::{Message, Prompt, Role};
    use crate::task::TaskId;

    fn example(task: &str, completion: &str) -> TrainExample {
        TrainExample {
            task: TaskId::new(task).unwrap(),
            sample: 0,
            prompt: Prompt {
                messages: vec![Message::new(Role::User, "fix it")],
            },
            completion: completion.to_owned(),
        }
    }

    #[test]
    fn names_are_a_function_of_the_examples() {
        let trainer = MockTrainer::new();
        let a = [example("t/1", "x"), example("t/2", "y")];
        let b = [example("t/1", "x"), example("t/2", "z")];
        let first = trainer.checkpoint_for(&Checkpoint::base(), &a).unwrap();
        let again = trainer.checkpoint_for(&Checkpoint::base(), &a).unwrap();
        let other = trainer.checkpoint_for(&Checkpoint::base(), &b).unwrap();
        assert_eq!(first, again);
        assert_ne!(first.name, other.name);
        assert!(first.name.starts_with("mock-2-"), "{}", first.name);
        assert_eq!(examples_in(&first).unwrap(), 2);
        // ReST-EM: training from a trained checkpoint does not accumulate.
        let from_first = trainer.checkpoint_for(&first, &a).unwrap();
        assert_eq!(from_first, first);
        assert_eq!(trainer.calls(), 0);
    }

    #[test]
    fn continuing_trainer_accumulates() {
        let trainer = MockTrainer::continuing();
        let start = mock_checkpoint("iter-1", 5);
        let next = trainer
            .checkpoint_for(&start, &[example("t/1", "x")])
            .unwrap();
        assert_eq!(examples_in(&next).unwrap(), 6);
    }

    #[test]
    fn train_writes_its_file_and_refuses_foreign_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let trainer = MockTrainer::new();
        let counter = trainer.call_counter();
        let checkpoint = block_on(trainer.train(
            &Checkpoint::base(),
            &[example("t", "x")],
            &TrainContext::new(dir.path()),
        ))
        .unwrap();
        let written = std::fs::read_to_string(dir.path().join(CHECKPOINT_FILE)).unwrap();
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&written).unwrap(),
            checkpoint
        );
        let foreign = Checkpoint {
            name: "hosted".into(),
            data: serde_json::json!({"model": "gpt"}),
        };
        let err =
            block_on(trainer.train(&foreign, &[], &TrainContext::new(dir.path()))).unwrap_err();
        assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");
        let missing = dir.path().join("missing");
        let err = block_on(trainer.train(&Checkpoint::base(), &[], &TrainContext::new(&missing)))
            .unwrap_err();
        assert!(matches!(err, TrainError::Io { .. }), "{err}");
        assert_eq!(counter.load(Ordering::SeqCst), 3);
    }
}
