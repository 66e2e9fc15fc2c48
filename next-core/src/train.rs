//! The `Trainer` role: fine-tune a model on the rationales that fixed their task.
//!
//! A [`Checkpoint`] names what a sampler needs to use a model (the base model, an
//! adapter on disk, a hosted tuned-model id); a [`TrainExample`] is one kept sample in
//! the exact chat form the sampler saw, with the answer as the target.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::BoxError;
use crate::prompt::Prompt;
use crate::task::TaskId;

/// A model a sampler can use: a name plus backend-specific data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Human-readable name, unique within a run (`base`, `iter-1`, ...).
    pub name: String,
    /// What the backend needs to load it: an adapter path, a hosted model id, ...
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Checkpoint {
    /// The untouched base model `P0`.
    pub fn base() -> Self {
        Self {
            name: "base".into(),
            data: serde_json::Value::Null,
        }
    }

    /// Whether this is [`Checkpoint::base`].
    pub fn is_base(&self) -> bool {
        self.name == "base" && self.data.is_null()
    }
}

/// One training example: the prompt of a task and a sampled answer whose fix passed
/// every test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainExample {
    /// The task it came from.
    pub task: TaskId,
    /// The index of the sample it came from, within its task and iteration.
    pub sample: u32,
    /// The prompt, exactly as the sampler received it.
    pub prompt: Prompt,
    /// The target answer: the rationale and the fix, formatted by
    /// [`crate::prompt::format_answer`].
    pub completion: String,
}

/// Why training produced no checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The checkpoint to start from cannot be used by this trainer.
    #[error("cannot train from checkpoint {name}: {reason}")]
    Checkpoint {
        /// The checkpoint's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Writing or reading training files failed.
    #[error("training I/O failed while {context}")]
    Io {
        /// What the trainer was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Any other failure.
    #[error("trainer failed")]
    Backend(#[source] BoxError),
}

/// Fine-tunes a model on examples and returns the new checkpoint.
#[async_trait]
pub trait Trainer: Send + Sync {
    /// Trains from `base` on `examples`, writing whatever the checkpoint needs under
    /// `out` (an empty directory that the loop created for this training).
    ///
    /// # Errors
    /// [`TrainError`] when no checkpoint could be made.
    async fn train(
        &self,
        base: &Checkpoint,
        examples: &[TrainExample],
        out: &Path,
    ) -> Result<Checkpoint, TrainError>;
}

#[async_trait]
impl<T: Trainer + ?Sized> Trainer for Box<T> {
    async fn train(
        &self,
        base: &Checkpoint,
        examples: &[TrainExample],
        out: &Path,
    ) -> Result<Checkpoint, TrainError> {
        (**self).train(base, examples, out).await
    }
}

#[async_trait]
impl<T: Trainer + ?Sized> Trainer for Arc<T> {
    async fn train(
        &self,
        base: &Checkpoint,
        examples: &[TrainExample],
        out: &Path,
    ) -> Result<Checkpoint, TrainError> {
        (**self).train(base, examples, out).await
    }
}
